#include "store/sqlite_store.h"

#include <fmt/format.h>

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "sqlite/db.h"

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

}  // namespace

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

const std::vector<std::string_view>& sqlite_migrations() {
  static const std::vector<std::string_view> kMigrations = {kMigration1, kMigration2, kMigration3, kMigration4,
                                                            kMigration5, kMigration6, kMigration7, kMigration8,
                                                            kMigration9, kMigration10};
  return kMigrations;
}

namespace {

using sqlite::Db;
using sqlite::Stmt;

Status check_page_limit(std::size_t limit) {
  if (limit == 0 || limit > kMaxPage) return invalid_argument(fmt::format("limit must be between 1 and {}", kMaxPage));
  return {};
}

// The first row of a query that matches at most one, or nullopt.
template <class T>
Result<std::optional<T>> first_row(Result<std::vector<T>> rows) {
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(std::move(rows->front()));
}

// The SQL of one table of labels, written out so that no caller can put
// anything but these names into SQL text.
struct LabelTable {
  std::string_view select;  // parameter: the owner's id
  std::string_view insert;  // parameters: the owner's id, position, label
};
constexpr LabelTable kEnrollmentTokenLabels{
    "SELECT label FROM enrollment_token_labels WHERE token_id = ? ORDER BY position",
    "INSERT INTO enrollment_token_labels (token_id, position, label) VALUES (?, ?, ?)"};
constexpr LabelTable kEndpointLabels{"SELECT label FROM endpoint_labels WHERE endpoint_id = ? ORDER BY position",
                                     "INSERT INTO endpoint_labels (endpoint_id, position, label) VALUES (?, ?, ?)"};
constexpr LabelTable kPolicyLabels{"SELECT label FROM policy_labels WHERE name = ? ORDER BY position",
                                   "INSERT INTO policy_labels (name, position, label) VALUES (?, ?, ?)"};

class SqliteStore;

class SqliteTx final : public StoreTx {
 public:
  explicit SqliteTx(SqliteStore& store) : store_(store) {}
  Result<AuditEvent> append_audit(const AuditDraft& draft) override;
  Result<RequestRecord> insert_request(const RequestRecord& record) override;
  Result<std::optional<RequestRecord>> get_request(const std::string& id) override;
  Result<RequestRecord> update_request(const RequestRecord& record) override;
  Result<UserRecord> insert_user(const UserRecord& user) override;
  Result<UserRecord> update_user(const UserRecord& user) override;
  Status insert_token(const TokenRecord& token) override;
  Status revoke_token(const std::string& id, TimePoint at) override;
  Result<std::size_t> revoke_user_tokens(const std::string& user, TimePoint at) override;
  Status touch_token(const std::string& id, TimePoint at) override;
  Status insert_enrollment_token(const EnrollmentTokenRecord& token) override;
  Result<EnrollmentTokenRecord> use_enrollment_token(const std::string& id, TimePoint now) override;
  Status revoke_enrollment_token(const std::string& id, TimePoint at) override;
  Status insert_endpoint(const EndpointRecord& endpoint) override;
  Status record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) override;
  Status retire_endpoint(const std::string& id, TimePoint at) override;
  Result<std::uint32_t> bump_codes_key_generation(const std::string& endpoint_id) override;
  Result<IssuedCode> insert_issued_code(const IssuedCode& code) override;
  Result<std::optional<std::int64_t>> mark_code_used(const CodeUse& use) override;
  Result<PolicyVersion> add_policy_version(const PolicyVersion& v, int expected_current) override;
  Status assign_policy(const std::string& name, const std::vector<std::string>& labels) override;
  Status delete_policy(const std::string& name, TimePoint at) override;
  Result<PushMessage> enqueue_push(const std::string& endpoint_id, const std::string& kind, const std::string& payload,
                                   TimePoint at) override;
  Status acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) override;
  Result<bool> record_agent_event(const std::string& id, const std::string& endpoint_id, const std::string& kind,
                                  TimePoint at) override;
  Status insert_session(const SessionRecord& session) override;
  Status revoke_session(const std::string& id_hash, TimePoint at) override;
  Result<std::size_t> revoke_user_sessions(const std::string& user, TimePoint at) override;

  // The last event this transaction appended (for SqliteStore::write).
  [[nodiscard]] const std::optional<ChainHead>& appended() const { return appended_; }

 private:
  SqliteStore& store_;
  std::optional<ChainHead> appended_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  ~SqliteStore() override = default;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status write(const std::function<Status(StoreTx&)>& fn) override;
  Result<std::vector<AuditEvent>> audit_events(const AuditFilter& filter) override;
  Result<std::vector<AuditEvent>> audit_range(std::uint64_t first, std::size_t count) override;
  Result<std::optional<ChainHead>> audit_head() override;
  Result<std::optional<RequestRecord>> request(const std::string& id) override;
  Result<std::vector<RequestRecord>> requests(const RequestFilter& filter) override;
  Result<std::vector<RequestRecord>> due_requests(TimePoint now, std::size_t limit) override;
  Result<std::optional<UserRecord>> user(const std::string& name) override;
  Result<std::vector<UserRecord>> users() override;
  Result<std::optional<TokenRecord>> token(const std::string& id) override;
  Result<std::vector<TokenRecord>> tokens(const std::string& user) override;
  Result<std::optional<EnrollmentTokenRecord>> enrollment_token(const std::string& id) override;
  Result<std::vector<EnrollmentTokenRecord>> enrollment_tokens() override;
  Result<std::optional<EndpointRecord>> endpoint(const std::string& id) override;
  Result<std::vector<EndpointRecord>> endpoints() override;
  Result<std::vector<IssuedCode>> issued_codes(const IssuedCodeFilter& filter) override;
  Result<std::optional<PolicyRecord>> policy(const std::string& name) override;
  Result<std::vector<PolicyRecord>> policies() override;
  Result<std::optional<PolicyVersion>> policy_version(const std::string& name, int version) override;
  Result<std::vector<PolicyVersion>> policy_history(const std::string& name) override;
  Result<std::vector<PolicyRecord>> policies_for_labels(const std::vector<std::string>& labels) override;
  Result<std::vector<PushMessage>> push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                              std::size_t limit) override;
  Result<std::optional<SessionRecord>> session(const std::string& id_hash) override;
  Result<int> schema_version() override;

  Status migrate(int target);

  // With mu_ held (SqliteTx: by write()): the statement for `sql`.
  Result<Stmt> prepare(std::string_view sql) { return db_->prepare(sql); }
  // Prepares, binds and runs one statement that returns no rows; returns
  // how many rows it changed.
  template <class... Args>
  Result<std::int64_t> execute(std::string_view sql, std::string_view what, const Args&... args) {
    return db_->execute(sql, what, args...);
  }
  Result<std::optional<AuditEvent>> last_event_locked();
  // Whether the trail may be appended to after `prev` (its newest event):
  // Unavailable, naming the event, when `prev` no longer matches its own
  // hash, or when the newest event this store committed is gone or changed.
  Status check_head_locked(const std::optional<AuditEvent>& prev);
  Result<std::vector<RequestRecord>> query_requests_locked(sqlite::Stmt& stmt);
  Status write_request_children_locked(const RequestRecord& record);
  Result<std::vector<UserRecord>> query_users_locked(sqlite::Stmt& stmt);
  Result<std::vector<TokenRecord>> query_tokens_locked(sqlite::Stmt& stmt);
  Result<std::vector<EnrollmentTokenRecord>> query_enrollment_tokens_locked(sqlite::Stmt& stmt);
  Result<std::vector<EndpointRecord>> query_endpoints_locked(sqlite::Stmt& stmt);
  Result<std::vector<IssuedCode>> query_issued_codes_locked(sqlite::Stmt& stmt);
  Result<std::vector<std::string>> labels_locked(const LabelTable& table, const std::string& id);
  Status write_labels_locked(const LabelTable& table, const std::string& id, const std::vector<std::string>& labels);
  Result<std::vector<PolicyRecord>> query_policies_locked(sqlite::Stmt& stmt);
  Result<std::vector<PolicyVersion>> query_policy_versions_locked(sqlite::Stmt& stmt);
  Result<std::optional<PolicyRecord>> policy_locked(const std::string& name);
  [[nodiscard]] Db& db() const { return *db_; }

 private:
  Result<std::vector<AuditEvent>> query_events(sqlite::Stmt& stmt);
  Result<int> schema_version_locked();
  Status migrate_locked(int target);

  std::unique_ptr<Db> db_;
  std::mutex mu_;  // one connection, one user at a time
  // The newest event this store committed: it must still be in the trail,
  // unchanged, when the next one is appended (a truncated or rewritten tail).
  std::optional<ChainHead> committed_head_;
};

