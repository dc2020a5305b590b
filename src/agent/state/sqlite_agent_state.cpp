#include "agent/state/sqlite_agent_state.h"

#include <fmt/format.h>

#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <utility>

#include "agent/state/state_dir.h"
#include "sqlite/db.h"

namespace hoist::agent {

namespace {

using sqlite::Db;
using sqlite::Stmt;

// Migration 1. Times are Unix seconds (outbox: milliseconds). One-row
// tables carry `singleton = 1` so a second row cannot exist. Paths and argv
// patterns are BLOBs: Linux bytes, not necessarily UTF-8. outbox_totals is
// kept by triggers so the cap check and pending_count() cost no scan.
constexpr std::string_view kMigration1 = R"sql(
CREATE TABLE identity (
  singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
  server_url  TEXT NOT NULL,
  ca_pin      TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  credential  TEXT NOT NULL,
  hostname    TEXT NOT NULL,
  enrolled_s  INTEGER NOT NULL
);
CREATE TABLE identity_labels (
  position INTEGER PRIMARY KEY,
  label    TEXT NOT NULL
);
CREATE TABLE policy_snapshot (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  etag      TEXT NOT NULL,
  fetched_s INTEGER NOT NULL
);
CREATE TABLE policy_labels (
  position INTEGER PRIMARY KEY,
  label    TEXT NOT NULL
);
CREATE TABLE policy_documents (
  position INTEGER PRIMARY KEY,
  name     TEXT NOT NULL UNIQUE,
  version  INTEGER NOT NULL CHECK (version >= 1),
  text     TEXT NOT NULL
);
CREATE TABLE grants (
  id               TEXT PRIMARY KEY,
  user_name        TEXT NOT NULL,
  uid              INTEGER NOT NULL,
  kind             TEXT NOT NULL CHECK (kind IN ('command', 'session')),
  command_path     BLOB NOT NULL,
  command_sha256   TEXT,
  start_s          INTEGER NOT NULL,
  deadline_s       INTEGER NOT NULL,
  revoked_s        INTEGER,
  record_processes INTEGER NOT NULL CHECK (record_processes IN (0, 1)),
  origin           TEXT NOT NULL CHECK (origin IN ('server', 'offline_code', 'break_glass'))
);
CREATE INDEX grants_uid ON grants (uid, deadline_s);
CREATE TABLE grant_argv_patterns (
  grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  pattern  BLOB NOT NULL,
  PRIMARY KEY (grant_id, position)
);
CREATE TABLE pending_requests (
  id              TEXT PRIMARY KEY,
  uid             INTEGER NOT NULL,
  user_name       TEXT NOT NULL,
  command_summary TEXT NOT NULL,
  submitted_s     INTEGER NOT NULL,
  state           TEXT NOT NULL
);
CREATE INDEX pending_requests_uid ON pending_requests (uid, submitted_s, id);
CREATE TABLE outbox (
  seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  id      TEXT NOT NULL UNIQUE,
  kind    TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  payload TEXT NOT NULL
);
CREATE TABLE outbox_totals (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  events    INTEGER NOT NULL,
  bytes     INTEGER NOT NULL
);
INSERT INTO outbox_totals (singleton, events, bytes) VALUES (1, 0, 0);
CREATE TRIGGER outbox_totals_insert AFTER INSERT ON outbox BEGIN
  UPDATE outbox_totals SET events = events + 1, bytes = bytes + length(CAST(NEW.payload AS BLOB)) WHERE singleton = 1;
END;
CREATE TRIGGER outbox_totals_delete AFTER DELETE ON outbox BEGIN
  UPDATE outbox_totals SET events = events - 1, bytes = bytes - length(CAST(OLD.payload AS BLOB)) WHERE singleton = 1;
END;
CREATE TABLE push_cursor (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  seq       INTEGER NOT NULL CHECK (seq >= 0)
);
INSERT INTO push_cursor (singleton, seq) VALUES (1, 0);
)sql";

// Migration 2: offline admin codes (docs/admin-codes.md). The host key
// sits beside the credential; a challenge's nonce is unique while it is
// stored; a code's use is kept for good (its primary key is what makes a
// code single use); wrong attempts are counted per uid.
constexpr std::string_view kMigration2 = R"sql(
ALTER TABLE identity ADD COLUMN codes_key BLOB;
ALTER TABLE identity ADD COLUMN codes_key_generation INTEGER NOT NULL DEFAULT 0;
CREATE TABLE code_challenges (
  nonce       INTEGER PRIMARY KEY CHECK (nonce >= 0 AND nonce < 1073741824),
  uid         INTEGER NOT NULL,
  issued_s    INTEGER NOT NULL,
  expires_s   INTEGER NOT NULL
);
CREATE INDEX code_challenges_uid ON code_challenges (uid, issued_s);
CREATE TABLE code_uses (
  kind        TEXT NOT NULL CHECK (kind IN ('response', 'preissued')),
  ref         INTEGER NOT NULL,
  generation  INTEGER NOT NULL,
  uid         INTEGER NOT NULL,
  user_name   TEXT NOT NULL,
  grant_id    TEXT NOT NULL,
  used_s      INTEGER NOT NULL,
  PRIMARY KEY (kind, ref, generation)
);
CREATE TABLE code_attempts (
  uid            INTEGER PRIMARY KEY,
  failures       INTEGER NOT NULL,
  last_failure_s INTEGER NOT NULL
);
)sql";

// Migration 3: events hoistd refused for good, set aside so the outbox
// moves on (docs/agent-state.md); the newest kMaxQuarantined are kept.
constexpr std::string_view kMigration3 = R"sql(
CREATE TABLE quarantine (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  id            TEXT NOT NULL UNIQUE,
  kind          TEXT NOT NULL,
  time_ms       INTEGER NOT NULL,
  payload       TEXT NOT NULL,
  reason        TEXT NOT NULL,
  quarantined_s INTEGER NOT NULL
);
)sql";

// Migration 4: the target user and group a command grant holds for (sudo
// -u / -g); grants stored before it were for root without -g.
constexpr std::string_view kMigration4 = R"sql(
ALTER TABLE grants ADD COLUMN runas_user TEXT NOT NULL DEFAULT 'root';
ALTER TABLE grants ADD COLUMN runas_group TEXT NOT NULL DEFAULT '';
)sql";

