#include "core/csv.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace hoist {
namespace {

using namespace std::string_literals;

struct FieldCase {
  std::string what;
  std::string value;
  std::string expected;
};

std::ostream& operator<<(std::ostream& os, const FieldCase& c) {
  return os << c.what;
}

class CsvField : public ::testing::TestWithParam<FieldCase> {};

TEST_P(CsvField, Encodes) {
  const auto& c = GetParam();
  EXPECT_EQ(csv_field(c.value), c.expected) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, CsvField,
    ::testing::Values(
        FieldCase{"empty", "", ""}, FieldCase{"plain", "alice", "alice"},
        FieldCase{"inner space", "apt-get update", "apt-get update"}, FieldCase{"comma", "a,b", "\"a,b\""},
        FieldCase{"quote", "say \"hi\"", "\"say \"\"hi\"\"\""}, FieldCase{"only a quote", "\"", "\"\"\"\""},
        FieldCase{"LF", "a\nb", "\"a\nb\""}, FieldCase{"CR inside", "a\rb", "\"a\rb\""},
        FieldCase{"CRLF inside", "a\r\nb", "\"a\r\nb\""}, FieldCase{"leading space", " a", "\" a\""},
        FieldCase{"trailing space", "a ", "\"a \""}, FieldCase{"trailing tab", "a\t", "\"a\t\""},
        FieldCase{"only a space", " ", "\" \""}, FieldCase{"semicolon is not special", "a;b", "a;b"},
        FieldCase{"single quote inside is kept", "it's", "it's"},
        // Formula injection.
        FieldCase{"equals", "=1+2", "'=1+2"}, FieldCase{"plus", "+1", "'+1"},
        FieldCase{"minus, a negative number too", "-5", "'-5"}, FieldCase{"at", "@SUM(A1)", "'@SUM(A1)"},
        FieldCase{"tab", "\tx", "'\tx"}, FieldCase{"CR first, also quoted", "\rx", "\"'\rx\""},
        FieldCase{"formula with comma and quotes", "=HYPERLINK(\"http://x\",\"y\")",
                  "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
        FieldCase{"only an equals sign", "=", "'="},
        FieldCase{"formula after a space is quoted, not prefixed", " =1", "\" =1\""},
        FieldCase{"formula character later", "a=b-c", "a=b-c"}, FieldCase{"already quoted value", "'=1", "'=1"},
        // Bytes are passed through.
        FieldCase{"UTF-8", "Zo\xc3\xab", "Zo\xc3\xab"}, FieldCase{"invalid UTF-8", "\xff\xfe\xc3", "\xff\xfe\xc3"},
        FieldCase{"invalid UTF-8 with comma", "\xff,\x80", "\"\xff,\x80\""}, FieldCase{"NUL byte", "a\0b"s, "a\0b"s}));

TEST(CsvRow, JoinsWithCommasAndEndsWithCrlf) {
  const std::vector<std::string> fields = {"2024-01-03T12:00:00Z", "alice", "=cmd|' /C calc'!A0", "a,b", ""};
  EXPECT_EQ(csv_row(fields), "2024-01-03T12:00:00Z,alice,'=cmd|' /C calc'!A0,\"a,b\",\r\n");
}

TEST(CsvRow, OneEmptyFieldIsNotABlankLine) {
  const std::vector<std::string> one_empty = {""};
  EXPECT_EQ(csv_row(one_empty), "\"\"\r\n");
  const std::vector<std::string> two_empty = {"", ""};
  EXPECT_EQ(csv_row(two_empty), ",\r\n");
}

TEST(CsvRow, NoFields) {
  EXPECT_EQ(csv_row({}), "\r\n");
}

TEST(CsvRow, FieldWithLineBreakStaysInOneRecord) {
  const std::vector<std::string> fields = {"note", "line 1\r\nline 2"};
  EXPECT_EQ(csv_row(fields), "note,\"line 1\r\nline 2\"\r\n");
}

}  // namespace
}  // namespace hoist