Result<std::vector<AuditEvent>> SqliteStore::query_events(sqlite::Stmt& stmt) {
  std::vector<AuditEvent> out;
  for (;;) {
    auto row = stmt.step("read audit events");
    if (!row.ok()) return row.error();
    if (!*row) break;
    AuditEvent e;
    e.seq = static_cast<std::uint64_t>(stmt.int_at(0));
    e.time = AuditTime{std::chrono::milliseconds{stmt.int_at(1)}};
    e.actor = stmt.text_at(2);
    e.action = stmt.text_at(3);
    e.target = stmt.text_at(4);
    e.host = stmt.text_at(5);
    e.details = stmt.text_at(6);
    // A stored hash that is not 64 hex digits is itself tampering: keep the
    // event with a zero hash so verification reports it.
    if (auto h = Sha256::from_hex(stmt.text_at(7)); h.ok()) e.prev_hash = *h;
    if (auto h = Sha256::from_hex(stmt.text_at(8)); h.ok()) e.hash = *h;
    out.push_back(std::move(e));
  }
  return out;
}

constexpr std::string_view kEventColumns = "seq, time_ms, actor, action, target, host, details, prev_hash, hash";

Result<std::optional<AuditEvent>> SqliteStore::last_event_locked() {
  auto stmt = prepare(fmt::format("SELECT {} FROM audit_events ORDER BY seq DESC LIMIT 1", kEventColumns));
  if (!stmt.ok()) return stmt.error();
  return first_row(query_events(*stmt));
}

namespace {

Error trail_refused(std::string_view what) {
  return unavailable(fmt::format(
      "{}: the database was changed outside hoistd. hoistd appends nothing to an audit trail that does not verify, so "
      "it changes nothing; see docs/hoistd.md, \"When the audit trail does not verify\"",
      what));
}

}  // namespace

Status SqliteStore::check_head_locked(const std::optional<AuditEvent>& prev) {
  if (prev && audit_event_hash(*prev) != prev->hash) {
    return trail_refused(fmt::format("the newest audit event, #{}, does not match its hash", prev->seq));
  }
  if (!committed_head_) return {};
  if (prev && prev->seq == committed_head_->seq && prev->hash == committed_head_->hash) return {};
  auto s = prepare("SELECT hash FROM audit_events WHERE seq = ?");
  if (!s.ok()) return s.error();
  s->bind_int(1, static_cast<std::int64_t>(committed_head_->seq));
  auto row = s->step("read the audit trail's head");
  if (!row.ok()) return row.error();
  if (!*row || s->text_at(0) != committed_head_->hash.hex()) {
    return trail_refused(
        fmt::format("audit event #{}, which this hoistd wrote, is gone or changed", committed_head_->seq));
  }
  return {};
}

Result<AuditEvent> SqliteTx::append_audit(const AuditDraft& draft) {
  if (draft.actor.empty() || draft.action.empty()) {
    return invalid_argument("an audit event needs an actor and an action");
  }
  auto prev = store_.last_event_locked();
  if (!prev.ok()) return prev.error();
  if (auto st = store_.check_head_locked(*prev); !st.ok()) return st.error();
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
  sqlite::Stmt& s = *stmt;
  s.bind_int(1, static_cast<std::int64_t>(e.seq));
  s.bind_int(2, e.time.time_since_epoch().count());
  s.bind_text(3, e.actor);
  s.bind_text(4, e.action);
  s.bind_text(5, e.target);
  s.bind_text(6, e.host);
  s.bind_text(7, e.details);
  s.bind_text(8, e.prev_hash.hex());
  s.bind_text(9, e.hash.hex());
  if (auto ran = s.run("append audit event"); !ran.ok()) return ran.error();
  appended_ = ChainHead{e.seq, e.hash};
  return e;
}

Status SqliteStore::write(const std::function<Status(StoreTx&)>& fn) {
  std::lock_guard lock(mu_);
  SqliteTx tx(*this);
  if (auto st = db_->write([&] { return fn(tx); }); !st.ok()) return st;
  if (tx.appended()) committed_head_ = tx.appended();
  return {};
}

Result<std::vector<AuditEvent>> SqliteStore::audit_events(const AuditFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
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
  sqlite::Stmt& s = *stmt;
  int i = 1;
  s.bind_int(i++, static_cast<std::int64_t>(f.after_seq));
  if (f.since) s.bind_int(i++, f.since->time_since_epoch().count());
  if (f.until) s.bind_int(i++, f.until->time_since_epoch().count());
  for (const auto* v : {&f.actor, &f.action, &f.target, &f.host}) {
    if (*v) s.bind_text(i++, **v);
  }
  s.bind_int(i, static_cast<std::int64_t>(f.limit));
  return query_events(s);
}

Result<std::vector<AuditEvent>> SqliteStore::audit_range(std::uint64_t first, std::size_t count) {
  std::lock_guard lock(mu_);
  auto stmt = prepare(fmt::format("SELECT {} FROM audit_events WHERE seq >= ? ORDER BY seq LIMIT ?", kEventColumns));
  if (!stmt.ok()) return stmt.error();
  stmt->bind_int(1, static_cast<std::int64_t>(first));
  stmt->bind_int(2, static_cast<std::int64_t>(count));
  return query_events(*stmt);
}

Result<std::optional<ChainHead>> SqliteStore::audit_head() {
  std::lock_guard lock(mu_);
  auto last = last_event_locked();
  if (!last.ok()) return last.error();
  if (!*last) return std::optional<ChainHead>();
  return std::optional<ChainHead>(ChainHead{(*last)->seq, (*last)->hash});
}

// --- requests -------------------------------------------------------------

constexpr std::string_view kRequestColumns =
    "id, version, kind, requester, host, rule, justification, requested_s, max_s, approval_mode, "
    "self_approval_allowed, created_s, pending_deadline_s, state, review_by, review_reviewer, review_approved, "
    "review_comment, review_at_s, grant_start_s, grant_deadline_s, ended_at_s, ended_by, end_reason, command_path, "
    "command_sha256, command_package, endpoint_id, runas_user, runas_group";

std::string_view to_string(Review::By by) {
  switch (by) {
    case Review::By::kApprover: return "approver";
    case Review::By::kSelf: return "self";
    case Review::By::kAutonomous: return "autonomous";
  }
  return "approver";
}

template <class E, std::size_t N>
std::optional<E> parse_enum(std::string_view text, const E (&values)[N]) {
  for (const E v : values) {
    if (to_string(v) == text) return v;
  }
  return std::nullopt;
}

constexpr RequestState kStates[] = {RequestState::kPending, RequestState::kApproved,  RequestState::kActive,
                                    RequestState::kDenied,  RequestState::kCancelled, RequestState::kExpired,
                                    RequestState::kRevoked};
constexpr RequestKind kKinds[] = {RequestKind::kCommand, RequestKind::kSession};
constexpr ApprovalMode kModes[] = {ApprovalMode::kManual, ApprovalMode::kAutonomous, ApprovalMode::kSelf};
constexpr Review::By kReviewBy[] = {Review::By::kApprover, Review::By::kSelf, Review::By::kAutonomous};

