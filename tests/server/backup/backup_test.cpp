// hoistd backup's library over real files and a real SQLite store (the
// real binary end to end: tests/agent/backup_e2e_test.cpp).
#include "server/backup/backup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/sha256.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace hoist::backup {
namespace {

namespace fs = std::filesystem;
using hoist::testing::TempDir;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

int known() {
  return static_cast<int>(store::sqlite_migrations().size());
}

void append(store::Store& s, int n, const std::string& actor = "alice") {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(s.write([&](store::StoreTx& tx) -> Status {
                   store::AuditDraft d;
                   d.time = AuditTime{std::chrono::milliseconds{1000 * i}};
                   d.actor = actor;
                   d.action = "user.login";
                   d.details = "{}";
                   auto e = tx.append_audit(d);
                   return e.ok() ? Status{} : Status{e.error()};
                 }).ok());
  }
}

// A data directory as hoistd leaves it: the database (with `events` audit
// events), the TLS directory, the two keys.
class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::mkdir(data_.c_str(), 0700), 0);
    auto s = store::open_sqlite_store(data_ + "/hoist.db");
    ASSERT_TRUE(s) << s.error().message;
    append(**s, 5);
    store_ = std::move(*s);
    put("tls/ca.key", "CA KEY", 0600);
    put("tls/ca.crt", "CA CERT", 0644);
    put("tls/server.key", "SERVER KEY", 0600);
    put("tls/server.crt", "SERVER CERT", 0644);
    put("codes/master.key", std::string(32, 'm'), 0600);
    put("notify/secrets.key", std::string(32, 's'), 0600);
    ::chmod((data_ + "/tls").c_str(), 0700);
    ::chmod((data_ + "/codes").c_str(), 0700);
    ::chmod((data_ + "/notify").c_str(), 0700);
  }
  void put(const std::string& rel, const std::string& content, mode_t mode) {
    const std::string path = data_ + "/" + rel;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }
  BackupOptions options() {
    BackupOptions o;
    o.hoistd_version = "test";
    o.known_schema_version = known();
    o.now = std::chrono::system_clock::now();
    o.warn = [this](const std::string& w) { warnings_.push_back(w); };
    return o;
  }
  Result<Manifest> backup(const std::string& dir) { return take_backup({data_, "", true}, dir, options()); }

  TempDir tmp_;
  std::string data_ = tmp_.path() + "/data";
  std::unique_ptr<store::Store> store_;
  std::vector<std::string> warnings_;
};

TEST_F(BackupTest, CopiesWhatARestoreNeedsWithModesAndRestoresIt) {
  const std::string dir = tmp_.path() + "/backup";
  auto m = backup(dir);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(mode_of(dir), 0700U);
  EXPECT_TRUE(fs::exists(dir + "/manifest.json"));
  EXPECT_FALSE(fs::exists(dir + "/data.partial"));
  EXPECT_EQ(m->database.schema_version, known());
  EXPECT_EQ(m->database.audit_events, 5U);
  EXPECT_EQ(m->database.audit_head_seq, 5U);
  std::vector<std::string> paths;
  for (const auto& e : m->entries) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"hoist.db", "codes", "codes/master.key", "notify", "notify/secrets.key",
                                             "tls", "tls/ca.crt", "tls/ca.key", "tls/server.crt", "tls/server.key"}));
  EXPECT_EQ(slurp(dir + "/data/codes/master.key"), std::string(32, 'm'));
  EXPECT_EQ(mode_of(dir + "/data/tls/ca.key"), 0600U);
  EXPECT_EQ(mode_of(dir + "/data/tls/ca.crt"), 0644U);
  // No -wal or -shm beside the copy: it is whole in one file.
  EXPECT_FALSE(fs::exists(dir + "/data/hoist.db-wal"));
  EXPECT_TRUE(warnings_.empty());

  auto checked = check_backup(dir, known());
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(*checked, *m);

  const std::string target = tmp_.path() + "/restored";
  auto restored = restore_backup(dir, {target, std::nullopt}, known());
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(mode_of(target), 0700U);
  EXPECT_EQ(mode_of(target + "/tls"), 0700U);
  EXPECT_EQ(mode_of(target + "/tls/ca.key"), 0600U);
  EXPECT_EQ(mode_of(target + "/tls/ca.crt"), 0644U);
  EXPECT_EQ(slurp(target + "/notify/secrets.key"), std::string(32, 's'));
  // No temporary directory is left beside it.
  for (const auto& e : fs::directory_iterator(tmp_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".restore-"), std::string::npos) << e.path();
  }
  EXPECT_FALSE(fs::exists(target + "/hoist.db-wal"));
  EXPECT_FALSE(fs::exists(target + "/hoist.db-shm"));
  // The push queue's counter is moved ahead of anything the lost hoistd
  // may have pushed after the backup.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((target + "/hoist.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = 'push_messages'", -1, &q, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int64(q, 0), std::int64_t{1} << 32);
    sqlite3_finalize(q);
    sqlite3_close(db);
  }
  // The restored database opens, verifies and goes on.
  auto s = store::open_sqlite_store(target + "/hoist.db");
  ASSERT_TRUE(s) << s.error().message;
  auto v = store::verify_stored_chain(**s, std::nullopt);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->events_checked, 5U);
  append(**s, 1);
}

