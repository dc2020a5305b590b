#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "store_conformance.h"

namespace hoist::store {
namespace {

std::string make_temp_dir() {
  std::string tmpl = "/tmp/hoist-store-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

testing::StoreBackend sqlite_backend(const std::string& name, const SqliteOptions& options) {
  return {name,
          [options](std::string& handle) -> std::unique_ptr<Store> {
            handle = make_temp_dir();
            auto s = open_sqlite_store(handle + "/hoist.db", options);
            EXPECT_TRUE(s.ok()) << s.error().message;
            return s.ok() ? std::move(*s) : nullptr;
          },
          [options](const std::string& handle) -> std::unique_ptr<Store> {
            auto s = open_sqlite_store(handle + "/hoist.db", options);
            EXPECT_TRUE(s.ok()) << s.error().message;
            return s.ok() ? std::move(*s) : nullptr;
          },
          [](const std::string& handle) {
            std::error_code ec;
            std::filesystem::remove_all(handle, ec);
          }};
}

SqliteOptions with_cache(std::size_t statements) {
  SqliteOptions o;
  o.statement_cache_size = statements;
  return o;
}

// The default, and a statement cache so small that most SQL texts are
// past its cap and prepared for each use.
using testing::StoreConformance;
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance,
                         ::testing::Values(sqlite_backend("sqlite", {}),
                                           sqlite_backend("sqlite_cache_of_2", with_cache(2))),
                         [](const auto& backend) { return backend.param.name; });

// Raw access to the file, as an attacker with write access to the data
// directory (or a curious admin with the sqlite3 shell) would have.
class RawDb {
 public:
  explicit RawDb(const std::string& path) { sqlite3_open(path.c_str(), &db_); }
  ~RawDb() { sqlite3_close(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  void exec(const std::string& sql) const {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err != nullptr ? err : "");
  }
  std::string text(const std::string& sql) const {
    sqlite3_stmt* s = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    return out;
  }
  // EXPLAIN QUERY PLAN's details, one line each.
  std::string plan(const std::string& sql) const {
    sqlite3_stmt* s = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db_, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &s, nullptr) != SQLITE_OK) {
      return std::string("does not prepare: ") + sqlite3_errmsg(db_);
    }
    while (sqlite3_step(s) == SQLITE_ROW) {
      out += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
      out += '\n';
    }
    sqlite3_finalize(s);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::unique_ptr<Store> open(const SqliteOptions& o = {}) {
    auto s = open_sqlite_store(path_, o);
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? std::move(*s) : nullptr;
  }
  void fill(Store& s, int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(s.write([&](StoreTx& tx) -> Status {
                     AuditDraft d;
                     d.time = AuditTime{std::chrono::milliseconds{1000 * i}};
                     d.actor = "alice";
                     d.action = "login";
                     d.details = "{}";
                     auto e = tx.append_audit(d);
                     return e.ok() ? Status{} : Status{e.error()};
                   }).ok());
    }
  }
  std::string dir_ = make_temp_dir();
  std::string path_ = dir_ + "/hoist.db";
};

TEST_F(SqliteStoreTest, UsesWalAndRecordsMigrations) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  const RawDb raw(path_);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(std::stoi(raw.text("SELECT COUNT(*) FROM schema_migrations")),
            static_cast<int>(sqlite_migrations().size()));
  EXPECT_EQ(*s->schema_version(), static_cast<int>(sqlite_migrations().size()));
}

TEST_F(SqliteStoreTest, MigratesFromEveryEarlierVersion) {
  const int latest = static_cast<int>(sqlite_migrations().size());
  for (int from = 0; from < latest; ++from) {
    TearDown();
    dir_ = make_temp_dir();
    path_ = dir_ + "/hoist.db";
    std::optional<ChainHead> head;
    {
      auto old = open(SqliteOptions{5000, from, 256, {}});
      ASSERT_NE(old, nullptr);
      EXPECT_EQ(*old->schema_version(), from);
      if (from >= 1) {  // the audit trail exists from version 1: data must survive the upgrade
        fill(*old, 3);
        head = **old->audit_head();
      }
    }
    auto s = open();
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(*s->schema_version(), latest) << "from version " << from;
    if (head) {
      const auto v = verify_stored_chain(*s, head);
      EXPECT_TRUE(v->ok) << "from version " << from << ": " << v->problem;
      EXPECT_EQ(v->events_checked, 3U);
    }
    fill(*s, 3);
    EXPECT_TRUE(verify_stored_chain(*s, std::nullopt)->ok);
  }
}

