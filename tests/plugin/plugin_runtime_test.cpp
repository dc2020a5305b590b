// The plugin runtime's pieces on their own: the break-glass file format
// and the timestamp records. (The terminal flow and the agent client are
// tested with the endpoint library, tests/endpoint.)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>

#include "fake_agent.h"
#include "plugin/break_glass.h"
#include "plugin/timestamp.h"

namespace hoist::plugin {
namespace {

TEST(BreakGlass, FileFormatIsStrict) {
  auto ok = parse_break_glass("# admins\n\nwheel\nops-team\nsvc$\nwheel\n");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, (std::vector<std::string>{"wheel", "ops-team", "svc$"}));
  for (const std::string& bad :
       std::vector<std::string>{"wheel ops\n", " wheel\n", "group = \"wheel\"\n", "-x\n", "wheel\r\n", "a$b\n",
                                std::string(33, 'g') + "\n", "ok\n  # indented comment\n"}) {
    EXPECT_FALSE(parse_break_glass(bad).ok()) << bad;
  }
  EXPECT_TRUE(parse_break_glass("")->empty());
}

TEST(BreakGlass, UntrustedFilesAreIgnored) {
  char tmpl[] = "/tmp/hoist-bg-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/bg") << "wheel\n";
  ::chmod((dir + "/bg").c_str(), 0644);
  // /tmp is writable by everyone: the directory chain is not trusted.
  EXPECT_FALSE(read_break_glass_file(dir + "/bg").ok());
  EXPECT_FALSE(read_break_glass_file(dir + "/missing").ok());
  EXPECT_FALSE(read_break_glass_file("").ok());
  std::filesystem::remove_all(dir);
}

TEST(Timestamp, RecordsAreFreshThenForgotten) {
  if (::geteuid() != 0) GTEST_SKIP() << "timestamp records need a root-owned directory";
  char tmpl[] = "/tmp/hoist-ts-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/ts";
  const TimestampStore store(dir);
  TimestampKey key{1000, 34816, ::getsid(0), 12345};
  EXPECT_FALSE(store.fresh(key));
  ASSERT_TRUE(store.update(key).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(store.fresh(key));
  TimestampKey other_tty = key;
  other_tty.tty_device = 34817;
  EXPECT_FALSE(store.fresh(other_tty));
  TimestampKey restarted = key;
  restarted.start_time = 12346;
  EXPECT_FALSE(store.fresh(restarted));
  TimestampKey bob = key;
  bob.uid = 1001;
  ASSERT_TRUE(store.update(bob).ok());
  ASSERT_TRUE(store.remove_all(1000).ok());
  EXPECT_FALSE(store.fresh(key));
  EXPECT_TRUE(store.fresh(bob));
  // A record from the future (clock games) is stale.
  std::ofstream(dir + "/" + key.file_name()) << timestamp_record(boot_seconds() + 1000, *boot_id());
  EXPECT_FALSE(store.fresh(key));
  // A directory others can enter is not trusted.
  ::chmod(dir.c_str(), 0755);
  EXPECT_FALSE(store.fresh(bob));
  std::filesystem::remove_all(tmpl);
}

// Attacker: a user who authenticated before a reboot, with a timestamp
// directory that survives reboots (CLOCK_BOOTTIME starts again at 0).
// Must hold: a record written in another boot, or naming no boot, is stale.
TEST(Timestamp, ARecordOfAnotherBootIsStale) {
  if (::geteuid() != 0) GTEST_SKIP() << "timestamp records need a root-owned directory";
  char tmpl[] = "/tmp/hoist-ts-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/ts";
  const TimestampStore store(dir);
  const TimestampKey key{1000, 34816, ::getsid(0), 12345};
  ASSERT_TRUE(store.update(key).ok());
  ASSERT_TRUE(store.fresh(key));
  // The record as an earlier version wrote it: seconds only, no boot.
  const auto before = boot_seconds() > 10 ? boot_seconds() - 10 : 0;
  std::ofstream(dir + "/" + key.file_name(), std::ios::trunc) << before << "\n";
  EXPECT_FALSE(store.fresh(key)) << "a record that names no boot";
  std::ofstream(dir + "/" + key.file_name(), std::ios::trunc) << before << " 00000000-1111-2222-3333-444444444444\n";
  EXPECT_FALSE(store.fresh(key)) << "a record of another boot";
  std::filesystem::remove_all(tmpl);
}

TEST(Timestamp, RecordTextNamesItsBoot) {
  const std::string boot = "3fd2b53f-e7ff-490d-be1a-c31f67dcb12b";
  EXPECT_EQ(timestamp_record(100, boot), "100 " + boot + "\n");
  EXPECT_TRUE(timestamp_record_fresh(timestamp_record(100, boot), 150, boot));
  EXPECT_TRUE(timestamp_record_fresh(timestamp_record(100, boot), 100 + kTimestampTimeout - 1, boot));
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(100, boot), 100 + kTimestampTimeout, boot)) << "expired";
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(151, boot), 150, boot)) << "from the future";
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(100, boot), 150, "00000000-0000-0000-0000-000000000000"));
  EXPECT_FALSE(timestamp_record_fresh("100\n", 150, boot)) << "no boot named";
  EXPECT_FALSE(timestamp_record_fresh(timestamp_record(100, boot), 150, "")) << "this boot unknown";
  EXPECT_FALSE(timestamp_record_fresh("1x0 " + boot, 150, boot));
  EXPECT_FALSE(timestamp_record_fresh("", 150, boot));
  auto id = boot_id();
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(id->size(), 36U);
}

TEST(Timestamp, KeyReadsTheSessionLeadersStartTime) {
  auto start = process_start_time(::getpid());
  ASSERT_TRUE(start.ok()) << start.error().message;
  EXPECT_GT(*start, 0u);
  EXPECT_FALSE(process_start_time(0).ok());
  plugin::UserInfo user;
  user.uid = 1000;
  user.ppid = ::getpid();
  auto key = timestamp_key(user);  // no tty: keyed on the parent process
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->tty_device, 0u);
  EXPECT_EQ(key->sid, ::getpid());
  EXPECT_EQ(key->start_time, *start);
}

}  // namespace
}  // namespace hoist::plugin
