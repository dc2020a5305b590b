// What the files of the PostgreSQL backend share, and nothing outside them
// includes: the backend's two classes, whose members are defined one file
// per kind of record (pg_audit.cpp, pg_requests.cpp, pg_users.cpp,
// pg_endpoints.cpp, pg_codes.cpp, pg_policies.cpp, pg_push.cpp,
// pg_streams.cpp, pg_outbox.cpp), the schema and its migrations
// (pg_schema.cpp), and the pool and transactions (pg_store.cpp).
//
// Every write transaction takes one advisory lock first
// (kWriteLock): writers on every replica run one at a time, as SQLite's
// do, so what a transaction reads it may act on (a request still pending,
// the chain's head) and the audit trail stays one linear chain. Readers
// never wait for it.
//
// SQL as in the SQLite files, with $1, $2, ... for parameters; times are
// BIGINT Unix seconds (or milliseconds where the column says _ms), flags
// BIGINT 0/1, paths and arguments BYTEA (pg::Blob), so both backends store
// the same values.
#pragma once

#include <condition_variable>
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

#include "pg/conn.h"
#include "store/pg_replicas.h"
#include "store/pg_store.h"
#include "store/store.h"

namespace hoist::store::pg_backend {

using pg::Blob;
using pg::Conn;
using pg::Row;
using pg::Rows;

// The advisory lock every write transaction holds (pg_advisory_xact_lock),
// and the one migrations hold (pg_advisory_lock) while they run.
inline constexpr std::int64_t kWriteLock = 0x486f697374570001;    // "HoistW" 1
inline constexpr std::int64_t kMigrateLock = 0x486f69737457004d;  // "HoistW" M

// InvalidArgument unless 1 <= limit <= kMaxPage.
Status check_page_limit(std::size_t limit);

// The first row of a result mapped with `read`, or nullopt when none.
template <class T, class F>
Result<std::optional<T>> first_row(Result<Rows> rows, F&& read) {
  if (!rows.ok()) return rows.error();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(read(rows->row(0)));
}

// Every row of a result mapped with `read`.
template <class T, class F>
Result<std::vector<T>> all_rows(Result<Rows> rows, F&& read) {
  if (!rows.ok()) return rows.error();
  std::vector<T> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) out.push_back(read(rows->row(i)));
  return out;
}

// The SQL of one table of labels, written out so that no caller can put
// anything but these names into SQL text.
struct LabelTable {
  std::string_view select;  // parameter: the owner's id
  std::string_view insert;  // parameters: the owner's id, position, label
};
// The owner's labels, in order.
Result<std::vector<std::string>> read_labels(Conn& conn, const LabelTable& table, const std::string& id);
// Adds the labels at positions 0, 1, ... (the caller cleared the old ones).
Status write_labels(Conn& conn, const LabelTable& table, const std::string& id, const std::vector<std::string>& labels);

class PgStore;

// One write transaction on one connection, with kWriteLock held.
class PgTx final : public StoreTx {
 public:
  // `head`: the trail's newest event (none when it is empty), read after
  // the write lock was taken; nullopt when it was not read.
  PgTx(PgStore& store, Conn& conn, std::optional<std::optional<AuditEvent>> head)
      : store_(store), conn_(conn), head_(std::move(head)) {}