// Migration 5: several hoistd URLs (replicas) for one endpoint: the ones
// after identity.server_url, in the order they are tried (none for an
// endpoint enrolled with one URL), and the one that answered last.
constexpr std::string_view kMigration5 = R"sql(
CREATE TABLE identity_servers (
  position INTEGER PRIMARY KEY,
  url      TEXT NOT NULL
);
CREATE TABLE server_answer (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  url       TEXT NOT NULL,
  since_s   INTEGER NOT NULL
);
)sql";

// The SQL of one table of labels, written out so that nothing but these
// names can reach SQL text.
struct LabelTable {
  std::string_view select;
  std::string_view clear;
  std::string_view insert;  // parameters: position, label
};
constexpr LabelTable kIdentityLabels{"SELECT label FROM identity_labels ORDER BY position",
                                     "DELETE FROM identity_labels",
                                     "INSERT INTO identity_labels (position, label) VALUES (?, ?)"};
constexpr LabelTable kIdentityServers{"SELECT url FROM identity_servers ORDER BY position",
                                      "DELETE FROM identity_servers",
                                      "INSERT INTO identity_servers (position, url) VALUES (?, ?)"};
constexpr LabelTable kPolicyLabels{"SELECT label FROM policy_labels ORDER BY position", "DELETE FROM policy_labels",
                                   "INSERT INTO policy_labels (position, label) VALUES (?, ?)"};

constexpr std::string_view kGrantColumns =
    "id, user_name, uid, kind, command_path, command_sha256, start_s, deadline_s, revoked_s, record_processes, "
    "origin, runas_user, runas_group";

constexpr std::string_view kRequestColumns = "id, uid, user_name, command_summary, submitted_s, state";

std::optional<GrantKind> parse_kind(std::string_view s) {
  for (const GrantKind k : {GrantKind::kCommand, GrantKind::kSession}) {
    if (to_string(k) == s) return k;
  }
  return std::nullopt;
}
std::optional<GrantOrigin> parse_origin(std::string_view s) {
  for (const GrantOrigin o : {GrantOrigin::kServer, GrantOrigin::kOfflineCode, GrantOrigin::kBreakGlass}) {
    if (to_string(o) == s) return o;
  }
  return std::nullopt;
}

class SqliteAgentState final : public AgentState {
 public:
  SqliteAgentState(CheckedStateDir dir, std::unique_ptr<Db> db, OutboxLimits limits)
      : dir_(std::move(dir)), db_(std::move(db)), limits_(limits) {}

  Result<std::optional<Identity>> identity() override {
    return guarded([&] { return identity_locked(); });
  }
  Status set_identity(const Identity& identity) override;
  Result<std::optional<ServerAnswer>> server_answer() override;
  Status set_server_answer(const ServerAnswer& answer) override;
  Result<std::optional<PolicySnapshot>> policy() override {
    return guarded([&] { return policy_locked(); });
  }
  Status set_policy(const PolicySnapshot& snapshot) override;
  Status upsert_grant(const Grant& grant) override;
  Status revoke_grant(const std::string& id, TimePoint at) override;
  Result<std::optional<Grant>> grant(const std::string& id) override;
  Result<std::vector<Grant>> active_grants(std::uint32_t uid, TimePoint now) override;
  Result<std::vector<Grant>> grants() override;
  Result<std::size_t> delete_grants_ended_before(TimePoint before) override;
  Status upsert_pending_request(const PendingRequest& request) override;
  Result<std::optional<PendingRequest>> pending_request(const std::string& id) override;
  Result<std::vector<PendingRequest>> pending_requests_for(std::uint32_t uid) override;
  Result<bool> remove_pending_request(const std::string& id) override;
  Status enqueue(const OutboxEvent& event) override { return enqueue_all({event}); }
  Status enqueue_all(const std::vector<OutboxEvent>& events) override;
  Result<std::vector<OutboxEvent>> next_batch(std::size_t limit) override;
  Status acknowledge(const std::vector<std::string>& ids) override;
  Result<std::uint64_t> pending_count() override;
  Status quarantine(const std::string& id, const std::string& reason, TimePoint at,
                    const std::optional<OutboxEvent>& report) override;
  Result<std::vector<QuarantinedEvent>> quarantined(std::size_t limit) override;
  Result<std::uint64_t> quarantined_count() override;
  Result<std::uint64_t> push_cursor() override;
  Status set_push_cursor(std::uint64_t seq) override;
  Status add_code_challenge(const CodeChallengeRecord& challenge, TimePoint now) override;
  Result<std::optional<CodeChallengeRecord>> code_challenge(std::uint32_t nonce) override;
  Result<bool> code_used(std::string_view kind, std::uint32_t ref, std::uint32_t generation) override;
  Status redeem_code(const CodeUse& use, const Grant& grant, const OutboxEvent& event) override;
  Result<CodeAttempts> code_attempts(std::uint32_t uid) override;
  Status record_code_failure(std::uint32_t uid, const CodeAttempts& attempts, const OutboxEvent& event) override;

  Status migrate(int target);
  // Read-only opens: the schema must be the one this build knows.
  Status check_schema_current();
  Status quick_check();

 private:
  // One caller at a time on the one connection; nothing thrown escapes.
  template <class F>
  auto guarded(F&& f) -> decltype(f()) {
    try {
      std::lock_guard lock(mu_);
      return f();
    } catch (const std::bad_alloc&) {
      return unavailable(fmt::format("agent database {}: out of memory", db_->path()));
    } catch (const std::exception& e) {
      return internal_error(fmt::format("agent database {}: {} (this is a bug)", db_->path(), e.what()));
    }
  }

  Result<std::optional<Identity>> identity_locked();
  Result<std::optional<PolicySnapshot>> policy_locked();
  Result<std::vector<std::string>> labels_locked(const LabelTable& table);
  Status write_labels_locked(const LabelTable& table, const std::vector<std::string>& labels);
  // The grants `stmt` selects (kGrantColumns), with their argv patterns.
  Result<std::vector<Grant>> grants_locked(Stmt& stmt);
  Result<std::vector<PendingRequest>> requests_locked(Stmt& stmt);
  Result<std::int64_t> single_int_locked(std::string_view sql, std::string_view what);
  // Inside db_->write: the bodies of upsert_grant and enqueue_all.
  Status write_grant_locked(const Grant& grant);
  Status write_events_locked(const std::vector<OutboxEvent>& events);
  Result<bool> code_used_locked(std::string_view kind, std::uint32_t ref, std::uint32_t generation);

  // Every stored grant, as last read (nullopt: read them again), and the
  // database's data_version when they were: every sudo run asks for the
  // grants in force, which change rarely. A write of ours clears the copy
  // (forget_grants_locked); one by another connection changes data_version.
  Result<const std::vector<Grant>*> all_grants_locked();
  void forget_grants_locked() { grants_.reset(); }

