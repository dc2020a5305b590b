// The SQLite schema: numbered migrations, applied on open, each in its own
// transaction with its row in schema_migrations.
#include "store/sqlite_backend.h"
#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

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

// Migration 2: requests and the grants they become. Times are Unix seconds;
// the path and argv are BLOBs because Linux paths and arguments are bytes,
// not necessarily UTF-8.
constexpr std::string_view kMigration2 = R"sql(
CREATE TABLE requests (
  id                    TEXT PRIMARY KEY,
  version               INTEGER NOT NULL,
  kind                  TEXT NOT NULL,
  requester             TEXT NOT NULL,
  host                  TEXT NOT NULL,
  rule                  TEXT NOT NULL,
  justification         TEXT NOT NULL,
  requested_s           INTEGER NOT NULL,
  max_s                 INTEGER NOT NULL,
  approval_mode         TEXT NOT NULL,
  self_approval_allowed INTEGER NOT NULL,
  created_s             INTEGER NOT NULL,
  pending_deadline_s    INTEGER NOT NULL,
  state                 TEXT NOT NULL,
  review_by             TEXT,
  review_reviewer       TEXT,
  review_approved       INTEGER,
  review_comment        TEXT,
  review_at_s           INTEGER,
  grant_start_s         INTEGER,
  grant_deadline_s      INTEGER,
  ended_at_s            INTEGER,
  ended_by              TEXT NOT NULL,
  end_reason            TEXT NOT NULL,
  command_path          BLOB NOT NULL,
  command_sha256        TEXT,
  command_package       TEXT NOT NULL
);
CREATE INDEX requests_pending ON requests (state, pending_deadline_s);
CREATE INDEX requests_grant ON requests (state, grant_deadline_s);
CREATE INDEX requests_requester ON requests (requester, id);
CREATE INDEX requests_host ON requests (host, id);
CREATE TABLE request_argv (
  request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  value      BLOB NOT NULL,
  PRIMARY KEY (request_id, position)
);
CREATE TABLE request_groups (
  request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  name       TEXT NOT NULL,
  PRIMARY KEY (request_id, position)
);
)sql";

// Migration 3: console users and API tokens. Users are disabled, never
// deleted, so the audit trail's actors keep meaning something.
constexpr std::string_view kMigration3 = R"sql(
CREATE TABLE users (
  name          TEXT PRIMARY KEY,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'approver', 'auditor')),
  password_hash TEXT NOT NULL,
  created_s     INTEGER NOT NULL,
  disabled      INTEGER NOT NULL,
  version       INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  user_name    TEXT NOT NULL REFERENCES users (name),
  label        TEXT NOT NULL,
  secret_hash  TEXT NOT NULL,
  created_s    INTEGER NOT NULL,
  expires_s    INTEGER,
  revoked_s    INTEGER,
  last_used_s  INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_name, id);
)sql";

// Migration 4: endpoints and the tokens that enrol them. Labels live in
// child tables so an endpoint group is a plain indexed lookup.
constexpr std::string_view kMigration4 = R"sql(
CREATE TABLE enrollment_tokens (
  id          TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  uses_left   INTEGER NOT NULL CHECK (uses_left >= 0),
  expires_s   INTEGER NOT NULL,
  created_by  TEXT NOT NULL,
  created_s   INTEGER NOT NULL,
  revoked_s   INTEGER
);
CREATE TABLE enrollment_token_labels (
  token_id TEXT NOT NULL REFERENCES enrollment_tokens (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  label    TEXT NOT NULL,
  PRIMARY KEY (token_id, position)
);
CREATE TABLE endpoints (
  id              TEXT PRIMARY KEY,
  hostname        TEXT NOT NULL,
  credential_hash TEXT NOT NULL,
  agent_version   TEXT NOT NULL,
  enrolled_s      INTEGER NOT NULL,
  last_seen_s     INTEGER,
  retired_s       INTEGER
);
CREATE INDEX endpoints_hostname ON endpoints (hostname);
CREATE TABLE endpoint_labels (
  endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  position    INTEGER NOT NULL,
  label       TEXT NOT NULL,
  PRIMARY KEY (endpoint_id, position)
);
CREATE INDEX endpoint_labels_label ON endpoint_labels (label, endpoint_id);
)sql";

// Migration 5: policies, every version kept, assigned to endpoint groups.
constexpr std::string_view kMigration5 = R"sql(
CREATE TABLE policies (
  name            TEXT PRIMARY KEY,
  current_version INTEGER NOT NULL,
  deleted_s       INTEGER
);
CREATE TABLE policy_versions (
  name      TEXT NOT NULL REFERENCES policies (name),
  version   INTEGER NOT NULL,
  text      TEXT NOT NULL,
  author    TEXT NOT NULL,
  comment   TEXT NOT NULL,
  created_s INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TABLE policy_labels (
  name     TEXT NOT NULL REFERENCES policies (name),
  position INTEGER NOT NULL,
  label    TEXT NOT NULL,
  PRIMARY KEY (name, position)
);
CREATE INDEX policy_labels_label ON policy_labels (label, name);
)sql";

