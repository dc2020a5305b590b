// Storage for hoistd behind one interface. Backends (SQLite today,
// PostgreSQL for several replicas) pass the same conformance suite
// (tests/store/store_conformance.h); nothing here names a backend's types.
//
// MUST: a write() is all or nothing: when the callback or any statement
// fails, nothing of it is stored.
// MUST: audit events are appended only through StoreTx::append_audit, which
// chains each event to the one before it inside the same transaction, so
// concurrent writers cannot fork the chain.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/audit.h"
#include "core/request.h"
#include "core/result.h"

namespace hoist::store {

// An audit event before the store gives it its place in the chain.
struct AuditDraft {
  AuditTime time{};
  std::string actor;
  std::string action;
  std::string target;
  std::string host;
  std::string details;  // JSON object text
};

struct AuditFilter {
  std::optional<AuditTime> since;  // inclusive
  std::optional<AuditTime> until;  // exclusive
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::string> target;  // a request id, a policy name, ...
  std::optional<std::string> host;
  std::uint64_t after_seq = 0;  // pagination: events with seq > after_seq
  std::size_t limit = 100;      // at most kMaxPage
};

inline constexpr std::size_t kMaxPage = 1000;

// What was asked for, as the agent resolved it.
struct CommandInfo {
  std::string path;               // resolved absolute path ("" for a session)
  std::vector<std::string> argv;  // argv[0..]
  std::optional<Sha256> sha256;
  std::string package;  // owning Debian package, "" when none
};

// A request as stored: the core's state-machine record plus what it is
// about. `version` grows by one with every update (optimistic concurrency).
struct RequestRecord {
  Request request;
  CommandInfo command;
  std::vector<std::string> requester_groups;
  std::int64_t version = 0;
};

struct RequestFilter {
  std::optional<RequestState> state;  // stored state (see effective_state)
  std::optional<std::string> requester;
  std::optional<std::string> host;
  std::string after_id;  // pagination: ids after this one, in id order
  std::size_t limit = 100;
};

// Operations inside one write transaction.
class StoreTx {
 public:
  virtual ~StoreTx() = default;
  // Appends an event after the current head; returns it with seq and hashes.
  virtual Result<AuditEvent> append_audit(const AuditDraft& draft) = 0;

  // Stores a new request at version 1. Conflict when the id exists.
  virtual Result<RequestRecord> insert_request(const RequestRecord& record) = 0;
  virtual Result<std::optional<RequestRecord>> get_request(const std::string& id) = 0;
  // Replaces the request's state-machine fields when the stored version is
  // `record.version`; returns the record at version + 1. Conflict when
  // someone else updated it first, NotFound when it does not exist. The
  // command, requester and groups never change.
  virtual Result<RequestRecord> update_request(const RequestRecord& record) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Runs fn in one write transaction. Commits when fn returns ok, rolls back
  // otherwise (and on any store error); returns fn's error or the store's.
  virtual Status write(const std::function<Status(StoreTx&)>& fn) = 0;

  // Events matching the filter, in seq order, at most filter.limit.
  virtual Result<std::vector<AuditEvent>> audit_events(const AuditFilter& filter) = 0;
  // Events with seq in [first, first + count), in order: for verification.
  virtual Result<std::vector<AuditEvent>> audit_range(std::uint64_t first, std::size_t count) = 0;
  // The newest event's seq and hash; nullopt for an empty trail.
  virtual Result<std::optional<ChainHead>> audit_head() = 0;

  virtual Result<std::optional<RequestRecord>> request(const std::string& id) = 0;
  // Requests matching the filter, in id order, at most filter.limit.
  virtual Result<std::vector<RequestRecord>> requests(const RequestFilter& filter) = 0;
  // Requests whose stored state is pending, approved or active and whose
  // deadline has passed at `now` (for the expiry sweep), oldest deadline
  // first, at most `limit`.
  virtual Result<std::vector<RequestRecord>> due_requests(TimePoint now, std::size_t limit) = 0;

  // The schema version the store is at (the number of migrations applied).
  virtual Result<int> schema_version() = 0;
};

// Verifies the whole stored trail in pages; `expected_head` as in
// verify_chain. Fails only when the store cannot be read.
Result<ChainVerification> verify_stored_chain(Store& store, const std::optional<ChainHead>& expected_head,
                                              std::size_t page = kMaxPage);

}  // namespace hoist::store