  // Declared first so it is destroyed last: the flock outlives the connection.
  CheckedStateDir dir_;
  std::unique_ptr<Db> db_;
  OutboxLimits limits_;
  std::mutex mu_;
  std::optional<std::vector<Grant>> grants_;
  std::int64_t grants_version_ = 0;
};

Result<std::int64_t> SqliteAgentState::single_int_locked(std::string_view sql, std::string_view what) {
  auto stmt = db_->prepare(sql);
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->step(what);
  if (!row.ok()) return row.error();
  if (!*row) return internal_error(fmt::format("agent database {}: {}: no row (this is a bug)", db_->path(), what));
  return stmt->int_at(0);
}

Result<std::vector<std::string>> SqliteAgentState::labels_locked(const LabelTable& table) {
  auto stmt = db_->prepare(table.select);
  if (!stmt.ok()) return stmt.error();
  std::vector<std::string> out;
  for (;;) {
    auto row = stmt->step("read labels");
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(stmt->text_at(0));
  }
  return out;
}

Status SqliteAgentState::write_labels_locked(const LabelTable& table, const std::vector<std::string>& labels) {
  {
    auto clear = db_->prepare(table.clear);
    if (!clear.ok()) return clear.error();
    if (auto st = clear->run("clear labels"); !st.ok()) return st;
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto insert = db_->prepare(table.insert);
    if (!insert.ok()) return insert.error();
    insert->bind_int(1, static_cast<std::int64_t>(i));
    insert->bind_text(2, labels[i]);
    if (auto st = insert->run("store a label"); !st.ok()) return st;
  }
  return {};
}

// --- identity ---------------------------------------------------------------

Result<std::optional<Identity>> SqliteAgentState::identity_locked() {
  Identity id;
  {
    auto stmt = db_->prepare(
        "SELECT server_url, ca_pin, endpoint_id, credential, hostname, enrolled_s, codes_key, codes_key_generation "
        "FROM identity WHERE singleton = 1");
    if (!stmt.ok()) return stmt.error();
    auto row = stmt->step("read the identity");
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<Identity>();
    id.server_url = stmt->text_at(0);
    id.ca_pin_sha256 = stmt->text_at(1);
    id.endpoint_id = stmt->text_at(2);
    id.credential = stmt->text_at(3);
    id.hostname = stmt->text_at(4);
    id.enrolled_at = stmt->time_at(5);
    if (!stmt->is_null(6)) {
      const std::string key = stmt->blob_at(6);
      id.codes_key.assign(key.begin(), key.end());
    }
    id.codes_key_generation = static_cast<std::uint32_t>(stmt->int_at(7));
  }
  auto labels = labels_locked(kIdentityLabels);
  if (!labels.ok()) return labels.error();
  id.labels = std::move(*labels);
  auto servers = labels_locked(kIdentityServers);
  if (!servers.ok()) return servers.error();
  id.fallback_server_urls = std::move(*servers);
  return std::optional<Identity>(std::move(id));
}

Status SqliteAgentState::set_identity(const Identity& identity) {
  if (auto st = validate(identity); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      auto stmt = db_->prepare(
          "INSERT OR REPLACE INTO identity (singleton, server_url, ca_pin, endpoint_id, credential, hostname, "
          "enrolled_s, codes_key, codes_key_generation) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_text(1, identity.server_url);
      stmt->bind_text(2, identity.ca_pin_sha256);
      stmt->bind_text(3, identity.endpoint_id);
      stmt->bind_text(4, identity.credential);
      stmt->bind_text(5, identity.hostname);
      stmt->bind_time(6, identity.enrolled_at);
      if (identity.codes_key.empty()) {
        stmt->bind_null(7);
      } else {
        stmt->bind_blob(
            7, std::string_view(reinterpret_cast<const char*>(identity.codes_key.data()), identity.codes_key.size()));
      }
      stmt->bind_int(8, identity.codes_key_generation);
      if (auto st = stmt->run("store the identity"); !st.ok()) return st;
      if (auto st = write_labels_locked(kIdentityServers, identity.fallback_server_urls); !st.ok()) return st;
      return write_labels_locked(kIdentityLabels, identity.labels);
    });
  });
}

Result<std::optional<ServerAnswer>> SqliteAgentState::server_answer() {
  return guarded([&]() -> Result<std::optional<ServerAnswer>> {
    auto stmt = db_->prepare("SELECT url, since_s FROM server_answer WHERE singleton = 1");
    if (!stmt.ok()) return stmt.error();
    auto row = stmt->step("read the server that answered");
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<ServerAnswer>();
    return std::optional<ServerAnswer>(ServerAnswer{stmt->text_at(0), stmt->time_at(1)});
  });
}

Status SqliteAgentState::set_server_answer(const ServerAnswer& answer) {
  if (auto st = validate(answer); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      auto stmt = db_->prepare("INSERT OR REPLACE INTO server_answer (singleton, url, since_s) VALUES (1, ?, ?)");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_text(1, answer.url);
      stmt->bind_time(2, answer.since);
      return stmt->run("store the server that answered");
    });
  });
}

// --- policy -------------------------------------------------------------------

Result<std::optional<PolicySnapshot>> SqliteAgentState::policy_locked() {
  PolicySnapshot p;
  {
    auto stmt = db_->prepare("SELECT etag, fetched_s FROM policy_snapshot WHERE singleton = 1");
    if (!stmt.ok()) return stmt.error();
    auto row = stmt->step("read the policy");
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<PolicySnapshot>();
    p.etag = stmt->text_at(0);
    p.fetched_at = stmt->time_at(1);
  }
  auto labels = labels_locked(kPolicyLabels);
  if (!labels.ok()) return labels.error();
  p.labels = std::move(*labels);
  auto stmt = db_->prepare("SELECT name, version, text FROM policy_documents ORDER BY position");
  if (!stmt.ok()) return stmt.error();
  for (;;) {
    auto row = stmt->step("read the policy documents");
    if (!row.ok()) return row.error();
    if (!*row) break;
    p.documents.push_back(PolicyDocument{stmt->text_at(0), static_cast<int>(stmt->int_at(1)), stmt->text_at(2)});
  }
  return std::optional<PolicySnapshot>(std::move(p));
}

