#include "core/pattern.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_support.h"

namespace hoist {
namespace {

struct GlobCase {
  std::string glob;
  GlobFlavor flavor;
  std::string text;
  bool expected;
};

std::string flavor_name(GlobFlavor f) {
  return f == GlobFlavor::kPath ? "path" : "text";
}

class GlobMatch : public ::testing::TestWithParam<GlobCase> {};

TEST_P(GlobMatch, Table) {
  const auto& c = GetParam();
  const auto m = StringMatcher::glob(c.glob, c.flavor);
  ASSERT_TRUE(m.ok()) << c.glob << ": " << m.error().message;
  EXPECT_EQ(m->matches(c.text), c.expected)
      << flavor_name(c.flavor) << " glob \"" << c.glob << "\" vs \"" << c.text << "\"";
}

constexpr GlobFlavor kP = GlobFlavor::kPath;
constexpr GlobFlavor kT = GlobFlavor::kText;

INSTANTIATE_TEST_SUITE_P(
    PathFlavor, GlobMatch,
    ::testing::Values(
        // '*' stays within one component.
        GlobCase{"/usr/bin/*", kP, "/usr/bin/apt", true}, GlobCase{"/usr/bin/*", kP, "/usr/bin/", true},
        GlobCase{"/usr/bin/*", kP, "/usr/bin/x/apt", false}, GlobCase{"/usr/bin/*", kP, "/usr/binx/apt", false},
        GlobCase{"/usr/bin/*", kP, "/usr/bin", false}, GlobCase{"/usr/*/apt", kP, "/usr/bin/apt", true},
        GlobCase{"/usr/*/apt", kP, "/usr/a/b/apt", false}, GlobCase{"/usr/bin/apt*", kP, "/usr/bin/apt-get", true},
        GlobCase{"/usr/bin/apt*", kP, "/usr/bin/apt/x", false},
        // '?' is one character, never '/'.
        GlobCase{"/usr/bin/ap?", kP, "/usr/bin/apt", true}, GlobCase{"/usr/bin/ap?", kP, "/usr/bin/ap", false},
        GlobCase{"/usr/bin/ap?", kP, "/usr/bin/aptt", false}, GlobCase{"/usr/bin?apt", kP, "/usr/bin/apt", false},
        // '**' crosses directories; "**/" also matches zero directories.
        GlobCase{"/opt/**", kP, "/opt/a", true}, GlobCase{"/opt/**", kP, "/opt/a/b/c", true},
        GlobCase{"/opt/**", kP, "/optx/a", false}, GlobCase{"/opt/**/bin/x", kP, "/opt/bin/x", true},
        GlobCase{"/opt/**/bin/x", kP, "/opt/a/b/bin/x", true}, GlobCase{"/opt/**/bin/x", kP, "/opt/a/bin/y", false},
        GlobCase{"/opt/**/bin/x", kP, "/opt/abin/x", false}, GlobCase{"/opt/**.sh", kP, "/opt/a/b/c.sh", false},
        GlobCase{"/opt/**.sh", kP, "/opt/c.sh", true}, GlobCase{"/**", kP, "/etc/shadow", true},
        // Classes.
        GlobCase{"/bin/[abc]x", kP, "/bin/bx", true}, GlobCase{"/bin/[abc]x", kP, "/bin/dx", false},
        GlobCase{"/bin/[a-c]x", kP, "/bin/cx", true}, GlobCase{"/bin/[a-c]x", kP, "/bin/dx", false},
        GlobCase{"/bin/[!a]x", kP, "/bin/bx", true}, GlobCase{"/bin/[!a]x", kP, "/bin/ax", false},
        GlobCase{"/bin/[!a]x", kP, "/bin//x", false},  // a negated class never matches '/'
        GlobCase{"/a[!x]b", kP, "/a/b", false}, GlobCase{"/a[^x]b", kP, "/a/b", false},
        GlobCase{"/a[!x]b", kP, "/a-b", true}, GlobCase{"/bin/[]]x", kP, "/bin/]x", true},
        GlobCase{"/bin/[!]]x", kP, "/bin/]x", false}, GlobCase{"/bin/[!]]x", kP, "/bin/ax", true},
        GlobCase{"/bin/[a^]x", kP, "/bin/^x", true}, GlobCase{"/bin/[\\]x", kP, "/bin/\\x", true},
        // Escapes make metacharacters literal.
        GlobCase{"/bin/a\\*", kP, "/bin/a*", true}, GlobCase{"/bin/a\\*", kP, "/bin/ab", false},
        GlobCase{"/bin/a\\?", kP, "/bin/a?", true}, GlobCase{"/bin/a\\?", kP, "/bin/ab", false},
        GlobCase{"/bin/\\[a]", kP, "/bin/[a]", true}, GlobCase{"/bin/\\[a]", kP, "/bin/a", false},
        // Regex metacharacters in a glob are literal.
        GlobCase{"/usr/lib/x86_64-linux-gnu/*.so.1", kP, "/usr/lib/x86_64-linux-gnu/libc.so.1", true},
        GlobCase{"/usr/lib/*.so", kP, "/usr/lib/libcXso", false}, GlobCase{"/a+b/*", kP, "/a+b/c", true},
        GlobCase{"/a+b/*", kP, "/aab/c", false}, GlobCase{"/(x)|y/*", kP, "/(x)|y/z", true},
        GlobCase{"/(x)|y/*", kP, "/y/z", false}, GlobCase{"/$HOME/^*", kP, "/$HOME/^a", true},
        GlobCase{"/a{1,3}/*", kP, "/a{1,3}/b", true}, GlobCase{"/a{1,3}/*", kP, "/aaa/b", false},
        // Full match, not search.
        GlobCase{"/usr/bin/*", kP, "/x/usr/bin/apt", false}, GlobCase{"/usr/bin/ap*", kP, "/usr/bin/apt\n", true},
        GlobCase{"/usr/bin/apt", kP, "/usr/bin/apt\n", false}));

INSTANTIATE_TEST_SUITE_P(
    TextFlavor, GlobMatch,
    ::testing::Values(GlobCase{"*", kT, "", true}, GlobCase{"*", kT, "/etc/passwd", true},  // '*' matches '/'
                      GlobCase{"/etc/*", kT, "/etc/a/b/c", true}, GlobCase{"?", kT, "/", true},
                      GlobCase{"?", kT, "", false}, GlobCase{"--user=*", kT, "--user=bob", true},
                      GlobCase{"--user=*", kT, "--user", false}, GlobCase{"a*b", kT, "a\nb", true},
                      GlobCase{"[!x]", kT, "/", true},  // only path globs keep classes off '/'
                      GlobCase{"[/]", kT, "/", true}, GlobCase{"[a-c]*", kT, "b/x", true},
                      GlobCase{"install", kT, "install", true}, GlobCase{"install", kT, "install2", false},
                      GlobCase{"install", kT, "Install", false}, GlobCase{"**", kT, "a/b", true},
                      GlobCase{"-[!-]*", kT, "-v", true}, GlobCase{"-[!-]*", kT, "--verbose", false}));

TEST(GlobMatch, NonUtf8BytesMatchWildcards) {
  // File names and arguments are bytes, not UTF-8. A wildcard must match any
  // byte, or a deny rule such as "/opt/tools/**" is evaded by a name with a
  // Latin-1 byte in it.
  const std::string latin1_name = "/opt/tools/caf\xe9";
  const auto path = StringMatcher::glob("/opt/tools/**", GlobFlavor::kPath);
  ASSERT_TRUE(path.ok());
  const auto star = StringMatcher::glob("/opt/tools/*", GlobFlavor::kPath);
  ASSERT_TRUE(star.ok());
  const auto text = StringMatcher::glob("--file=*", GlobFlavor::kText);
  ASSERT_TRUE(text.ok());
  const auto one = StringMatcher::glob("x?", GlobFlavor::kText);
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(path->matches(latin1_name));
  EXPECT_TRUE(star->matches(latin1_name));
  EXPECT_TRUE(text->matches("--file=\xff\xfe"));
  EXPECT_TRUE(one->matches("x\xff"));
  const auto negated = StringMatcher::glob("/bin/[!x]", GlobFlavor::kPath);
  ASSERT_TRUE(negated.ok());
  EXPECT_TRUE(negated->matches("/bin/\xe9"));
  const auto re = StringMatcher::regex("--mode=.+");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->matches("--mode=\xff"));
}

TEST(GlobMatch, DoubleStarInsideAComponentIsASingleStar) {
  // As in bash's globstar and gitignore: "**" crosses directories only as a
  // whole path component.
  const auto m = StringMatcher::glob("/opt/app-**/run", GlobFlavor::kPath);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->matches("/opt/app-1/run"));
  EXPECT_FALSE(m->matches("/opt/app-1/x/run"));
  EXPECT_FALSE(m->matches("/opt/app-run"));
  const auto whole = StringMatcher::glob("/opt/**/run", GlobFlavor::kPath);
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(whole->matches("/opt/run"));
  EXPECT_TRUE(whole->matches("/opt/a/b/run"));
  EXPECT_FALSE(whole->matches("/opt/arun"));
}

