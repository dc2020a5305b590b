// Patterns in rules: literal strings, globs and RE2 regular expressions, all
// matched in time linear in the input. Globs are translated to RE2, never to
// a backtracking engine, so a hostile argument cannot make a decision slow.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace re2 {
class RE2;
}

namespace hoist {

enum class GlobFlavor {
  // '*' and '?' stop at '/', "**" crosses directories (file paths).
  kPath,
  // '*' and '?' match any character, '/' included (command-line arguments).
  kText,
};

// Translates a glob to an RE2 pattern (without anchors). Supports '*', '?',
// "**" (kPath only), bracket classes "[abc]", "[a-z]", "[!x]", and '\' to
// escape the next character. Fails on an unterminated class or a trailing
// backslash.
Result<std::string> glob_to_regex(std::string_view glob, GlobFlavor flavor);

// True when the text holds any glob metacharacter.
bool has_glob_meta(std::string_view text);

// The literal text before the first glob metacharacter.
std::string_view glob_literal_prefix(std::string_view glob);

// An immutable, cheap-to-copy matcher. Literal patterns compare bytes; globs
// and regexes run RE2 full matches. Copies share the compiled RE2.
class StringMatcher {
 public:
  enum class Kind { kLiteral, kGlob, kRegex };

  static StringMatcher literal(std::string text);
  // A glob without metacharacters becomes a literal matcher.
  static Result<StringMatcher> glob(std::string pattern, GlobFlavor flavor);
  static Result<StringMatcher> regex(std::string pattern);

  [[nodiscard]] bool matches(std::string_view text) const;
  [[nodiscard]] Kind kind() const { return kind_; }
  // The pattern as written in the policy.
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  StringMatcher() = default;
  Kind kind_ = Kind::kLiteral;
  std::string source_;
  std::shared_ptr<const re2::RE2> re_;  // shared by copies; null for literals
};

}  // namespace hoist