Status SqliteAgentState::set_policy(const PolicySnapshot& snapshot) {
  if (auto st = validate(snapshot); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      {
        auto stmt =
            db_->prepare("INSERT OR REPLACE INTO policy_snapshot (singleton, etag, fetched_s) VALUES (1, ?, ?)");
        if (!stmt.ok()) return stmt.error();
        stmt->bind_text(1, snapshot.etag);
        stmt->bind_time(2, snapshot.fetched_at);
        if (auto st = stmt->run("store the policy"); !st.ok()) return st;
      }
      if (auto st = write_labels_locked(kPolicyLabels, snapshot.labels); !st.ok()) return st;
      {
        auto clear = db_->prepare("DELETE FROM policy_documents");
        if (!clear.ok()) return clear.error();
        if (auto st = clear->run("clear the policy documents"); !st.ok()) return st;
      }
      for (std::size_t i = 0; i < snapshot.documents.size(); ++i) {
        const auto& d = snapshot.documents[i];
        auto stmt = db_->prepare("INSERT INTO policy_documents (position, name, version, text) VALUES (?, ?, ?, ?)");
        if (!stmt.ok()) return stmt.error();
        stmt->bind_int(1, static_cast<std::int64_t>(i));
        stmt->bind_text(2, d.name);
        stmt->bind_int(3, d.version);
        stmt->bind_text(4, d.text);
        if (auto st = stmt->run("store a policy document"); !st.ok()) return st;
      }
      return {};
    });
  });
}

// --- grants -------------------------------------------------------------------

Result<std::vector<Grant>> SqliteAgentState::grants_locked(Stmt& stmt) {
  std::vector<Grant> out;
  for (;;) {
    auto row = stmt.step("read grants");
    if (!row.ok()) return row.error();
    if (!*row) break;
    Grant g;
    g.id = stmt.text_at(0);
    g.user = stmt.text_at(1);
    g.uid = static_cast<std::uint32_t>(stmt.int_at(2));
    const auto kind = parse_kind(stmt.text_at(3));
    const auto origin = parse_origin(stmt.text_at(10));
    if (!kind || !origin) {
      return internal_error(
          fmt::format("agent database {}: grant {} has an unknown kind or origin (was the file "
                      "edited?)",
                      db_->path(), g.id));
    }
    g.kind = *kind;
    g.origin = *origin;
    g.scope.command_path = stmt.blob_at(4);
    if (!stmt.is_null(5)) g.scope.sha256 = stmt.text_at(5);
    g.start = stmt.time_at(6);
    g.deadline = stmt.time_at(7);
    g.revoked_at = stmt.opt_time_at(8);
    g.record_processes = stmt.int_at(9) != 0;
    g.scope.runas_user = stmt.text_at(11);
    g.scope.runas_group = stmt.text_at(12);
    out.push_back(std::move(g));
  }
  for (Grant& g : out) {
    auto patterns = db_->prepare("SELECT pattern FROM grant_argv_patterns WHERE grant_id = ? ORDER BY position");
    if (!patterns.ok()) return patterns.error();
    patterns->bind_text(1, g.id);
    for (;;) {
      auto row = patterns->step("read argument patterns");
      if (!row.ok()) return row.error();
      if (!*row) break;
      g.scope.argv_patterns.push_back(patterns->blob_at(0));
    }
  }
  return out;
}

Status SqliteAgentState::upsert_grant(const Grant& grant) {
  if (auto st = validate(grant); !st.ok()) return st;
  return guarded([&]() -> Status { return db_->write([&]() -> Status { return write_grant_locked(grant); }); });
}

Status SqliteAgentState::write_grant_locked(const Grant& grant) {
  forget_grants_locked();
  {
    auto stmt = db_->prepare(
        "INSERT INTO grants (id, user_name, uid, kind, command_path, command_sha256, start_s, deadline_s, "
        "revoked_s, record_processes, origin, runas_user, runas_group) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, uid = excluded.uid, kind = excluded.kind, "
        "command_path = excluded.command_path, command_sha256 = excluded.command_sha256, start_s = "
        "excluded.start_s, deadline_s = excluded.deadline_s, revoked_s = COALESCE(grants.revoked_s, "
        "excluded.revoked_s), record_processes = excluded.record_processes, origin = excluded.origin, "
        "runas_user = excluded.runas_user, runas_group = excluded.runas_group");
    if (!stmt.ok()) return stmt.error();
    stmt->bind_text(1, grant.id);
    stmt->bind_text(2, grant.user);
    stmt->bind_int(3, grant.uid);
    stmt->bind_text(4, to_string(grant.kind));
    stmt->bind_blob(5, grant.scope.command_path);
    if (grant.scope.sha256) {
      stmt->bind_text(6, *grant.scope.sha256);
    } else {
      stmt->bind_null(6);
    }
    stmt->bind_time(7, grant.start);
    stmt->bind_time(8, grant.deadline);
    stmt->bind_opt_time(9, grant.revoked_at);
    stmt->bind_int(10, grant.record_processes ? 1 : 0);
    stmt->bind_text(11, to_string(grant.origin));
    stmt->bind_text(12, grant.scope.runas_user);
    stmt->bind_text(13, grant.scope.runas_group);
    if (auto st = stmt->run("store a grant"); !st.ok()) return st;
  }
  {
    auto clear = db_->prepare("DELETE FROM grant_argv_patterns WHERE grant_id = ?");
    if (!clear.ok()) return clear.error();
    clear->bind_text(1, grant.id);
    if (auto st = clear->run("replace argument patterns"); !st.ok()) return st;
  }
  for (std::size_t i = 0; i < grant.scope.argv_patterns.size(); ++i) {
    auto stmt = db_->prepare("INSERT INTO grant_argv_patterns (grant_id, position, pattern) VALUES (?, ?, ?)");
    if (!stmt.ok()) return stmt.error();
    stmt->bind_text(1, grant.id);
    stmt->bind_int(2, static_cast<std::int64_t>(i));
    stmt->bind_blob(3, grant.scope.argv_patterns[i]);
    if (auto st = stmt->run("store an argument pattern"); !st.ok()) return st;
  }
  return {};
}

Status SqliteAgentState::revoke_grant(const std::string& id, TimePoint at) {
  if (auto st = validate_record_id("grant id", id); !st.ok()) return st;
  return guarded([&]() -> Status {
    forget_grants_locked();
    return db_->write([&]() -> Status {
      auto stmt = db_->prepare("UPDATE grants SET revoked_s = COALESCE(revoked_s, ?) WHERE id = ?");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_time(1, at);
      stmt->bind_text(2, id);
      if (auto st = stmt->run("revoke a grant"); !st.ok()) return st;
      if (db_->changes() == 0) return not_found(fmt::format("no grant {} is stored", id));
      return {};
    });
  });
}

