#include "agent/state/sqlite_agent_state.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent_state_conformance.h"
#include "support/temp_dir.h"

namespace hoist::agent {
namespace {

using testing::AgentStateConformance;

using hoist::testing::PrivateDir;

std::string make_temp_dir() {
  std::string tmpl = "/tmp/hoist-agent-state-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

testing::AgentStateBackend sqlite_backend() {
  const auto open = [](const std::string& handle, const OutboxLimits& limits) -> std::unique_ptr<AgentState> {
    SqliteAgentStateOptions options;
    options.outbox = limits;
    auto s = open_sqlite_agent_state(handle + "/state", options);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  };
  return {"sqlite",
          [open](std::string& handle, const OutboxLimits& limits) {
            handle = make_temp_dir();
            return open(handle, limits);
          },
          open,
          [](const std::string& handle) {
            std::error_code ec;
            std::filesystem::remove_all(handle, ec);
          }};
}

INSTANTIATE_TEST_SUITE_P(Sqlite, AgentStateConformance, ::testing::Values(sqlite_backend()),
                         [](const auto& backend) { return backend.param.name; });

// Raw access to the file, as the sqlite3 shell would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path;
    }
  }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (err != nullptr ? err : "?");
      sqlite3_free(err);
    }
  }
  // The first column of every row.
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      const auto* p = sqlite3_column_text(s, 0);
      out.emplace_back(p == nullptr ? "" : reinterpret_cast<const char*>(p));
    }
    sqlite3_finalize(s);
    return out;
  }
  std::string text(const std::string& sql) {
    auto rows = column(sql);
    return rows.empty() ? std::string() : rows.front();
  }

 private:
  sqlite3* db_ = nullptr;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class SqliteAgentStateTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<AgentState>> open(const SqliteAgentStateOptions& options = {}) {
    return open_sqlite_agent_state(dir_, options);
  }
  std::unique_ptr<AgentState> open_ok(const SqliteAgentStateOptions& options = {}) {
    auto s = open(options);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Expects open() to fail with `code` and a message containing `needle`.
  void expect_refused(ErrorCode code, const std::string& needle, const std::string& context) {
    auto s = open();
    ASSERT_FALSE(s.ok()) << context;
    EXPECT_EQ(s.error().code, code) << context << ": " << s.error().message;
    EXPECT_NE(s.error().message.find(needle), std::string::npos) << context << ": " << s.error().message;
  }
  [[nodiscard]] std::string db_path() const { return dir_ + "/agent.db"; }

  PrivateDir base_;
  std::string dir_ = base_ / "state";
};

OutboxEvent numbered_event(int n) {
  return OutboxEvent{fmt::format("{:032x}", n), "decision", EventTime{std::chrono::milliseconds{n}},
                     fmt::format("{{\"n\":{},\"pad\":\"{}\"}}", n, std::string(900, 'x'))};
}

TEST_F(SqliteAgentStateTest, CreatesAPrivateDirectoryAndFileWhateverTheUmask) {
  const mode_t old = ::umask(0);
  auto s = open();
  ::umask(old);
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_TRUE((*s)->enqueue(numbered_event(1)).ok());
  EXPECT_EQ(mode_of(dir_), 0700U);
  EXPECT_EQ(mode_of(db_path()), 0600U);
  for (const char* side : {"-wal", "-shm"}) {
    const std::string path = db_path() + side;
    if (std::filesystem::exists(path)) {
      EXPECT_EQ(mode_of(path), 0600U) << path;
    }
  }
  struct stat st {};
  ASSERT_EQ(::stat(db_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::geteuid());
}

TEST_F(SqliteAgentStateTest, UsesWalAndRecordsTheSchemaVersion) {
  { auto s = open_ok(); }
  RawDb raw(db_path());
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(sqlite_agent_state_migrations().size()));
  EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok");
}