// Migration 6: the push queue and console login sessions.
constexpr std::string_view kMigration6 = R"sql(
CREATE TABLE push_messages (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
  kind        TEXT NOT NULL,
  payload     TEXT NOT NULL,
  created_s   INTEGER NOT NULL
);
CREATE INDEX push_messages_endpoint ON push_messages (endpoint_id, seq);
CREATE TABLE login_sessions (
  id_hash    TEXT PRIMARY KEY,
  user_name  TEXT NOT NULL REFERENCES users (name),
  csrf_hash  TEXT NOT NULL,
  created_s  INTEGER NOT NULL,
  expires_s  INTEGER NOT NULL,
  revoked_s  INTEGER
);
CREATE INDEX login_sessions_user ON login_sessions (user_name);
)sql";

// Migration 7: the endpoint a request came from, so decisions reach its
// push channel. Requests stored before have none ('').
constexpr std::string_view kMigration7 = R"sql(
ALTER TABLE requests ADD COLUMN endpoint_id TEXT NOT NULL DEFAULT '';
CREATE INDEX requests_endpoint ON requests (endpoint_id, id);
)sql";

// Migration 8: the ids of events agents uploaded, so a re-sent event is
// audited once.
constexpr std::string_view kMigration8 = R"sql(
CREATE TABLE agent_events (
  id          TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
  kind        TEXT NOT NULL,
  received_s  INTEGER NOT NULL
);
)sql";

// Migration 9: offline admin codes. Each endpoint's codes key generation
// (rotation moves it), and the codes issued: who asked for what, for whom,
// and whether the endpoint reported its use. Never the code's text.
constexpr std::string_view kMigration9 = R"sql(
ALTER TABLE endpoints ADD COLUMN codes_key_generation INTEGER NOT NULL DEFAULT 1;
CREATE TABLE issued_codes (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint_id   TEXT NOT NULL REFERENCES endpoints (id),
  kind          TEXT NOT NULL CHECK (kind IN ('response', 'preissued')),
  ref           INTEGER NOT NULL,
  generation    INTEGER NOT NULL,
  user_name     TEXT NOT NULL,
  duration_s    INTEGER NOT NULL,
  command       TEXT NOT NULL,
  issued_by     TEXT NOT NULL,
  issued_s      INTEGER NOT NULL,
  valid_until_s INTEGER,
  used_s        INTEGER,
  used_event_id TEXT
);
CREATE INDEX issued_codes_match ON issued_codes (endpoint_id, kind, ref, generation, user_name);
CREATE INDEX issued_codes_user ON issued_codes (user_name, id);
)sql";

// Migration 10: whom a command request runs as (sudo -u / -g). Requests
// stored before were for root without -g.
constexpr std::string_view kMigration10 = R"sql(
ALTER TABLE requests ADD COLUMN runas_user TEXT NOT NULL DEFAULT 'root';
ALTER TABLE requests ADD COLUMN runas_group TEXT NOT NULL DEFAULT '';
)sql";

// Migration 11: how far each stream of the audit trail to a SIEM has got
// (store/streams.h).
constexpr std::string_view kMigration11 = R"sql(
CREATE TABLE stream_cursors (
  name      TEXT PRIMARY KEY,
  seq       INTEGER NOT NULL,
  updated_s INTEGER NOT NULL
);
)sql";

// Migration 12: the notification outbox (store/outbox.h). Channels with
// their routing (one row per event pattern), and one delivery per channel
// and audit event; times in Unix milliseconds, so a short test schedule
// works. Secrets are the server's sealed text, never in config.
constexpr std::string_view kMigration12 = R"sql(
CREATE TABLE notify_channels (
  id         TEXT PRIMARY KEY,
  kind       TEXT NOT NULL,
  name       TEXT NOT NULL UNIQUE,
  config     TEXT NOT NULL,
  secrets    TEXT NOT NULL,
  enabled    INTEGER NOT NULL,
  version    INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE notify_channel_events (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  pattern    TEXT NOT NULL,
  PRIMARY KEY (channel_id, position)
);
CREATE TABLE notify_deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  channel_id      TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  audit_seq       INTEGER NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  since_ms        INTEGER NOT NULL,
  last_error      TEXT NOT NULL,
  last_status     INTEGER,
  created_ms      INTEGER NOT NULL,
  finished_ms     INTEGER,
  UNIQUE (channel_id, audit_seq)
);
CREATE INDEX notify_deliveries_pending ON notify_deliveries (channel_id, state, audit_seq, id);
CREATE INDEX notify_deliveries_state ON notify_deliveries (state, id);
)sql";