Result<std::optional<Grant>> SqliteAgentState::grant(const std::string& id) {
  if (auto st = validate_record_id("grant id", id); !st.ok()) return st.error();
  return guarded([&]() -> Result<std::optional<Grant>> {
    auto stmt = db_->prepare(fmt::format("SELECT {} FROM grants WHERE id = ?", kGrantColumns));
    if (!stmt.ok()) return stmt.error();
    stmt->bind_text(1, id);
    auto rows = grants_locked(*stmt);
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return std::optional<Grant>();
    return std::optional<Grant>(std::move(rows->front()));
  });
}

Result<const std::vector<Grant>*> SqliteAgentState::all_grants_locked() {
  auto version = single_int_locked("PRAGMA data_version", "read the database's data version");
  if (!version.ok()) return version.error();
  if (!grants_ || *version != grants_version_) {
    grants_.reset();
    auto stmt = db_->prepare(fmt::format("SELECT {} FROM grants ORDER BY deadline_s, id", kGrantColumns));
    if (!stmt.ok()) return stmt.error();
    auto all = grants_locked(*stmt);
    if (!all.ok()) return all.error();
    grants_ = std::move(*all);
    grants_version_ = *version;
  }
  return &*grants_;
}

Result<std::vector<Grant>> SqliteAgentState::active_grants(std::uint32_t uid, TimePoint now) {
  return guarded([&]() -> Result<std::vector<Grant>> {
    auto all = all_grants_locked();
    if (!all.ok()) return all.error();
    std::vector<Grant> out;
    for (const Grant& g : **all) {
      if (g.uid == uid && g.deadline > now && !g.revoked_at) out.push_back(g);
    }
    return out;
  });
}

Result<std::vector<Grant>> SqliteAgentState::grants() {
  return guarded([&]() -> Result<std::vector<Grant>> {
    auto stmt = db_->prepare(fmt::format("SELECT {} FROM grants ORDER BY id", kGrantColumns));
    if (!stmt.ok()) return stmt.error();
    return grants_locked(*stmt);
  });
}

Result<std::size_t> SqliteAgentState::delete_grants_ended_before(TimePoint before) {
  return guarded([&]() -> Result<std::size_t> {
    std::size_t deleted = 0;
    forget_grants_locked();
    const Status st = db_->write([&]() -> Status {
      auto stmt = db_->prepare("DELETE FROM grants WHERE deadline_s < ? OR revoked_s < ?");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_time(1, before);
      stmt->bind_time(2, before);
      if (auto ran = stmt->run("delete ended grants"); !ran.ok()) return ran;
      deleted = static_cast<std::size_t>(db_->changes());
      return {};
    });
    if (!st.ok()) return st.error();
    return deleted;
  });
}

// --- pending requests ---------------------------------------------------------

Result<std::vector<PendingRequest>> SqliteAgentState::requests_locked(Stmt& stmt) {
  std::vector<PendingRequest> out;
  for (;;) {
    auto row = stmt.step("read pending requests");
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(PendingRequest{stmt.text_at(0), static_cast<std::uint32_t>(stmt.int_at(1)), stmt.text_at(2),
                                 stmt.text_at(3), stmt.time_at(4), stmt.text_at(5)});
  }
  return out;
}

Status SqliteAgentState::upsert_pending_request(const PendingRequest& r) {
  if (auto st = validate(r); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      auto stmt = db_->prepare(
          "INSERT INTO pending_requests (id, uid, user_name, command_summary, submitted_s, state) VALUES (?, ?, ?, ?, "
          "?, ?) ON CONFLICT (id) DO UPDATE SET uid = excluded.uid, user_name = excluded.user_name, command_summary "
          "= excluded.command_summary, submitted_s = excluded.submitted_s, state = excluded.state");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_text(1, r.id);
      stmt->bind_int(2, r.uid);
      stmt->bind_text(3, r.user);
      stmt->bind_text(4, r.command_summary);
      stmt->bind_time(5, r.submitted_at);
      stmt->bind_text(6, r.state);
      return stmt->run("store a pending request");
    });
  });
}

Result<std::optional<PendingRequest>> SqliteAgentState::pending_request(const std::string& id) {
  if (auto st = validate_record_id("request id", id); !st.ok()) return st.error();
  return guarded([&]() -> Result<std::optional<PendingRequest>> {
    auto stmt = db_->prepare(fmt::format("SELECT {} FROM pending_requests WHERE id = ?", kRequestColumns));
    if (!stmt.ok()) return stmt.error();
    stmt->bind_text(1, id);
    auto rows = requests_locked(*stmt);
    if (!rows.ok()) return rows.error();
    if (rows->empty()) return std::optional<PendingRequest>();
    return std::optional<PendingRequest>(std::move(rows->front()));
  });
}

Result<std::vector<PendingRequest>> SqliteAgentState::pending_requests_for(std::uint32_t uid) {
  return guarded([&]() -> Result<std::vector<PendingRequest>> {
    auto stmt = db_->prepare(
        fmt::format("SELECT {} FROM pending_requests WHERE uid = ? ORDER BY submitted_s, id", kRequestColumns));
    if (!stmt.ok()) return stmt.error();
    stmt->bind_int(1, uid);
    return requests_locked(*stmt);
  });
}

Result<bool> SqliteAgentState::remove_pending_request(const std::string& id) {
  if (auto st = validate_record_id("request id", id); !st.ok()) return st.error();
  return guarded([&]() -> Result<bool> {
    bool removed = false;
    const Status st = db_->write([&]() -> Status {
      auto stmt = db_->prepare("DELETE FROM pending_requests WHERE id = ?");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_text(1, id);
      if (auto ran = stmt->run("remove a pending request"); !ran.ok()) return ran;
      removed = db_->changes() > 0;
      return {};
    });
    if (!st.ok()) return st.error();
    return removed;
  });
}

// --- outbox -------------------------------------------------------------------

Status SqliteAgentState::enqueue_all(const std::vector<OutboxEvent>& events) {
  if (auto st = validate_batch_size("events", events.size()); !st.ok()) return st;
  for (const auto& e : events) {
    if (auto st = validate(e); !st.ok()) return st;
  }
  if (events.empty()) return {};
  return guarded([&]() -> Status { return db_->write([&]() -> Status { return write_events_locked(events); }); });
}