TEST_F(SqliteAgentStateTest, MigratesFromEveryEarlierVersion) {
  const int latest = static_cast<int>(sqlite_agent_state_migrations().size());
  for (int from = 0; from < latest; ++from) {
    std::filesystem::remove_all(dir_);
    {
      SqliteAgentStateOptions old;
      old.migrate_to = from;
      auto s = open_ok(old);
      ASSERT_NE(s, nullptr);
    }
    EXPECT_EQ(RawDb(db_path()).text("PRAGMA user_version"), std::to_string(from));
    auto s = open_ok();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(RawDb(db_path()).text("PRAGMA user_version"), std::to_string(latest)) << "from " << from;
    EXPECT_TRUE(s->enqueue(numbered_event(1)).ok());
    EXPECT_EQ(*s->pending_count(), 1U);
    EXPECT_EQ(*s->push_cursor(), 0U);
  }
}

// An endpoint enrolled by an agent with one URL keeps working after the
// upgrade that added several (migration 5): the same identity, no fallbacks.
TEST_F(SqliteAgentStateTest, AnIdentityOfOneUrlSurvivesTheMigrationToSeveral) {
  Identity id;
  id.server_url = "https://hoist.example.com:8443";
  id.ca_pin_sha256 = std::string(64, 'b');
  id.endpoint_id = "ep_1";
  id.credential = "hoist_agent_x";
  id.hostname = "web-01";
  id.labels = {"prod"};
  id.enrolled_at = TimePoint{Seconds{1'700'000'000}};
  {
    SqliteAgentStateOptions old;
    old.migrate_to = 4;
    auto s = open_ok(old);
    ASSERT_NE(s, nullptr);
  }
  {
    // As hoist-agent of schema 4 wrote it.
    RawDb raw(db_path());
    raw.exec(
        "INSERT INTO identity (singleton, server_url, ca_pin, endpoint_id, credential, hostname, enrolled_s, "
        "codes_key, codes_key_generation) VALUES (1, 'https://hoist.example.com:8443', '" +
        std::string(64, 'b') + "', 'ep_1', 'hoist_agent_x', 'web-01', 1700000000, NULL, 0)");
    raw.exec("INSERT INTO identity_labels (position, label) VALUES (0, 'prod')");
  }
  auto s = open_ok();
  ASSERT_NE(s, nullptr);
  auto read = s->identity();
  ASSERT_TRUE(read.ok() && *read) << (read.ok() ? "no identity" : read.error().message);
  EXPECT_EQ(**read, id);
  EXPECT_EQ(server_urls(**read), std::vector<std::string>{id.server_url});
  EXPECT_EQ(*s->server_answer(), std::nullopt);
}

TEST_F(SqliteAgentStateTest, ReopeningAppliesNothingTwice) {
  {
    auto s = open_ok();
    ASSERT_TRUE(s->set_push_cursor(5).ok());
  }
  auto s = open_ok();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(*s->push_cursor(), 5U);  // migration 1's initial row was not inserted again
  EXPECT_EQ(RawDb(db_path()).text("SELECT COUNT(*) FROM push_cursor"), "1");
}

// Every sudo run asks for the grants in force, so they are kept in memory
// between runs; a change written by another connection to the file is
// still seen at once, as are our own writes (the conformance suite).
TEST_F(SqliteAgentStateTest, GrantsChangedByAnotherConnectionAreSeenAtOnce) {
  auto s = open_ok();
  ASSERT_NE(s, nullptr);
  Grant g;
  g.id = "g-1";
  g.user = "alice";
  g.uid = 1000;
  g.kind = GrantKind::kSession;
  g.start = TimePoint{Seconds{100}};
  g.deadline = TimePoint{Seconds{5000}};
  g.origin = GrantOrigin::kServer;
  ASSERT_TRUE(s->upsert_grant(g).ok());
  const TimePoint now{Seconds{1000}};
  ASSERT_EQ(s->active_grants(1000, now)->size(), 1U);
  RawDb raw(db_path());
  raw.exec("UPDATE grants SET deadline_s = 2000 WHERE id = 'g-1'");
  auto changed = s->active_grants(1000, now);
  ASSERT_TRUE(changed.ok() && changed->size() == 1U);
  EXPECT_EQ(changed->front().deadline, TimePoint{Seconds{2000}});
  raw.exec("UPDATE grants SET revoked_s = 900 WHERE id = 'g-1'");
  EXPECT_TRUE(s->active_grants(1000, now)->empty()) << "a revocation written by another connection";
  g.id = "g-2";
  ASSERT_TRUE(s->upsert_grant(g).ok());
  EXPECT_EQ(s->active_grants(1000, now)->size(), 1U) << "our own write";
}

TEST_F(SqliteAgentStateTest, AReaderOpensBesideTheRunningAgentAndCannotWrite) {
  SqliteAgentStateOptions reader;
  reader.read_only = true;
  auto missing = open(reader);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir_)) << "a reader creates nothing";

  auto agent = open_ok();  // holds the lock, as the running agent does
  ASSERT_NE(agent, nullptr);
  ASSERT_TRUE(agent->enqueue(numbered_event(1)).ok());
  EXPECT_FALSE(open().ok()) << "a second writer must still be refused";
  auto status = open_ok(reader);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(*status->pending_count(), 1U);
  ASSERT_TRUE(agent->enqueue(numbered_event(2)).ok());
  EXPECT_EQ(*status->pending_count(), 2U) << "the reader sees the writer's commits";
  EXPECT_FALSE(status->set_push_cursor(9).ok());
  EXPECT_EQ(*agent->push_cursor(), 0U);
}

