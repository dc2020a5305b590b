#include "core/path.h"

#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace hoist {
namespace {

struct Normalized {
  std::string input;
  std::string expected;
};

class NormalizeGood : public ::testing::TestWithParam<Normalized> {};

TEST_P(NormalizeGood, Normalizes) {
  const auto& c = GetParam();
  const auto n = normalize_absolute_path(c.input);
  ASSERT_TRUE(n.ok()) << c.input << ": " << n.error().message;
  EXPECT_EQ(*n, c.expected) << c.input;
  EXPECT_TRUE(is_normalized_absolute(*n)) << *n;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NormalizeGood,
    ::testing::Values(Normalized{"/", "/"}, Normalized{"//", "/"}, Normalized{"///", "/"}, Normalized{"/.", "/"},
                      Normalized{"/..", "/"}, Normalized{"/../..", "/"}, Normalized{"/../etc", "/etc"},
                      Normalized{"/usr/bin/apt", "/usr/bin/apt"}, Normalized{"/usr/bin/", "/usr/bin"},
                      Normalized{"/usr//bin///apt", "/usr/bin/apt"}, Normalized{"/usr/./bin/./apt", "/usr/bin/apt"},
                      Normalized{"/usr/bin/../sbin/x", "/usr/sbin/x"}, Normalized{"/usr/bin/../../tmp/x", "/tmp/x"},
                      Normalized{"/usr/bin/../../../../tmp/x", "/tmp/x"}, Normalized{"/a/b/c/../..", "/a"},
                      Normalized{"/a/b/..", "/a"}, Normalized{"/a/./", "/a"},
                      Normalized{"/...", "/..."},            // three dots is a name
                      Normalized{"/a/..b/c.", "/a/..b/c."},  // so are names that merely start with dots
                      Normalized{"/a b/c\td", "/a b/c\td"}, Normalized{"/caf\xc3\xa9", "/caf\xc3\xa9"}));

class NormalizeBad : public ::testing::TestWithParam<std::string> {};

TEST_P(NormalizeBad, IsInvalidArgument) {
  const auto n = normalize_absolute_path(GetParam());
  ASSERT_FALSE(n.ok()) << "\"" << GetParam() << "\" normalised to " << *n;
  EXPECT_EQ(n.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(n.error().message.empty());
  EXPECT_FALSE(is_normalized_absolute(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Table, NormalizeBad,
                         ::testing::Values(std::string(), std::string("usr/bin"), std::string("./usr"),
                                           std::string("../usr"), std::string("."), std::string("~/bin"),
                                           std::string(" /usr"), std::string("/usr/b\0in", 9), std::string("/\0", 2),
                                           std::string("\0/usr", 5)));

TEST(NormalizeAbsolutePath, MessagesSayWhatIsWrong) {
  EXPECT_NE(normalize_absolute_path("").error().message.find("empty"), std::string::npos);
  EXPECT_NE(normalize_absolute_path("bin/sh").error().message.find("absolute"), std::string::npos);
  EXPECT_NE(normalize_absolute_path(std::string("/a\0b", 4)).error().message.find("NUL"), std::string::npos);
}

struct IsNormalizedCase {
  std::string path;
  bool expected;
};

class IsNormalized : public ::testing::TestWithParam<IsNormalizedCase> {};

TEST_P(IsNormalized, Table) {
  EXPECT_EQ(is_normalized_absolute(GetParam().path), GetParam().expected) << GetParam().path;
}

INSTANTIATE_TEST_SUITE_P(Table, IsNormalized,
                         ::testing::Values(IsNormalizedCase{"/", true}, IsNormalizedCase{"/usr/bin", true},
                                           IsNormalizedCase{"/usr/bin/", false}, IsNormalizedCase{"//usr", false},
                                           IsNormalizedCase{"/usr/./bin", false},
                                           IsNormalizedCase{"/usr/../bin", false}, IsNormalizedCase{"usr", false},
                                           IsNormalizedCase{"", false}));

struct WithinCase {
  std::string path;
  std::string folder;
  bool expected;
};

class PathIsWithin : public ::testing::TestWithParam<WithinCase> {};

TEST_P(PathIsWithin, Table) {
  const auto& c = GetParam();
  EXPECT_EQ(path_is_within(c.path, c.folder), c.expected) << c.path << " within " << c.folder;
}

INSTANTIATE_TEST_SUITE_P(Table, PathIsWithin,
                         ::testing::Values(WithinCase{"/usr/bin", "/usr/bin", true},          // the folder itself
                                           WithinCase{"/usr/bin/apt", "/usr/bin", true},      // a child
                                           WithinCase{"/usr/bin/a/b/c/d", "/usr/bin", true},  // a deep child
                                           WithinCase{"/usr/binx", "/usr/bin", false},  // a sibling sharing a prefix
                                           WithinCase{"/usr/binx/apt", "/usr/bin", false},
                                           WithinCase{"/usr/bi", "/usr/bin", false},  // shorter
                                           WithinCase{"/usr", "/usr/bin", false},     // the parent
                                           WithinCase{"/usr/sbin/x", "/usr/bin", false},
                                           WithinCase{"/opt/usr/bin/x", "/usr/bin", false}, WithinCase{"/", "/", true},
                                           WithinCase{"/anything/at/all", "/", true}, WithinCase{"", "/", false},
                                           WithinCase{"", "/usr", false}));

struct ParentCase {
  std::string path;
  std::string parent;
};

class ParentPath : public ::testing::TestWithParam<ParentCase> {};

TEST_P(ParentPath, Table) {
  EXPECT_EQ(parent_path(GetParam().path), GetParam().parent) << GetParam().path;
}

INSTANTIATE_TEST_SUITE_P(Table, ParentPath,
                         ::testing::Values(ParentCase{"/usr/bin/apt", "/usr/bin"}, ParentCase{"/usr/bin", "/usr"},
                                           ParentCase{"/usr", "/"}, ParentCase{"/", ""}, ParentCase{"", ""},
                                           // Not absolute: no parent, so a walk up always ends.
                                           ParentCase{"tool", ""}));

TEST(ParentPath, WalkFromDeepPathEndsAtRootThenEmpty) {
  std::vector<std::string> seen;
  for (std::string_view p = "/a/b/c"; !p.empty() && seen.size() < 10; p = parent_path(p)) seen.emplace_back(p);
  EXPECT_EQ(seen, (std::vector<std::string>{"/a/b/c", "/a/b", "/a", "/"}));
}

}  // namespace
}  // namespace hoist
