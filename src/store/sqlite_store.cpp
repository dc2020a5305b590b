#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include <mutex>

namespace hoist::store {

namespace {

// Migration 1: the audit trail. seq is the chain position; prev_hash and
// hash are stored as 64 hex digits so the row reads the same everywhere.
constexpr std::string_view kMigration1 = R"sql(
CREATE TABLE audit_events (
  seq       INTEGER PRIMARY KEY,
  time_ms   INTEGER NOT NULL,
  actor     TEXT NOT NULL,
  action    TEXT NOT NULL,
  target    TEXT NOT NULL,
  host      TEXT NOT NULL,
  details   TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_events_time ON audit_events (time_ms);
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);
CREATE INDEX audit_events_host ON audit_events (host, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
)sql";

}  // namespace

const std::vector<std::string_view>& sqlite_migrations() {
  static const std::vector<std::string_view> kMigrations = {kMigration1};
  return kMigrations;
}

namespace {

struct DbClose {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

Error db_error(sqlite3* db, std::string_view what) {
  const int code = sqlite3_extended_errcode(db);
  const std::string message = fmt::format("database: {}: {}", what, sqlite3_errmsg(db));
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) return unavailable(message + " (busy; retry)");
  if ((code & 0xff) == SQLITE_CONSTRAINT) return conflict(message);
  return internal_error(message);
}

class SqliteStore;

class SqliteTx final : public StoreTx {
 public:
  explicit SqliteTx(SqliteStore& store) : store_(store) {}
  Result<AuditEvent> append_audit(const AuditDraft& draft) override;

 private:
  SqliteStore& store_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(sqlite3* db) : db_(db) {}

  Status write(const std::function<Status(StoreTx&)>& fn) override;
  Result<std::vector<AuditEvent>> audit_events(const AuditFilter& filter) override;
  Result<std::vector<AuditEvent>> audit_range(std::uint64_t first, std::size_t count) override;
  Result<std::optional<ChainHead>> audit_head() override;
  Result<int> schema_version() override;

  Status migrate(int target);

  // For SqliteTx, with mu_ held by write().
  Result<Stmt> prepare(std::string_view sql);
  Status exec(std::string_view sql);
  Result<std::optional<AuditEvent>> last_event_locked();

 private:
  Result<std::vector<AuditEvent>> query_events(sqlite3_stmt* stmt);
  Result<int> schema_version_locked();

  std::unique_ptr<sqlite3, DbClose> db_;
  std::mutex mu_;  // one connection, one user at a time
};

Result<Stmt> SqliteStore::prepare(std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK) {
    return db_error(db_.get(), "prepare");
  }
  return Stmt(raw);
}

Status SqliteStore::exec(std::string_view sql) {
  const std::string text(sql);
  if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return db_error(db_.get(), "exec");
  }
  return {};
}

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = sqlite3_column_text(s, i);
  return p == nullptr
             ? std::string()
             : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
}

Result<std::vector<AuditEvent>> SqliteStore::query_events(sqlite3_stmt* stmt) {
  std::vector<AuditEvent> out;
  for (;;) {
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error(db_.get(), "read audit events");
    AuditEvent e;
    e.seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
    e.time = AuditTime{std::chrono::milliseconds{sqlite3_column_int64(stmt, 1)}};
    e.actor = column_text(stmt, 2);
    e.action = column_text(stmt, 3);
    e.target = column_text(stmt, 4);
    e.host = column_text(stmt, 5);
    e.details = column_text(stmt, 6);
    // A stored hash that is not 64 hex digits is itself tampering: keep the
    // event with a zero hash so verification reports it.
    if (auto h = Sha256::from_hex(column_text(stmt, 7)); h.ok()) e.prev_hash = *h;
    if (auto h = Sha256::from_hex(column_text(stmt, 8)); h.ok()) e.hash = *h;
    out.push_back(std::move(e));
  }
  return out;
}

constexpr std::string_view kEventColumns = "seq, time_ms, actor, action, target, host, details, prev_hash, hash";

Result<std::optional<AuditEvent>> SqliteStore::last_event_locked() {
  auto stmt = prepare(fmt::format("SELECT {} FROM audit_events ORDER BY seq DESC LIMIT 1", kEventColumns));
  if (!stmt.ok()) return stmt.error();
  auto events = query_events(stmt->get());
  if (!events.ok()) return events.error();
  if (events->empty()) return std::optional<AuditEvent>();
  return std::optional<AuditEvent>(std::move(events->front()));
}

Result<AuditEvent> SqliteTx::append_audit(const AuditDraft& draft) {
  if (draft.actor.empty() || draft.action.empty()) {
    return invalid_argument("an audit event needs an actor and an action");
  }
  auto prev = store_.last_event_locked();
  if (!prev.ok()) return prev.error();
  AuditEvent e;
  e.time = draft.time;
  e.actor = draft.actor;
  e.action = draft.action;
  e.target = draft.target;
  e.host = draft.host;
  e.details = draft.details.empty() ? "{}" : draft.details;
  e = chain_after(*prev, std::move(e));
  auto stmt = store_.prepare(
      "INSERT INTO audit_events (seq, time_ms, actor, action, target, host, details, prev_hash, hash) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!stmt.ok()) return stmt.error();
  sqlite3_stmt* s = stmt->get();
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(e.seq));
  sqlite3_bind_int64(s, 2, e.time.time_since_epoch().count());
  bind_text(s, 3, e.actor);
  bind_text(s, 4, e.action);
  bind_text(s, 5, e.target);
  bind_text(s, 6, e.host);
  bind_text(s, 7, e.details);
  bind_text(s, 8, e.prev_hash.hex());
  bind_text(s, 9, e.hash.hex());
  if (sqlite3_step(s) != SQLITE_DONE) return db_error(sqlite3_db_handle(s), "append audit event");
  return e;
}