TEST(GlobMatch, Utf8TextInAPatternMatchesTheSameBytes) {
  const auto glob = StringMatcher::glob("/srv/caf\xc3\xa9/*.txt", GlobFlavor::kPath);
  ASSERT_TRUE(glob.ok()) << glob.error().message;
  EXPECT_TRUE(glob->matches("/srv/caf\xc3\xa9/menu.txt"));
  EXPECT_FALSE(glob->matches("/srv/cafe/menu.txt"));
  EXPECT_FALSE(glob->matches("/srv/caf\xe9/menu.txt"));  // Latin-1 e-acute is a different byte string
  const auto re = StringMatcher::regex("na\xc3\xafve|caf\xc3\xa9");
  ASSERT_TRUE(re.ok()) << re.error().message;
  EXPECT_TRUE(re->matches("caf\xc3\xa9"));
  EXPECT_FALSE(re->matches("cafe"));
}

TEST(StringMatcher, GlobWithoutMetaIsLiteral) {
  const auto m = StringMatcher::glob("/usr/bin/apt", GlobFlavor::kPath);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind(), StringMatcher::Kind::kLiteral);
  EXPECT_EQ(m->source(), "/usr/bin/apt");
  EXPECT_TRUE(m->matches("/usr/bin/apt"));
  EXPECT_FALSE(m->matches("/usr/bin/apt2"));
  EXPECT_FALSE(m->matches("/usr/bin/ap"));
}

