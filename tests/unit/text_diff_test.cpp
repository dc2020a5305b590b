#include "core/text_diff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist {
namespace {

// ---------------------------------------------------------------------------
// Expected outputs were produced by GNU diffutils:
//   printf 'OLD' > old; printf 'NEW' > new
//   diff -U<context> --label old --label new old new

struct DiffCase {
  std::string what;
  std::string old_text;
  std::string new_text;
  int context;
  std::string expected;
};

std::ostream& operator<<(std::ostream& os, const DiffCase& c) {
  return os << c.what;
}

std::string numbers(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out += std::to_string(i) + "\n";
  return out;
}

std::string replace_line(std::string text, const std::string& line, const std::string& with) {
  const auto at = text.find("\n" + line + "\n");
  if (at == std::string::npos) return text;
  return text.replace(at + 1, line.size(), with);
}

class GnuDiffOutput : public ::testing::TestWithParam<DiffCase> {};

TEST_P(GnuDiffOutput, Matches) {
  const auto& c = GetParam();
  EXPECT_EQ(unified_diff(c.old_text, c.new_text, "old", "new", c.context), c.expected) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Table, GnuDiffOutput,
    ::testing::Values(
        DiffCase{"one line changed", "a\nb\nc\n", "a\nB\nc\n", 3,
                 "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
        DiffCase{"empty to text", "", "x\ny\n", 3, "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+x\n+y\n"},
        DiffCase{"text to empty", "x\ny\n", "", 3, "--- old\n+++ new\n@@ -1,2 +0,0 @@\n-x\n-y\n"},
        DiffCase{"change in the middle", numbers(1, 10), replace_line(numbers(1, 10), "5", "FIVE"), 3,
                 "--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n"},
        DiffCase{"two lines replaced by two", "a\nb\nc\nd\n", "a\nx\ny\nd\n", 3,
                 "--- old\n+++ new\n@@ -1,4 +1,4 @@\n a\n-b\n-c\n+x\n+y\n d\n"},
        DiffCase{"changes 6 lines apart share a hunk, 7 apart do not", numbers(1, 30),
                 replace_line(replace_line(replace_line(numbers(1, 30), "5", "five"), "12", "twelve"), "25", "tf"), 3,
                 "--- old\n+++ new\n"
                 "@@ -2,14 +2,14 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n 9\n 10\n 11\n-12\n+twelve\n 13\n 14\n 15\n"
                 "@@ -22,7 +22,7 @@\n 22\n 23\n 24\n-25\n+tf\n 26\n 27\n 28\n"},
        DiffCase{"changes 7 lines apart", numbers(1, 20),
                 replace_line(replace_line(numbers(1, 20), "5", "five"), "13", "thirteen"), 3,
                 "--- old\n+++ new\n"
                 "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"
                 "@@ -10,7 +10,7 @@\n 10\n 11\n 12\n-13\n+thirteen\n 14\n 15\n 16\n"},
        DiffCase{"context 1", "a\nb\nc\nd\ne\n", "a\nc\nd\nX\ne\n", 1,
                 "--- old\n+++ new\n@@ -1,5 +1,5 @@\n a\n-b\n c\n d\n+X\n e\n"},
        DiffCase{"context 0: two hunks", numbers(1, 10), replace_line(replace_line(numbers(1, 10), "2", "X"), "9", "Y"),
                 0, "--- old\n+++ new\n@@ -2 +2 @@\n-2\n+X\n@@ -9 +9 @@\n-9\n+Y\n"},
        DiffCase{"context 0: appended line", numbers(1, 10), numbers(1, 10) + "ins\n", 0,
                 "--- old\n+++ new\n@@ -10,0 +11 @@\n+ins\n"},
        DiffCase{"context 0: prepended line", "1\n2\n3\n", "ins\n1\n2\n3\n", 0,
                 "--- old\n+++ new\n@@ -0,0 +1 @@\n+ins\n"},
        DiffCase{"context 0: deleted line", numbers(1, 10), replace_line(numbers(1, 10), "5\n6", "6"), 0,
                 "--- old\n+++ new\n@@ -5 +4,0 @@\n-5\n"},
        DiffCase{"negative context counts as 0", "1\n2\n3\n", "ins\n1\n2\n3\n", -4,
                 "--- old\n+++ new\n@@ -0,0 +1 @@\n+ins\n"},
        DiffCase{"no newline at the end of either", "a\nb", "a\nc", 3,
                 "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
                 "\\ No newline at end of file\n"},
        DiffCase{"newline added at the end", "a\nb", "a\nb\n", 3,
                 "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
        DiffCase{"newline removed at the end", "a\nb\n", "a\nb", 3,
                 "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n"},
        DiffCase{"CRLF lines are kept", "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n", 3,
                 "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\r\n-b\r\n+B\r\n c\r\n"}));

TEST(UnifiedDiff, EqualTextsGiveNothing) {
  EXPECT_EQ(unified_diff("", "", "old", "new"), "");
  EXPECT_EQ(unified_diff("a\nb", "a\nb", "old", "new"), "");
  EXPECT_EQ(unified_diff(numbers(1, 1000), numbers(1, 1000), "old", "new", 0), "");
}

TEST(UnifiedDiff, UnchangedLastLineWithoutNewlineIsMarkedOnce) {
  EXPECT_EQ(unified_diff("a\nb\nc", "A\nb\nc", "old", "new"),
            "--- old\n+++ new\n@@ -1,3 +1,3 @@\n-a\n+A\n b\n c\n\\ No newline at end of file\n");
}

TEST(UnifiedDiff, LineEndingsAreCompared) {
  EXPECT_EQ(unified_diff("a\r\n", "a\n", "old", "new"), "--- old\n+++ new\n@@ -1 +1 @@\n-a\r\n+a\n");
}

TEST(UnifiedDiff, LabelsStayOnOneLine) {
  EXPECT_EQ(unified_diff("a\n", "b\n", "policy \"x\"\nversion 2", "policy \"x\"\r\nversion 3"),
            "--- policy \"x\" version 2\n+++ policy \"x\"  version 3\n@@ -1 +1 @@\n-a\n+b\n");
}

// ---------------------------------------------------------------------------
// Every diff applies: a small `patch` that checks every context and deleted
// line and the counts in each hunk header.

std::vector<std::string> split_keep_newline(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const auto len = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.emplace_back(text.substr(0, len));
    text.remove_prefix(len);
  }
  return lines;
}

struct HunkHeader {
  long a_start = 0;
  long a_count = 0;
  long b_start = 0;
  long b_count = 0;
};

std::optional<HunkHeader> parse_header(const std::string& line) {
  HunkHeader h;
  const auto read_range = [&line](std::size_t& at, long& start, long& count) {
    std::size_t used = 0;
    start = std::stol(line.substr(at), &used);
    at += used;
    count = 1;
    if (line[at] == ',') {
      ++at;
      count = std::stol(line.substr(at), &used);
      at += used;
    }
  };
  if (line.rfind("@@ -", 0) != 0) return std::nullopt;
  std::size_t at = 4;
  read_range(at, h.a_start, h.a_count);
  if (line.compare(at, 2, " +") != 0) return std::nullopt;
  at += 2;
  read_range(at, h.b_start, h.b_count);
  if (line.substr(at) != " @@\n") return std::nullopt;
  return h;
}

// The new text, or nullopt (with a test failure) when the diff does not
// apply exactly.
std::optional<std::string> apply_diff(const std::string& old_text, const std::string& diff) {
  if (diff.empty()) return old_text;
  const auto old_lines = split_keep_newline(old_text);
  auto lines = split_keep_newline(diff);
  if (lines.size() < 3 || lines[0].rfind("--- ", 0) != 0 || lines[1].rfind("+++ ", 0) != 0) {
    ADD_FAILURE() << "bad header";
    return std::nullopt;
  }
  // Join each "\ No newline" marker to the line before it.
  std::vector<std::string> body;
  for (std::size_t i = 2; i < lines.size(); ++i) {
    if (lines[i] == "\\ No newline at end of file\n") {
      if (body.empty() || body.back().back() != '\n') {
        ADD_FAILURE() << "misplaced marker";
        return std::nullopt;
      }
      body.back().pop_back();
      continue;
    }
    body.push_back(lines[i]);
  }
  std::string out;
  std::size_t next_old = 0;  // 0-based
  for (std::size_t i = 0; i < body.size();) {
    const auto h = parse_header(body[i]);
    if (!h) {
      ADD_FAILURE() << "bad hunk header: " << body[i];
      return std::nullopt;
    }
    ++i;
    const auto first = static_cast<std::size_t>(h->a_count == 0 ? h->a_start : h->a_start - 1);
    if (first < next_old || first > old_lines.size()) {
      ADD_FAILURE() << "hunks out of order";
      return std::nullopt;
    }
    for (; next_old < first; ++next_old) out += old_lines[next_old];
    long a_seen = 0;
    long b_seen = 0;
    for (; i < body.size() && body[i].rfind("@@", 0) != 0; ++i) {
      const char tag = body[i].front();
      const std::string text = body[i].substr(1);
      if (tag == '+') {
        out += text;
        ++b_seen;
        continue;
      }
      if (tag != ' ' && tag != '-') {
        ADD_FAILURE() << "bad line: " << body[i];
        return std::nullopt;
      }
      if (next_old >= old_lines.size() || old_lines[next_old] != text) {
        ADD_FAILURE() << "line " << next_old + 1 << " does not match: " << body[i];
        return std::nullopt;
      }
      ++next_old;
      ++a_seen;
      if (tag == ' ') {
        out += text;
        ++b_seen;
      }
    }
    if (a_seen != h->a_count || b_seen != h->b_count) {
      ADD_FAILURE() << "hunk counts " << h->a_count << "," << h->b_count << " but saw " << a_seen << "," << b_seen;
      return std::nullopt;
    }
  }
  for (; next_old < old_lines.size(); ++next_old) out += old_lines[next_old];
  return out;
}

// Random texts over a small alphabet of lines, so that they share many
// lines in many ways.
std::string random_text(std::mt19937& rng, int max_lines) {
  std::uniform_int_distribution<int> count(0, max_lines);
  std::uniform_int_distribution<int> pick(0, 5);
  std::string out;
  const int n = count(rng);
  for (int i = 0; i < n; ++i) out += std::string(1, static_cast<char>('a' + pick(rng))) + "\n";
  if (!out.empty() && pick(rng) == 0) out.pop_back();
  return out;
}

// The length of a longest common subsequence of lines, by dynamic
// programming: a minimal diff deletes and inserts exactly the rest.
std::size_t lcs_length(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::size_t> row(b.size() + 1, 0);
  for (const auto& x : a) {
    std::size_t diagonal = 0;
    for (std::size_t j = 0; j < b.size(); ++j) {
      const std::size_t up = row[j + 1];
      row[j + 1] = x == b[j] ? diagonal + 1 : std::max(row[j + 1], row[j]);
      diagonal = up;
    }
  }
  return row[b.size()];
}

TEST(UnifiedDiff, RandomDiffsApplyAndAreMinimal) {
  std::mt19937 rng(20240103);  // a fixed seed keeps the test repeatable
  for (int round = 0; round < 1000; ++round) {
    const std::string a = random_text(rng, 30);
    const std::string b = random_text(rng, 30);
    const int context = round % 5;
    const std::string diff = unified_diff(a, b, "a", "b", context);
    EXPECT_EQ(diff.empty(), a == b);
    const auto applied = apply_diff(a, diff);
    ASSERT_TRUE(applied.has_value()) << "a:\n" << a << "\nb:\n" << b << "\ndiff:\n" << diff;
    ASSERT_EQ(*applied, b) << "diff:\n" << diff;
    const auto la = split_keep_newline(a);
    const auto lb = split_keep_newline(b);
    std::size_t removed = 0;
    std::size_t added = 0;
    for (const auto& line : split_keep_newline(diff)) {
      if (line.rfind("---", 0) == 0 || line.rfind("+++", 0) == 0) continue;
      if (line.front() == '-') ++removed;
      if (line.front() == '+') ++added;
    }
    const std::size_t common = lcs_length(la, lb);
    EXPECT_EQ(removed, la.size() - common) << "diff:\n" << diff;
    EXPECT_EQ(added, lb.size() - common) << "diff:\n" << diff;
  }
}

// ---------------------------------------------------------------------------
// Size.

std::string big_text(int lines) {
  std::string out;
  out.reserve(static_cast<std::size_t>(lines) * 12);
  for (int i = 0; i < lines; ++i) out += "line " + std::to_string(i) + "\n";
  return out;
}

TEST(UnifiedDiff, LargeInputWithFewChangesIsQuick) {
  const std::string a = big_text(100000);
  std::string b = a;
  b = replace_line(b, "line 10", "changed 10");
  b = replace_line(b, "line 50000", "changed 50000\nadded");
  b = replace_line(b, "line 99998\nline 99999", "line 99999");
  const auto start = std::chrono::steady_clock::now();
  const std::string diff = unified_diff(a, b, "a", "b");
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(diff,
            "--- a\n+++ b\n"
            "@@ -8,7 +8,7 @@\n line 7\n line 8\n line 9\n-line 10\n+changed 10\n line 11\n line 12\n line 13\n"
            "@@ -49998,7 +49998,8 @@\n line 49997\n line 49998\n line 49999\n-line 50000\n+changed 50000\n+added\n"
            " line 50001\n line 50002\n line 50003\n"
            "@@ -99996,5 +99997,4 @@\n line 99995\n line 99996\n line 99997\n-line 99998\n line 99999\n");
}

TEST(UnifiedDiff, ManyScatteredChangesStillApply) {
  const std::string a = big_text(20000);
  std::string b;
  for (const auto& line : split_keep_newline(a)) {
    b += line;
    if (line.size() % 7 == 0) b += "extra\n";
  }
  const auto applied = apply_diff(a, unified_diff(a, b, "a", "b"));
  ASSERT_TRUE(applied.has_value());
  EXPECT_EQ(*applied, b);
}

// "head", n lines only in a, "shared", "tail" against "head", "shared", n
// lines only in b, "tail": the edit distance is 2 * n.
std::pair<std::string, std::string> far_apart(std::ptrdiff_t n) {
  std::string a = "head\n";
  std::string b = "head\nshared\n";
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    a += "old " + std::to_string(i) + "\n";
    b += "new " + std::to_string(i) + "\n";
  }
  a += "shared\ntail\n";
  b += "tail\n";
  return {a, b};
}

TEST(UnifiedDiff, EditDistanceBelowTheBoundIsMinimal) {
  constexpr std::ptrdiff_t kLines = 4000;
  static_assert(2 * kLines < kMaxDiffEditDistance);
  const auto [a, b] = far_apart(kLines);
  const std::string diff = unified_diff(a, b, "a", "b", 1);
  EXPECT_EQ(diff.rfind("--- a\n+++ b\n@@ -1,4003 +1,4003 @@\n head\n-old 0\n", 0), 0U) << diff.substr(0, 200);
  // The shared line is kept as context.
  EXPECT_NE(diff.find("\n-old 3999\n shared\n+new 0\n"), std::string::npos);
  const auto applied = apply_diff(a, diff);
  ASSERT_TRUE(applied.has_value());
  EXPECT_EQ(*applied, b);
}

TEST(UnifiedDiff, HugeEditDistanceFallsBackToReplacingTheMiddle) {
  constexpr std::ptrdiff_t kLines = 6000;
  static_assert(2 * kLines > kMaxDiffEditDistance);
  const auto [a, b] = far_apart(kLines);
  const auto start = std::chrono::steady_clock::now();
  const std::string diff = unified_diff(a, b, "a", "b", 1);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(20));
  EXPECT_EQ(diff.rfind("--- a\n+++ b\n@@ -1,6003 +1,6003 @@\n head\n-old 0\n", 0), 0U) << diff.substr(0, 200);
  // Replaced wholesale: the shared line is deleted and inserted again.
  EXPECT_NE(diff.find("\n-shared\n"), std::string::npos);
  EXPECT_NE(diff.find("\n+shared\n"), std::string::npos);
  const auto applied = apply_diff(a, diff);
  ASSERT_TRUE(applied.has_value());
  EXPECT_EQ(*applied, b);
}

}  // namespace
}  // namespace hoist
