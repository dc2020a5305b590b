// hoistd backup's PostgreSQL side without PostgreSQL (server/backup/
// pg_backup.h): the real ProcessRunner on real small programs (the
// environment given whole, standard input, a child killed at its
// deadline, only absolute paths), and the dump's check over a recording
// fake runner (which tool runs, with what, and what is refused). The
// real pg_dump and pg_restore against a real cluster:
// tests/agent/pg_backup_e2e_test.cpp.
#include "server/backup/pg_backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "core/audit.h"
#include "support/temp_dir.h"

namespace hoist::backup {
namespace {

using testing::TempDir;

TEST(ProcessRunner, GivesTheChildOnlyTheEnvironmentAndInputItIsGiven) {
  auto runner = real_process_runner();
  ChildSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.env = {"ONLY=this"};
  auto ran = runner->run(spec);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->exit_code, 0);
  EXPECT_EQ(ran->out, "ONLY=this\n");

  TempDir dir;
  const std::string file = dir.path() + "/in";
  std::ofstream(file) << "from the descriptor\n";
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  spec.argv = {"/bin/cat"};
  spec.env = {};
  spec.stdin_fd = fd;
  ran = runner->run(spec);
  ::close(fd);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->out, "from the descriptor\n");

  spec.argv = {"/bin/sh", "-c", "echo oops >&2; exit 3"};
  spec.stdin_fd = -1;
  ran = runner->run(spec);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_EQ(ran->exit_code, 3);
  EXPECT_EQ(ran->err, "oops\n");
}

TEST(ProcessRunner, RefusesARelativePathAndKillsAChildPastItsDeadline) {
  auto runner = real_process_runner();
  ChildSpec spec;
  spec.argv = {"env"};
  EXPECT_FALSE(runner->run(spec));
  spec.argv = {"/bin/sleep", "20"};
  spec.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  auto ran = runner->run(spec);
  ASSERT_FALSE(ran);
  EXPECT_NE(ran.error().message.find("did not finish"), std::string::npos) << ran.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  // Output past the bound stops it too, rather than filling memory.
  spec.argv = {"/bin/sh", "-c", "yes"};
  spec.timeout = std::chrono::seconds(20);
  spec.max_output = 100000;
  ran = runner->run(spec);
  ASSERT_FALSE(ran);
  EXPECT_NE(ran.error().message.find("wrote more than"), std::string::npos) << ran.error().message;
}

// Answers as pg_restore would, and records what it was asked.
class FakePgRestore final : public ProcessRunner {
 public:
  Result<ChildResult> run(const ChildSpec& spec) override {
    specs.push_back(spec);
    ChildResult r;
    r.exit_code = 0;
    if (spec.argv.size() > 1 && spec.argv[1] == "--version") {
      r.out = version;
    } else if (spec.argv.size() > 1 && spec.argv[1] == "--list") {
      r.out = listing;
      r.exit_code = list_exit;
      r.err = list_exit == 0 ? "" : "pg_restore: error: input file does not appear to be a valid archive\n";
    } else {
      r.out = data;
    }
    return r;
  }
  std::vector<ChildSpec> specs;
  std::string version = "pg_restore (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n";
  std::string listing =
      "215; 1259 1 TABLE public audit_events r\n216; 1259 2 TABLE public schema_migrations r\n"
      "217; 1259 3 TABLE public push_messages r\n3401; 0 1 TABLE DATA public audit_events r\n"
      "3402; 0 2 TABLE DATA public schema_migrations r\n3403; 0 3 TABLE DATA public push_messages r\n";
  int list_exit = 0;
  std::string data;
};

class PgInspect : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(root_.path() + "/15/bin");
    const std::string tool = root_.path() + "/15/bin/pg_restore";
    std::ofstream(tool) << "#!/bin/false\n";
    ASSERT_EQ(::chmod(tool.c_str(), 0755), 0);
    dump_ = root_.path() + "/hoist.dump";
    std::ofstream(dump_) << "PGDMP...";
    AuditEvent e;
    e.time = AuditTime{std::chrono::milliseconds{1700000000000}};
    e.actor = "admin";
    e.action = "user.login";
    e.details = "{}";
    e = chain_after(std::nullopt, std::move(e));
    head_ = e.hash.hex();
    fake_.data =
        "COPY public.audit_events (seq, time_ms, actor, action, target, host, details, prev_hash, hash) FROM stdin;\n"
        "1\t1700000000000\tadmin\tuser.login\t\t\t{}\t" +
        e.prev_hash.hex() + "\t" + e.hash.hex() +
        "\n\\.\n\nCOPY public.schema_migrations (version, applied_ms) FROM stdin;\n2\t1\n\\.\n";
  }
  TempDir root_;
  std::string dump_;
  std::string head_;
  FakePgRestore fake_;
};

TEST_F(PgInspect, ReadsTheDumpThroughPgRestoreOnItsStandardInput) {
  auto facts = pg_inspector(root_.path(), fake_)(dump_);
  ASSERT_TRUE(facts) << facts.error().message;
  EXPECT_EQ(facts->schema_version, 2);
  EXPECT_EQ(facts->audit_events, 1U);
  EXPECT_EQ(facts->audit_head_hash, head_);
  ASSERT_EQ(fake_.specs.size(), 3U);  // --version, --list, the data
  for (const auto& spec : fake_.specs) {
    EXPECT_EQ(spec.argv[0], root_.path() + "/15/bin/pg_restore");
    EXPECT_EQ(spec.env,
              (std::vector<std::string>{"LC_ALL=C", "TZ=UTC", "PGCONNECT_TIMEOUT=10", "PGPASSFILE=/dev/null"}));
    for (const auto& a : spec.argv) EXPECT_EQ(a.find(dump_), std::string::npos) << "the dump passed by name";
  }
  EXPECT_GE(fake_.specs[1].stdin_fd, 0);
  EXPECT_GE(fake_.specs[2].stdin_fd, 0);
}

TEST_F(PgInspect, RefusesWhatPgRestoreCannotReadOrWhatLacksTheTrail) {
  fake_.list_exit = 1;
  auto refused = pg_inspector(root_.path(), fake_)(dump_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("does not appear to be a valid archive"), std::string::npos);

  fake_.list_exit = 0;
  fake_.listing = "215; 1259 1 TABLE public users r\n";
  EXPECT_FALSE(pg_inspector(root_.path(), fake_)(dump_));

  // A tool that says it is older than its directory is not run further.
  fake_.specs.clear();
  fake_.version = "pg_restore (PostgreSQL) 14.2\n";
  refused = pg_inspector(root_.path(), fake_)(dump_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("older than"), std::string::npos) << refused.error().message;
  EXPECT_EQ(fake_.specs.size(), 1U);
}

TEST_F(PgInspect, AFifoInPlaceOfTheDumpIsRefusedWithoutBlocking) {
  const std::string fifo = root_.path() + "/fifo.dump";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto refused = pg_inspector(root_.path(), fake_)(fifo);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("not a regular file"), std::string::npos) << refused.error().message;
  EXPECT_TRUE(fake_.specs.empty());
}

}  // namespace
}  // namespace hoist::backup