// Retention's deletes (sqlite_outbox.cpp, the same SQL) find their rows by
// an index range: on a table of millions of deliveries, a batch reads
// about as many index entries as it deletes, never every row.
TEST_F(SqliteStoreTest, RetentionsDeletesSearchAnIndexAndScanNoTable) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  const RawDb raw(path_);
  const std::string deliveries = raw.plan(
      "DELETE FROM notify_deliveries WHERE id IN (SELECT id FROM notify_deliveries INDEXED BY "
      "notify_deliveries_finished "
      "WHERE finished_ms < ?1 AND state IN ('delivered', 'dead') LIMIT ?2) AND finished_ms < ?1 AND state IN "
      "('delivered', 'dead')");
  EXPECT_NE(deliveries.find("USING INDEX notify_deliveries_finished (finished_ms<?)"), std::string::npos) << deliveries;
  EXPECT_EQ(deliveries.find("SCAN"), std::string::npos) << deliveries;
  const std::string refs = raw.plan(
      "DELETE FROM notify_message_refs WHERE rowid IN (SELECT rowid FROM notify_message_refs WHERE updated_ms < ?1 "
      "LIMIT ?2) AND updated_ms < ?1");
  EXPECT_NE(refs.find("USING COVERING INDEX notify_message_refs_updated (updated_ms<?)"), std::string::npos) << refs;
  EXPECT_EQ(refs.find("SCAN"), std::string::npos) << refs;
}

TEST_F(SqliteStoreTest, ReopeningAppliesNothingTwice) {
  { auto s = open(); }
  auto s = open();
  ASSERT_NE(s, nullptr);
  const RawDb raw(path_);
  EXPECT_EQ(std::stoi(raw.text("SELECT COUNT(*) FROM schema_migrations")),
            static_cast<int>(sqlite_migrations().size()));
}

TEST_F(SqliteStoreTest, SaysWhenMigrationsRanAndOnlyThen) {
  const int latest = static_cast<int>(sqlite_migrations().size());
  std::vector<std::pair<int, int>> calls;
  SqliteOptions o;
  o.on_migrated = [&](int from, int to) { calls.emplace_back(from, to); };
  o.migrate_to = latest - 1;
  { auto s = open(o); }
  o.migrate_to = -1;
  { auto s = open(o); }
  { auto s = open(o); }
  EXPECT_EQ(calls, (std::vector<std::pair<int, int>>{{0, latest - 1}, {latest - 1, latest}}));
}

TEST_F(SqliteStoreTest, RefusesADatabaseFromTheFuture) {
  { auto s = open(); }
  RawDb(path_).exec("INSERT INTO schema_migrations VALUES (999, 0)");
  auto s = open_sqlite_store(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kConflict);
  EXPECT_NE(s.error().message.find("schema version 999"), std::string::npos) << s.error().message;
}

TEST_F(SqliteStoreTest, UnopenablePathIsUnavailable) {
  auto s = open_sqlite_store(dir_ + "/no/such/dir/hoist.db");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message.find("no/such/dir"), std::string::npos);
}

TEST_F(SqliteStoreTest, TamperingWithTheFileIsFound) {
  struct Case {
    std::string name;
    std::string sql;
    std::uint64_t first_bad;
  };
  for (const Case& c : {Case{"edited details", "UPDATE audit_events SET details = '{\"x\":1}' WHERE seq = 4", 4},
                        Case{"edited actor", "UPDATE audit_events SET actor = 'mallory' WHERE seq = 7", 7},
                        Case{"deleted event", "DELETE FROM audit_events WHERE seq = 5", 5},
                        Case{"garbled hash", "UPDATE audit_events SET hash = 'zz' WHERE seq = 2", 2},
                        Case{"renumbered", "UPDATE audit_events SET seq = 100 WHERE seq = 3", 3}}) {
    TearDown();
    dir_ = make_temp_dir();
    path_ = dir_ + "/hoist.db";
    auto s = open();
    fill(*s, 9);
    RawDb(path_).exec(c.sql);
    auto v = verify_stored_chain(*s, std::nullopt, 4);
    ASSERT_TRUE(v.ok());
    EXPECT_FALSE(v->ok) << c.name;
    ASSERT_TRUE(v->first_bad_seq.has_value()) << c.name;
    EXPECT_EQ(*v->first_bad_seq, c.first_bad) << c.name << ": " << v->problem;
  }
}