TEST_F(BackupTest, NothingIsFollowedOutOfTheDataDirectory) {
  const std::string secret = "OUTSIDE SECRET 7f3a";
  const std::string outside = tmp_.path() + "/outside";
  ASSERT_EQ(::mkdir(outside.c_str(), 0700), 0);
  std::ofstream(outside + "/shadow") << secret;
  ASSERT_EQ(::symlink((outside + "/shadow").c_str(), (data_ + "/tls/link").c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (data_ + "/dirlink").c_str()), 0);
  ASSERT_EQ(::mkfifo((data_ + "/codes/fifo").c_str(), 0600), 0);  // opening it would block
  ASSERT_EQ(::link((outside + "/shadow").c_str(), (data_ + "/hardlink").c_str()), 0);
  put("tls/.ca.key.tmp-0011223344556677", "HALF A KEY", 0600);

  const std::string dir = tmp_.path() + "/backup";
  auto m = backup(dir);
  ASSERT_TRUE(m) << m.error().message;
  std::vector<std::string> skipped;
  for (const auto& s : m->skipped) skipped.push_back(s.path);
  std::sort(skipped.begin(), skipped.end());
  EXPECT_EQ(skipped, (std::vector<std::string>{"codes/fifo", "dirlink", "hardlink", "tls/.ca.key.tmp-0011223344556677",
                                               "tls/link"}));
  EXPECT_EQ(warnings_.size(), 5U);
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    EXPECT_FALSE(e.is_symlink()) << e.path();
    if (e.is_regular_file()) {
      EXPECT_EQ(slurp(e.path()).find(secret), std::string::npos) << e.path();
    }
  }
  EXPECT_TRUE(check_backup(dir, known()));
}

TEST_F(BackupTest, OnlyANewOrEmptyDirectoryOfOursTakesABackup) {
  const std::string full = tmp_.path() + "/full";
  ASSERT_EQ(::mkdir(full.c_str(), 0755), 0);
  std::ofstream(full + "/keep") << "old backup";
  auto m = backup(full);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ErrorCode::kConflict);
  EXPECT_EQ(slurp(full + "/keep"), "old backup");
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(full)) ++n;
  EXPECT_EQ(n, 1U);

  // A symlink planted where the backup goes, to a directory elsewhere.
  const std::string elsewhere = tmp_.path() + "/elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0777), 0);
  ASSERT_EQ(::symlink(elsewhere.c_str(), (tmp_.path() + "/planted").c_str()), 0);
  m = backup(tmp_.path() + "/planted");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, ErrorCode::kConflict);
  EXPECT_TRUE(fs::is_empty(elsewhere));

  std::ofstream(tmp_.path() + "/file") << "x";
  EXPECT_FALSE(backup(tmp_.path() + "/file"));

  // An empty directory someone else made (where another user could read it).
  if (::geteuid() == 0) {
    const std::string theirs = tmp_.path() + "/theirs";
    ASSERT_EQ(::mkdir(theirs.c_str(), 0777), 0);
    ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
    m = backup(theirs);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, ErrorCode::kConflict);
    EXPECT_NE(m.error().message.find("owned by uid 65534"), std::string::npos) << m.error().message;
    EXPECT_TRUE(fs::is_empty(theirs));
  }

  // An empty one of ours is used, and made private.
  const std::string empty = tmp_.path() + "/empty";
  ASSERT_EQ(::mkdir(empty.c_str(), 0755), 0);
  ASSERT_TRUE(backup(empty));
  EXPECT_EQ(mode_of(empty), 0700U);
}

