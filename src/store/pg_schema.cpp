// The PostgreSQL schema: numbered migrations (their own numbers, not
// SQLite's), applied on open under an advisory lock, so that replicas
// started together migrate once and the others wait, then find nothing to
// do. Each migration commits with its row in schema_migrations.
//
// Migration 1 is the whole schema as SQLite's fifteen migrations left it,
// column for column: BIGINT for SQLite's INTEGER, BYTEA for its BLOB,
// identity columns for AUTOINCREMENT.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/pg_backend.h"
#include "store/pg_store.h"

namespace hoist::store {

namespace {

constexpr std::string_view kMigration1 = R"sql(
CREATE TABLE audit_events (
  seq       BIGINT PRIMARY KEY,
  time_ms   BIGINT NOT NULL,
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

CREATE TABLE requests (
  id                    TEXT COLLATE "C" PRIMARY KEY,
  version               BIGINT NOT NULL,
  kind                  TEXT NOT NULL,
  requester             TEXT NOT NULL,
  host                  TEXT NOT NULL,
  rule                  TEXT NOT NULL,
  justification         TEXT NOT NULL,
  requested_s           BIGINT NOT NULL,
  max_s                 BIGINT NOT NULL,
  approval_mode         TEXT NOT NULL,
  self_approval_allowed BIGINT NOT NULL,
  created_s             BIGINT NOT NULL,
  pending_deadline_s    BIGINT NOT NULL,
  state                 TEXT NOT NULL,
  review_by             TEXT,
  review_reviewer       TEXT,
  review_approved       BIGINT,
  review_comment        TEXT,
  review_at_s           BIGINT,
  grant_start_s         BIGINT,
  grant_deadline_s      BIGINT,
  ended_at_s            BIGINT,
  ended_by              TEXT NOT NULL,
  end_reason            TEXT NOT NULL,
  command_path          BYTEA NOT NULL,
  command_sha256        TEXT,
  command_package       TEXT NOT NULL,
  endpoint_id           TEXT NOT NULL DEFAULT '',
  runas_user            TEXT NOT NULL DEFAULT 'root',
  runas_group           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX requests_pending ON requests (state, pending_deadline_s);
CREATE INDEX requests_grant ON requests (state, grant_deadline_s);
CREATE INDEX requests_requester ON requests (requester, id);
CREATE INDEX requests_host ON requests (host, id);
CREATE INDEX requests_endpoint ON requests (endpoint_id, id);
CREATE TABLE request_argv (
  request_id TEXT COLLATE "C" NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  position   BIGINT NOT NULL,
  value      BYTEA NOT NULL,
  PRIMARY KEY (request_id, position)
);
CREATE TABLE request_groups (
  request_id TEXT COLLATE "C" NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  position   BIGINT NOT NULL,
  name       TEXT NOT NULL,
  PRIMARY KEY (request_id, position)
);

CREATE TABLE users (
  name          TEXT PRIMARY KEY,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'approver', 'auditor')),
  password_hash TEXT NOT NULL,
  created_s     BIGINT NOT NULL,
  disabled      BIGINT NOT NULL,
  version       BIGINT NOT NULL
);
CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  user_name    TEXT NOT NULL REFERENCES users (name),
  label        TEXT NOT NULL,
  secret_hash  TEXT NOT NULL,
  created_s    BIGINT NOT NULL,
  expires_s    BIGINT,
  revoked_s    BIGINT,
  last_used_s  BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_name, id);

CREATE TABLE enrollment_tokens (
  id          TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL,
  uses_left   BIGINT NOT NULL CHECK (uses_left >= 0),
  expires_s   BIGINT NOT NULL,
  created_by  TEXT NOT NULL,
  created_s   BIGINT NOT NULL,
  revoked_s   BIGINT
);
CREATE TABLE enrollment_token_labels (
  token_id TEXT NOT NULL REFERENCES enrollment_tokens (id) ON DELETE CASCADE,
  position BIGINT NOT NULL,
  label    TEXT NOT NULL,
  PRIMARY KEY (token_id, position)
);
CREATE TABLE endpoints (
  id                   TEXT PRIMARY KEY,
  hostname             TEXT NOT NULL,
  credential_hash      TEXT NOT NULL,
  agent_version        TEXT NOT NULL,
  enrolled_s           BIGINT NOT NULL,
  last_seen_s          BIGINT,
  retired_s            BIGINT,
  codes_key_generation BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX endpoints_hostname ON endpoints (hostname);
CREATE TABLE endpoint_labels (
  endpoint_id TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
  position    BIGINT NOT NULL,
  label       TEXT NOT NULL,
  PRIMARY KEY (endpoint_id, position)
);
CREATE INDEX endpoint_labels_label ON endpoint_labels (label, endpoint_id);

CREATE TABLE policies (
  name            TEXT PRIMARY KEY,
  current_version BIGINT NOT NULL,
  deleted_s       BIGINT
);
CREATE TABLE policy_versions (
  name      TEXT NOT NULL REFERENCES policies (name),
  version   BIGINT NOT NULL,
  text      TEXT NOT NULL,
  author    TEXT NOT NULL,
  comment   TEXT NOT NULL,
  created_s BIGINT NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE TABLE policy_labels (
  name     TEXT NOT NULL REFERENCES policies (name),
  position BIGINT NOT NULL,
  label    TEXT NOT NULL,
  PRIMARY KEY (name, position)
);
CREATE INDEX policy_labels_label ON policy_labels (label, name);

CREATE TABLE push_messages (
  seq         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
  kind        TEXT NOT NULL,
  payload     TEXT NOT NULL,
  created_s   BIGINT NOT NULL
);
CREATE INDEX push_messages_endpoint ON push_messages (endpoint_id, seq);
CREATE TABLE login_sessions (
  id_hash    TEXT PRIMARY KEY,
  user_name  TEXT NOT NULL REFERENCES users (name),
  csrf_hash  TEXT NOT NULL,
  created_s  BIGINT NOT NULL,
  expires_s  BIGINT NOT NULL,
  revoked_s  BIGINT
);
CREATE INDEX login_sessions_user ON login_sessions (user_name);

CREATE TABLE agent_events (
  id          TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES endpoints (id),
  kind        TEXT NOT NULL,
  received_s  BIGINT NOT NULL
);

CREATE TABLE issued_codes (
  id            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  endpoint_id   TEXT NOT NULL REFERENCES endpoints (id),
  kind          TEXT NOT NULL CHECK (kind IN ('response', 'preissued')),
  ref           BIGINT NOT NULL,
  generation    BIGINT NOT NULL,
  user_name     TEXT NOT NULL,
  duration_s    BIGINT NOT NULL,
  command       TEXT NOT NULL,
  issued_by     TEXT NOT NULL,
  issued_s      BIGINT NOT NULL,
  valid_until_s BIGINT,
  used_s        BIGINT,
  used_event_id TEXT
);
CREATE INDEX issued_codes_match ON issued_codes (endpoint_id, kind, ref, generation, user_name);
CREATE INDEX issued_codes_user ON issued_codes (user_name, id);

CREATE TABLE stream_cursors (
  name      TEXT PRIMARY KEY,
  seq       BIGINT NOT NULL,
  updated_s BIGINT NOT NULL
);

CREATE TABLE notify_channels (
  id         TEXT PRIMARY KEY,
  kind       TEXT NOT NULL,
  name       TEXT NOT NULL UNIQUE,
  config     TEXT NOT NULL,
  secrets    TEXT NOT NULL,
  enabled    BIGINT NOT NULL,
  version    BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
CREATE TABLE notify_channel_events (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  position   BIGINT NOT NULL,
  pattern    TEXT NOT NULL,
  PRIMARY KEY (channel_id, position)
);
CREATE TABLE notify_deliveries (
  id              BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  channel_id      TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  audit_seq       BIGINT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts        BIGINT NOT NULL,
  next_attempt_ms BIGINT NOT NULL,
  since_ms        BIGINT NOT NULL,
  last_error      TEXT NOT NULL,
  last_status     BIGINT,
  created_ms      BIGINT NOT NULL,
  finished_ms     BIGINT,
  UNIQUE (channel_id, audit_seq)
);
CREATE INDEX notify_deliveries_pending ON notify_deliveries (channel_id, state, audit_seq, id);
CREATE INDEX notify_deliveries_state ON notify_deliveries (state, id);
CREATE INDEX notify_deliveries_finished ON notify_deliveries (finished_ms) WHERE finished_ms IS NOT NULL;
CREATE TABLE notify_channel_labels (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  position   BIGINT NOT NULL,
  label      TEXT NOT NULL,
  PRIMARY KEY (channel_id, position)
);
CREATE TABLE notify_channel_rules (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  position   BIGINT NOT NULL,
  rule       TEXT NOT NULL,
  PRIMARY KEY (channel_id, position)
);
CREATE TABLE notify_message_refs (
  channel_id TEXT NOT NULL REFERENCES notify_channels (id) ON DELETE CASCADE,
  subject    TEXT NOT NULL,
  ref        TEXT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (channel_id, subject)
);
CREATE INDEX notify_message_refs_updated ON notify_message_refs (updated_ms);
)sql";

// Migration 2: what replicas share beyond records (replicas.h): leases on
// background work, timed by the database's clock, with a token bumped on
// every change of holder; and the fingerprints of the keys every replica
// must hold alike.
constexpr std::string_view kMigration2 = R"sql(
CREATE TABLE leases (
  name       TEXT PRIMARY KEY,
  holder     TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  token      BIGINT NOT NULL
);
CREATE TABLE shared_keys (
  name        TEXT PRIMARY KEY,
  fingerprint TEXT NOT NULL,
  created_ms  BIGINT NOT NULL
);
)sql";

// Migration 3: failed logins counted for every replica at once (logins.h):
// one row per key (a digest of a user name or of a remote address), and
// hoist_begin_login, which reads and counts both keys in one statement on
// the database's clock. The keys' rows are locked in key order, so two
// attempts never deadlock; the lock lasts until the statement commits.
constexpr std::string_view kMigration3 = R"sql(
CREATE TABLE login_failures (
  key       TEXT COLLATE "C" PRIMARY KEY,
  failures  BIGINT NOT NULL,
  last_ms   BIGINT NOT NULL,
  forget_ms BIGINT NOT NULL
);
CREATE INDEX login_failures_forget ON login_failures (forget_ms);

CREATE FUNCTION hoist_login_delay_s(failures BIGINT, free_failures BIGINT, base_s BIGINT, max_s BIGINT)
RETURNS BIGINT LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN failures <= free_failures THEN 0
              ELSE LEAST(max_s, base_s * power(2::numeric, LEAST(failures - free_failures - 1, 40))::BIGINT) END
$$;

CREATE FUNCTION hoist_begin_login(user_key TEXT, address_key TEXT, free_failures BIGINT, base_s BIGINT,
                                  max_s BIGINT, forget_s BIGINT)
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
  now_ms BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
  wait_ms BIGINT := 0;
  r RECORD;
BEGIN
  -- A few forgotten rows go each time (none that another attempt holds).
  DELETE FROM login_failures WHERE key IN (
    SELECT f.key FROM login_failures f WHERE f.forget_ms <= now_ms ORDER BY f.forget_ms LIMIT 16
    FOR UPDATE SKIP LOCKED);
  INSERT INTO login_failures (key, failures, last_ms, forget_ms)
    SELECT k, 0, now_ms, now_ms FROM unnest(ARRAY[user_key, address_key]) AS k ORDER BY k
    ON CONFLICT (key) DO NOTHING;
  FOR r IN SELECT f.failures, f.last_ms, f.forget_ms FROM login_failures f
           WHERE f.key IN (user_key, address_key) ORDER BY f.key FOR UPDATE LOOP
    IF r.forget_ms > now_ms THEN
      wait_ms := GREATEST(wait_ms,
                          r.last_ms + hoist_login_delay_s(r.failures, free_failures, base_s, max_s) * 1000 - now_ms);
    END IF;
  END LOOP;
  IF wait_ms > 0 THEN
    RETURN (wait_ms + 999) / 1000;
  END IF;
  UPDATE login_failures f
     SET failures = CASE WHEN f.forget_ms > now_ms THEN f.failures + 1 ELSE 1 END,
         last_ms = now_ms,
         forget_ms = now_ms + GREATEST(forget_s, hoist_login_delay_s(
                       CASE WHEN f.forget_ms > now_ms THEN f.failures + 1 ELSE 1 END,
                       free_failures, base_s, max_s)) * 1000
   WHERE f.key IN (user_key, address_key);
  RETURN 0;
END
$$;
)sql";

}  // namespace

