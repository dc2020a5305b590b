#include "core/pattern.h"

#include <re2/re2.h>

namespace hoist {

namespace {

// Patterns match bytes, not UTF-8 characters: paths and arguments are byte
// strings on Linux, and in RE2's UTF-8 mode '.' and classes do not match
// invalid UTF-8, so a deny pattern could be evaded with a stray 0xE9.
// UTF-8 text written in a pattern still matches the same bytes.
re2::RE2::Options byte_options() {
  re2::RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_encoding(re2::RE2::Options::EncodingLatin1);
  return opts;
}

bool is_meta(char c) {
  return c == '*' || c == '?' || c == '[' || c == '\\';
}

void append_escaped(std::string& out, char c) {
  // RE2's QuoteMeta handles UTF-8 and NUL correctly; reuse it one byte at a
  // time only for punctuation, keeping letters and digits readable.
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
      static_cast<unsigned char>(c) >= 0x80) {
    out += c;
  } else {
    out += re2::RE2::QuoteMeta(std::string_view(&c, 1));
  }
}

}  // namespace

bool has_glob_meta(std::string_view text) {
  for (const char c : text) {
    if (is_meta(c)) return true;
  }
  return false;
}

std::string_view glob_literal_prefix(std::string_view glob) {
  for (std::size_t i = 0; i < glob.size(); ++i) {
    if (is_meta(glob[i])) return glob.substr(0, i);
  }
  return glob;
}

Result<std::string> glob_to_regex(std::string_view glob, GlobFlavor flavor) {
  const bool path = flavor == GlobFlavor::kPath;
  const std::string any_char = path ? "[^/]" : "(?s:.)";
  std::string out;
  out.reserve(glob.size() * 2);
  for (std::size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    switch (c) {
      case '*':
        if (path && i + 1 < glob.size() && glob[i + 1] == '*') {
          // "**" crosses directories only as a whole component ("/a/**/b",
          // "/a/**"); inside a name ("app-**") it is an ordinary '*'.
          const bool whole = (i == 0 || glob[i - 1] == '/') && (i + 2 == glob.size() || glob[i + 2] == '/');
          ++i;
          if (!whole) {
            out += any_char + "*";
          } else if (i + 1 < glob.size()) {
            ++i;  // "**/" also matches zero directories: "/a/**/b" matches "/a/b"
            out += "(?s:.*/)?";
          } else {
            out += "(?s:.*)";
          }
        } else {
          out += any_char + "*";
        }
        break;
      case '?': out += any_char; break;
      case '\\':
        if (i + 1 == glob.size())
          return invalid_argument("pattern \"" + std::string(glob) + "\" ends with a lone backslash");
        append_escaped(out, glob[++i]);
        break;
      case '[': {
        // Bracket class. In a path glob a class never matches '/': a negated
        // class gets '/' added to its set, a positive one may not name it.
        std::size_t j = i + 1;
        std::string cls = "[";
        const bool negated = j < glob.size() && (glob[j] == '!' || glob[j] == '^');
        if (negated) {
          cls += path ? "^/" : "^";
          ++j;
        }
        const std::size_t first = j;
        for (; j < glob.size(); ++j) {
          const char k = glob[j];
          if (k == ']' && j != first) break;
          // A range "a-b" is checked at its '-': does it span '/'?
          const bool spans_slash = k == '-' && j > first && j + 1 < glob.size() && glob[j + 1] != ']' &&
                                   glob[j - 1] <= '/' && glob[j + 1] >= '/';
          if (path && !negated && (k == '/' || spans_slash)) {
            return invalid_argument("pattern \"" + std::string(glob) +
                                    "\": a [...] class in a path pattern cannot match '/'");
          }
          if (k == '\\' || k == '[' || k == ']' || k == '^') cls += '\\';
          cls += k;  // '-' keeps its range meaning
        }
        if (j >= glob.size()) {
          return invalid_argument("pattern \"" + std::string(glob) + "\" has an unterminated '[' class");
        }
        cls += ']';
        out += cls;
        i = j;
        break;
      }
      default: append_escaped(out, c);
    }
  }
  return out;
}

StringMatcher StringMatcher::literal(std::string text) {
  StringMatcher m;
  m.kind_ = Kind::kLiteral;
  m.source_ = std::move(text);
  return m;
}

Result<StringMatcher> StringMatcher::glob(std::string pattern, GlobFlavor flavor) {
  if (!has_glob_meta(pattern)) return literal(std::move(pattern));
  auto re = glob_to_regex(pattern, flavor);
  if (!re.ok()) return re.error();
  auto compiled = std::make_shared<const re2::RE2>(*re, byte_options());
  if (!compiled->ok()) {
    return invalid_argument("pattern \"" + pattern + "\" is not a valid glob: " + compiled->error());
  }
  StringMatcher m;
  m.kind_ = Kind::kGlob;
  m.source_ = std::move(pattern);
  m.re_ = std::move(compiled);
  return m;
}

Result<StringMatcher> StringMatcher::regex(std::string pattern) {
  auto compiled = std::make_shared<const re2::RE2>(pattern, byte_options());
  if (!compiled->ok()) {
    return invalid_argument("\"" + pattern + "\" is not a valid RE2 regular expression: " + compiled->error());
  }
  StringMatcher m;
  m.kind_ = Kind::kRegex;
  m.source_ = std::move(pattern);
  m.re_ = std::move(compiled);
  return m;
}

bool StringMatcher::matches(std::string_view text) const {
  if (kind_ == Kind::kLiteral) return text == source_;
  return re2::RE2::FullMatch(text, *re_);
}

}  // namespace hoist