TEST_F(BackupTest, AMissingKeyRefusesTheBackupAndLeavesNothing) {
  for (const char* key : {"codes/master.key", "notify/secrets.key", "tls/ca.key"}) {
    const std::string path = data_ + "/" + key;
    const std::string content = slurp(path);
    ASSERT_EQ(::unlink(path.c_str()), 0);
    const std::string dir = tmp_.path() + "/backup";
    auto m = backup(dir);
    ASSERT_FALSE(m) << key;
    EXPECT_EQ(m.error().code, ErrorCode::kNotFound);
    EXPECT_NE(m.error().message.find(key), std::string::npos) << m.error().message;
    EXPECT_FALSE(fs::exists(dir)) << key;
    put(key, content, 0600);
  }
  // With an admin-supplied certificate hoistd has no CA of its own.
  ASSERT_EQ(::unlink((data_ + "/tls/ca.key").c_str()), 0);
  EXPECT_TRUE(take_backup({data_, "", false}, tmp_.path() + "/own", options()));
  EXPECT_FALSE(take_backup({tmp_.path() + "/nowhere", "", true}, tmp_.path() + "/b2", options()));
}

TEST_F(BackupTest, ATamperedBackupIsRefusedByCheckAndByRestore) {
  const std::string dir = tmp_.path() + "/backup";
  ASSERT_TRUE(backup(dir));
  const std::string manifest = slurp(dir + "/manifest.json");
  const auto restore_refused = [&](const std::string& why) {
    EXPECT_FALSE(check_backup(dir, known())) << why;
    const std::string target = tmp_.path() + "/restored";
    auto r = restore_backup(dir, {target, std::nullopt}, known());
    EXPECT_FALSE(r) << why;
    EXPECT_FALSE(fs::exists(target)) << why;
    for (const auto& e : fs::directory_iterator(tmp_.path())) {
      EXPECT_EQ(e.path().filename().string().find(".restore-"), std::string::npos) << why;
    }
  };

  // A key changed.
  const std::string key = dir + "/data/codes/master.key";
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  std::ofstream(key, std::ios::trunc) << std::string(32, 'x');
  restore_refused("a changed key");
  std::ofstream(key, std::ios::trunc) << std::string(32, 'm');
  ASSERT_TRUE(check_backup(dir, known()));

  // A file added, a file gone, a mode widened.
  std::ofstream(dir + "/data/tls/extra") << "x";
  restore_refused("an extra file");
  ::unlink((dir + "/data/tls/extra").c_str());
  ::rename((dir + "/data/tls/ca.crt").c_str(), (tmp_.path() + "/ca.crt").c_str());
  restore_refused("a missing file");
  ::rename((tmp_.path() + "/ca.crt").c_str(), (dir + "/data/tls/ca.crt").c_str());
  ::chmod(key.c_str(), 0644);
  restore_refused("a key others can read");
  ::chmod(key.c_str(), 0600);
  ::chmod(dir.c_str(), 0755);
  restore_refused("a backup directory others can enter");
  ::chmod(dir.c_str(), 0700);
  ASSERT_TRUE(check_backup(dir, known()));

  // An audit event edited in the copy, with the manifest's digest fixed up
  // to match: the audit chain still gives it away.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/data/hoist.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA journal_mode=DELETE; UPDATE audit_events SET actor = 'mallory' WHERE seq = 3",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto m = parse_manifest(manifest);
  ASSERT_TRUE(m);
  const std::string db_text = slurp(dir + "/data/hoist.db");
  m->entries.front().size = db_text.size();
  m->entries.front().sha256 = sha256(db_text).hex();
  ::unlink((dir + "/manifest.json").c_str());
  std::ofstream(dir + "/manifest.json") << to_json(*m);
  ::chmod((dir + "/manifest.json").c_str(), 0600);
  auto checked = check_backup(dir, known());
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.error().message.find("does not verify at event 3"), std::string::npos) << checked.error().message;
  restore_refused("an edited audit event");

  // A manifest naming a path outside the target.
  std::string evil = manifest;
  const auto at = evil.find("\"codes/master.key\"");
  ASSERT_NE(at, std::string::npos);
  evil.replace(at, std::string("\"codes/master.key\"").size(), "\"../../master.key\"");
  ::unlink((dir + "/manifest.json").c_str());
  std::ofstream(dir + "/manifest.json") << evil;
  restore_refused("a path outside");
  EXPECT_FALSE(fs::exists(tmp_.path() + "/../master.key"));

  // No manifest: a backup that did not finish.
  ::unlink((dir + "/manifest.json").c_str());
  auto none = check_backup(dir, known());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("did not finish"), std::string::npos) << none.error().message;
}