Status SqliteAgentState::write_events_locked(const std::vector<OutboxEvent>& events) {
  for (const auto& e : events) {
    {
      auto exists = db_->prepare("SELECT 1 FROM outbox WHERE id = ?");
      if (!exists.ok()) return exists.error();
      exists->bind_text(1, e.id);
      auto row = exists->step("look up an event");
      if (!row.ok()) return row.error();
      if (*row) continue;  // already queued: idempotent
    }
    {
      auto totals = db_->prepare("SELECT events, bytes FROM outbox_totals WHERE singleton = 1");
      if (!totals.ok()) return totals.error();
      auto row = totals->step("read the outbox size");
      if (!row.ok()) return row.error();
      if (!*row) return internal_error("agent database: outbox_totals has no row (this is a bug)");
      const auto count = static_cast<std::uint64_t>(totals->int_at(0));
      const auto bytes = static_cast<std::uint64_t>(totals->int_at(1));
      if (count + 1 > limits_.max_events || bytes + e.payload.size() > limits_.max_payload_bytes) {
        return unavailable(fmt::format(
            "the event outbox in {} is full ({} events, {} payload bytes; the limits are {} and {}): nothing "
            "was queued; the server has not acknowledged events for a long time: check the agent's connection",
            db_->path(), count, bytes, limits_.max_events, limits_.max_payload_bytes));
      }
    }
    auto insert = db_->prepare("INSERT INTO outbox (id, kind, time_ms, payload) VALUES (?, ?, ?, ?)");
    if (!insert.ok()) return insert.error();
    insert->bind_text(1, e.id);
    insert->bind_text(2, e.kind);
    insert->bind_int(3, e.time.time_since_epoch().count());
    insert->bind_text(4, e.payload);
    if (auto st = insert->run("queue an event"); !st.ok()) return st;
  }
  return {};
}

Result<std::vector<OutboxEvent>> SqliteAgentState::next_batch(std::size_t limit) {
  if (auto st = validate_batch_limit(limit); !st.ok()) return st.error();
  return guarded([&]() -> Result<std::vector<OutboxEvent>> {
    auto stmt = db_->prepare("SELECT id, kind, time_ms, payload FROM outbox ORDER BY seq LIMIT ?");
    if (!stmt.ok()) return stmt.error();
    stmt->bind_int(1, static_cast<std::int64_t>(limit));
    std::vector<OutboxEvent> out;
    for (;;) {
      auto row = stmt->step("read queued events");
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(OutboxEvent{stmt->text_at(0), stmt->text_at(1),
                                EventTime{std::chrono::milliseconds{stmt->int_at(2)}}, stmt->text_at(3)});
    }
    return out;
  });
}

Status SqliteAgentState::acknowledge(const std::vector<std::string>& ids) {
  if (auto st = validate_batch_size("ids", ids.size()); !st.ok()) return st;
  for (const auto& id : ids) {
    if (auto st = validate_event_id(id); !st.ok()) return st;
  }
  if (ids.empty()) return {};
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      for (const auto& id : ids) {
        auto stmt = db_->prepare("DELETE FROM outbox WHERE id = ?");
        if (!stmt.ok()) return stmt.error();
        stmt->bind_text(1, id);
        if (auto st = stmt->run("delete an acknowledged event"); !st.ok()) return st;
      }
      return {};
    });
  });
}

Result<std::uint64_t> SqliteAgentState::pending_count() {
  return guarded([&]() -> Result<std::uint64_t> {
    auto n = single_int_locked("SELECT events FROM outbox_totals WHERE singleton = 1", "count queued events");
    if (!n.ok()) return n.error();
    return static_cast<std::uint64_t>(*n);
  });
}

// --- quarantine -----------------------------------------------------------------

Status SqliteAgentState::quarantine(const std::string& id, const std::string& reason, TimePoint at,
                                    const std::optional<OutboxEvent>& report) {
  if (auto st = validate_event_id(id); !st.ok()) return st;
  if (auto st = validate_quarantine_reason(reason); !st.ok()) return st;
  if (report) {
    if (auto st = validate(*report); !st.ok()) return st;
  }
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      {
        auto exists = db_->prepare("SELECT 1 FROM outbox WHERE id = ?");
        if (!exists.ok()) return exists.error();
        exists->bind_text(1, id);
        auto row = exists->step("look up an event");
        if (!row.ok()) return row.error();
        if (!*row) return not_found(fmt::format("event {} is not in the outbox", id));
      }
      for (const std::string_view sql : {std::string_view("DELETE FROM quarantine WHERE id = ?"),
                                         std::string_view("INSERT INTO quarantine (id, kind, time_ms, payload, "
                                                          "reason, quarantined_s) SELECT id, kind, time_ms, payload, "
                                                          "?2, ?3 FROM outbox WHERE id = ?1"),
                                         std::string_view("DELETE FROM outbox WHERE id = ?")}) {
        auto stmt = db_->prepare(sql);
        if (!stmt.ok()) return stmt.error();
        stmt->bind_text(1, id);
        if (sql.find("?2") != std::string_view::npos) {
          stmt->bind_text(2, reason);
          stmt->bind_time(3, at);
        }
        if (auto st = stmt->run("quarantine an event"); !st.ok()) return st;
      }
      {
        auto prune = db_->prepare(
            "DELETE FROM quarantine WHERE seq NOT IN (SELECT seq FROM quarantine ORDER BY seq DESC LIMIT ?)");
        if (!prune.ok()) return prune.error();
        prune->bind_int(1, static_cast<std::int64_t>(kMaxQuarantined));
        if (auto st = prune->run("forget the oldest quarantined events"); !st.ok()) return st;
      }
      if (report) return write_events_locked({*report});
      return {};
    });
  });
}

Result<std::vector<QuarantinedEvent>> SqliteAgentState::quarantined(std::size_t limit) {
  if (auto st = validate_batch_limit(limit); !st.ok()) return st.error();
  return guarded([&]() -> Result<std::vector<QuarantinedEvent>> {
    auto stmt = db_->prepare(
        "SELECT id, kind, time_ms, payload, reason, quarantined_s FROM quarantine ORDER BY seq DESC LIMIT ?");
    if (!stmt.ok()) return stmt.error();
    stmt->bind_int(1, static_cast<std::int64_t>(limit));
    std::vector<QuarantinedEvent> out;
    for (;;) {
      auto row = stmt->step("read quarantined events");
      if (!row.ok()) return row.error();
      if (!*row) break;
      out.push_back(
          QuarantinedEvent{OutboxEvent{stmt->text_at(0), stmt->text_at(1),
                                       EventTime{std::chrono::milliseconds{stmt->int_at(2)}}, stmt->text_at(3)},
                           stmt->text_at(4), stmt->time_at(5)});
    }
    return out;
  });
}

