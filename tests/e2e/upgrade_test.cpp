// Upgrades and downgrades of the data directory (issue 20, item 6;
// docs/backup.md): the real hoistd started on a database made at the
// previous schema version migrates it once, keeps its data and its audit
// chain verifying; a database a newer hoistd has migrated is refused at
// start with exit 78, a message saying what to do, and nothing changed.
//
// The previous schema is made by the store itself stopped one migration
// short (SqliteOptions::migrate_to), the migrations being the ones that
// shipped and are never edited (docs/storage.md); its rows are written with
// the store's own calls, as the previous hoistd wrote them.
#include <sqlite3.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "core/timestamp.h"
#include "e2e_test_support.h"
#include "server/auth/password.h"
#include "store/sqlite_store.h"

namespace hoist::e2e {
namespace {

int latest() {
  return static_cast<int>(store::sqlite_migrations().size());
}

// SELECT of one integer from the stopped hoistd's database, or -1.
std::int64_t query_int(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::int64_t out = -1;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
      out = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

void exec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err != nullptr ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

constexpr std::string_view kOldPolicy = R"(version = 1

[settings]
default_action = "deny"
)";

// The data directory as the previous hoistd left it: its database at
// schema version latest() - 1 with the first admin, a policy and their
// audit events (no TLS material or keys: hoistd made those at its first
// start, and makes them here).
void make_previous_data_dir(const std::string& data_dir) {
  ASSERT_EQ(::mkdir(data_dir.c_str(), 0700), 0);
  store::SqliteOptions previous;
  previous.migrate_to = latest() - 1;
  auto s = store::open_sqlite_store(data_dir + "/hoist.db", previous);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(*(*s)->schema_version(), latest() - 1);
  auto hash = auth::hash_password(testing::kHoistdAdminPassword, auth::kMinimumCost);
  ASSERT_TRUE(hash) << hash.error().message;
  const TimePoint t0 = *parse_timestamp("2026-01-05T09:00:00Z");
  const auto audited = [&](store::StoreTx& tx, const std::string& actor, const std::string& action,
                           const std::string& target) -> Status {
    store::AuditDraft d;
    d.time = AuditTime{std::chrono::duration_cast<std::chrono::milliseconds>(t0.time_since_epoch())};
    d.actor = actor;
    d.action = action;
    d.target = target;
    d.details = "{}";
    auto e = tx.append_audit(d);
    return e.ok() ? Status{} : Status{e.error()};
  };
  ASSERT_TRUE((*s)->write([&](store::StoreTx& tx) -> Status {
    store::UserRecord admin;
    admin.name = "admin";
    admin.role = store::Role::kAdmin;
    admin.password_hash = *hash;
    admin.created_at = t0;
    if (auto u = tx.insert_user(admin); !u) return u.error();
    return audited(tx, "system", "user.created", "admin");
  }));
  ASSERT_TRUE((*s)->write([&](store::StoreTx& tx) -> Status {
    store::PolicyVersion v;
    v.name = "fleet";
    v.version = 1;
    v.text = std::string(kOldPolicy);
    v.author = "admin";
    v.comment = "before the upgrade";
    v.created_at = t0;
    if (auto p = tx.add_policy_version(v, 0); !p) return p.error();
    return audited(tx, "admin", "policy.created", "fleet");
  }));
}

TEST(E2eUpgrade, ThePreviousSchemaIsMigratedOnceAndKeepsItsDataAndTrail) {
  HoistdProcess hoistd;
  ASSERT_NO_FATAL_FAILURE(make_previous_data_dir(hoistd.data_dir()));
  const std::string db = hoistd.data_dir() + "/hoist.db";

  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  const std::string upgraded = fmt::format("upgraded from schema version {} to {}", latest() - 1, latest());
  EXPECT_NE(hoistd.output().find(upgraded), std::string::npos) << hoistd.output();
  EXPECT_EQ(hoistd.output().find("First admin"), std::string::npos) << "the admin was kept: " << hoistd.output();

  // The admin's password, the policy and the old events are all there, and
  // the chain verifies through the events written since.
  auto token = hoistd.admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  const auto policy = hoistd.call("GET", "/api/v1/policies/fleet", "", admin);
  ASSERT_EQ(policy.status, 200) << policy;
  EXPECT_EQ(policy.str("/current/text"), kOldPolicy) << policy;
  const auto old_events = hoistd.call("GET", "/api/v1/audit?limit=2", "", admin);
  ASSERT_EQ(old_events.array("/events").size(), 2U) << old_events;
  EXPECT_EQ(old_events.array("/events")[0].at("action"), "user.created") << old_events;
  EXPECT_EQ(old_events.array("/events")[1].at("action"), "policy.created") << old_events;
  const auto verified = hoistd.call("GET", "/api/v1/audit/verify", "", admin);
  ASSERT_EQ(verified.status, 200) << verified;
  EXPECT_TRUE(verified.boolean("/ok")) << verified;
  EXPECT_GT(verified.num("/events_checked"), 2) << verified;
  ASSERT_EQ(hoistd.stop(), 0);

  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM schema_migrations"), latest());
  const auto applied =
      query_int(db, fmt::format("SELECT applied_ms FROM schema_migrations WHERE version = {}", latest()));
  ASSERT_GT(applied, 0);

  // A second start migrates nothing.
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  EXPECT_EQ(count_of(hoistd.output(), upgraded), 1U) << hoistd.output();
  EXPECT_EQ(count_of(hoistd.output(), "\"database.migrated\""), 1U) << hoistd.output();
  const auto again = hoistd.call("GET", "/api/v1/audit/verify", "", admin);
  EXPECT_TRUE(again.boolean("/ok")) << again;
  ASSERT_EQ(hoistd.stop(), 0);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM schema_migrations"), latest());
  EXPECT_EQ(query_int(db, fmt::format("SELECT applied_ms FROM schema_migrations WHERE version = {}", latest())),
            applied);
}

TEST(E2eUpgrade, ADowngradeRefusesToStartSaysWhatToDoAndChangesNothing) {
  HoistdProcess hoistd;
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  ASSERT_TRUE(hoistd.admin_token());
  ASSERT_EQ(hoistd.stop(), 0);
  const std::string db = hoistd.data_dir() + "/hoist.db";
  // A newer hoistd ran on it: one migration more than this one knows.
  ASSERT_NO_FATAL_FAILURE(
      exec(db, fmt::format("INSERT INTO schema_migrations (version, applied_ms) VALUES ({}, 1)", latest() + 1)));
  const auto events = query_int(db, "SELECT COUNT(*) FROM audit_events");
  const auto head = query_int(db, "SELECT MAX(seq) FROM audit_events");

  const testing::ExitResult refused = HoistdProcess::run_once(
      {"--config", hoistd.config_path(), "--data-dir", hoistd.data_dir(), "--port", "0", "--listen", "127.0.0.1"});
  EXPECT_EQ(refused.status, 78) << refused.output;
  EXPECT_NE(refused.output.find(
                fmt::format("at schema version {} but this hoistd knows only up to {}", latest() + 1, latest())),
            std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find(db), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("Nothing was changed"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("docs/backup.md"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("listening"), std::string::npos) << refused.output;
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM schema_migrations"), latest() + 1);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM audit_events"), events);
  EXPECT_EQ(query_int(db, "SELECT MAX(seq) FROM audit_events"), head);

  // Back on the schema it knows (the newer hoistd's row gone), it serves.
  ASSERT_NO_FATAL_FAILURE(exec(db, fmt::format("DELETE FROM schema_migrations WHERE version = {}", latest() + 1)));
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  ASSERT_EQ(hoistd.stop(), 0);
}

}  // namespace
}  // namespace hoist::e2e