// A database configured in a subdirectory of the data directory goes
// through SQLite's backup only, never copied byte by byte as a file.
// As root, a backup whose directories another user owns is refused: its
// owner (hoistd, perhaps compromised) could swap hoist.db for a link or a
// FIFO between the hash and the open (the attack pass's race).
TEST_F(BackupTest, AsRootABackupAnotherUserOwnsIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const std::string dir = tmp_.path() + "/backup";
  ASSERT_TRUE(backup(dir));
  ASSERT_TRUE(check_backup(dir, known()));
  for (const std::string& d : {dir, dir + "/data", dir + "/data/tls"}) {
    ASSERT_EQ(::chown(d.c_str(), 65534, 65534), 0) << d;
    auto r = check_backup(dir, known());
    ASSERT_FALSE(r) << d;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << r.error().message;
    EXPECT_NE(r.error().message.find("belongs to uid 65534, not root"), std::string::npos) << r.error().message;
    const std::string target = tmp_.path() + "/restored";
    EXPECT_FALSE(restore_backup(dir, {target, std::nullopt}, known())) << d;
    EXPECT_FALSE(fs::exists(target)) << d;
    ASSERT_EQ(::chown(d.c_str(), 0, 0), 0) << d;
  }
  EXPECT_TRUE(check_backup(dir, known()));
}

TEST_F(BackupTest, ADatabaseElsewhereIsNeverCopiedAsAFile) {
  store_.reset();
  ASSERT_EQ(::mkdir((data_ + "/db").c_str(), 0700), 0);
  ASSERT_EQ(::rename((data_ + "/hoist.db").c_str(), (data_ + "/db/hoist.db").c_str()), 0);
  ::unlink((data_ + "/hoist.db-wal").c_str());
  ::unlink((data_ + "/hoist.db-shm").c_str());
  auto s = store::open_sqlite_store(data_ + "/db/hoist.db");
  ASSERT_TRUE(s) << s.error().message;
  append(**s, 2);
  const std::string dir = tmp_.path() + "/backup";
  auto m = take_backup({data_, data_ + "/db/hoist.db", true}, dir, options());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->database.path, "hoist.db");
  EXPECT_EQ(m->database.audit_events, 7U);
  for (const auto& e : m->entries) {
    EXPECT_NE(e.path.rfind("db/hoist.db", 0), 0U) << e.path << " was copied as a file";
  }
  EXPECT_TRUE(check_backup(dir, known()));
}

