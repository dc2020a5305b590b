#include "platform/dpkg_database.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "platform/unique_fd.h"
#include "support/temp_dir.h"

namespace hoist::platform {
namespace {

using hoist::testing::TempDir;

// MD5("hello\n") and MD5("other\n").
constexpr const char* kHelloMd5 = "b1946ac92492d2347c6235b4d2611184";

struct Opened {
  UniqueFd fd;
  FileIdentity id;
};

Opened open_file(const std::string& path) {
  Opened o;
  o.fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  fstat(o.fd.get(), &st);
  o.id = FileIdentity::of(st);
  return o;
}

// A fake dpkg admin directory: package "tool" owns /opt/x/bin/tool (listed)
// and the file on disk lives at the same path inside the temp root; dpkg's
// paths are absolute, so the tests list the temp paths.
class DpkgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = root_.write("fs/usr/bin/tool", "hello\n", 0755);
    other_ = root_.write("fs/usr/bin/other", "other\n", 0755);
    root_.write("dpkg/status",
                "Package: tool\nStatus: install ok installed\nArchitecture: amd64\n"
                "Maintainer: Tool Team <tool@example.org>\nOrigin: Example\nDescription: a tool\n more text\n\n"
                "Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\n\n"
                "Package: shared\nStatus: install ok installed\nArchitecture: all\nMaintainer: S <s@x>\n");
    root_.write("dpkg/info/tool:amd64.list", "/.\n" + file_ + "\n" + other_ + "\n");
    root_.write("dpkg/info/tool:amd64.md5sums", std::string(kHelloMd5) + "  " + file_.substr(1) + "\n" +
                                                    "00000000000000000000000000000000  " + other_.substr(1) + "\n");
    root_.write("dpkg/info/gone:amd64.list", root_.path() + "/fs/usr/bin/gone\n");
  }

  TempDir root_;
  std::string file_;
  std::string other_;
};

TEST_F(DpkgTest, OwnedAndMatchingFileIsVerified) {
  DpkgDatabase db(root_.path() + "/dpkg");
  auto o = open_file(file_);
  const auto facts = db.lookup(file_, o.fd.get(), o.id);
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->name, "tool");
  EXPECT_EQ(facts->origin, "Example");
  EXPECT_EQ(facts->maintainer, "Tool Team <tool@example.org>");
  EXPECT_TRUE(facts->verified);
}

TEST_F(DpkgTest, OwnedFileWithWrongDigestIsNotVerified) {
  DpkgDatabase db(root_.path() + "/dpkg");
  auto o = open_file(other_);
  const auto facts = db.lookup(other_, o.fd.get(), o.id);
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->name, "tool");
  EXPECT_FALSE(facts->verified);
}

TEST_F(DpkgTest, ModifiedFileIsNoLongerVerified) {
  DigestCache cache;
  DpkgDatabase db(root_.path() + "/dpkg", &cache);
  {
    auto o = open_file(file_);
    ASSERT_TRUE(db.lookup(file_, o.fd.get(), o.id)->verified);
  }
  sleep(0);  // ctime changes on write even within the same second (ns resolution)
  root_.write("fs/usr/bin/tool", "hellO\n", 0755);
  auto o = open_file(file_);
  const auto facts = db.lookup(file_, o.fd.get(), o.id);
  ASSERT_TRUE(facts.has_value());
  EXPECT_FALSE(facts->verified);
}

TEST_F(DpkgTest, UnownedFileHasNoPackage) {
  DpkgDatabase db(root_.path() + "/dpkg");
  const auto stray = root_.write("fs/usr/bin/stray", "x", 0755);
  auto o = open_file(stray);
  EXPECT_FALSE(db.lookup(stray, o.fd.get(), o.id).has_value());
}

TEST_F(DpkgTest, ListedButNotInstalledPackageDoesNotCount) {
  const auto gone = root_.write("fs/usr/bin/gone", "x", 0755);
  DpkgDatabase db(root_.path() + "/dpkg");
  auto o = open_file(gone);
  EXPECT_FALSE(db.lookup(gone, o.fd.get(), o.id).has_value());
}

TEST_F(DpkgTest, AmbiguousOwnerFailsClosed) {
  root_.write("dpkg/info/shared.list", file_ + "\n");
  DpkgDatabase db(root_.path() + "/dpkg");
  auto o = open_file(file_);
  EXPECT_FALSE(db.lookup(file_, o.fd.get(), o.id).has_value());
}

TEST_F(DpkgTest, MissingDatabaseMeansNoFacts) {
  DpkgDatabase db(root_.path() + "/no-such-dir");
  auto o = open_file(file_);
  EXPECT_FALSE(db.lookup(file_, o.fd.get(), o.id).has_value());
}

TEST(DpkgAliases, MergedUsrPathsAlsoTryTheirOldNames) {
  EXPECT_EQ(DpkgDatabase::path_aliases("/usr/bin/ls"), (std::vector<std::string>{"/usr/bin/ls", "/bin/ls"}));
  EXPECT_EQ(DpkgDatabase::path_aliases("/usr/sbin/ip"), (std::vector<std::string>{"/usr/sbin/ip", "/sbin/ip"}));
  EXPECT_EQ(DpkgDatabase::path_aliases("/usr/local/bin/x"), (std::vector<std::string>{"/usr/local/bin/x"}));
  EXPECT_EQ(DpkgDatabase::path_aliases("/usr/binx/y"), (std::vector<std::string>{"/usr/binx/y"}));
}

TEST(DpkgParsers, StatusStanzas) {
  const auto entries = parse_dpkg_status(
      "Package: a\nStatus: install ok installed\nArchitecture: amd64\nMaintainer: M <m@x>\n"
      "Description: d\n continued: not a field\n\n\n"
      "Package: b\nStatus: hold ok installed\n\n"
      "garbage line without colon\nPackage: c\nStatus: purge ok not-installed\n");
  ASSERT_EQ(entries.size(), 3U);
  EXPECT_EQ(entries[0].package, "a");
  EXPECT_EQ(entries[0].maintainer, "M <m@x>");
  EXPECT_TRUE(entries[0].installed);
  EXPECT_TRUE(entries[1].installed);
  EXPECT_FALSE(entries[2].installed);
}

TEST(DpkgParsers, Md5sumsSkipMalformedLines) {
  const auto sums = parse_md5sums(
      "b1946ac92492d2347c6235b4d2611184  usr/bin/tool\n"
      "short  usr/bin/bad\n"
      "B1946AC92492D2347C6235B4D2611184  usr/bin/upper\n"
      "b1946ac92492d2347c6235b4d2611184  \n");
  EXPECT_EQ(sums.size(), 1U);
  EXPECT_EQ(sums.at("/usr/bin/tool"), kHelloMd5);
}

TEST(DpkgReal, CoreutilsLsIsVerifiedOnThisMachine) {
  // The real database of the Debian machine the tests run on.
  DpkgDatabase db;
  auto o = open_file("/usr/bin/ls");
  ASSERT_TRUE(o.fd.valid());
  const auto facts = db.lookup("/usr/bin/ls", o.fd.get(), o.id);
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->name, "coreutils");
  EXPECT_TRUE(facts->verified);
}

}  // namespace
}  // namespace hoist::platform