TEST_F(SqliteStoreTest, TruncationIsFoundAgainstTheRememberedHead) {
  auto s = open();
  fill(*s, 6);
  const auto head = **s->audit_head();
  RawDb(path_).exec("DELETE FROM audit_events WHERE seq >= 5");
  EXPECT_TRUE(verify_stored_chain(*s, std::nullopt)->ok);  // a shorter chain is still a chain...
  const auto v = verify_stored_chain(*s, head);            // ...but not the one we remembered
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->first_bad_seq, 5U);
}

// Issue 17, item 14: hoistd kept appending to a tampered chain.
Status append_one(Store& s) {
  return s.write([](StoreTx& tx) -> Status {
    AuditDraft d;
    d.actor = "alice";
    d.action = "login";
    auto e = tx.append_audit(d);
    return e.ok() ? Status{} : Status{e.error()};
  });
}

TEST_F(SqliteStoreTest, NothingIsAppendedAfterAnEditedHead) {
  auto s = open();
  fill(*s, 5);
  auto fresh = open();  // another process: it has committed nothing itself
  RawDb(path_).exec("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5");
  for (Store* store : {s.get(), fresh.get()}) {
    const auto st = append_one(*store);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(st.error().message.find("#5, does not match its hash"), std::string::npos) << st.error().message;
    EXPECT_NE(st.error().message.find("docs/hoistd.md"), std::string::npos) << st.error().message;
  }
  EXPECT_EQ((**s->audit_head()).seq, 5U) << "nothing was chained to it";
}

