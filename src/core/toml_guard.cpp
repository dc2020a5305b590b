#include "core/toml_guard.h"

#include <algorithm>

namespace hoist {

std::string ascii_stand_in(std::string_view text) {
  std::string ascii(text);
  std::replace_if(
      ascii.begin(), ascii.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }, '~');
  return ascii;
}

std::optional<std::pair<int, int>> non_ascii_outside_strings(std::string_view t) {
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral };
  In in = In::kCode;
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '\n') {
      ++line;
      line_start = i + 1;
      if (in == In::kComment || in == In::kBasic || in == In::kLiteral) in = In::kCode;
      continue;
    }
    const auto starts = [&](std::string_view what) { return t.substr(i, what.size()) == what; };
    switch (in) {
      case In::kCode:
        if (static_cast<unsigned char>(c) >= 0x80) {
          return std::pair{line, static_cast<int>(i - line_start + 1)};
        }
        if (c == '#') {
          in = In::kComment;
        } else if (starts("\"\"\"")) {
          in = In::kMultiBasic;
          i += 2;
        } else if (starts("'''")) {
          in = In::kMultiLiteral;
          i += 2;
        } else if (c == '"') {
          in = In::kBasic;
        } else if (c == '\'') {
          in = In::kLiteral;
        }
        break;
      case In::kComment: break;
      case In::kBasic:
        if (c == '\\') {
          ++i;  // the escaped character cannot end the string
        } else if (c == '"') {
          in = In::kCode;
        }
        break;
      case In::kLiteral:
        if (c == '\'') in = In::kCode;
        break;
      case In::kMultiBasic:
      case In::kMultiLiteral: {
        const char q = in == In::kMultiBasic ? '"' : '\'';
        if (in == In::kMultiBasic && c == '\\') {
          std::size_t j = i + 1;
          while (j < t.size() && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r')) ++j;
          if (j < t.size() && t[j] == '\n') {
            // Line-ending backslash: toml++ trims all whitespace and newlines
            // after it, testing each character for being whitespace.
            for (; j < t.size() && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r' || t[j] == '\n'); ++j) {
              if (t[j] == '\n') {
                ++line;
                line_start = j + 1;
              }
            }
            if (j < t.size() && static_cast<unsigned char>(t[j]) >= 0x80) {
              return std::pair{line, static_cast<int>(j - line_start + 1)};
            }
            i = j - 1;
            continue;
          }
          ++i;  // an escape: the next character cannot end the string
        } else if (c == q && i + 2 < t.size() && t[i + 1] == q && t[i + 2] == q) {
          i += 2;
          // Up to two more quotes right after the delimiter belong to the string.
          for (int extra = 0; extra < 2 && i + 1 < t.size() && t[i + 1] == q; ++extra) ++i;
          in = In::kCode;
        }
        break;
      }
    }
  }
  return std::nullopt;
}

// Byte offset of (line, column) in an all-ASCII text (1-based, as toml++
// reports them); nullopt when out of range or the text is not given.
std::optional<std::size_t> byte_offset(std::string_view ascii, int line, int column) {
  if (ascii.empty() || line < 1 || column < 1) return std::nullopt;
  std::size_t pos = 0;
  for (int l = 1; l < line; ++l) {
    pos = ascii.find('\n', pos);
    if (pos == std::string_view::npos) return std::nullopt;
    ++pos;
  }
  pos += static_cast<std::size_t>(column - 1);
  if (pos >= ascii.size()) return std::nullopt;
  return pos;
}

// 1-based column, in characters, of byte `off` of a UTF-8 text.
int utf8_column(std::string_view text, std::size_t off) {
  const std::size_t line_start = off == 0 ? 0 : text.rfind('\n', off - 1) + 1;  // npos + 1 == 0
  int column = 1;
  for (std::size_t i = line_start; i < off; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

}  // namespace hoist
