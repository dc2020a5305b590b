// What the files of the SQLite backend share, and nothing outside them
// includes: the backend's two classes, whose members are defined one file
// per kind of record (sqlite_audit.cpp, sqlite_requests.cpp,
// sqlite_users.cpp, sqlite_endpoints.cpp, sqlite_codes.cpp,
// sqlite_policies.cpp, sqlite_push.cpp, sqlite_streams.cpp, sqlite_outbox.cpp), the schema and its migrations
// (sqlite_schema.cpp), and opening and transactions (sqlite_store.cpp).
//
// MUST: SqliteTx is used only inside SqliteStore::write or with mu_ held:
// the one connection serves one caller at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sqlite/db.h"
#include "store/store.h"

namespace hoist::store::sqlite_backend {

using sqlite::Db;
using sqlite::Stmt;

// InvalidArgument unless 1 <= limit <= kMaxPage.
Status check_page_limit(std::size_t limit);

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
// The owner's labels, in order.
Result<std::vector<std::string>> read_labels(Db& db, const LabelTable& table, const std::string& id);
// Adds the labels at positions 0, 1, ... (the caller cleared the old ones).
Status write_labels(Db& db, const LabelTable& table, const std::string& id, const std::vector<std::string>& labels);

class SqliteStore;

class SqliteTx final : public StoreTx {
 public:
  explicit SqliteTx(SqliteStore& store) : store_(store) {}