Result<std::uint64_t> SqliteAgentState::quarantined_count() {
  return guarded([&]() -> Result<std::uint64_t> {
    auto n = single_int_locked("SELECT count(*) FROM quarantine", "count quarantined events");
    if (!n.ok()) return n.error();
    return static_cast<std::uint64_t>(*n);
  });
}

// --- push cursor --------------------------------------------------------------

Result<std::uint64_t> SqliteAgentState::push_cursor() {
  return guarded([&]() -> Result<std::uint64_t> {
    auto n = single_int_locked("SELECT seq FROM push_cursor WHERE singleton = 1", "read the push cursor");
    if (!n.ok()) return n.error();
    return static_cast<std::uint64_t>(*n);
  });
}

Status SqliteAgentState::set_push_cursor(std::uint64_t seq) {
  if (auto st = validate_push_cursor(seq); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      auto stmt = db_->prepare("UPDATE push_cursor SET seq = ? WHERE singleton = 1");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_int(1, static_cast<std::int64_t>(seq));
      return stmt->run("store the push cursor");
    });
  });
}

// --- offline admin codes ---------------------------------------------------------

Result<bool> SqliteAgentState::code_used_locked(std::string_view kind, std::uint32_t ref, std::uint32_t generation) {
  auto stmt = db_->prepare("SELECT 1 FROM code_uses WHERE kind = ? AND ref = ? AND generation = ?");
  if (!stmt.ok()) return stmt.error();
  stmt->bind_text(1, kind);
  stmt->bind_int(2, ref);
  stmt->bind_int(3, generation);
  auto row = stmt->step("look up a code's use");
  if (!row.ok()) return row.error();
  return *row;
}

Status SqliteAgentState::add_code_challenge(const CodeChallengeRecord& challenge, TimePoint now) {
  if (auto st = validate(challenge); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      {
        auto expired = db_->prepare("DELETE FROM code_challenges WHERE expires_s <= ?");
        if (!expired.ok()) return expired.error();
        expired->bind_time(1, now);
        if (auto st = expired->run("forget expired challenges"); !st.ok()) return st;
      }
      {
        auto taken = db_->prepare(
            "SELECT 1 FROM code_challenges WHERE nonce = ?1 UNION ALL SELECT 1 FROM code_uses WHERE kind = "
            "'response' AND ref = ?1");
        if (!taken.ok()) return taken.error();
        taken->bind_int(1, challenge.nonce);
        auto row = taken->step("look up a nonce");
        if (!row.ok()) return row.error();
        if (*row) return conflict("that challenge nonce is taken; draw another");
      }
      {
        // Keep the newest kMaxChallengesPerUid - 1, then add this one.
        auto trim = db_->prepare(
            "DELETE FROM code_challenges WHERE uid = ?1 AND nonce NOT IN (SELECT nonce FROM code_challenges WHERE "
            "uid = ?1 ORDER BY issued_s DESC, nonce DESC LIMIT ?2)");
        if (!trim.ok()) return trim.error();
        trim->bind_int(1, challenge.uid);
        trim->bind_int(2, static_cast<std::int64_t>(kMaxChallengesPerUid - 1));
        if (auto st = trim->run("forget old challenges"); !st.ok()) return st;
      }
      auto insert = db_->prepare("INSERT INTO code_challenges (nonce, uid, issued_s, expires_s) VALUES (?, ?, ?, ?)");
      if (!insert.ok()) return insert.error();
      insert->bind_int(1, challenge.nonce);
      insert->bind_int(2, challenge.uid);
      insert->bind_time(3, challenge.issued_at);
      insert->bind_time(4, challenge.expires_at);
      return insert->run("store a challenge");
    });
  });
}

Result<std::optional<CodeChallengeRecord>> SqliteAgentState::code_challenge(std::uint32_t nonce) {
  return guarded([&]() -> Result<std::optional<CodeChallengeRecord>> {
    auto stmt = db_->prepare("SELECT nonce, uid, issued_s, expires_s FROM code_challenges WHERE nonce = ?");
    if (!stmt.ok()) return stmt.error();
    stmt->bind_int(1, nonce);
    auto row = stmt->step("read a challenge");
    if (!row.ok()) return row.error();
    if (!*row) return std::optional<CodeChallengeRecord>();
    return std::optional<CodeChallengeRecord>(CodeChallengeRecord{static_cast<std::uint32_t>(stmt->int_at(0)),
                                                                  static_cast<std::uint32_t>(stmt->int_at(1)),
                                                                  stmt->time_at(2), stmt->time_at(3)});
  });
}

Result<bool> SqliteAgentState::code_used(std::string_view kind, std::uint32_t ref, std::uint32_t generation) {
  return guarded([&] { return code_used_locked(kind, ref, generation); });
}

Status SqliteAgentState::redeem_code(const CodeUse& use, const Grant& grant, const OutboxEvent& event) {
  if (auto st = validate(use); !st.ok()) return st;
  if (auto st = validate(grant); !st.ok()) return st;
  if (auto st = validate(event); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      auto used = code_used_locked(use.kind, use.ref, use.generation);
      if (!used.ok()) return used.error();
      if (*used) return conflict("this code was used already; a code is good once");
      {
        auto exists = db_->prepare("SELECT 1 FROM grants WHERE id = ?");
        if (!exists.ok()) return exists.error();
        exists->bind_text(1, grant.id);
        auto row = exists->step("look up a grant");
        if (!row.ok()) return row.error();
        if (*row) return conflict(fmt::format("a grant {} exists already", grant.id));
      }
      {
        auto insert = db_->prepare(
            "INSERT INTO code_uses (kind, ref, generation, uid, user_name, grant_id, used_s) VALUES (?, ?, ?, ?, ?, "
            "?, ?)");
        if (!insert.ok()) return insert.error();
        insert->bind_text(1, use.kind);
        insert->bind_int(2, use.ref);
        insert->bind_int(3, use.generation);
        insert->bind_int(4, use.uid);
        insert->bind_text(5, use.user);
        insert->bind_text(6, use.grant_id);
        insert->bind_time(7, use.used_at);
        if (auto st = insert->run("record a code's use"); !st.ok()) return st;
      }
      if (auto st = write_grant_locked(grant); !st.ok()) return st;
      if (auto st = write_events_locked({event}); !st.ok()) return st;
      if (use.kind == "response") {
        auto forget = db_->prepare("DELETE FROM code_challenges WHERE nonce = ?");
        if (!forget.ok()) return forget.error();
        forget->bind_int(1, use.ref);
        if (auto st = forget->run("forget the challenge"); !st.ok()) return st;
      }
      auto clear = db_->prepare("DELETE FROM code_attempts WHERE uid = ?");
      if (!clear.ok()) return clear.error();
      clear->bind_int(1, use.uid);
      return clear->run("clear wrong attempts");
    });
  });
}