TEST(StringMatcher, LiteralDotsAreNotWildcards) {
  const auto m = StringMatcher::glob("a.b", GlobFlavor::kText);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind(), StringMatcher::Kind::kLiteral);
  EXPECT_FALSE(m->matches("axb"));
  EXPECT_TRUE(StringMatcher::literal("a.b").matches("a.b"));
  EXPECT_FALSE(StringMatcher::literal("a*").matches("ab"));
}

TEST(StringMatcher, GlobKeepsSourceAndKind) {
  const auto m = StringMatcher::glob("/usr/bin/*", GlobFlavor::kPath);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->kind(), StringMatcher::Kind::kGlob);
  EXPECT_EQ(m->source(), "/usr/bin/*");
}

TEST(StringMatcher, CopiesShareTheCompiledPatternAndBehaveTheSame) {
  const auto m = StringMatcher::glob("a*", GlobFlavor::kText);
  ASSERT_TRUE(m.ok());
  const StringMatcher copy = *m;  // NOLINT(performance-unnecessary-copy-initialization)
  EXPECT_TRUE(copy.matches("abc"));
  EXPECT_FALSE(copy.matches("bc"));
  EXPECT_EQ(copy.source(), m->source());
}

struct RegexCase {
  std::string regex;
  std::string text;
  bool expected;
};

class RegexMatch : public ::testing::TestWithParam<RegexCase> {};

TEST_P(RegexMatch, FullMatch) {
  const auto& c = GetParam();
  const auto m = StringMatcher::regex(c.regex);
  ASSERT_TRUE(m.ok()) << c.regex << ": " << m.error().message;
  EXPECT_EQ(m->kind(), StringMatcher::Kind::kRegex);
  EXPECT_EQ(m->matches(c.text), c.expected) << "regex " << c.regex << " vs \"" << c.text << "\"";
}

INSTANTIATE_TEST_SUITE_P(Table, RegexMatch,
                         ::testing::Values(RegexCase{"[a-z]+", "apt", true}, RegexCase{"[a-z]+", "apt1", false},
                                           RegexCase{"[a-z]+", "1apt", false},  // anchored at both ends
                                           RegexCase{"apt|dnf", "apt", true}, RegexCase{"apt|dnf", "aptdnf", false},
                                           RegexCase{"--pkg=[a-z0-9.+-]+", "--pkg=libc6", true},
                                           RegexCase{"--pkg=[a-z0-9.+-]+", "--pkg=libc6;rm", false},
                                           RegexCase{".*", "", true}, RegexCase{"a.c", "a\nc", false},
                                           // Linear time: a classic catastrophic-backtracking pattern is fine.
                                           RegexCase{"(a+)+$", std::string(5000, 'a') + "!", false}));