// Migration 13: routing by where and why (store/outbox.h): a channel may
// take only the events of endpoints with one of its labels, and of
// requests made under one of its rules. No row: every one.
constexpr std::string_view kMigration13 = R"sql(
CREATE TABLE notify_channel_labels (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  label      TEXT NOT NULL,
  PRIMARY KEY (channel_id, position)
);
CREATE TABLE notify_channel_rules (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  rule       TEXT NOT NULL,
  PRIMARY KEY (channel_id, position)
);
)sql";

// Migration 14: where a chat channel posted about a request, so later
// events edit that message (store/outbox.h, MessageRef); deleted with the
// channel.
constexpr std::string_view kMigration14 = R"sql(
CREATE TABLE notify_message_refs (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  subject    TEXT NOT NULL,
  ref        TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (channel_id, subject)
);
)sql";

// Migration 15: retention (store/outbox.h, prune_deliveries and
// prune_message_refs) finds what to delete by an index range, not a scan
// of every row. Only finished deliveries are in the first (a pending one
// has no finished_ms), so queueing an event's deliveries does not write
// to it.
constexpr std::string_view kMigration15 = R"sql(
CREATE INDEX notify_deliveries_finished ON notify_deliveries (finished_ms) WHERE finished_ms IS NOT NULL;
CREATE INDEX notify_message_refs_updated ON notify_message_refs (updated_ms);
)sql";

// Migration 16: failed logins counted in the database (logins.h), as on
// PostgreSQL (its migration 3), for processes sharing one store; hoistd on
// SQLite counts in memory (docs/high-availability.md, "Security").
constexpr std::string_view kMigration16 = R"sql(
CREATE TABLE login_failures (
  key       TEXT PRIMARY KEY,
  failures  INTEGER NOT NULL,
  last_ms   INTEGER NOT NULL,
  forget_ms INTEGER NOT NULL
);
CREATE INDEX login_failures_forget ON login_failures (forget_ms);
)sql";

}  // namespace

const std::vector<std::string_view>& sqlite_migrations() {
  static const std::vector<std::string_view> kMigrations = {
      kMigration1, kMigration2,  kMigration3,  kMigration4,  kMigration5,  kMigration6,  kMigration7,  kMigration8,
      kMigration9, kMigration10, kMigration11, kMigration12, kMigration13, kMigration14, kMigration15, kMigration16};
  return kMigrations;
}

namespace sqlite_backend {

namespace {
constexpr int kOutboxVersion = 12;   // the migration that adds the outbox's tables
constexpr int kRoutingVersion = 13;  // ... and routing by labels and rules
}  // namespace

Result<int> SqliteStore::schema_version_locked() {
  auto stmt = prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->step("read schema version");
  if (!row.ok()) return row.error();
  if (!*row) return internal_error("database: read schema version: no row (this is a bug)");
  return static_cast<int>(stmt->int_at(0));
}

Result<int> SqliteStore::schema_version() {
  std::lock_guard lock(mu_);
  return schema_version_locked();
}

Status SqliteStore::migrate(int target) {
  std::lock_guard lock(mu_);
  Status st = migrate_locked(target);
  auto version = schema_version_locked();
  has_outbox_ = version.ok() && *version >= kOutboxVersion;
  has_routing_ = version.ok() && *version >= kRoutingVersion;
  // Statements prepared along the way are re-prepared against the final
  // schema when next used (prepare_v3 would do it too, on SQLITE_SCHEMA).
  db_->clear_cache();
  return st;
}

Status SqliteStore::migrate_locked(int target) {
  if (auto st = db_->exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms "
                          "INTEGER NOT NULL)",
                          "create the migrations table");
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
        fmt::format("the database is at schema version {} but this hoistd knows only up to {}: a newer hoistd "
                    "has run on it, and this one does not downgrade it. Nothing was changed. Install the newer "
                    "hoistd again, or restore a backup taken before the upgrade into a new data directory "
                    "(docs/backup.md, \"Upgrades and downgrades\")",
                    *current, known));
  }
  // Each migration and its bookkeeping row commit together.
  for (int v = *current + 1; v <= target; ++v) {
    const Status st = db_->write([&]() -> Status {
      if (auto ran = db_->exec(migrations[static_cast<std::size_t>(v - 1)], "migrate"); !ran.ok()) return ran;
      auto recorded = execute(
          "INSERT INTO schema_migrations (version, applied_ms) VALUES (?, CAST((julianday('now') - 2440587.5) * "
          "86400000 AS INTEGER))",
          "record migration", std::int64_t{v});
      return recorded.ok() ? Status{} : Status{recorded.error()};
    });
    if (!st.ok()) return Error{st.error().code, fmt::format("migration {}: {}", v, st.error().message)};
  }
  return {};
}

}  // namespace sqlite_backend

}  // namespace hoist::store