Result<CodeAttempts> SqliteAgentState::code_attempts(std::uint32_t uid) {
  return guarded([&]() -> Result<CodeAttempts> {
    auto stmt = db_->prepare("SELECT failures, last_failure_s FROM code_attempts WHERE uid = ?");
    if (!stmt.ok()) return stmt.error();
    stmt->bind_int(1, uid);
    auto row = stmt->step("read wrong attempts");
    if (!row.ok()) return row.error();
    if (!*row) return CodeAttempts{};
    return CodeAttempts{static_cast<std::uint32_t>(stmt->int_at(0)), stmt->time_at(1)};
  });
}

Status SqliteAgentState::record_code_failure(std::uint32_t uid, const CodeAttempts& attempts,
                                             const OutboxEvent& event) {
  if (auto st = validate(event); !st.ok()) return st;
  return guarded([&]() -> Status {
    return db_->write([&]() -> Status {
      if (auto st = write_events_locked({event}); !st.ok()) return st;
      auto stmt = db_->prepare(
          "INSERT INTO code_attempts (uid, failures, last_failure_s) VALUES (?, ?, ?) ON CONFLICT (uid) DO UPDATE "
          "SET failures = excluded.failures, last_failure_s = excluded.last_failure_s");
      if (!stmt.ok()) return stmt.error();
      stmt->bind_int(1, uid);
      stmt->bind_int(2, attempts.failures);
      stmt->bind_time(3, attempts.last_failure);
      return stmt->run("record a wrong attempt");
    });
  });
}

// --- opening ------------------------------------------------------------------

Status SqliteAgentState::quick_check() {
  std::lock_guard lock(mu_);
  auto stmt = db_->prepare("PRAGMA quick_check");
  if (!stmt.ok()) return stmt.error();
  auto row = stmt->step("check the file");
  if (!row.ok()) return row.error();
  if (!*row || stmt->text_at(0) != "ok") {
    return internal_error(fmt::format(
        "agent database {} is damaged ({}): stop hoist-agent, move the file aside, and restore it from a backup "
        "or enrol the endpoint again",
        db_->path(), *row ? stmt->text_at(0) : std::string("no answer")));
  }
  return {};
}

Status SqliteAgentState::check_schema_current() {
  std::lock_guard lock(mu_);
  const int known = static_cast<int>(sqlite_agent_state_migrations().size());
  auto current = single_int_locked("PRAGMA user_version", "read the schema version");
  if (!current.ok()) return current.error();
  if (*current != known) {
    return unavailable(
        fmt::format("agent database {} is at schema version {}, this hoist-agent at {}: start "
                    "hoist-agent once to bring it up to date",
                    db_->path(), *current, known));
  }
  return {};
}

Status SqliteAgentState::migrate(int target) {
  std::lock_guard lock(mu_);
  const auto& migrations = sqlite_agent_state_migrations();
  const int known = static_cast<int>(migrations.size());
  if (target < 0 || target > known) target = known;
  auto current = single_int_locked("PRAGMA user_version", "read the schema version");
  if (!current.ok()) return current.error();
  if (*current > known) {
    return conflict(
        fmt::format("agent database {} is at schema version {} but this hoist-agent knows only up to {}: upgrade "
                    "hoist-agent, or restore a backup taken before the newer version ran",
                    db_->path(), *current, known));
  }
  // Each migration commits together with its version number.
  for (int v = static_cast<int>(*current) + 1; v <= target; ++v) {
    Status st = db_->write([&]() -> Status {
      if (auto ran = db_->exec(migrations[static_cast<std::size_t>(v - 1)], "migrate"); !ran.ok()) return ran;
      return db_->exec(fmt::format("PRAGMA user_version = {}", v), "record the schema version");
    });
    if (!st.ok()) return Error{st.error().code, fmt::format("migration {}: {}", v, st.error().message)};
  }
  // Statements prepared against the old schema are not kept.
  db_->clear_cache();
  return {};
}

}  // namespace

const std::vector<std::string_view>& sqlite_agent_state_migrations() {
  static const std::vector<std::string_view> kMigrations = {kMigration1, kMigration2, kMigration3, kMigration4,
                                                            kMigration5};
  return kMigrations;
}

Result<std::unique_ptr<AgentState>> open_sqlite_agent_state(const std::string& dir,
                                                            const SqliteAgentStateOptions& options) {
  try {
    if (options.db_name.empty() || options.db_name.find('/') != std::string::npos || options.db_name[0] == '.') {
      return invalid_argument(fmt::format("the agent database name \"{}\" must be a plain file name", options.db_name));
    }
    auto checked = open_state_dir(dir, options.db_name, options.read_only);
    if (!checked.ok()) return checked.error();
    sqlite::Options db_options;
    db_options.noun = "agent database";
    db_options.errors_name_file = true;
    db_options.read_only = options.read_only;
    db_options.busy_timeout_ms = options.busy_timeout_ms;
    db_options.secure_delete = true;  // an old credential is overwritten, not left in free pages
    db_options.damaged_advice =
        "the file is damaged: stop hoist-agent, move the file aside, and restore it from a backup or enrol the "
        "endpoint again";
    auto db = Db::open(checked->db_path, db_options);
    if (!db.ok()) return db.error();
    if (auto st = recheck_state_files(*checked); !st.ok()) return st.error();
    auto state = std::make_unique<SqliteAgentState>(std::move(*checked), std::move(*db), options.outbox);
    if (options.check_on_open) {
      if (auto st = state->quick_check(); !st.ok()) return st.error();
    }
    if (options.read_only) {
      if (auto st = state->check_schema_current(); !st.ok()) return st.error();
    } else if (auto st = state->migrate(options.migrate_to); !st.ok()) {
      return st.error();
    }
    return std::unique_ptr<AgentState>(std::move(state));
  } catch (const std::bad_alloc&) {
    return unavailable(fmt::format("cannot open the agent state in {}: out of memory", dir));
  } catch (const std::exception& e) {
    return internal_error(fmt::format("cannot open the agent state in {}: {} (this is a bug)", dir, e.what()));
  }
}

}  // namespace hoist::agent
