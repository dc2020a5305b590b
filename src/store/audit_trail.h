// The audit trail in the store: drafts appended inside a write
// transaction, each chained to the one before it (core/audit.h), and read
// back by filter or by range for verification.
//
// MUST: audit events are appended only through AuditTx::append_audit, which
// chains each event to the one before it inside the same transaction, so
// concurrent writers cannot fork the chain.
// MUST: append_audit refuses (Unavailable, naming the event) to append after
// an event that does not match its own hash, or when the newest event this
// store committed is gone or changed: nothing is chained to a tampered tail.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/audit.h"
#include "core/result.h"
#include "store/page.h"

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

// Inside a write transaction.
class AuditTx {
 public:
  virtual ~AuditTx() = default;
  // Appends an event after the current head; returns it with seq and hashes.
  // Queues its deliveries too: one per enabled notification channel whose
  // routing takes its action (outbox.h), in this transaction.
  // Unavailable when the head does not verify (see the MUST above): then
  // the whole write fails, so nothing changes unaudited.
  virtual Result<AuditEvent> append_audit(const AuditDraft& draft) = 0;
};

class AuditReader {
 public:
  virtual ~AuditReader() = default;
  // Events matching the filter, in seq order, at most filter.limit.
  virtual Result<std::vector<AuditEvent>> audit_events(const AuditFilter& filter) = 0;
  // Events with seq in [first, first + count), in order: for verification.
  virtual Result<std::vector<AuditEvent>> audit_range(std::uint64_t first, std::size_t count) = 0;
  // The newest event's seq and hash; nullopt for an empty trail.
  virtual Result<std::optional<ChainHead>> audit_head() = 0;
};

}  // namespace hoist::store