TEST_F(BackupTest, ARestoreNeverWritesIntoADataDirectoryInUse) {
  const std::string dir = tmp_.path() + "/backup";
  ASSERT_TRUE(backup(dir));
  auto r = restore_backup(dir, {data_, std::nullopt}, known());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  auto s = store::verify_stored_chain(*store_, std::nullopt);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->ok);
  // An empty directory is replaced whole.
  const std::string empty = tmp_.path() + "/empty";
  ASSERT_EQ(::mkdir(empty.c_str(), 0755), 0);
  ASSERT_TRUE(restore_backup(dir, {empty, std::nullopt}, known()));
  EXPECT_EQ(mode_of(empty), 0700U);
  EXPECT_TRUE(fs::exists(empty + "/codes/master.key"));
  // Named with a trailing slash, the target is still the directory itself.
  const std::string slashed = tmp_.path() + "/slashed";
  ASSERT_EQ(::mkdir(slashed.c_str(), 0700), 0);
  ASSERT_TRUE(restore_backup(dir, {slashed + "//", std::nullopt}, known()));
  EXPECT_TRUE(fs::exists(slashed + "/codes/master.key"));
  EXPECT_FALSE(fs::exists(slashed + "/slashed"));
  EXPECT_FALSE(restore_backup(dir, {tmp_.path() + "/..", std::nullopt}, known()));
}

TEST_F(BackupTest, ABackupFromANewerSchemaIsRefused) {
  const std::string dir = tmp_.path() + "/backup";
  ASSERT_TRUE(backup(dir));
  auto r = check_backup(dir, known() - 1);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("knows only up to"), std::string::npos) << r.error().message;
}

// Writers go on in other threads while backups are taken: each backup is
// one snapshot (its trail verifies and ends where its count says), and
// the writers never fail.
TEST_F(BackupTest, EachBackupIsOneSnapshotWhileWritersGoOn) {
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      auto s = store::open_sqlite_store(data_ + "/hoist.db");
      if (!s) {
        ++failed;
        return;
      }
      while (!stop) {
        const auto st = (*s)->write([&](store::StoreTx& tx) -> Status {
          store::AuditDraft d;
          d.actor = "writer" + std::to_string(w);
          d.action = "user.login";
          d.details = "{}";
          auto e = tx.append_audit(d);
          return e.ok() ? Status{} : Status{e.error()};
        });
        if (st) {
          ++written;
        } else {
          ++failed;
        }
      }
    });
  }
  std::uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    const std::string dir = tmp_.path() + "/backup" + std::to_string(i);
    auto m = backup(dir);
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->database.audit_events, m->database.audit_head_seq);
    EXPECT_GE(m->database.audit_head_seq, last);
    last = m->database.audit_head_seq;
    ASSERT_TRUE(check_backup(dir, known()));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop = true;
  for (auto& t : writers) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_GT(written, 0);
  EXPECT_GT(last, 5U) << "the writers wrote while the backups were taken";
}

}  // namespace
}  // namespace hoist::backup

