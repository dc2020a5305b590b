#include "platform/executable.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "platform/file_digest.h"
#include "support/temp_dir.h"

namespace hoist::platform {
namespace {

using hoist::testing::TempDir;
using hoist::testing::trusted_base;

TEST(ResolveCommand, SearchesOnlyTheSecurePath) {
  TempDir dir;
  dir.write("bin/mytool", "#!/bin/sh\n", 0755);
  dir.write("other/mytool", "#!/bin/sh\n", 0755);
  dir.write("bin/notexec", "x", 0644);
  const std::string secure = dir.path() + "/bin";
  EXPECT_EQ(*resolve_command("mytool", secure), dir.path() + "/bin/mytool");
  EXPECT_EQ(resolve_command("notexec", secure).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(resolve_command("nope", secure).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(resolve_command("./mytool", secure).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolve_command("bin/mytool", secure).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(resolve_command("", secure).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(*resolve_command("/abs/path", secure), "/abs/path");
}

TEST(ResolveCommand, FindsRealSystemCommands) {
  EXPECT_EQ(*resolve_command("ls"), "/usr/bin/ls");  // /usr/bin precedes /bin in the secure path
}

class InspectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "trust checks need files owned by root: run as root (CI does)";
    ASSERT_FALSE(trusted_base().empty()) << "no root-owned, non-writable directory for the test files";
  }
  TempDir dir_{trusted_base()};
  DigestCache cache_;
};

TEST_F(InspectTest, RootOwnedTreeIsTrusted) {
  const auto path = dir_.write("bin/tool", "#!/bin/sh\necho hi\n", 0755);
  ExecutableInspector inspector(nullptr, &cache_);
  auto r = inspector.inspect(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->facts.path, path);
  EXPECT_TRUE(r->facts.trusted_path);
  ASSERT_TRUE(r->facts.sha256.has_value());
  EXPECT_EQ(*r->facts.sha256, sha256("#!/bin/sh\necho hi\n"));
  EXPECT_TRUE(r->fd.valid());
}

TEST_F(InspectTest, WritableDirectoryOrFileIsNotTrusted) {
  const auto path = dir_.write("open/tool", "x", 0755);
  ExecutableInspector inspector(nullptr, &cache_);
  chmod((dir_.path() + "/open").c_str(), 0777);
  EXPECT_FALSE(inspector.inspect(path)->facts.trusted_path);
  chmod((dir_.path() + "/open").c_str(), 0775);
  EXPECT_FALSE(inspector.inspect(path)->facts.trusted_path);
  chmod((dir_.path() + "/open").c_str(), 0755);
  EXPECT_TRUE(inspector.inspect(path)->facts.trusted_path);
  chmod(path.c_str(), 0757);
  EXPECT_FALSE(inspector.inspect(path)->facts.trusted_path);
}

TEST_F(InspectTest, FileOwnedBySomeoneElseIsNotTrusted) {
  const auto path = dir_.write("bin/tool", "x", 0755);
  ASSERT_EQ(chown(path.c_str(), 65534, 65534), 0);
  ExecutableInspector inspector(nullptr, &cache_);
  EXPECT_FALSE(inspector.inspect(path)->facts.trusted_path);
}

TEST_F(InspectTest, SymlinkOfTheSameNameIsResolvedToTheRealFile) {
  const auto real = dir_.write("bin/real", "x", 0755);
  ASSERT_EQ(::mkdir((dir_.path() + "/other").c_str(), 0755), 0);
  ASSERT_EQ(symlink(real.c_str(), (dir_.path() + "/other/real").c_str()), 0);
  ExecutableInspector inspector(nullptr, &cache_);
  auto r = inspector.inspect(dir_.path() + "/other/real");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->facts.path, real);
  EXPECT_EQ(r->facts.real_path, "");
}

TEST_F(InspectTest, SymlinkUnderAnotherNameKeepsItsNameAndTrust) {
  // A multi-call program acts on argv[0]: the name is what runs.
  const auto real = dir_.write("bin/real", "x", 0755);
  ASSERT_EQ(symlink(real.c_str(), (dir_.path() + "/link").c_str()), 0);
  ExecutableInspector inspector(nullptr, &cache_);
  auto r = inspector.inspect(dir_.path() + "/link");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->facts.path, dir_.path() + "/link");
  EXPECT_EQ(r->facts.real_path, real);
  EXPECT_TRUE(r->facts.trusted_path);  // the directory under /run is root's
  // The same link in a directory others can write is not trusted.
  ASSERT_EQ(::mkdir((dir_.path() + "/open").c_str(), 0777), 0);
  ASSERT_EQ(::chmod((dir_.path() + "/open").c_str(), 0777), 0);
  ASSERT_EQ(symlink(real.c_str(), (dir_.path() + "/open/runlevel").c_str()), 0);
  auto open = inspector.inspect(dir_.path() + "/open/runlevel");
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->facts.path, dir_.path() + "/open/runlevel");
  EXPECT_FALSE(open->facts.trusted_path);
}

TEST_F(InspectTest, NotARegularExecutableFileIsRefused) {
  ExecutableInspector inspector(nullptr, &cache_);
  EXPECT_EQ(inspector.inspect(dir_.path()).error().code, ErrorCode::kInvalidArgument);
  const auto data = dir_.write("data.txt", "x", 0644);
  EXPECT_EQ(inspector.inspect(data).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(inspector.inspect(dir_.path() + "/missing").error().code, ErrorCode::kNotFound);
}

TEST_F(InspectTest, ChangedFileIsHashedAgain) {
  const auto path = dir_.write("bin/tool", "one", 0755);
  ExecutableInspector inspector(nullptr, &cache_);
  EXPECT_EQ(*inspector.inspect(path)->facts.sha256, sha256("one"));
  EXPECT_EQ(*inspector.inspect(path)->facts.sha256, sha256("one"));
  EXPECT_EQ(cache_.hits(), 1U);
  dir_.write("bin/tool", "two", 0755);  // same size, same inode: ctime/mtime differ
  EXPECT_EQ(*inspector.inspect(path)->facts.sha256, sha256("two"));
}

TEST(DigestCache, KeyedByIdentity) {
  TempDir dir;
  const auto path = dir.write("f", "content");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  DigestCache cache(2);
  const auto id = FileIdentity::of(st);
  EXPECT_EQ(*cache.sha256(fd, id), sha256("content"));
  EXPECT_EQ(*cache.sha256(fd, id), sha256("content"));
  EXPECT_EQ(cache.hits(), 1U);
  FileIdentity other = id;
  other.ctime_ns += 1;
  (void)cache.sha256(fd, other);
  EXPECT_EQ(cache.misses(), 2U);
  ::close(fd);
}

TEST(DigestOfFd, DoesNotMoveTheOffset) {
  TempDir dir;
  const auto path = dir.write("f", "abcdef");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(lseek(fd, 2, SEEK_SET), 2);
  EXPECT_EQ(*sha256_of_fd(fd), sha256("abcdef"));
  EXPECT_EQ(md5_hex(*md5_of_fd(fd)), "e80b5017098950fc58aad83c8c14978e");
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 2);
  ::close(fd);
}

}  // namespace
}  // namespace hoist::platform
