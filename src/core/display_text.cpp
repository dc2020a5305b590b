#include "core/display_text.h"

#include <fmt/format.h>

namespace hoist {

namespace {

// The valid UTF-8 sequence at text[i]: its length and code point, or
// length 0 when invalid (overlong forms, surrogates and code points above
// U+10FFFF included).
struct Sequence {
  std::size_t length = 0;
  char32_t cp = 0;
};

Sequence utf8_at(std::string_view text, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) return {1, b0};
  std::size_t len = 0;
  char32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    return {};
  }
  if (i + len > text.size()) return {};
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return {};
  }
  return {len, cp};
}

bool is_c1(char32_t cp) {
  return cp >= 0x80 && cp <= 0x9F;
}

}  // namespace

bool is_hidden_or_reordering(char32_t cp) {
  // Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt),
  // the bidi controls among them, and the separators and annotation marks
  // that break or hide a line without showing anything.
  constexpr char32_t kRanges[][2] = {
      {0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C},   {0x115F, 0x1160},   {0x17B4, 0x17B5},   {0x180B, 0x180F},
      {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x206F},   {0x3164, 0x3164},   {0xFE00, 0xFE0F},   {0xFEFF, 0xFEFF},
      {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFFB}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0000, 0xE0FFF},
  };
  for (const auto& r : kRanges) {
    if (cp >= r[0] && cp <= r[1]) return true;
  }
  return false;
}

std::string visible_text(std::string_view text, std::string_view keep) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const Sequence s = utf8_at(text, i);
    if (s.length == 0) {
      // One byte at a time: the rest of a broken sequence is a lone
      // continuation byte, escaped on the next turn.
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    const bool control = s.cp < 0x20 || s.cp == 0x7F;
    if (control && keep.find(static_cast<char>(s.cp)) == std::string_view::npos) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned>(s.cp));
    } else if (is_c1(s.cp) || is_hidden_or_reordering(s.cp)) {
      out += fmt::format("\\u{{{:04X}}}", static_cast<unsigned>(s.cp));
    } else {
      out.append(text.substr(i, s.length));
    }
    i += s.length;
  }
  return out;
}

std::string without_hidden_controls(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const Sequence s = utf8_at(text, i);
    if (s.length == 0) {
      out += text[i];
      ++i;
      continue;
    }
    if (is_c1(s.cp) || is_hidden_or_reordering(s.cp)) {
      out += fmt::format("\\u{{{:04X}}}", static_cast<unsigned>(s.cp));
    } else {
      out.append(text.substr(i, s.length));
    }
    i += s.length;
  }
  return out;
}

std::string valid_utf8(std::string_view text, std::size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const Sequence s = utf8_at(text, i);
    const std::string_view piece = s.length == 0 ? kReplacement : text.substr(i, s.length);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += s.length == 0 ? 1 : s.length;
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const Sequence s = utf8_at(text, i);
    if (s.length == 0) return false;
    i += s.length;
  }
  return true;
}

namespace {

std::size_t units_at(const Sequence& s) {
  return s.length == 0 ? 1 : (s.cp > 0xFFFF ? 2 : 1);
}

}  // namespace

std::size_t utf16_length(std::string_view text) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size();) {
    const Sequence s = utf8_at(text, i);
    n += units_at(s);
    i += s.length == 0 ? 1 : s.length;
  }
  return n;
}

std::string cut_text(std::string_view text, std::size_t max_units, std::string_view marker) {
  const std::size_t marker_units = utf16_length(marker);
  const std::size_t room = marker_units <= max_units ? max_units - marker_units : max_units;
  // One pass that stops past the limit: where the text would be cut for
  // the marker (`keep`), and whether it has to be at all.
  std::size_t n = 0;
  std::size_t keep = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const Sequence s = utf8_at(text, i);
    const std::size_t len = s.length == 0 ? 1 : s.length;
    if (n + units_at(s) > max_units) break;
    n += units_at(s);
    i += len;
    if (n <= room) keep = i;
  }
  if (i == text.size()) return std::string(text);
  std::string out(text.substr(0, keep));
  if (marker_units <= max_units) out.append(marker);
  return out;
}

}  // namespace hoist
