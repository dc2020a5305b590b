// hoistd migrate's copy (store/sqlite_to_postgres.h) between a SQLite file
// made through the store and a database of a PostgreSQL cluster this test
// starts itself: every table's rows and the audit chain arrive as they
// were, the push queue's counter goes on past the copied seqs, and every
// refusal (a target with rows, a tampered trail, an old schema, a value
// PostgreSQL cannot store, found in the middle of the copy) leaves the
// target as it was.
#include "store/sqlite_to_postgres.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "core/sha256.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "support/pg_cluster.h"
#include "support/temp_dir.h"

namespace hoist::store {
namespace {

const TimePoint kT0{Seconds{1'800'000'000}};

hoist::testing::PgCluster& cluster() {
  static std::unique_ptr<hoist::testing::PgCluster> c = [] {
    auto made = std::make_unique<hoist::testing::PgCluster>();
    if (!made->start()) ADD_FAILURE() << "cannot start a PostgreSQL cluster: " << made->error();
    return made;
  }();
  return *c;
}

std::string new_database() {
  static std::atomic<int> next{0};
  const std::string name = "hoist_m" + std::to_string(::getpid()) + "_" + std::to_string(next++);
  EXPECT_TRUE(cluster().create_database(name)) << cluster().error();
  return name;
}

PostgresOptions options_for(const std::string& db) {
  PostgresOptions o;
  o.conninfo = cluster().conninfo(db);
  o.pool_size = 2;
  o.round_trip_timeout = std::chrono::seconds(20);
  return o;
}

// Runs SQL on the SQLite file as someone editing it by hand would.
void edit_sqlite(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  const std::string message = err != nullptr ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  ASSERT_EQ(rc, SQLITE_OK) << message;
}

// Rows in every table of the target (its own schema_migrations aside).
std::int64_t target_rows(const std::string& db) {
  std::string out;
  EXPECT_TRUE(
      cluster().psql("SELECT COALESCE(sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', "
                     "table_name), false, "
                     "true, '')))[1]::text::bigint), 0) FROM information_schema.tables WHERE table_schema = 'public' "
                     "AND table_name <> "
                     "'schema_migrations'",
                     &out, db))
      << out;
  try {
    return std::stoll(out);
  } catch (...) {
    ADD_FAILURE() << "psql said: " << out;
    return -1;
  }
}

// A SQLite database with a user, an endpoint with labels, a policy, two
// push messages (one acknowledged, so deleted), a stream cursor and audit
// events.
class Migrate : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/hoist.db";
    auto s = open_sqlite_store(path_);
    ASSERT_TRUE(s.ok()) << s.error().message;
    Store& store = **s;
    ASSERT_TRUE(store
                    .write([](StoreTx& tx) -> Status {
                      UserRecord u;
                      u.name = "alice";
                      u.role = Role::kAdmin;
                      u.password_hash = "hash";
                      u.created_at = kT0;
                      if (auto r = tx.insert_user(u); !r.ok()) return r.error();
                      EndpointRecord e;
                      e.id = "ep-1";
                      e.hostname = "web-1";
                      e.labels = {"web", "prod"};
                      e.credential_hash = sha256("ep-1").hex();
                      e.enrolled_at = kT0;
                      if (auto st = tx.insert_endpoint(e); !st.ok()) return st;
                      PolicyVersion v;
                      v.name = "fleet";
                      v.text = "version = 1\n";
                      v.author = "alice";
                      v.created_at = kT0;
                      if (auto r = tx.add_policy_version(v, 0); !r.ok()) return r.error();
                      if (auto st = tx.assign_policy("fleet", {"web"}); !st.ok()) return st;
                      if (auto st = tx.set_stream_cursor("siem", 2, kT0); !st.ok()) return st;
                      for (int i = 0; i < 3; ++i) {
                        AuditDraft d{AuditTime{std::chrono::milliseconds{1'800'000'000'000 + i}},
                                     "alice",
                                     "policy.updated",
                                     "fleet",
                                     "",
                                     "{}"};
                        if (auto r = tx.append_audit(d); !r.ok()) return r.error();
                      }
                      return {};
                    })
                    .ok());
    for (const char* payload : {"a", "b"}) {
      ASSERT_TRUE(store
                      .write([&](StoreTx& tx) -> Status {
                        auto m = tx.enqueue_push("ep-1", "decision", payload, kT0);
                        if (!m.ok()) return m.error();
                        last_push_ = m->seq;
                        return {};
                      })
                      .ok());
    }
    ASSERT_TRUE(store.write([&](StoreTx& tx) { return tx.acknowledge_push("ep-1", last_push_); }).ok());
    auto head = store.audit_head();
    ASSERT_TRUE(head.ok() && head->has_value());
    head_ = **head;
  }

  hoist::testing::TempDir dir_;
  std::string path_;
  std::uint64_t last_push_ = 0;
  ChainHead head_;
};

TEST_F(Migrate, CopiesEveryTableAndTheChain) {
  const std::string db = new_database();
  auto report = migrate_sqlite_to_postgres(path_, options_for(db));
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_TRUE(report->audit_head.has_value());
  EXPECT_EQ(report->audit_head->seq, head_.seq);
  EXPECT_EQ(report->audit_head->hash, head_.hash);
  EXPECT_EQ(report->audit_events, 3U);
  EXPECT_EQ(report->tables.size(), migrated_tables().size());

  auto pg = open_postgres_store(options_for(db));
  ASSERT_TRUE(pg.ok()) << pg.error().message;
  Store& store = **pg;
  auto v = verify_stored_chain(store, head_);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok) << v->problem;
  auto user = store.user("alice");
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->password_hash, "hash");
  auto endpoint = store.endpoint("ep-1");
  ASSERT_TRUE(endpoint.ok() && endpoint->has_value());
  EXPECT_EQ((*endpoint)->labels, (std::vector<std::string>{"web", "prod"}));
  auto for_web = store.policies_for_labels({"web"});
  ASSERT_TRUE(for_web.ok());
  ASSERT_EQ(for_web->size(), 1U);
  EXPECT_EQ(for_web->front().name, "fleet");
  auto cursor = store.stream_cursor("siem");
  ASSERT_TRUE(cursor.ok());
  EXPECT_EQ(*cursor, 2U);
  // The acknowledged messages are gone in SQLite; their seqs are not reused.
  auto pending = store.push_after("ep-1", 0, 10);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  std::uint64_t next = 0;
  ASSERT_TRUE(store
                  .write([&](StoreTx& tx) -> Status {
                    auto m = tx.enqueue_push("ep-1", "decision", "c", kT0);
                    if (!m.ok()) return m.error();
                    next = m->seq;
                    return {};
                  })
                  .ok());
  EXPECT_GT(next, last_push_);
  // The chain goes on from the copied head.
  ASSERT_TRUE(store
                  .write([](StoreTx& tx) -> Status {
                    auto r = tx.append_audit(AuditDraft{AuditTime{std::chrono::milliseconds{1'800'000'001'000}},
                                                        "alice", "policy.updated", "fleet", "", "{}"});
                    return r.ok() ? Status{} : Status{r.error()};
                  })
                  .ok());
  auto after = verify_stored_chain(store, std::nullopt);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->ok) << after->problem;
  EXPECT_EQ(after->events_checked, 4U);
}