// Binds the state-machine fields (everything that update_request changes),
// starting at parameter `i`; returns the next free parameter.
int bind_request_state(sqlite::Stmt& s, int i, const Request& r) {
  s.bind_int(i++, r.requested_duration.count());
  s.bind_int(i++, r.max_duration.count());
  s.bind_text(i++, to_string(r.approval_mode));
  s.bind_int(i++, r.self_approval_allowed ? 1 : 0);
  s.bind_time(i++, r.pending_deadline);
  s.bind_text(i++, to_string(r.state));
  if (r.review) {
    s.bind_text(i++, to_string(r.review->by));
    s.bind_text(i++, r.review->reviewer);
    s.bind_int(i++, r.review->approved ? 1 : 0);
    s.bind_text(i++, r.review->comment);
    s.bind_time(i++, r.review->at);
  } else {
    for (int k = 0; k < 5; ++k) s.bind_null(i++);
  }
  s.bind_opt_time(i++, r.grant_start);
  s.bind_opt_time(i++, r.grant_deadline);
  s.bind_opt_time(i++, r.ended_at);
  s.bind_text(i++, r.ended_by);
  s.bind_text(i++, r.end_reason);
  return i;
}

Result<std::vector<RequestRecord>> SqliteStore::query_requests_locked(sqlite::Stmt& stmt) {
  std::vector<RequestRecord> out;
  for (;;) {
    auto row = stmt.step("read requests");
    if (!row.ok()) return row.error();
    if (!*row) break;
    RequestRecord rec;
    Request& r = rec.request;
    int c = 0;
    r.id = stmt.text_at(c++);
    rec.version = stmt.int_at(c++);
    const auto kind = parse_enum(stmt.text_at(c++), kKinds);
    r.requester = stmt.text_at(c++);
    r.host = stmt.text_at(c++);
    r.rule = stmt.text_at(c++);
    r.justification = stmt.text_at(c++);
    r.requested_duration = Seconds{stmt.int_at(c++)};
    r.max_duration = Seconds{stmt.int_at(c++)};
    const auto mode = parse_enum(stmt.text_at(c++), kModes);
    r.self_approval_allowed = stmt.int_at(c++) != 0;
    r.created_at = stmt.time_at(c++);
    r.pending_deadline = stmt.time_at(c++);
    const auto state = parse_enum(stmt.text_at(c++), kStates);
    if (!stmt.is_null(c)) {
      const auto by = parse_enum(stmt.text_at(c), kReviewBy);
      if (!by) return internal_error("request " + r.id + " has an unknown review kind (the database was edited?)");
      r.review = Review{*by, stmt.text_at(c + 1), stmt.int_at(c + 2) != 0, stmt.text_at(c + 3), stmt.time_at(c + 4)};
    }
    c += 5;
    r.grant_start = stmt.opt_time_at(c++);
    r.grant_deadline = stmt.opt_time_at(c++);
    r.ended_at = stmt.opt_time_at(c++);
    r.ended_by = stmt.text_at(c++);
    r.end_reason = stmt.text_at(c++);
    rec.command.path = stmt.blob_at(c++);
    if (!stmt.is_null(c)) {
      auto d = Sha256::from_hex(stmt.text_at(c));
      if (!d.ok()) return internal_error("request " + r.id + " has an unreadable sha256 (the database was edited?)");
      rec.command.sha256 = *d;
    }
    ++c;
    rec.command.package = stmt.text_at(c++);
    rec.endpoint_id = stmt.text_at(c++);
    rec.command.runas_user = stmt.text_at(c++);
    rec.command.runas_group = stmt.text_at(c++);
    if (!kind || !mode || !state) {
      return internal_error("request " + r.id + " has an unknown kind, mode or state (the database was edited?)");
    }
    r.kind = *kind;
    r.approval_mode = *mode;
    r.state = *state;
    out.push_back(std::move(rec));
  }
  // The lists, one small query each (pages are at most kMaxPage). A failed
  // step is an error, never a shorter argv.
  for (RequestRecord& rec : out) {
    auto argv = prepare("SELECT value FROM request_argv WHERE request_id = ? ORDER BY position");
    if (!argv.ok()) return argv.error();
    argv->bind_text(1, rec.request.id);
    for (;;) {
      auto row = argv->step("read request argv");
      if (!row.ok()) return row.error();
      if (!*row) break;
      rec.command.argv.push_back(argv->blob_at(0));
    }
    auto groups = prepare("SELECT name FROM request_groups WHERE request_id = ? ORDER BY position");
    if (!groups.ok()) return groups.error();
    groups->bind_text(1, rec.request.id);
    for (;;) {
      auto row = groups->step("read requester groups");
      if (!row.ok()) return row.error();
      if (!*row) break;
      rec.requester_groups.push_back(groups->text_at(0));
    }
  }
  return out;
}

Status SqliteStore::write_request_children_locked(const RequestRecord& rec) {
  for (std::size_t i = 0; i < rec.command.argv.size(); ++i) {
    auto s = prepare("INSERT INTO request_argv (request_id, position, value) VALUES (?, ?, ?)");
    if (!s.ok()) return s.error();
    s->bind_text(1, rec.request.id);
    s->bind_int(2, static_cast<std::int64_t>(i));
    s->bind_blob(3, rec.command.argv[i]);
    if (auto ran = s->run("store request argv"); !ran.ok()) return ran.error();
  }
  for (std::size_t i = 0; i < rec.requester_groups.size(); ++i) {
    auto s = prepare("INSERT INTO request_groups (request_id, position, name) VALUES (?, ?, ?)");
    if (!s.ok()) return s.error();
    s->bind_text(1, rec.request.id);
    s->bind_int(2, static_cast<std::int64_t>(i));
    s->bind_text(3, rec.requester_groups[i]);
    if (auto ran = s->run("store request groups"); !ran.ok()) return ran.error();
  }
  return {};
}

Result<RequestRecord> SqliteTx::insert_request(const RequestRecord& record) {
  const Request& r = record.request;
  if (r.id.empty() || r.requester.empty()) return invalid_argument("a request needs an id and a requester");
  auto s = store_.prepare(fmt::format(
      "INSERT INTO requests ({}) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?)",
      kRequestColumns));
  if (!s.ok()) return s.error();
  sqlite::Stmt& st = *s;
  st.bind_text(1, r.id);
  st.bind_text(2, to_string(r.kind));
  st.bind_text(3, r.requester);
  st.bind_text(4, r.host);
  st.bind_text(5, r.rule);
  st.bind_text(6, r.justification);
  st.bind_int(7, r.requested_duration.count());
  st.bind_int(8, r.max_duration.count());
  st.bind_text(9, to_string(r.approval_mode));
  st.bind_int(10, r.self_approval_allowed ? 1 : 0);
  st.bind_time(11, r.created_at);
  st.bind_time(12, r.pending_deadline);
  st.bind_text(13, to_string(r.state));
  if (r.review) {
    st.bind_text(14, to_string(r.review->by));
    st.bind_text(15, r.review->reviewer);
    st.bind_int(16, r.review->approved ? 1 : 0);
    st.bind_text(17, r.review->comment);
    st.bind_time(18, r.review->at);
  } else {
    for (int k = 14; k <= 18; ++k) st.bind_null(k);
  }
  st.bind_opt_time(19, r.grant_start);
  st.bind_opt_time(20, r.grant_deadline);
  st.bind_opt_time(21, r.ended_at);
  st.bind_text(22, r.ended_by);
  st.bind_text(23, r.end_reason);
  st.bind_blob(24, record.command.path);
  if (record.command.sha256) {
    st.bind_text(25, record.command.sha256->hex());
  } else {
    st.bind_null(25);
  }
  st.bind_text(26, record.command.package);
  st.bind_text(27, record.endpoint_id);
  st.bind_text(28, record.command.runas_user);
  st.bind_text(29, record.command.runas_group);
  if (auto ran = st.run("store request " + r.id); !ran.ok()) {
    const Error& e = ran.error();
    if (e.code == ErrorCode::kConflict) return conflict("request " + r.id + " already exists");
    return e;
  }
  if (auto c = store_.write_request_children_locked(record); !c.ok()) return c.error();
  RequestRecord out = record;
  out.version = 1;
  return out;
}