  // pg_audit.cpp
  Result<AuditEvent> append_audit(const AuditDraft& draft) override;
  // pg_requests.cpp
  Result<RequestRecord> insert_request(const RequestRecord& record) override;
  Result<std::optional<RequestRecord>> get_request(const std::string& id) override;
  Result<RequestRecord> update_request(const RequestRecord& record) override;
  Result<std::size_t> count_pending(const std::optional<std::string>& requester, const std::string& endpoint_id,
                                    TimePoint now) override;
  // pg_users.cpp
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
  // pg_endpoints.cpp
  Status insert_enrollment_token(const EnrollmentTokenRecord& token) override;
  Result<EnrollmentTokenRecord> use_enrollment_token(const std::string& id, TimePoint now) override;
  Status revoke_enrollment_token(const std::string& id, TimePoint at) override;
  Status insert_endpoint(const EndpointRecord& endpoint) override;
  Status record_heartbeat(const std::string& id, TimePoint at, const std::string& agent_version) override;
  Status retire_endpoint(const std::string& id, TimePoint at) override;
  Result<std::uint32_t> bump_codes_key_generation(const std::string& endpoint_id) override;
  // pg_codes.cpp
  Result<IssuedCode> insert_issued_code(const IssuedCode& code) override;
  Result<std::optional<std::int64_t>> mark_code_used(const CodeUse& use) override;
  // pg_policies.cpp
  Result<PolicyVersion> add_policy_version(const PolicyVersion& v, int expected_current) override;
  Status assign_policy(const std::string& name, const std::vector<std::string>& labels) override;
  Status delete_policy(const std::string& name, TimePoint at) override;
  // pg_push.cpp
  Result<std::size_t> enqueue_push_many(const std::vector<std::string>& endpoint_ids, const std::string& kind,
                                        const std::string& payload, TimePoint at) override;
  Result<PushMessage> enqueue_push(const std::string& endpoint_id, const std::string& kind, const std::string& payload,
                                   TimePoint at) override;
  Status acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) override;
  Result<bool> record_agent_event(const std::string& id, const std::string& endpoint_id, const std::string& kind,
                                  TimePoint at) override;
  // pg_streams.cpp
  Status set_stream_cursor(const std::string& name, std::uint64_t seq, TimePoint at) override;
  // pg_outbox.cpp
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

  // The last event this transaction appended (for PgStore::write).
  [[nodiscard]] const std::optional<ChainHead>& appended() const { return appended_; }

 private:
  // A channel's events, labels and rules (replacing the old ones).
  Status write_routing(const ChannelRecord& channel, bool replace);

  PgStore& store_;
  Conn& conn_;
  // The trail's newest event as this transaction knows it (read with the
  // BEGIN, then each event it appends), so that an append reads nothing:
  // under the write lock nobody else appends. nullopt: not known.
  std::optional<std::optional<AuditEvent>> head_;
  std::optional<ChainHead> appended_;
};

// Connections, opened as needed up to the pool's size; one broken on the
// way (a restarted or failed-over server) is dropped when given back, and
// the next caller opens a fresh one, which follows libpq's multi-host
// conninfo to the new primary.
class Pool {
 public:
  Pool(pg::ConnOptions options, std::size_t size) : options_(std::move(options)), size_(size == 0 ? 1 : size) {}

  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Conn> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    Conn& operator*() const { return *conn_; }
    Conn* operator->() const { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Conn> conn_;
  };

  // A connection for one caller: an idle one, a new one while fewer than
  // `size` are open, or the next one given back within the round-trip
  // timeout. Unavailable when none can be had.
  Result<Lease> take();
  [[nodiscard]] const pg::ConnOptions& options() const { return options_; }

 private:
  void give_back(std::unique_ptr<Conn> conn);

  pg::ConnOptions options_;
  std::size_t size_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Conn>> idle_;
  std::size_t open_ = 0;  // idle and lent out
};