Status SqliteStore::write(const std::function<Status(StoreTx&)>& fn) {
  std::lock_guard lock(mu_);
  // IMMEDIATE takes the write lock up front: no upgrade deadlock between
  // processes sharing the file.
  if (auto st = exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  SqliteTx tx(*this);
  Status result;
  try {
    result = fn(tx);
  } catch (const std::exception& e) {
    result = internal_error(std::string("write transaction failed: ") + e.what() + " (this is a bug)");
  }
  if (!result.ok()) {
    (void)exec("ROLLBACK");
    return result;
  }
  if (auto st = exec("COMMIT"); !st.ok()) {
    (void)exec("ROLLBACK");
    return st;
  }
  return {};
}

Result<std::vector<AuditEvent>> SqliteStore::audit_events(const AuditFilter& f) {
  if (f.limit == 0 || f.limit > kMaxPage) {
    return invalid_argument(fmt::format("limit must be between 1 and {}", kMaxPage));
  }
  std::string sql = fmt::format("SELECT {} FROM audit_events WHERE seq > ?", kEventColumns);
  if (f.since) sql += " AND time_ms >= ?";
  if (f.until) sql += " AND time_ms < ?";
  if (f.actor) sql += " AND actor = ?";
  if (f.action) sql += " AND action = ?";
  if (f.target) sql += " AND target = ?";
  if (f.host) sql += " AND host = ?";
  sql += " ORDER BY seq LIMIT ?";
  std::lock_guard lock(mu_);
  auto stmt = prepare(sql);
  if (!stmt.ok()) return stmt.error();
  sqlite3_stmt* s = stmt->get();
  int i = 1;
  sqlite3_bind_int64(s, i++, static_cast<sqlite3_int64>(f.after_seq));
  if (f.since) sqlite3_bind_int64(s, i++, f.since->time_since_epoch().count());
  if (f.until) sqlite3_bind_int64(s, i++, f.until->time_since_epoch().count());
  for (const auto* v : {&f.actor, &f.action, &f.target, &f.host}) {
    if (*v) bind_text(s, i++, **v);
  }
  sqlite3_bind_int64(s, i, static_cast<sqlite3_int64>(f.limit));
  return query_events(s);
}

Result<std::vector<AuditEvent>> SqliteStore::audit_range(std::uint64_t first, std::size_t count) {
  std::lock_guard lock(mu_);
  auto stmt = prepare(fmt::format("SELECT {} FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?", kEventColumns));
  if (!stmt.ok()) return stmt.error();
  sqlite3_bind_int64(stmt->get(), 1, static_cast<sqlite3_int64>(first));
  sqlite3_bind_int64(stmt->get(), 2, static_cast<sqlite3_int64>(count));
  return query_events(stmt->get());
}

Result<std::optional<ChainHead>> SqliteStore::audit_head() {
  std::lock_guard lock(mu_);
  auto last = last_event_locked();
  if (!last.ok()) return last.error();
  if (!*last) return std::optional<ChainHead>();
  return std::optional<ChainHead>(ChainHead{(*last)->seq, (*last)->hash});
}

Result<int> SqliteStore::schema_version_locked() {
  auto stmt = prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!stmt.ok()) return stmt.error();
  if (sqlite3_step(stmt->get()) != SQLITE_ROW) return db_error(db_.get(), "read schema version");
  return sqlite3_column_int(stmt->get(), 0);
}

Result<int> SqliteStore::schema_version() {
  std::lock_guard lock(mu_);
  return schema_version_locked();
}

Status SqliteStore::migrate(int target) {
  std::lock_guard lock(mu_);
  if (auto st = exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms "
                     "INTEGER NOT NULL)");
      !st.ok()) {
    return st;
  }
  const auto& migrations = sqlite_migrations();
  const int known = static_cast<int>(migrations.size());
  if (target < 0 || target > known) target = known;
  auto current = schema_version_locked();
  if (!current.ok()) return current.error();
  if (*current > known) {
    return conflict(
        fmt::format("the database is at schema version {} but this hoistd knows only up to {}: upgrade "
                    "hoistd, or restore a backup taken before the newer version ran",
                    *current, known));
  }
  // Each migration and its bookkeeping row commit together.
  for (int v = *current + 1; v <= target; ++v) {
    if (auto st = exec("BEGIN IMMEDIATE"); !st.ok()) return st;
    const std::string record = fmt::format(
        "INSERT INTO schema_migrations (version, applied_ms) VALUES ({}, CAST((julianday('now') - 2440587.5) * "
        "86400000 AS INTEGER))",
        v);
    Status st = exec(migrations[static_cast<std::size_t>(v - 1)]);
    if (st.ok()) st = exec(record);
    if (st.ok()) st = exec("COMMIT");
    if (!st.ok()) {
      (void)exec("ROLLBACK");
      return Error{st.error().code, fmt::format("migration {}: {}", v, st.error().message)};
    }
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const SqliteOptions& options) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close_v2(raw);
    return unavailable(fmt::format("cannot open database {}: {}", path, message));
  }
  auto store = std::make_unique<SqliteStore>(raw);
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  sqlite3_extended_result_codes(raw, 1);
  for (const std::string_view pragma :
       {"PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL"}) {
    if (auto st = store->exec(pragma); !st.ok()) {
      return Error{st.error().code, fmt::format("{}: {}", path, st.error().message)};
    }
  }
  if (auto st = store->migrate(options.migrate_to); !st.ok()) {
    return Error{st.error().code, fmt::format("{}: {}", path, st.error().message)};
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace hoist::store