Result<std::optional<RequestRecord>> SqliteTx::get_request(const std::string& id) {
  auto s = store_.prepare(fmt::format("SELECT {} FROM requests WHERE id = ?", kRequestColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(store_.query_requests_locked(*s));
}

Result<RequestRecord> SqliteTx::update_request(const RequestRecord& record) {
  auto s = store_.prepare(
      "UPDATE requests SET version = version + 1, requested_s = ?, max_s = ?, approval_mode = ?, "
      "self_approval_allowed = ?, pending_deadline_s = ?, state = ?, review_by = ?, review_reviewer = ?, "
      "review_approved = ?, review_comment = ?, review_at_s = ?, grant_start_s = ?, grant_deadline_s = ?, "
      "ended_at_s = ?, ended_by = ?, end_reason = ? WHERE id = ? AND version = ?");
  if (!s.ok()) return s.error();
  const int next = bind_request_state(*s, 1, record.request);
  s->bind_text(next, record.request.id);
  s->bind_int(next + 1, record.version);
  if (auto ran = s->run("update request " + record.request.id); !ran.ok()) return ran.error();
  if (store_.db().changes() == 1) {
    auto now = get_request(record.request.id);
    if (!now.ok()) return now.error();
    if (!*now) return internal_error("request " + record.request.id + " vanished inside its transaction");
    return std::move(**now);
  }
  auto current = get_request(record.request.id);
  if (!current.ok()) return current.error();
  if (!*current) return not_found("no request " + record.request.id);
  return conflict(
      fmt::format("request {} changed meanwhile (version {} is stored, {} was read): reload it and try again",
                  record.request.id, (*current)->version, record.version));
}

Result<std::optional<RequestRecord>> SqliteStore::request(const std::string& id) {
  std::lock_guard lock(mu_);
  SqliteTx reader(*this);  // read-only use, outside a write transaction
  return reader.get_request(id);
}

Result<std::vector<RequestRecord>> SqliteStore::requests(const RequestFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  std::string sql = fmt::format("SELECT {} FROM requests WHERE id > ?", kRequestColumns);
  if (f.state) sql += " AND state = ?";
  if (f.requester) sql += " AND requester = ?";
  if (f.host) sql += " AND host = ?";
  if (f.endpoint_id) sql += " AND endpoint_id = ?";
  sql += " ORDER BY id LIMIT ?";
  std::lock_guard lock(mu_);
  auto s = prepare(sql);
  if (!s.ok()) return s.error();
  int i = 1;
  s->bind_text(i++, f.after_id);
  if (f.state) s->bind_text(i++, to_string(*f.state));
  if (f.requester) s->bind_text(i++, *f.requester);
  if (f.host) s->bind_text(i++, *f.host);
  if (f.endpoint_id) s->bind_text(i++, *f.endpoint_id);
  s->bind_int(i, static_cast<std::int64_t>(f.limit));
  return query_requests_locked(*s);
}

Result<std::vector<RequestRecord>> SqliteStore::due_requests(TimePoint now, std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format(
      "SELECT {} FROM requests WHERE (state = 'pending' AND pending_deadline_s <= ?1) OR (state IN ('approved', "
      "'active') AND grant_deadline_s <= ?1) ORDER BY CASE WHEN state = 'pending' THEN pending_deadline_s ELSE "
      "grant_deadline_s END, id LIMIT ?2",
      kRequestColumns));
  if (!s.ok()) return s.error();
  s->bind_time(1, now);
  s->bind_int(2, static_cast<std::int64_t>(limit));
  return query_requests_locked(*s);
}

// --- users and tokens -----------------------------------------------------

Result<std::vector<UserRecord>> SqliteStore::query_users_locked(sqlite::Stmt& stmt) {
  std::vector<UserRecord> out;
  for (;;) {
    auto row = stmt.step("read users");
    if (!row.ok()) return row.error();
    if (!*row) break;
    UserRecord u;
    u.name = stmt.text_at(0);
    const auto role = parse_role(stmt.text_at(1));
    if (!role) return internal_error("user " + u.name + " has an unknown role (the database was edited?)");
    u.role = *role;
    u.password_hash = stmt.text_at(2);
    u.created_at = stmt.time_at(3);
    u.disabled = stmt.int_at(4) != 0;
    u.version = stmt.int_at(5);
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::vector<TokenRecord>> SqliteStore::query_tokens_locked(sqlite::Stmt& stmt) {
  std::vector<TokenRecord> out;
  for (;;) {
    auto row = stmt.step("read tokens");
    if (!row.ok()) return row.error();
    if (!*row) break;
    TokenRecord t;
    t.id = stmt.text_at(0);
    t.user = stmt.text_at(1);
    t.label = stmt.text_at(2);
    t.secret_hash = stmt.text_at(3);
    t.created_at = stmt.time_at(4);
    t.expires_at = stmt.opt_time_at(5);
    t.revoked_at = stmt.opt_time_at(6);
    t.last_used_at = stmt.opt_time_at(7);
    out.push_back(std::move(t));
  }
  return out;
}

constexpr std::string_view kUserColumns = "name, role, password_hash, created_s, disabled, version";
constexpr std::string_view kTokenColumns =
    "id, user_name, label, secret_hash, created_s, expires_s, revoked_s, last_used_s";

Result<UserRecord> SqliteTx::insert_user(const UserRecord& user) {
  if (user.name.empty() || user.password_hash.empty()) {
    return invalid_argument("a user needs a name and a password hash");
  }
  auto s = store_.prepare(fmt::format("INSERT INTO users ({}) VALUES (?, ?, ?, ?, ?, 1)", kUserColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, user.name);
  s->bind_text(2, to_string(user.role));
  s->bind_text(3, user.password_hash);
  s->bind_time(4, user.created_at);
  s->bind_int(5, user.disabled ? 1 : 0);
  if (auto ran = s->run("store user " + user.name); !ran.ok()) {
    const Error& e = ran.error();
    return e.code == ErrorCode::kConflict ? conflict("a user named " + user.name + " already exists") : e;
  }
  UserRecord out = user;
  out.version = 1;
  return out;
}

Result<UserRecord> SqliteTx::update_user(const UserRecord& user) {
  if (user.password_hash.empty()) return invalid_argument("a user needs a password hash");
  auto s = store_.prepare(
      "UPDATE users SET role = ?, password_hash = ?, disabled = ?, version = version + 1 WHERE name = ? AND "
      "version = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, to_string(user.role));
  s->bind_text(2, user.password_hash);
  s->bind_int(3, user.disabled ? 1 : 0);
  s->bind_text(4, user.name);
  s->bind_int(5, user.version);
  if (auto ran = s->run("update user " + user.name); !ran.ok()) return ran.error();
  const bool changed = store_.db().changes() == 1;
  auto q = store_.prepare(fmt::format("SELECT {} FROM users WHERE name = ?", kUserColumns));
  if (!q.ok()) return q.error();
  q->bind_text(1, user.name);
  auto rows = store_.query_users_locked(*q);
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return not_found("no user named " + user.name);
  if (!changed) {
    return conflict(fmt::format("user {} changed meanwhile (version {} is stored, {} was read): reload and retry",
                                user.name, rows->front().version, user.version));
  }
  return std::move(rows->front());
}

Status SqliteTx::insert_token(const TokenRecord& t) {
  if (t.id.empty() || t.secret_hash.empty()) return invalid_argument("a token needs an id and a secret hash");
  auto s = store_.prepare(fmt::format("INSERT INTO api_tokens ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", kTokenColumns));
  if (!s.ok()) return s.error();
  sqlite::Stmt& st = *s;
  st.bind_text(1, t.id);
  st.bind_text(2, t.user);
  st.bind_text(3, t.label);
  st.bind_text(4, t.secret_hash);
  st.bind_time(5, t.created_at);
  st.bind_opt_time(6, t.expires_at);
  st.bind_opt_time(7, t.revoked_at);
  st.bind_opt_time(8, t.last_used_at);
  auto ran = st.run("store token");
  if (ran.ok()) return {};
  if (store_.db().foreign_key_failed()) return not_found("no user named " + t.user + " to own the token");
  const Error& e = ran.error();
  return e.code == ErrorCode::kConflict ? Status{conflict("a token with id " + t.id + " already exists")} : Status{e};
}

Status SqliteTx::revoke_token(const std::string& id, TimePoint at) {
  auto changed = store_.execute("UPDATE api_tokens SET revoked_s = COALESCE(revoked_s, ?) WHERE id = ?", "revoke token",
                                at, std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no token with id " + id);
  return {};
}

Result<std::size_t> SqliteTx::revoke_user_tokens(const std::string& user, TimePoint at) {
  auto changed = store_.execute(
      "UPDATE api_tokens SET revoked_s = ? WHERE user_name = ? AND revoked_s IS NULL AND "
      "(expires_s IS NULL OR expires_s > ?)",
      "revoke the user's tokens", at, std::string_view(user), at);
  if (!changed.ok()) return changed.error();
  return static_cast<std::size_t>(*changed);
}

Status SqliteTx::touch_token(const std::string& id, TimePoint at) {
  auto changed = store_.execute("UPDATE api_tokens SET last_used_s = ? WHERE id = ?", "record token use", at,
                                std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no token with id " + id);
  return {};
}

Result<std::optional<UserRecord>> SqliteStore::user(const std::string& name) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM users WHERE name = ?", kUserColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  return first_row(query_users_locked(*s));
}

Result<std::vector<UserRecord>> SqliteStore::users() {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM users ORDER BY name", kUserColumns));
  if (!s.ok()) return s.error();
  return query_users_locked(*s);
}

Result<std::optional<TokenRecord>> SqliteStore::token(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM api_tokens WHERE id = ?", kTokenColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_tokens_locked(*s));
}

Result<std::vector<TokenRecord>> SqliteStore::tokens(const std::string& user) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM api_tokens WHERE user_name = ? ORDER BY id", kTokenColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, user);
  return query_tokens_locked(*s);
}

// --- endpoints and enrolment tokens --------------------------------------

constexpr std::string_view kEnrollmentColumns =
    "id, secret_hash, uses_left, expires_s, created_by, created_s, revoked_s";
constexpr std::string_view kEndpointColumns =
    "id, hostname, credential_hash, agent_version, enrolled_s, last_seen_s, retired_s, codes_key_generation";

Result<std::vector<std::string>> SqliteStore::labels_locked(const LabelTable& table, const std::string& id) {
  auto s = prepare(table.select);
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  std::vector<std::string> out;
  for (;;) {
    auto row = s->step("read labels");
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(s->text_at(0));
  }
  return out;
}

Status SqliteStore::write_labels_locked(const LabelTable& table, const std::string& id,
                                        const std::vector<std::string>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto s = prepare(table.insert);
    if (!s.ok()) return s.error();
    s->bind_text(1, id);
    s->bind_int(2, static_cast<std::int64_t>(i));
    s->bind_text(3, labels[i]);
    if (auto st = s->run("store labels"); !st.ok()) return st;
  }
  return {};
}

Result<std::vector<EnrollmentTokenRecord>> SqliteStore::query_enrollment_tokens_locked(sqlite::Stmt& stmt) {
  std::vector<EnrollmentTokenRecord> out;
  for (;;) {
    auto row = stmt.step("read enrolment tokens");
    if (!row.ok()) return row.error();
    if (!*row) break;
    EnrollmentTokenRecord t;
    t.id = stmt.text_at(0);
    t.secret_hash = stmt.text_at(1);
    t.uses_left = static_cast<int>(stmt.int_at(2));
    t.expires_at = stmt.time_at(3);
    t.created_by = stmt.text_at(4);
    t.created_at = stmt.time_at(5);
    t.revoked_at = stmt.opt_time_at(6);
    out.push_back(std::move(t));
  }
  for (auto& t : out) {
    auto labels = labels_locked(kEnrollmentTokenLabels, t.id);
    if (!labels.ok()) return labels.error();
    t.labels = std::move(*labels);
  }
  return out;
}

Result<std::vector<EndpointRecord>> SqliteStore::query_endpoints_locked(sqlite::Stmt& stmt) {
  std::vector<EndpointRecord> out;
  for (;;) {
    auto row = stmt.step("read endpoints");
    if (!row.ok()) return row.error();
    if (!*row) break;
    EndpointRecord e;
    e.id = stmt.text_at(0);
    e.hostname = stmt.text_at(1);
    e.credential_hash = stmt.text_at(2);
    e.agent_version = stmt.text_at(3);
    e.enrolled_at = stmt.time_at(4);
    e.last_seen = stmt.opt_time_at(5);
    e.retired_at = stmt.opt_time_at(6);
    e.codes_key_generation = static_cast<std::uint32_t>(stmt.int_at(7));
    out.push_back(std::move(e));
  }
  for (auto& e : out) {
    auto labels = labels_locked(kEndpointLabels, e.id);
    if (!labels.ok()) return labels.error();
    e.labels = std::move(*labels);
  }
  return out;
}

Status SqliteTx::insert_enrollment_token(const EnrollmentTokenRecord& t) {
  if (t.id.empty() || t.secret_hash.empty())
    return invalid_argument("an enrolment token needs an id and a secret hash");
  if (t.uses_left < 1) return invalid_argument("an enrolment token needs at least one use");
  auto s = store_.prepare(
      fmt::format("INSERT INTO enrollment_tokens ({}) VALUES (?, ?, ?, ?, ?, ?, ?)", kEnrollmentColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, t.id);
  s->bind_text(2, t.secret_hash);
  s->bind_int(3, t.uses_left);
  s->bind_time(4, t.expires_at);
  s->bind_text(5, t.created_by);
  s->bind_time(6, t.created_at);
  s->bind_opt_time(7, t.revoked_at);
  if (auto st = s->run("store enrolment token"); !st.ok()) {
    return st.error().code == ErrorCode::kConflict ? Status{conflict("an enrolment token " + t.id + " exists")} : st;
  }
  return store_.write_labels_locked(kEnrollmentTokenLabels, t.id, t.labels);
}

Result<EnrollmentTokenRecord> SqliteTx::use_enrollment_token(const std::string& id, TimePoint now) {
  // One statement decides and takes the use, so racing agents cannot both
  // take the last one.
  auto s = store_.prepare(
      "UPDATE enrollment_tokens SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0 AND expires_s > ? AND "
      "revoked_s IS NULL");
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  s->bind_time(2, now);
  if (auto st = s->run("use enrolment token"); !st.ok()) return st.error();
  const bool used = store_.db().changes() == 1;
  auto q = store_.prepare(fmt::format("SELECT {} FROM enrollment_tokens WHERE id = ?", kEnrollmentColumns));
  if (!q.ok()) return q.error();
  q->bind_text(1, id);
  auto token = first_row(store_.query_enrollment_tokens_locked(*q));
  if (!token.ok()) return token.error();
  if (!*token) return not_found("no enrolment token " + id);
  if (used) return std::move(**token);
  const EnrollmentTokenRecord& t = **token;
  if (t.revoked_at) return permission_denied("enrolment token " + id + " was revoked");
  if (now >= t.expires_at) return permission_denied("enrolment token " + id + " has expired");
  return permission_denied("enrolment token " + id + " has no uses left");
}

Status SqliteTx::revoke_enrollment_token(const std::string& id, TimePoint at) {
  auto changed = store_.execute("UPDATE enrollment_tokens SET revoked_s = COALESCE(revoked_s, ?) WHERE id = ?",
                                "revoke enrolment token", at, std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no enrolment token " + id);
  return {};
}

Status SqliteTx::insert_endpoint(const EndpointRecord& e) {
  if (e.id.empty() || e.hostname.empty() || e.credential_hash.empty()) {
    return invalid_argument("an endpoint needs an id, a hostname and a credential hash");
  }
  if (e.codes_key_generation < 1) return invalid_argument("an endpoint's codes key generation starts at 1");
  auto s = store_.prepare(fmt::format("INSERT INTO endpoints ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", kEndpointColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, e.id);
  s->bind_text(2, e.hostname);
  s->bind_text(3, e.credential_hash);
  s->bind_text(4, e.agent_version);
  s->bind_time(5, e.enrolled_at);
  s->bind_opt_time(6, e.last_seen);
  s->bind_opt_time(7, e.retired_at);
  s->bind_int(8, e.codes_key_generation);
  if (auto st = s->run("store endpoint"); !st.ok()) {
    return st.error().code == ErrorCode::kConflict ? Status{conflict("an endpoint " + e.id + " exists")} : st;
  }
  return store_.write_labels_locked(kEndpointLabels, e.id, e.labels);
}

Status SqliteTx::record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) {
  auto changed =
      store_.execute("UPDATE endpoints SET last_seen_s = ?, agent_version = ? WHERE id = ? AND retired_s IS NULL",
                     "record heartbeat", at, std::string_view(agent_version), std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed == 1) return {};
  auto q = store_.prepare("SELECT 1 FROM endpoints WHERE id = ?");
  if (!q.ok()) return q.error();
  q->bind_text(1, id);
  auto row = q->step("read endpoint");
  if (!row.ok()) return row.error();
  if (*row) return permission_denied("endpoint " + id + " is retired");
  return not_found("no endpoint " + id);
}

Status SqliteTx::retire_endpoint(const std::string& id, TimePoint at) {
  auto changed =
      store_.execute("UPDATE endpoints SET retired_s = COALESCE(retired_s, ?), credential_hash = '' WHERE id = ?",
                     "retire endpoint", at, std::string_view(id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no endpoint " + id);
  return {};
}

Result<std::uint32_t> SqliteTx::bump_codes_key_generation(const std::string& endpoint_id) {
  auto changed = store_.execute(
      "UPDATE endpoints SET codes_key_generation = codes_key_generation + 1 WHERE id = ? AND retired_s IS NULL",
      "rotate codes key", std::string_view(endpoint_id));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no enrolled endpoint " + endpoint_id);
  auto q = store_.prepare("SELECT codes_key_generation FROM endpoints WHERE id = ?");
  if (!q.ok()) return q.error();
  q->bind_text(1, endpoint_id);
  auto row = q->step("read codes key generation");
  if (!row.ok()) return row.error();
  if (!*row) return internal_error("endpoint " + endpoint_id + " vanished inside its transaction (this is a bug)");
  return static_cast<std::uint32_t>(q->int_at(0));
}

// --- issued offline admin codes --------------------------------------------

constexpr std::string_view kIssuedCodeColumns =
    "id, endpoint_id, kind, ref, generation, user_name, duration_s, command, issued_by, issued_s, valid_until_s, "
    "used_s, used_event_id";

Result<std::vector<IssuedCode>> SqliteStore::query_issued_codes_locked(sqlite::Stmt& stmt) {
  std::vector<IssuedCode> out;
  for (;;) {
    auto row = stmt.step("read issued codes");
    if (!row.ok()) return row.error();
    if (!*row) break;
    IssuedCode c;
    c.id = stmt.int_at(0);
    c.endpoint_id = stmt.text_at(1);
    const auto kind = parse_issued_code_kind(stmt.text_at(2));
    if (!kind)
      return internal_error(fmt::format("issued code {} has an unknown kind (the database was edited?)", c.id));
    c.kind = *kind;
    c.ref = stmt.int_at(3);
    c.generation = static_cast<std::uint32_t>(stmt.int_at(4));
    c.user = stmt.text_at(5);
    c.duration_s = stmt.int_at(6);
    c.command = stmt.text_at(7);
    c.issued_by = stmt.text_at(8);
    c.issued_at = stmt.time_at(9);
    c.valid_until = stmt.opt_time_at(10);
    c.used_at = stmt.opt_time_at(11);
    if (!stmt.is_null(12)) c.used_event_id = stmt.text_at(12);
    out.push_back(std::move(c));
  }
  return out;
}

Result<IssuedCode> SqliteTx::insert_issued_code(const IssuedCode& code) {
  if (code.user.empty() || code.issued_by.empty()) {
    return invalid_argument("an issued code needs a user and an issuer");
  }
  // One statement checks the endpoint and its generation and inserts, so a
  // rotation cannot slip in between.
  auto s = store_.prepare(
      "INSERT INTO issued_codes (endpoint_id, kind, ref, generation, user_name, duration_s, command, issued_by, "
      "issued_s, valid_until_s) SELECT id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 FROM endpoints WHERE id = ?1 AND "
      "retired_s IS NULL AND codes_key_generation = ?4");
  if (!s.ok()) return s.error();
  s->bind_text(1, code.endpoint_id);
  s->bind_text(2, to_string(code.kind));
  s->bind_int(3, code.ref);
  s->bind_int(4, code.generation);
  s->bind_text(5, code.user);
  s->bind_int(6, code.duration_s);
  s->bind_text(7, code.command);
  s->bind_text(8, code.issued_by);
  s->bind_time(9, code.issued_at);
  s->bind_opt_time(10, code.valid_until);
  if (auto st = s->run("store issued code"); !st.ok()) return st.error();
  if (store_.db().changes() == 1) {
    IssuedCode out = code;
    out.id = store_.db().last_insert_rowid();
    out.used_at.reset();
    out.used_event_id.reset();
    return out;
  }
  auto q = store_.prepare("SELECT codes_key_generation FROM endpoints WHERE id = ? AND retired_s IS NULL");
  if (!q.ok()) return q.error();
  q->bind_text(1, code.endpoint_id);
  auto row = q->step("read codes key generation");
  if (!row.ok()) return row.error();
  if (!*row) return not_found("no enrolled endpoint " + code.endpoint_id);
  return conflict(fmt::format("the codes key of endpoint {} is at generation {}, not {}: it was rotated meanwhile",
                              code.endpoint_id, q->int_at(0), code.generation));
}

Result<std::optional<std::int64_t>> SqliteTx::mark_code_used(const CodeUse& use) {
  auto q = store_.prepare(
      "SELECT id FROM issued_codes WHERE endpoint_id = ? AND kind = ? AND ref = ? AND generation = ? AND user_name = "
      "? AND used_s IS NULL ORDER BY id DESC LIMIT 1");
  if (!q.ok()) return q.error();
  q->bind_text(1, use.endpoint_id);
  q->bind_text(2, to_string(use.kind));
  q->bind_int(3, use.ref);
  q->bind_int(4, use.generation);
  q->bind_text(5, use.user);
  auto row = q->step("look up issued code");
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<std::int64_t>();
  const std::int64_t id = q->int_at(0);
  auto changed = store_.execute("UPDATE issued_codes SET used_s = ?, used_event_id = ? WHERE id = ? AND used_s IS NULL",
                                "mark code used", use.used_at, std::string_view(use.event_id), id);
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return internal_error("an issued code changed inside its transaction (this is a bug)");
  return std::optional<std::int64_t>(id);
}

Result<std::vector<IssuedCode>> SqliteStore::issued_codes(const IssuedCodeFilter& f) {
  if (auto st = check_page_limit(f.limit); !st.ok()) return st.error();
  std::string sql = fmt::format("SELECT {} FROM issued_codes WHERE 1 = 1", kIssuedCodeColumns);
  if (f.endpoint_id) sql += " AND endpoint_id = ?";
  if (f.user) sql += " AND user_name = ?";
  sql += " ORDER BY id DESC LIMIT ?";
  std::lock_guard lock(mu_);
  auto s = prepare(sql);
  if (!s.ok()) return s.error();
  int i = 1;
  if (f.endpoint_id) s->bind_text(i++, *f.endpoint_id);
  if (f.user) s->bind_text(i++, *f.user);
  s->bind_int(i, static_cast<std::int64_t>(f.limit));
  return query_issued_codes_locked(*s);
}

Result<std::vector<EnrollmentTokenRecord>> SqliteStore::enrollment_tokens() {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM enrollment_tokens ORDER BY created_s DESC, id", kEnrollmentColumns));
  if (!s.ok()) return s.error();
  return query_enrollment_tokens_locked(*s);
}

Result<std::optional<EnrollmentTokenRecord>> SqliteStore::enrollment_token(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM enrollment_tokens WHERE id = ?", kEnrollmentColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_enrollment_tokens_locked(*s));
}

Result<std::optional<EndpointRecord>> SqliteStore::endpoint(const std::string& id) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM endpoints WHERE id = ?", kEndpointColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  return first_row(query_endpoints_locked(*s));
}

Result<std::vector<EndpointRecord>> SqliteStore::endpoints() {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM endpoints ORDER BY id", kEndpointColumns));
  if (!s.ok()) return s.error();
  return query_endpoints_locked(*s);
}

// --- policies ---------------------------------------------------------------

constexpr std::string_view kPolicyVersionColumns = "name, version, text, author, comment, created_s";

Result<std::vector<PolicyRecord>> SqliteStore::query_policies_locked(sqlite::Stmt& stmt) {
  std::vector<PolicyRecord> out;
  for (;;) {
    auto row = stmt.step("read policies");
    if (!row.ok()) return row.error();
    if (!*row) break;
    PolicyRecord p;
    p.name = stmt.text_at(0);
    p.current_version = static_cast<int>(stmt.int_at(1));
    p.deleted_at = stmt.opt_time_at(2);
    out.push_back(std::move(p));
  }
  for (auto& p : out) {
    auto labels = labels_locked(kPolicyLabels, p.name);
    if (!labels.ok()) return labels.error();
    p.labels = std::move(*labels);
  }
  return out;
}

Result<std::vector<PolicyVersion>> SqliteStore::query_policy_versions_locked(sqlite::Stmt& stmt) {
  std::vector<PolicyVersion> out;
  for (;;) {
    auto row = stmt.step("read policy versions");
    if (!row.ok()) return row.error();
    if (!*row) break;
    PolicyVersion v;
    v.name = stmt.text_at(0);
    v.version = static_cast<int>(stmt.int_at(1));
    v.text = stmt.text_at(2);
    v.author = stmt.text_at(3);
    v.comment = stmt.text_at(4);
    v.created_at = stmt.time_at(5);
    out.push_back(std::move(v));
  }
  return out;
}

Result<std::optional<PolicyRecord>> SqliteStore::policy_locked(const std::string& name) {
  auto s = prepare("SELECT name, current_version, deleted_s FROM policies WHERE name = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  return first_row(query_policies_locked(*s));
}

Result<PolicyVersion> SqliteTx::add_policy_version(const PolicyVersion& v, int expected_current) {
  if (v.name.empty() || v.text.empty() || v.author.empty()) {
    return invalid_argument("a policy version needs a name, a text and an author");
  }
  auto existing = store_.policy_locked(v.name);
  if (!existing.ok()) return existing.error();
  // A deleted policy reads as "no current version" to writers.
  const int current = *existing && !(*existing)->deleted_at ? (*existing)->current_version : 0;
  if (current != expected_current) {
    return conflict(fmt::format("policy {} is at version {}, not {}: reload it, merge your change and try again",
                                v.name, current, expected_current));
  }
  const int next = *existing ? (*existing)->current_version + 1 : 1;
  auto s = store_.prepare(*existing ? "UPDATE policies SET current_version = ?2, deleted_s = NULL WHERE name = ?1"
                                    : "INSERT INTO policies (name, current_version) VALUES (?1, ?2)");
  if (!s.ok()) return s.error();
  s->bind_text(1, v.name);
  s->bind_int(2, next);
  if (auto st = s->run("store policy"); !st.ok()) return st.error();
  auto ins =
      store_.prepare(fmt::format("INSERT INTO policy_versions ({}) VALUES (?, ?, ?, ?, ?, ?)", kPolicyVersionColumns));
  if (!ins.ok()) return ins.error();
  ins->bind_text(1, v.name);
  ins->bind_int(2, next);
  ins->bind_text(3, v.text);
  ins->bind_text(4, v.author);
  ins->bind_text(5, v.comment);
  ins->bind_time(6, v.created_at);
  if (auto st = ins->run("store policy version"); !st.ok()) return st.error();
  PolicyVersion out = v;
  out.version = next;
  return out;
}

Status SqliteTx::assign_policy(const std::string& name, const std::vector<std::string>& labels) {
  auto existing = store_.policy_locked(name);
  if (!existing.ok()) return existing.error();
  if (!*existing || (*existing)->deleted_at) return not_found("no policy named " + name);
  auto cleared = store_.execute("DELETE FROM policy_labels WHERE name = ?", "assign policy", std::string_view(name));
  if (!cleared.ok()) return cleared.error();
  return store_.write_labels_locked(kPolicyLabels, name, labels);
}

Status SqliteTx::delete_policy(const std::string& name, TimePoint at) {
  auto existing = store_.policy_locked(name);
  if (!existing.ok()) return existing.error();
  if (!*existing || (*existing)->deleted_at) return not_found("no policy named " + name);
  auto marked =
      store_.execute("UPDATE policies SET deleted_s = ? WHERE name = ?", "delete policy", at, std::string_view(name));
  if (!marked.ok()) return marked.error();
  auto cleared =
      store_.execute("DELETE FROM policy_labels WHERE name = ?", "delete policy assignments", std::string_view(name));
  return cleared.ok() ? Status{} : Status{cleared.error()};
}

Result<std::optional<PolicyRecord>> SqliteStore::policy(const std::string& name) {
  std::lock_guard lock(mu_);
  return policy_locked(name);
}

Result<std::vector<PolicyRecord>> SqliteStore::policies() {
  std::lock_guard lock(mu_);
  auto s = prepare("SELECT name, current_version, deleted_s FROM policies ORDER BY name");
  if (!s.ok()) return s.error();
  return query_policies_locked(*s);
}

Result<std::optional<PolicyVersion>> SqliteStore::policy_version(const std::string& name, int version) {
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format("SELECT {} FROM policy_versions WHERE name = ? AND version = ?", kPolicyVersionColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  s->bind_int(2, version);
  return first_row(query_policy_versions_locked(*s));
}

Result<std::vector<PolicyVersion>> SqliteStore::policy_history(const std::string& name) {
  std::lock_guard lock(mu_);
  auto s =
      prepare(fmt::format("SELECT {} FROM policy_versions WHERE name = ? ORDER BY version", kPolicyVersionColumns));
  if (!s.ok()) return s.error();
  s->bind_text(1, name);
  return query_policy_versions_locked(*s);
}

Result<std::vector<PolicyRecord>> SqliteStore::policies_for_labels(const std::vector<std::string>& labels) {
  if (labels.empty()) return std::vector<PolicyRecord>{};
  if (labels.size() > kMaxPage) return invalid_argument(fmt::format("at most {} labels", kMaxPage));
  // As many placeholders as the next power of two, so that the SQL texts
  // (and cached statements) are 11, not one per list length; the unbound
  // ones are NULL, which `IN` never matches.
  std::size_t slots = 1;
  while (slots < labels.size()) slots *= 2;
  std::string placeholders = "?";
  for (std::size_t i = 1; i < slots; ++i) placeholders += ", ?";
  std::lock_guard lock(mu_);
  auto s = prepare(fmt::format(
      "SELECT name, current_version, deleted_s FROM policies WHERE deleted_s IS NULL AND name IN (SELECT name FROM "
      "policy_labels WHERE label IN ({})) ORDER BY name",
      placeholders));
  if (!s.ok()) return s.error();
  for (std::size_t i = 0; i < labels.size(); ++i) s->bind_text(static_cast<int>(i + 1), labels[i]);
  return query_policies_locked(*s);
}

// --- push queue and login sessions ----------------------------------------

Result<PushMessage> SqliteTx::enqueue_push(const std::string& endpoint_id, const std::string& kind,
                                           const std::string& payload, TimePoint at) {
  if (kind.empty()) return invalid_argument("a push message needs a kind");
  auto s = store_.prepare("INSERT INTO push_messages (endpoint_id, kind, payload, created_s) VALUES (?, ?, ?, ?)");
  if (!s.ok()) return s.error();
  s->bind_text(1, endpoint_id);
  s->bind_text(2, kind);
  s->bind_text(3, payload);
  s->bind_time(4, at);
  if (auto ran = s->run("queue push message"); !ran.ok()) {
    if (store_.db().foreign_key_failed()) {
      return not_found("no endpoint " + endpoint_id + " to push to");
    }
    return ran.error();
  }
  return PushMessage{static_cast<std::uint64_t>(store_.db().last_insert_rowid()), endpoint_id, kind, payload, at};
}

Status SqliteTx::acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) {
  auto changed =
      store_.execute("DELETE FROM push_messages WHERE endpoint_id = ? AND seq <= ?", "acknowledge push messages",
                     std::string_view(endpoint_id), static_cast<std::int64_t>(seq));
  return changed.ok() ? Status{} : Status{changed.error()};
}

Result<bool> SqliteTx::record_agent_event(const std::string& id, const std::string& endpoint_id,
                                          const std::string& kind, TimePoint at) {
  if (id.empty() || kind.empty()) return invalid_argument("an agent event needs an id and a kind");
  {
    auto s = store_.prepare("SELECT endpoint_id FROM agent_events WHERE id = ?");
    if (!s.ok()) return s.error();
    s->bind_text(1, id);
    auto row = s->step("look up agent event");
    if (!row.ok()) return row.error();
    if (*row) {
      if (s->text_at(0) != endpoint_id) {
        return conflict("event " + id + " was sent by another endpoint");
      }
      return false;
    }
  }
  auto s = store_.prepare("INSERT INTO agent_events (id, endpoint_id, kind, received_s) VALUES (?, ?, ?, ?)");
  if (!s.ok()) return s.error();
  s->bind_text(1, id);
  s->bind_text(2, endpoint_id);
  s->bind_text(3, kind);
  s->bind_time(4, at);
  auto ran = s->run("record agent event");
  if (ran.ok()) return true;
  if (store_.db().foreign_key_failed()) {
    return not_found("no endpoint " + endpoint_id);
  }
  return ran.error();
}

Status SqliteTx::insert_session(const SessionRecord& session) {
  if (session.id_hash.empty() || session.csrf_hash.empty()) {
    return invalid_argument("a session needs an id hash and a CSRF token hash");
  }
  auto s = store_.prepare(
      "INSERT INTO login_sessions (id_hash, user_name, csrf_hash, created_s, expires_s, revoked_s) VALUES (?, ?, ?, ?, "
      "?, ?)");
  if (!s.ok()) return s.error();
  s->bind_text(1, session.id_hash);
  s->bind_text(2, session.user);
  s->bind_text(3, session.csrf_hash);
  s->bind_time(4, session.created_at);
  s->bind_time(5, session.expires_at);
  s->bind_opt_time(6, session.revoked_at);
  auto ran = s->run("store session");
  if (ran.ok()) return {};
  if (store_.db().foreign_key_failed()) {
    return not_found("no user named " + session.user);
  }
  const Error& e = ran.error();
  return e.code == ErrorCode::kConflict ? Status{conflict("that session exists")} : Status{e};
}

Status SqliteTx::revoke_session(const std::string& id_hash, TimePoint at) {
  auto changed = store_.execute("UPDATE login_sessions SET revoked_s = COALESCE(revoked_s, ?) WHERE id_hash = ?",
                                "revoke session", at, std::string_view(id_hash));
  if (!changed.ok()) return changed.error();
  if (*changed != 1) return not_found("no such session");
  return {};
}

Result<std::size_t> SqliteTx::revoke_user_sessions(const std::string& user, TimePoint at) {
  auto changed = store_.execute(
      "UPDATE login_sessions SET revoked_s = ? WHERE user_name = ? AND revoked_s IS NULL AND expires_s > ?",
      "revoke sessions", at, std::string_view(user), at);
  if (!changed.ok()) return changed.error();
  return static_cast<std::size_t>(*changed);
}

Result<std::vector<PushMessage>> SqliteStore::push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                                         std::size_t limit) {
  if (auto st = check_page_limit(limit); !st.ok()) return st.error();
  std::lock_guard lock(mu_);
  auto s = prepare(
      "SELECT seq, endpoint_id, kind, payload, created_s FROM push_messages WHERE endpoint_id = ? AND seq > ? ORDER BY "
      "seq LIMIT ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, endpoint_id);
  s->bind_int(2, static_cast<std::int64_t>(after_seq));
  s->bind_int(3, static_cast<std::int64_t>(limit));
  std::vector<PushMessage> out;
  for (;;) {
    auto row = s->step("read push messages");
    if (!row.ok()) return row.error();
    if (!*row) break;
    out.push_back(PushMessage{static_cast<std::uint64_t>(s->int_at(0)), s->text_at(1), s->text_at(2), s->text_at(3),
                              s->time_at(4)});
  }
  return out;
}

Result<std::optional<SessionRecord>> SqliteStore::session(const std::string& id_hash) {
  std::lock_guard lock(mu_);
  auto s = prepare(
      "SELECT id_hash, user_name, csrf_hash, created_s, expires_s, revoked_s FROM login_sessions WHERE id_hash = ?");
  if (!s.ok()) return s.error();
  s->bind_text(1, id_hash);
  auto row = s->step("read session");
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<SessionRecord>();
  return std::optional<SessionRecord>(
      SessionRecord{s->text_at(0), s->text_at(1), s->text_at(2), s->time_at(3), s->time_at(4), s->opt_time_at(5)});
}

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
        fmt::format("the database is at schema version {} but this hoistd knows only up to {}: upgrade "
                    "hoistd, or restore a backup taken before the newer version ran",
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

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path, const SqliteOptions& options) {
  sqlite::Options db_options;
  db_options.create = true;
  db_options.busy_timeout_ms = options.busy_timeout_ms;
  db_options.statement_cache_size = options.statement_cache_size;
  db_options.damaged_advice = "the file is damaged: stop hoistd, move the file aside and restore it from a backup";
  auto db = Db::open(path, db_options);
  if (!db.ok()) return db.error();
  auto store = std::make_unique<SqliteStore>(std::move(*db));
  if (auto st = store->migrate(options.migrate_to); !st.ok()) {
    return Error{st.error().code, fmt::format("{}: {}", path, st.error().message)};
  }
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace hoist::store