TEST_F(SqliteStoreTest, NothingIsAppendedWhenTheTailThisStoreWroteWentMissing) {
  auto s = open();
  fill(*s, 6);
  // Cut off the newest two: what is left verifies on its own, but it is
  // not the trail this store left.
  RawDb(path_).exec("DELETE FROM audit_events WHERE seq >= 5");
  const auto st = append_one(*s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(st.error().message.find("#6, which this hoistd wrote, is gone or changed"), std::string::npos)
      << st.error().message;
  EXPECT_EQ((**s->audit_head()).seq, 4U);
}

TEST_F(SqliteStoreTest, ARolledBackAppendIsNotRemembered) {
  auto s = open();
  fill(*s, 2);
  ASSERT_FALSE(s->write([](StoreTx& tx) -> Status {
                  AuditDraft d;
                  d.actor = "alice";
                  d.action = "login";
                  if (auto e = tx.append_audit(d); !e.ok()) return e.error();
                  return conflict("changed my mind");
                }).ok());
  EXPECT_TRUE(append_one(*s).ok()) << "the rolled-back event #3 is no tail to look for";
  EXPECT_EQ((**s->audit_head()).seq, 3U);
  // Another writer appending after this store's tail is no tampering.
  auto other = open();
  ASSERT_TRUE(append_one(*other).ok());
  EXPECT_TRUE(append_one(*s).ok());
  EXPECT_TRUE(verify_stored_chain(*s, std::nullopt)->ok);
}

constexpr TimePoint kT0{Seconds{1'800'000'000}};

Status add_user(Store& s, const std::string& name) {
  return s.write([&](StoreTx& tx) -> Status {
    UserRecord u;
    u.name = name;
    u.password_hash = "$argon2id$x";
    u.created_at = kT0;
    auto r = tx.insert_user(u);
    return r.ok() ? Status{} : Status{r.error()};
  });
}

Status add_endpoint(Store& s, const std::string& id) {
  return s.write([&](StoreTx& tx) {
    EndpointRecord e;
    e.id = id;
    e.hostname = "host-" + id;
    e.labels = {"laptops", "paris"};
    e.credential_hash = sha256(id).hex();
    e.enrolled_at = kT0;
    return tx.insert_endpoint(e);
  });
}

// Every statement is reset once used, also when its user stops at the
// first row or returns an error: an active one would keep a read
// transaction open, and a checkpoint could not reset the log.
TEST_F(SqliteStoreTest, NoStatementStaysActive) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(add_user(*s, "bob").ok());
  fill(*s, 3);
  // Queries that stop at their first row.
  ASSERT_TRUE(s->write([](StoreTx& tx) {
                 return tx.insert_session(SessionRecord{"sid", "bob", "csrf", kT0, kT0 + Seconds{60}, {}});
               }).ok());
  ASSERT_TRUE(s->session("sid")->has_value());
  ASSERT_TRUE(add_endpoint(*s, "ep-1").ok());
  ASSERT_TRUE(s->write([](StoreTx& tx) { return tx.retire_endpoint("ep-1", kT0); }).ok());
  EXPECT_EQ(s->write([](StoreTx& tx) { return tx.record_heartbeat("ep-1", kT0, "1.0"); }).error().code,
            ErrorCode::kPermissionDenied);
  ASSERT_TRUE(s->schema_version().ok());
  // Statements that fail: a constraint inside a write, a row that does
  // not parse in the middle of a read.
  EXPECT_EQ(add_user(*s, "bob").error().code, ErrorCode::kConflict);
  for (const char* id : {"r-1", "r-2"}) {
    ASSERT_TRUE(s->write([id](StoreTx& tx) -> Status {
                   RequestRecord rec;
                   rec.request.id = id;
                   rec.request.requester = "alice";
                   rec.command.argv = {"ls", "-l"};
                   auto r = tx.insert_request(rec);
                   return r.ok() ? Status{} : Status{r.error()};
                 }).ok());
  }
  RawDb(path_).exec("UPDATE requests SET kind = 'bogus' WHERE id = 'r-1'");
  const auto bad = s->requests({});
  EXPECT_FALSE(bad.ok()) << "the edited row was not seen: a read transaction was still open";
  if (!bad.ok()) {
    EXPECT_EQ(bad.error().code, ErrorCode::kInternal);
  }
  // And the ordinary reads, lists included.
  ASSERT_TRUE((*s->endpoint("ep-1")).has_value());
  ASSERT_TRUE(s->policies_for_labels({"laptops", "paris", "x"}).ok());
  ASSERT_TRUE(s->audit_head().ok());

  const RawDb raw(path_);
  EXPECT_EQ(raw.text("PRAGMA wal_checkpoint(TRUNCATE)"), "0") << "a reader held the log";
  EXPECT_EQ(std::filesystem::file_size(path_ + "-wal"), 0U);
}

// Another process (a newer hoistd, the sqlite3 shell) may change the
// schema under cached statements; they are prepared again, not broken.
TEST_F(SqliteStoreTest, SurvivesASchemaChangeByAnotherConnection) {
  auto s = open();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(add_user(*s, "alice").ok());
  ASSERT_TRUE(add_endpoint(*s, "ep-1").ok());
  ASSERT_TRUE(s->user("alice")->has_value());
  ASSERT_TRUE(s->endpoint("ep-1")->has_value());
  RawDb(path_).exec(
      "ALTER TABLE users ADD COLUMN note TEXT NOT NULL DEFAULT ''; CREATE INDEX users_role ON users (role); "
      "DROP INDEX endpoints_hostname; CREATE TABLE unrelated (x INTEGER)");
  ASSERT_TRUE(add_user(*s, "bob").ok());
  auto users = s->users();
  ASSERT_TRUE(users.ok()) << users.error().message;
  EXPECT_EQ(users->size(), 2U);
  auto e = s->endpoint("ep-1");
  ASSERT_TRUE(e.ok()) << e.error().message;
  ASSERT_TRUE(e->has_value());
  EXPECT_EQ((*e)->labels, (std::vector<std::string>{"laptops", "paris"}));
  const Status beat = s->write([](StoreTx& tx) { return tx.record_heartbeat("ep-1", kT0, "1.0"); });
  EXPECT_TRUE(beat.ok()) << beat.error().message;
}

// Closing finalizes every cached statement, so the connection really
// closes: the last one out checkpoints and removes the log.
TEST_F(SqliteStoreTest, ClosingReleasesTheDatabase) {
  {
    auto s = open();
    ASSERT_NE(s, nullptr);
    ASSERT_TRUE(add_user(*s, "alice").ok());
    fill(*s, 3);
    ASSERT_TRUE(s->user("alice")->has_value());
    ASSERT_TRUE(s->audit_events({}).ok());
    ASSERT_TRUE(std::filesystem::exists(path_ + "-wal"));
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(SqliteStoreTest, TwoConnectionsShareOneChain) {
  // Two hoistd processes on one file (or a CLI beside the server).
  auto a = open();
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 10; ++i) fill(i % 2 == 0 ? *a : *b, 1);
  auto v = verify_stored_chain(*a, **b->audit_head());
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->events_checked, 10U);
}

}  // namespace
}  // namespace hoist::store