TEST_F(Migrate, RefusesATargetWithRowsAndLeavesItAsItWas) {
  const std::string db = new_database();
  ASSERT_TRUE(migrate_sqlite_to_postgres(path_, options_for(db)).ok());
  const auto before = target_rows(db);
  ASSERT_GT(before, 0);
  auto again = migrate_sqlite_to_postgres(path_, options_for(db));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  EXPECT_NE(again.error().message.find("not empty"), std::string::npos) << again.error().message;
  EXPECT_EQ(target_rows(db), before);

  // One row anywhere is enough, even in a table only PostgreSQL has.
  const std::string other = new_database();
  {
    auto pg = open_postgres_store(options_for(other));
    ASSERT_TRUE(pg.ok());
  }
  ASSERT_TRUE(cluster().psql("INSERT INTO shared_keys VALUES ('ca', 'x', 0)", nullptr, other));
  auto refused = migrate_sqlite_to_postgres(path_, options_for(other));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(target_rows(other), 1);
}

TEST_F(Migrate, RefusesATamperedTrail) {
  ASSERT_NO_FATAL_FAILURE(edit_sqlite(path_, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"));
  const std::string db = new_database();
  auto r = migrate_sqlite_to_postgres(path_, options_for(db));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("does not verify at event 2"), std::string::npos) << r.error().message;
  EXPECT_EQ(target_rows(db), 0);
}

TEST_F(Migrate, RefusesATruncatedOrReorderedTrailToo) {
  ASSERT_NO_FATAL_FAILURE(edit_sqlite(path_, "DELETE FROM audit_events WHERE seq = 1"));
  const std::string db = new_database();
  auto r = migrate_sqlite_to_postgres(path_, options_for(db));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(target_rows(db), 0);
}

TEST_F(Migrate, RefusesAnOlderSchema) {
  const std::string old_path = dir_.path() + "/old.db";
  SqliteOptions o;
  o.migrate_to = static_cast<int>(sqlite_migrations().size()) - 1;
  ASSERT_TRUE(open_sqlite_store(old_path, o).ok());
  const std::string db = new_database();
  auto r = migrate_sqlite_to_postgres(old_path, options_for(db));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_NE(r.error().message.find("start this hoistd on it once"), std::string::npos) << r.error().message;
  EXPECT_EQ(target_rows(db), 0);
}

TEST_F(Migrate, RefusesAMissingFile) {
  auto r = migrate_sqlite_to_postgres(dir_.path() + "/none.db", options_for(new_database()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

// SQLite keeps whatever bytes it is given as TEXT; PostgreSQL's text is
// UTF-8 without NUL. Such a value (only a hand edit or a bug makes one:
// hoistd's JSON input is UTF-8) stops the copy in the middle, after
// earlier tables were copied, and the target stays empty.
TEST_F(Migrate, AValuePostgresCannotStoreStopsTheCopyAndNothingStays) {
  for (const char* value : {"CAST(X'C328' AS TEXT)", "CAST(X'6100' AS TEXT)"}) {
    SCOPED_TRACE(value);
    const std::string copy = dir_.path() + "/bad.db";
    std::filesystem::copy_file(path_, copy, std::filesystem::copy_options::overwrite_existing);
    // stream_cursors comes after audit_events: most rows are in by then.
    ASSERT_NO_FATAL_FAILURE(edit_sqlite(copy, std::string("UPDATE stream_cursors SET name = ") + value));
    const std::string db = new_database();
    auto r = migrate_sqlite_to_postgres(copy, options_for(db));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("table stream_cursors, row with rowid 1, column name"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("left as it was"), std::string::npos) << r.error().message;
    EXPECT_EQ(target_rows(db), 0);
  }
}

}  // namespace
}  // namespace hoist::store