TEST_F(SqliteAgentStateTest, RefusesADatabaseFromTheFuture) {
  { auto s = open_ok(); }
  RawDb(db_path()).exec("PRAGMA user_version = 999");
  expect_refused(ErrorCode::kConflict, "schema version 999", "future");
  expect_refused(ErrorCode::kConflict, db_path(), "future names the file");
}

TEST_F(SqliteAgentStateTest, RefusesASymlinkedDirectory) {
  const std::string real = base_ / "real";
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(real.c_str(), dir_.c_str()), 0);
  expect_refused(ErrorCode::kInvalidArgument, dir_ + " is a symlink", "symlinked dir");
  EXPECT_FALSE(std::filesystem::exists(real + "/agent.db"));
}

TEST_F(SqliteAgentStateTest, RefusesADirectoryOthersCanWrite) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  for (const mode_t mode : {0777, 0770, 0720, 0702, 0703}) {
    ASSERT_EQ(::chmod(dir_.c_str(), mode), 0);
    expect_refused(ErrorCode::kInvalidArgument, "chmod 700 " + dir_, fmt::format("mode {:o}", mode));
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // readable is allowed; the file itself is 0600
  EXPECT_NE(open_ok(), nullptr);
}

TEST_F(SqliteAgentStateTest, RefusesADirectoryOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  ASSERT_EQ(::chown(dir_.c_str(), 12345, 12345), 0);
  expect_refused(ErrorCode::kInvalidArgument, "owned by uid 12345", "foreign dir");
}

TEST_F(SqliteAgentStateTest, RefusesAFileWhereTheDirectoryShouldBe) {
  std::ofstream(dir_) << "x";
  expect_refused(ErrorCode::kInvalidArgument, "not a directory", "file as dir");
}

TEST_F(SqliteAgentStateTest, AMissingParentIsUnavailable) {
  dir_ = base_ / "no/such/state";
  expect_refused(ErrorCode::kUnavailable, dir_, "missing parent");
}

TEST_F(SqliteAgentStateTest, RefusesASymlinkedDatabaseFile) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  const std::string target = base_ / "elsewhere.db";
  std::ofstream(target) << "";
  ASSERT_EQ(::chmod(target.c_str(), 0600), 0);
  ASSERT_EQ(::symlink(target.c_str(), db_path().c_str()), 0);
  expect_refused(ErrorCode::kInvalidArgument, db_path() + " is a symlink", "symlinked file");
  // A dangling link is refused too, not followed to create its target.
  ASSERT_EQ(::unlink(target.c_str()), 0);
  expect_refused(ErrorCode::kInvalidArgument, "symlink", "dangling link");
  EXPECT_FALSE(std::filesystem::exists(target));
}

TEST_F(SqliteAgentStateTest, RefusesSymlinkedSideFiles) {
  { auto s = open_ok(); }
  const std::string target = base_ / "wal-target";
  std::ofstream(target) << "";
  ASSERT_EQ(::symlink(target.c_str(), (db_path() + "-wal").c_str()), 0);
  expect_refused(ErrorCode::kInvalidArgument, db_path() + "-wal is a symlink", "symlinked wal");
}

