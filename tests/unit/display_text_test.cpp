#include "core/display_text.h"

#include <gtest/gtest.h>

#include "core/csv.h"

namespace hoist {
namespace {

TEST(DisplayText, PlainTextAndUtf8PassThrough) {
  EXPECT_EQ(visible_text("apt-get install nginx"), "apt-get install nginx");
  EXPECT_EQ(visible_text("Ticket für Jürgen — ok"), "Ticket für Jürgen — ok");
  EXPECT_EQ(visible_text(""), "");
}

TEST(DisplayText, ControlsAreEscaped) {
  EXPECT_EQ(visible_text("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(visible_text("a\nb\tc"), "a\\x0ab\\x09c");
  EXPECT_EQ(visible_text("a\nb\tc", "\n\t"), "a\nb\tc");
  EXPECT_EQ(visible_text("a\rb", "\n"), "a\\x0db");
  EXPECT_EQ(visible_text("del\x7f"), "del\\x7f");
  EXPECT_EQ(visible_text(std::string_view("nul\0x", 5)), "nul\\x00x");
}

TEST(DisplayText, C1ControlsAndBrokenUtf8AreEscaped) {
  EXPECT_EQ(visible_text("\xc2\x9b"
                         "2J"),
            "\\u{009B}2J");  // CSI as C1
  EXPECT_EQ(visible_text("\xc2\x85"), "\\u{0085}");
  EXPECT_EQ(visible_text("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(visible_text("\xe2\x80"), "\\xe2\\x80");           // cut short
  EXPECT_EQ(visible_text("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(visible_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
}

TEST(DisplayText, CharactersThatReorderOrHideTextAreEscaped) {
  // Attacker: a user who writes the justification or the command line.
  // Goal: make an approver read "rm -rf /tmp/x" as something else (bidi
  // override, Trojan Source style) or hide part of it. Must hold: every
  // such character is shown as an escape.
  EXPECT_EQ(visible_text("ls \xe2\x80\xae"
                         "txt.exe"),
            "ls \\u{202E}txt.exe");
  for (const char32_t cp : {0x061C, 0x200B, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2060, 0x2066,
                            0x2067, 0x2068, 0x2069, 0xFEFF}) {
    EXPECT_TRUE(is_hidden_or_reordering(cp)) << std::hex << static_cast<unsigned>(cp);
  }
  // And what shows as nothing at all: tags, variation selectors, fillers,
  // line separators (found by the red team).
  for (const char32_t cp : {0x00AD, 0x034F, 0x115F, 0x1160, 0x180E, 0x2028, 0x2029, 0x3164, 0xFE0F, 0xFFA0, 0xFFF9,
                            0xE0001, 0xE0041, 0x1D173}) {
    EXPECT_TRUE(is_hidden_or_reordering(cp)) << std::hex << static_cast<unsigned>(cp);
  }
  EXPECT_EQ(visible_text("a\xf3\xa0\x81\x81"
                         "b"),
            "a\\u{E0041}b");
  EXPECT_FALSE(is_hidden_or_reordering(U'é'));
  EXPECT_FALSE(is_hidden_or_reordering(0x00A0));  // a no-break space shows as a space
  EXPECT_FALSE(is_hidden_or_reordering(0x2014));
}

TEST(DisplayText, ValidUtf8CutsOnACharacterBoundary) {
  EXPECT_EQ(valid_utf8("abc", 10), "abc");
  EXPECT_EQ(valid_utf8("ab\xc3\xa9", 3), "ab");  // é does not fit: cut before it
  EXPECT_EQ(valid_utf8("ab\xc3\xa9", 4), "ab\xc3\xa9");
  EXPECT_EQ(valid_utf8("a\xff"
                       "b",
                       10),
            "a\xef\xbf\xbd"
            "b");
  EXPECT_TRUE(is_valid_utf8(valid_utf8("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 7)));
  EXPECT_EQ(valid_utf8("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 7), "\xe2\x82\xac\xe2\x82\xac");
  EXPECT_FALSE(is_valid_utf8("a\xc3"));
  EXPECT_TRUE(is_valid_utf8(""));
}

TEST(DisplayText, CutTextKeepsWholeCharactersAndCountsUtf16Units) {
  const std::string euro = "\xe2\x82\xac";       // U+20AC: 3 bytes, 1 unit
  const std::string emoji = "\xf0\x9f\x98\x80";  // U+1F600: 4 bytes, 2 units
  const std::string dots = "\xe2\x80\xa6";       // the marker, 1 unit
  EXPECT_EQ(utf16_length(""), 0U);
  EXPECT_EQ(utf16_length("abc"), 3U);
  EXPECT_EQ(utf16_length(euro + euro), 2U);
  EXPECT_EQ(utf16_length(emoji), 2U);
  EXPECT_EQ(utf16_length("a\xff"), 2U);
  // Short enough: as it is.
  EXPECT_EQ(cut_text("abc", 3), "abc");
  EXPECT_EQ(cut_text(euro + euro, 2), euro + euro);
  // Too long: what fits with the marker, then the marker.
  EXPECT_EQ(cut_text("abcdef", 4), "abc" + dots);
  EXPECT_EQ(cut_text(euro + euro + euro, 2), euro + dots);
  // An emoji is two units: it does not fit in the one left, and is never halved.
  EXPECT_EQ(cut_text("ab" + emoji + "c", 4), "ab" + dots);
  EXPECT_EQ(cut_text("a" + emoji + "bc", 4), "a" + emoji + dots);
  EXPECT_EQ(cut_text("abc", 0), "");
  EXPECT_EQ(cut_text("abc", 2, "..."), "ab");  // the marker does not fit: cut alone
  EXPECT_EQ(cut_text("abcdef", 5, "..."), "ab...");
  // Every cut of a long multi-byte text is valid UTF-8 within the limit.
  std::string mixed;
  for (int i = 0; i < 50; ++i) mixed += "x" + euro + emoji + "\xc3\xa9";
  for (std::size_t limit = 0; limit < 260; ++limit) {
    const auto cut = cut_text(mixed, limit);
    EXPECT_TRUE(is_valid_utf8(cut)) << limit;
    EXPECT_LE(utf16_length(cut), limit);
  }
}

TEST(DisplayText, CsvCellsCannotReorderText) {
  EXPECT_EQ(csv_field("a\xe2\x80\xae"
                      "b"),
            "a\\u{202E}b");
  EXPECT_EQ(csv_field("x\xc2\x9b"), "x\\u{009B}");
  // Other bytes stay as they are (CSV quotes what it must).
  EXPECT_EQ(csv_field("a\nb"), "\"a\nb\"");
  EXPECT_EQ(csv_field("\xff"), "\xff");
}

}  // namespace
}  // namespace hoist