class PgStore final : public Store {
 public:
  PgStore(const pg::ConnOptions& options, std::size_t pool_size)
      : pool_(options, pool_size), replicas_(pool_, options) {}
  ~PgStore() override = default;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // pg_store.cpp
  Status write(const std::function<Status(StoreTx&)>& fn) override;
  Status write_unsynced(const std::function<Status(StoreTx&)>& fn) override;
  // pg_push.cpp: one statement, without the write lock (see Store).
  Status acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) override;
  // pg_audit.cpp
  Result<std::vector<AuditEvent>> audit_events(const AuditFilter& filter) override;
  Result<std::vector<AuditEvent>> audit_range(std::uint64_t first, std::size_t count) override;
  Result<std::optional<ChainHead>> audit_head() override;
  // pg_requests.cpp
  Result<std::optional<RequestRecord>> request(const std::string& id) override;
  Result<std::vector<RequestRecord>> requests(const RequestFilter& filter) override;
  Result<std::vector<RequestRecord>> due_requests(TimePoint now, std::size_t limit) override;
  Result<std::vector<std::pair<RequestState, std::size_t>>> request_counts() override;
  // pg_users.cpp
  Result<std::optional<UserRecord>> user(const std::string& name) override;
  Result<std::vector<UserRecord>> users() override;
  Result<std::optional<TokenRecord>> token(const std::string& id) override;
  Result<std::vector<TokenRecord>> tokens(const std::string& user) override;
  Result<std::optional<SessionRecord>> session(const std::string& id_hash) override;
  // pg_endpoints.cpp
  Result<std::optional<EnrollmentTokenRecord>> enrollment_token(const std::string& id) override;
  Result<std::vector<EnrollmentTokenRecord>> enrollment_tokens() override;
  Result<std::optional<EndpointRecord>> endpoint(const std::string& id) override;
  Result<std::vector<EndpointRecord>> endpoints() override;
  // pg_codes.cpp
  Result<std::vector<IssuedCode>> issued_codes(const IssuedCodeFilter& filter) override;
  // pg_policies.cpp
  Result<std::optional<PolicyRecord>> policy(const std::string& name) override;
  Result<std::vector<PolicyRecord>> policies() override;
  Result<std::optional<PolicyVersion>> policy_version(const std::string& name, int version) override;
  Result<std::vector<PolicyVersion>> policy_history(const std::string& name) override;
  Result<std::vector<PolicyRecord>> policies_for_labels(const std::vector<std::string>& labels) override;
  // pg_push.cpp
  Result<std::vector<PushMessage>> push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                              std::size_t limit) override;
  Result<std::vector<std::vector<PushMessage>>> push_after_many(std::span<const PushCursor> cursors,
                                                                std::size_t limit_each) override;
  // pg_streams.cpp
  Result<std::uint64_t> stream_cursor(const std::string& name) override;
  // pg_outbox.cpp
  Result<std::optional<ChannelRecord>> channel(const std::string& id) override;
  Result<std::vector<ChannelRecord>> channels() override;
  Result<std::optional<DeliveryRecord>> delivery(std::int64_t id) override;
  Result<std::vector<DeliveryRecord>> deliveries(const DeliveryFilter& filter) override;
  Result<std::vector<DeliveryRecord>> pending_deliveries(const std::string& channel_id, std::size_t limit) override;
  Result<DueChannels> due_channels(AuditTime now) override;
  Result<std::optional<MessageRef>> message_ref(const std::string& channel_id, const std::string& subject) override;
  // pg_logins.cpp
  Result<LoginAdmission> begin_login(const std::string& user_key, const std::string& address_key,
                                     const LoginSchedule& schedule) override;
  Status login_succeeded(const std::string& user_key, const std::string& address_key) override;
  // pg_schema.cpp
  Result<int> schema_version() override;
  // Applies migrations up to `target` (-1: all) under kMigrateLock; the
  // version before, through *from.
  Status migrate(int target, int* from);
  Replicas& replicas() override { return replicas_; }

  // pg_store.cpp: runs fn on a connection of the pool, outside any
  // transaction (one statement sees one snapshot).
  template <class T>
  Result<T> read(const std::function<Result<T>(Conn&)>& fn) {
    auto conn = pool_.take();
    if (!conn.ok()) return conn.error();
    return fn(**conn);
  }

  // pg_audit.cpp, inside a write: the newest event, and whether the trail
  // may be appended to after it (as SqliteStore's).
  Result<std::optional<AuditEvent>> last_event(Conn& conn);
  // BEGIN, the write lock and the trail's newest event in one round trip.
  Result<std::optional<AuditEvent>> begin_write_reading_head(Conn& conn);
  Status check_head(Conn& conn, const std::optional<AuditEvent>& prev);
  // pg_outbox.cpp, inside a write: a delivery of `event` for every enabled
  // channel whose routing takes its action (outbox.h's MUST).
  // Inserts `event` into the trail and queues its deliveries (to every
  // enabled channel whose events, labels and rules take it) in one
  // statement: one round trip.
  Status insert_audit_routed(Conn& conn, const AuditEvent& event);

 private:
  Status write_tx(const std::function<Status(StoreTx&)>& fn, bool synced);

  Pool pool_;
  PgReplicas replicas_;  // after pool_: it uses the pool until stopped
  std::mutex head_mu_;
  // The newest event this process committed: it must still be in the
  // trail, unchanged, when the next one is appended (a truncated or
  // rewritten tail). Other replicas append after it.
  std::optional<ChainHead> committed_head_;
};

}  // namespace hoist::store::pg_backend