TEST_F(SqliteAgentStateTest, RefusesADatabaseFileOthersCanAccess) {
  { auto s = open_ok(); }
  for (const mode_t mode : {0644, 0640, 0660, 0604, 0666}) {
    ASSERT_EQ(::chmod(db_path().c_str(), mode), 0);
    expect_refused(ErrorCode::kInvalidArgument, "chmod 600 " + db_path(), fmt::format("mode {:o}", mode));
  }
  ASSERT_EQ(::chmod(db_path().c_str(), 0600), 0);
  EXPECT_NE(open_ok(), nullptr);
}

TEST_F(SqliteAgentStateTest, RefusesADatabaseFileOwnedBySomeoneElse) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  { auto s = open_ok(); }
  ASSERT_EQ(::chown(db_path().c_str(), 12345, 12345), 0);
  expect_refused(ErrorCode::kInvalidArgument, "owned by uid 12345", "foreign file");
}

TEST_F(SqliteAgentStateTest, OneProcessAtATime) {
  auto first = open_ok();
  ASSERT_NE(first, nullptr);
  expect_refused(ErrorCode::kUnavailable, "already running", "second open");
  first.reset();
  EXPECT_NE(open_ok(), nullptr);
}

TEST_F(SqliteAgentStateTest, RefusesABadDatabaseName) {
  for (const std::string name : {"", "../x.db", "a/b.db", ".hidden"}) {
    SqliteAgentStateOptions options;
    options.db_name = name;
    auto s = open(options);
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument) << name;
  }
}

TEST_F(SqliteAgentStateTest, AFileThatIsNotADatabaseIsAClearError) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  {
    std::ofstream out(db_path(), std::ios::binary);
    for (int i = 0; i < 1000; ++i) out << "this is not an SQLite database. ";
  }
  ASSERT_EQ(::chmod(db_path().c_str(), 0600), 0);
  auto s = open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInternal) << s.error().message;
  EXPECT_NE(s.error().message.find(db_path()), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("damaged"), std::string::npos) << s.error().message;
}