const std::vector<std::string_view>& postgres_migrations() {
  static const std::vector<std::string_view> kMigrations = {kMigration1, kMigration2, kMigration3};
  return kMigrations;
}

namespace pg_backend {

namespace {

Result<int> version_on(Conn& conn) {
  auto rows = conn.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "read the schema version");
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return internal_error("database: read the schema version: no row (this is a bug)");
  return static_cast<int>(rows->row(0).int_at(0));
}

Status migrate_on(Conn& conn, int target, int* from) {
  if (auto st = conn.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms "
                          "BIGINT NOT NULL)",
                          "create the migrations table");
      !st.ok()) {
    return st;
  }
  const auto& migrations = postgres_migrations();
  const int known = static_cast<int>(migrations.size());
  if (target < 0 || target > known) target = known;
  auto current = version_on(conn);
  if (!current.ok()) return current.error();
  *from = *current;
  if (*current > known) {
    return conflict(
        fmt::format("the database is at schema version {} but this hoistd knows only up to {}: a newer hoistd "
                    "has run on it, and this one does not downgrade it. Nothing was changed. Install the newer "
                    "hoistd on every replica (docs/high-availability.md, \"Upgrades\")",
                    *current, known));
  }
  for (int v = *current + 1; v <= target; ++v) {
    Status st = conn.exec("BEGIN", "begin a migration");
    if (st.ok()) st = conn.exec(migrations[static_cast<std::size_t>(v - 1)], "migrate");
    if (st.ok()) {
      auto recorded = conn.execute(
          "INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, (extract(epoch FROM clock_timestamp()) "
          "* 1000)::BIGINT)",
          "record the migration", std::int64_t{v});
      if (!recorded.ok()) st = recorded.error();
    }
    if (st.ok()) st = conn.exec("COMMIT", "commit the migration");
    if (!st.ok()) {
      if (conn.usable() && conn.in_transaction()) (void)conn.exec("ROLLBACK", "roll back the migration");
      return Error{st.error().code, fmt::format("migration {}: {}", v, st.error().message)};
    }
  }
  return {};
}

}  // namespace

Result<int> PgStore::schema_version() {
  return read<int>([](Conn& conn) { return version_on(conn); });
}

Status PgStore::migrate(int target, int* from) {
  auto lease = pool_.take();
  if (!lease.ok()) return lease.error();
  Conn& conn = **lease;
  // One replica migrates; the others wait here, then find it done.
  static const std::string kLock = fmt::format("SELECT pg_advisory_lock({})", kMigrateLock);
  static const std::string kUnlock = fmt::format("SELECT pg_advisory_unlock({})", kMigrateLock);
  if (auto st = conn.exec(kLock, "wait for other replicas' migrations"); !st.ok()) return st;
  const Status st = migrate_on(conn, target, from);
  // A connection that broke took its lock with it.
  if (conn.usable()) (void)conn.exec(kUnlock, "release the migration lock");
  return st;
}

}  // namespace pg_backend

}  // namespace hoist::store