namespace hoist::backup {
namespace {

// The PostgreSQL backend's hooks (pg_backup.h gives the real ones) over a
// data directory without hoist.db: the dump takes the database's entry,
// the keys are copied and restored as for SQLite, the dump never lands in
// the data directory, and each side refuses the other's backup.
class PgHooksTest : public BackupTest {
 protected:
  void SetUp() override {
    BackupTest::SetUp();
    store_.reset();
    for (const char* f : {"hoist.db", "hoist.db-wal", "hoist.db-shm"}) ::unlink((data_ + "/" + f).c_str());
    facts_.path = "hoist.dump";
    facts_.schema_version = 2;
    facts_.audit_events = 7;
    facts_.audit_head_seq = 7;
    facts_.audit_head_hash = std::string(64, 'a');
  }
  BackupOptions pg_options() {
    BackupOptions o = options();
    o.known_schema_version = 2;
    o.dump_database = [this](int dirfd, const std::string& name) -> Result<DatabaseFacts> {
      const int fd = ::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return unavailable("cannot create the dump");
      const std::string text = "PGDMP fake";
      const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
      ::close(fd);
      if (!ok) return unavailable("cannot write the dump");
      return facts_;
    };
    return o;
  }
  CheckOptions check_options() {
    CheckOptions o;
    o.known_sqlite_schema_version = known();
    o.known_postgres_schema_version = 2;
    o.inspect_dump = [this](const std::string& path) -> Result<DatabaseFacts> {
      inspected_ = slurp(path);
      return inspected_ == "PGDMP fake" ? Result<DatabaseFacts>(facts_) : invalid_argument("not the dump");
    };
    return o;
  }
  DatabaseFacts facts_;
  std::string inspected_;
};

TEST_F(PgHooksTest, TheDumpTakesTheDatabasesPlaceAndNeverLandsInTheDataDirectory) {
  const std::string dir = tmp_.path() + "/backup";
  auto m = take_backup({data_, "host=db dbname=hoist", true}, dir, pg_options());
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->backend, "postgres");
  EXPECT_EQ(m->source_database, "host=db dbname=hoist");
  EXPECT_EQ(m->database, facts_);
  EXPECT_EQ(mode_of(dir + "/data/hoist.dump"), 0600U);
  EXPECT_EQ(slurp(dir + "/data/codes/master.key"), std::string(32, 'm'));
  EXPECT_FALSE(fs::exists(dir + "/data/hoist.db"));

  // SQLite's reading cannot check it; PostgreSQL's reads the dump.
  auto as_sqlite = check_backup(dir, known());
  ASSERT_FALSE(as_sqlite);
  EXPECT_NE(as_sqlite.error().message.find("PostgreSQL"), std::string::npos) << as_sqlite.error().message;
  auto checked = check_backup(dir, check_options());
  ASSERT_TRUE(checked) << checked.error().message;
  EXPECT_EQ(inspected_, "PGDMP fake");
  // A dump that reads back to other facts than the manifest's is refused.
  facts_.audit_head_seq = 6;
  EXPECT_FALSE(check_backup(dir, check_options()));
  facts_.audit_head_seq = 7;

  // Restore: refused without the PostgreSQL side, and when it fails
  // nothing is left; with it, the keys but not the dump.
  const std::string target = tmp_.path() + "/restored";
  auto refused = restore_backup(dir, {target, std::nullopt}, check_options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(fs::exists(target));
  auto options = check_options();
  options.restore_dump = [](const Manifest&, const std::string&) -> Status {
    return conflict("the PostgreSQL database is not empty");
  };
  refused = restore_backup(dir, {target, std::nullopt}, options);
  ASSERT_FALSE(refused);
  EXPECT_FALSE(fs::exists(target));
  for (const auto& e : fs::directory_iterator(tmp_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".restored.restore-"), std::string::npos) << e.path();
  }
  std::string restored_from;
  options.restore_dump = [&](const Manifest& restored_m, const std::string& dump_path) -> Status {
    restored_from = slurp(dump_path);
    EXPECT_EQ(restored_m.database, facts_);
    return {};
  };
  auto restored = restore_backup(dir, {target, std::nullopt}, options);
  ASSERT_TRUE(restored) << restored.error().message;
  EXPECT_EQ(restored_from, "PGDMP fake");
  EXPECT_EQ(mode_of(target), 0700U);
  EXPECT_EQ(slurp(target + "/codes/master.key"), std::string(32, 'm'));
  EXPECT_FALSE(fs::exists(target + "/hoist.dump"));
}

TEST_F(PgHooksTest, ASqliteBackupIsRefusedByAPostgresRestore) {
  // A SQLite data directory again.
  auto s = store::open_sqlite_store(data_ + "/hoist.db");
  ASSERT_TRUE(s) << s.error().message;
  s->reset();
  const std::string dir = tmp_.path() + "/backup";
  ASSERT_TRUE(backup(dir));
  auto options = check_options();
  bool called = false;
  options.restore_dump = [&](const Manifest&, const std::string&) -> Status {
    called = true;
    return {};
  };
  auto refused = restore_backup(dir, {tmp_.path() + "/restored", std::nullopt}, options);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("hoistd migrate"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace hoist::backup