TEST_F(SqliteAgentStateTest, ADamagedDatabaseIsAClearError) {
  {
    auto s = open_ok();
    ASSERT_NE(s, nullptr);
    for (int n = 0; n < 200; ++n) ASSERT_TRUE(s->enqueue(numbered_event(n)).ok());
  }
  ASSERT_FALSE(std::filesystem::exists(db_path() + "-wal") && std::filesystem::file_size(db_path() + "-wal") > 0)
      << "the last connection should have checkpointed the log";
  const auto size = std::filesystem::file_size(db_path());
  ASSERT_GT(size, 16U * 4096U);
  {
    // Scribble over pages in the middle of the file (not the header).
    std::fstream f(db_path(), std::ios::in | std::ios::out | std::ios::binary);
    for (std::uint64_t page = 3; page * 4096 < size; page += 4) {
      f.seekp(static_cast<std::streamoff>(page * 4096));
      const std::string junk(64, '\xa5');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  auto s = open();
  ASSERT_FALSE(s.ok()) << "quick_check on open should have found the damage";
  EXPECT_EQ(s.error().code, ErrorCode::kInternal) << s.error().message;
  EXPECT_NE(s.error().message.find(db_path()), std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("damaged"), std::string::npos) << s.error().message;
}

// --- crash durability ---------------------------------------------------------

// The child: open the state and enqueue forever, reporting each id on `fd`
// only after enqueue returned. Every fourth turn enqueues three at once.
[[noreturn]] void enqueue_until_killed(const std::string& dir, int round, int fd) {
  auto state = open_sqlite_agent_state(dir);
  if (!state.ok()) ::_exit(2);
  for (int n = 0;; ++n) {
    std::vector<OutboxEvent> batch;
    for (int k = 0; k < (n % 4 == 0 ? 3 : 1); ++k) {
      auto id = new_event_id();
      if (!id.ok()) ::_exit(3);
      batch.push_back(OutboxEvent{*id, "crash_test", EventTime{std::chrono::milliseconds{n}},
                                  fmt::format("{{\"round\":{},\"n\":{},\"k\":{}}}", round, n, k)});
    }
    const Status st = batch.size() == 1 ? (*state)->enqueue(batch[0]) : (*state)->enqueue_all(batch);
    if (!st.ok()) ::_exit(4);
    std::string lines;
    for (const auto& e : batch) lines += e.id + "\n";
    std::string_view rest = lines;
    while (!rest.empty()) {
      const ssize_t w = ::write(fd, rest.data(), rest.size());
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) ::_exit(5);
      rest.remove_prefix(static_cast<std::size_t>(w));
    }
  }
}

TEST(SqliteAgentStateCrash, EveryReportedEventSurvivesSigkill) {
  PrivateDir base;
  const std::string dir = base / "state";
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  std::vector<std::string> expected;  // reported and not acknowledged, in report order
  constexpr int kRounds = 6;
  std::size_t total_reported = 0;
  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      enqueue_until_killed(dir, round, fds[1]);
    }
    ::close(fds[1]);
    std::string received;
    // The random moment is counted from the first report, so a slow start
    // (a sanitizer build, a busy machine) still kills it mid-loop.
    const auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng));
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::optional<std::chrono::steady_clock::time_point> kill_at;
    char buf[4096];
    for (bool eof = false; !eof;) {
      const auto now = std::chrono::steady_clock::now();
      if (kill_at ? now >= *kill_at : now >= give_up) break;
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 1) <= 0) continue;
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) eof = true;
      if (n > 0) received.append(buf, static_cast<std::size_t>(n));
      if (!kill_at && received.find('\n') != std::string::npos) kill_at = std::chrono::steady_clock::now() + delay;
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      received.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the child ended by itself with status " << status;
    // Only whole lines were reported; a torn last line was not.
    std::size_t reported = 0;
    for (std::size_t start = 0, end; (end = received.find('\n', start)) != std::string::npos; start = end + 1) {
      expected.push_back(received.substr(start, end - start));
      ++reported;
    }

    {
      RawDb raw(dir + "/agent.db");
      EXPECT_EQ(raw.text("PRAGMA integrity_check"), "ok") << "round " << round;
    }
    auto state = open_sqlite_agent_state(dir);
    ASSERT_TRUE(state.ok()) << "round " << round << ": " << state.error().message;
    std::vector<std::string> stored;
    std::map<std::string, int> times;
    {
      RawDb raw(dir + "/agent.db");
      stored = raw.column("SELECT id FROM outbox ORDER BY seq");
      EXPECT_EQ(raw.text("SELECT COUNT(*) FROM outbox"), std::to_string(stored.size()));
    }
    for (const auto& id : stored) ++times[id];
    EXPECT_EQ(*(*state)->pending_count(), stored.size()) << "round " << round;
    // Each reported id is there exactly once, in the order it was reported;
    // at most the last unreported enqueue (up to 3 events) is there besides.
    std::size_t position = 0;
    for (const auto& id : expected) {
      ASSERT_EQ(times[id], 1) << "round " << round << ": reported event " << id << " is missing or repeated";
      while (position < stored.size() && stored[position] != id) ++position;
      ASSERT_LT(position, stored.size()) << "round " << round << ": event " << id << " is out of order";
    }
    EXPECT_LE(stored.size() - expected.size(), 3U) << "round " << round;
    EXPECT_GT(reported, 0U) << "round " << round << ": the child reported nothing before it was killed";
    total_reported += reported;

    // Acknowledge the oldest half, so later rounds also run over deletions.
    const std::size_t ack = stored.size() / 2;
    for (std::size_t i = 0; i < ack; i += kMaxBatch) {
      std::vector<std::string> ids(stored.begin() + static_cast<std::ptrdiff_t>(i),
                                   stored.begin() + static_cast<std::ptrdiff_t>(std::min(ack, i + kMaxBatch)));
      ASSERT_TRUE((*state)->acknowledge(ids).ok());
    }
    // What the file holds now is what must survive the next round too,
    // including an event that was stored but not yet reported.
    expected.assign(stored.begin() + static_cast<std::ptrdiff_t>(ack), stored.end());
  }
  RecordProperty("reported_events", static_cast<int>(total_reported));
}

}  // namespace
}  // namespace hoist::agent