  // sqlite_audit.cpp
  Result<AuditEvent> append_audit(const AuditDraft& draft) override;
  // sqlite_requests.cpp
  Result<RequestRecord> insert_request(const RequestRecord& record) override;
  Result<std::optional<RequestRecord>> get_request(const std::string& id) override;
  Result<RequestRecord> update_request(const RequestRecord& record) override;
  Result<std::size_t> count_pending(const std::optional<std::string>& requester, const std::string& endpoint_id,
                                    TimePoint now) override;
  // sqlite_users.cpp
  Result<UserRecord> insert_user(const UserRecord& user) override;
  Result<UserRecord> insert_first_user(const UserRecord& user) override;
  Result<UserRecord> update_user(const UserRecord& user) override;
  Status insert_token(const TokenRecord& token) override;
  Status revoke_token(const std::string& id, TimePoint at) override;
  Result<std::size_t> revoke_user_tokens(const std::string& user, TimePoint at) override;
  Status touch_token(const std::string& id, TimePoint at) override;
  Status insert_session(const SessionRecord& session) override;
  Status revoke_session(const std::string& id_hash, TimePoint at) override;
  Result<std::size_t> revoke_user_sessions(const std::string& user, TimePoint at) override;
  // sqlite_endpoints.cpp
  Status insert_enrollment_token(const EnrollmentTokenRecord& token) override;
  Result<EnrollmentTokenRecord> use_enrollment_token(const std::string& id, TimePoint now) override;
  Status revoke_enrollment_token(const std::string& id, TimePoint at) override;
  Status insert_endpoint(const EndpointRecord& endpoint) override;
  Status record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) override;
  Status retire_endpoint(const std::string& id, TimePoint at) override;
  Result<std::uint32_t> bump_codes_key_generation(const std::string& endpoint_id) override;
  // sqlite_codes.cpp
  Result<IssuedCode> insert_issued_code(const IssuedCode& code) override;
  Result<std::optional<std::int64_t>> mark_code_used(const CodeUse& use) override;
  // sqlite_policies.cpp
  Result<PolicyVersion> add_policy_version(const PolicyVersion& v, int expected_current) override;
  Status assign_policy(const std::string& name, const std::vector<std::string>& labels) override;
  Status delete_policy(const std::string& name, TimePoint at) override;
  // sqlite_push.cpp
  Result<PushMessage> enqueue_push(const std::string& endpoint_id, const std::string& kind, const std::string& payload,
                                   TimePoint at) override;
  Status acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) override;
  Result<bool> record_agent_event(const std::string& id, const std::string& endpoint_id, const std::string& kind,
                                  TimePoint at) override;
  // sqlite_streams.cpp
  Status set_stream_cursor(const std::string& name, std::uint64_t seq, TimePoint at) override;
  // sqlite_outbox.cpp
  Result<ChannelRecord> insert_channel(const ChannelRecord& channel) override;
  Result<ChannelRecord> update_channel(const ChannelRecord& channel, AuditTime at) override;
  Result<std::size_t> delete_channel(const std::string& id) override;
  Result<std::optional<ChannelRecord>> get_channel(const std::string& id) override;
  Result<DeliveryRecord> enqueue_delivery(const std::string& channel_id, std::uint64_t audit_seq,
                                          AuditTime at) override;
  Result<DeliveryRecord> record_attempt(const AttemptRecord& attempt) override;
  Result<DeliveryRecord> redrive_delivery(std::int64_t id, AuditTime at) override;
  Result<MessageRef> put_message_ref(const MessageRef& ref) override;
  Result<std::size_t> prune_deliveries(AuditTime before, std::size_t limit) override;
  Result<std::size_t> prune_message_refs(AuditTime before, std::size_t limit) override;

  // The last event this transaction appended (for SqliteStore::write).
  [[nodiscard]] const std::optional<ChainHead>& appended() const { return appended_; }

 private:
  // A channel's events, labels and rules (replacing the old ones).
  Status write_routing(const ChannelRecord& channel, bool replace);

  SqliteStore& store_;
  std::optional<ChainHead> appended_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  ~SqliteStore() override = default;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // sqlite_store.cpp
  Status write(const std::function<Status(StoreTx&)>& fn) override;
  Status write_unsynced(const std::function<Status(StoreTx&)>& fn) override;
  // sqlite_audit.cpp
  Result<std::vector<AuditEvent>> audit_events(const AuditFilter& filter) override;
  Result<std::vector<AuditEvent>> audit_range(std::uint64_t first, std::size_t count) override;
  Result<std::optional<ChainHead>> audit_head() override;
  // sqlite_requests.cpp
  Result<std::optional<RequestRecord>> request(const std::string& id) override;
  Result<std::vector<RequestRecord>> requests(const RequestFilter& filter) override;
  Result<std::vector<RequestRecord>> due_requests(TimePoint now, std::size_t limit) override;
  Result<std::vector<std::pair<RequestState, std::size_t>>> request_counts() override;
  // sqlite_users.cpp
  Result<std::optional<UserRecord>> user(const std::string& name) override;
  Result<std::vector<UserRecord>> users() override;
  Result<std::optional<TokenRecord>> token(const std::string& id) override;
  Result<std::vector<TokenRecord>> tokens(const std::string& user) override;
  Result<std::optional<SessionRecord>> session(const std::string& id_hash) override;
  // sqlite_endpoints.cpp
  Result<std::optional<EnrollmentTokenRecord>> enrollment_token(const std::string& id) override;
  Result<std::vector<EnrollmentTokenRecord>> enrollment_tokens() override;
  Result<std::optional<EndpointRecord>> endpoint(const std::string& id) override;
  Result<std::vector<EndpointRecord>> endpoints() override;
  // sqlite_codes.cpp
  Result<std::vector<IssuedCode>> issued_codes(const IssuedCodeFilter& filter) override;
  // sqlite_policies.cpp
  Result<std::optional<PolicyRecord>> policy(const std::string& name) override;
  Result<std::vector<PolicyRecord>> policies() override;
  Result<std::optional<PolicyVersion>> policy_version(const std::string& name, int version) override;
  Result<std::vector<PolicyVersion>> policy_history(const std::string& name) override;
  Result<std::vector<PolicyRecord>> policies_for_labels(const std::vector<std::string>& labels) override;
  // sqlite_push.cpp
  Result<std::vector<PushMessage>> push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                              std::size_t limit) override;
  Result<std::vector<std::vector<PushMessage>>> push_after_many(std::span<const PushCursor> cursors,
                                                                std::size_t limit_each) override;
  // sqlite_streams.cpp
  Result<std::uint64_t> stream_cursor(const std::string& name) override;
  // sqlite_outbox.cpp
  Result<std::optional<ChannelRecord>> channel(const std::string& id) override;
  Result<std::vector<ChannelRecord>> channels() override;
  Result<std::optional<DeliveryRecord>> delivery(std::int64_t id) override;
  Result<std::vector<DeliveryRecord>> deliveries(const DeliveryFilter& filter) override;
  Result<std::vector<DeliveryRecord>> pending_deliveries(const std::string& channel_id, std::size_t limit) override;
  Result<DueChannels> due_channels(AuditTime now) override;
  Result<std::optional<MessageRef>> message_ref(const std::string& channel_id, const std::string& subject) override;
  // sqlite_logins.cpp
  Result<LoginAdmission> begin_login(const std::string& user_key, const std::string& address_key,
                                     const LoginSchedule& schedule) override;
  Status login_succeeded(const std::string& user_key, const std::string& address_key) override;
  // sqlite_schema.cpp
  Result<int> schema_version() override;
  Status migrate(int target);
  Replicas& replicas() override { return replicas_; }

  // With mu_ held (SqliteTx: by write()): the statement for `sql`.
  Result<Stmt> prepare(std::string_view sql) { return db_->prepare(sql); }
  // Prepares, binds and runs one statement that returns no rows; returns
  // how many rows it changed.
  template <class... Args>
  Result<std::int64_t> execute(std::string_view sql, std::string_view what, const Args&... args) {
    return db_->execute(sql, what, args...);
  }
  [[nodiscard]] Db& db() const { return *db_; }

  // sqlite_audit.cpp, with mu_ held: the newest event, and whether the
  // trail may be appended to after it: Unavailable, naming the event, when
  // `prev` no longer matches its own hash, or when the newest event this
  // store committed is gone or changed.
  Result<std::optional<AuditEvent>> last_event_locked();
  Status check_head_locked(const std::optional<AuditEvent>& prev);
  // sqlite_outbox.cpp, with mu_ held: a delivery of `event` for every
  // enabled channel whose routing takes its action (outbox.h's MUST).
  Status enqueue_routed_locked(const AuditEvent& event);
  Result<std::optional<ChannelRecord>> channel_locked(const std::string& id);
  Result<std::optional<DeliveryRecord>> delivery_locked(std::int64_t id);
  [[nodiscard]] bool has_routing() const { return has_routing_; }

 private:
  Result<int> schema_version_locked();
  Status migrate_locked(int target);

  std::unique_ptr<Db> db_;
  std::mutex mu_;  // one connection, one user at a time
  // Whether the schema has the outbox's tables (migration 12): not when a
  // test stops the migrations before it (SqliteOptions::migrate_to).
  bool has_outbox_ = false;
  bool has_routing_ = false;  // the outbox routes by labels and rules too (migration 13)
  // The newest event this store committed: it must still be in the trail,
  // unchanged, when the next one is appended (a truncated or rewritten tail).
  std::optional<ChainHead> committed_head_;
  LocalReplicas replicas_;
};

}  // namespace hoist::store::sqlite_backend