class RegexBad : public ::testing::TestWithParam<std::string> {};

TEST_P(RegexBad, IsInvalidArgument) {
  const auto m = StringMatcher::regex(GetParam());
  ASSERT_FALSE(m.ok()) << GetParam();
  EXPECT_EQ(m.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(m.error().message.find(GetParam()), std::string::npos) << m.error().message;
}

INSTANTIATE_TEST_SUITE_P(Table, RegexBad,
                         ::testing::Values("(", "a)", "[a-", "*a", "a**", "(?<name>x)\\1",  // no backreferences
                                           "x{2,1}"));

struct ToRegexBad {
  std::string glob;
  GlobFlavor flavor;
  std::string message_part;
};

class GlobToRegexBad : public ::testing::TestWithParam<ToRegexBad> {};

TEST_P(GlobToRegexBad, Fails) {
  const auto& c = GetParam();
  const auto r = glob_to_regex(c.glob, c.flavor);
  ASSERT_FALSE(r.ok()) << c.glob << " -> " << *r;
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find(c.message_part), std::string::npos) << r.error().message;
  // StringMatcher::glob reports the same failure.
  const auto m = StringMatcher::glob(c.glob, c.flavor);
  EXPECT_FALSE(m.ok()) << c.glob;
}

INSTANTIATE_TEST_SUITE_P(
    Table, GlobToRegexBad,
    ::testing::Values(ToRegexBad{"[abc", kP, "unterminated"}, ToRegexBad{"[abc", kT, "unterminated"},
                      ToRegexBad{"[", kT, "unterminated"}, ToRegexBad{"[!", kP, "unterminated"},
                      ToRegexBad{"[]", kT, "unterminated"},  // a leading ']' is literal, so still open
                      ToRegexBad{"/usr/bin/[a-", kP, "unterminated"}, ToRegexBad{"abc\\", kT, "backslash"},
                      ToRegexBad{"\\", kP, "backslash"}, ToRegexBad{"/a/*\\", kP, "backslash"},
                      // A positive class in a path pattern cannot name '/' or a range over it.
                      ToRegexBad{"/a[/]b", kP, "cannot match '/'"}, ToRegexBad{"/a[x/]b", kP, "cannot match '/'"},
                      ToRegexBad{"/a[.-0]b", kP, "cannot match '/'"},
                      ToRegexBad{"/a[!-0]b[+-z]", kP, "cannot match '/'"}));

TEST(GlobToRegex, PathAndTextFlavorsDifferForStar) {
  const auto p = glob_to_regex("a*", GlobFlavor::kPath);
  const auto t = glob_to_regex("a*", GlobFlavor::kText);
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(t.ok());
  EXPECT_NE(*p, *t);
  EXPECT_NE(p->find("/"), std::string::npos) << *p;  // the path flavour excludes '/'
}

TEST(GlobToRegex, EmptyGlobIsEmptyRegex) {
  const auto r = glob_to_regex("", GlobFlavor::kText);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
}

struct MetaCase {
  std::string text;
  bool has_meta;
  std::string prefix;
};

class GlobMeta : public ::testing::TestWithParam<MetaCase> {};

TEST_P(GlobMeta, HasMetaAndLiteralPrefix) {
  const auto& c = GetParam();
  EXPECT_EQ(has_glob_meta(c.text), c.has_meta) << c.text;
  EXPECT_EQ(glob_literal_prefix(c.text), c.prefix) << c.text;
}

INSTANTIATE_TEST_SUITE_P(Table, GlobMeta,
                         ::testing::Values(MetaCase{"", false, ""}, MetaCase{"/usr/bin/apt", false, "/usr/bin/apt"},
                                           MetaCase{"/usr/bin/*", true, "/usr/bin/"},
                                           MetaCase{"/usr/b?n", true, "/usr/b"}, MetaCase{"/usr/[ab]", true, "/usr/"},
                                           MetaCase{"/usr/a\\*", true, "/usr/a"}, MetaCase{"*", true, ""},
                                           MetaCase{"a.b+c(d)", false, "a.b+c(d)"}));

}  // namespace
}  // namespace hoist
