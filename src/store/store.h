// Storage for hoistd behind one interface. Backends (SQLite today,
// PostgreSQL for several replicas) pass the same conformance suite
// (tests/store/store_conformance.h); nothing here names a backend's types.
//
// The interface is composed of one small pair per kind of record, each in
// its own header: what a write transaction may do (`RequestsTx`, ...) and
// what may be read outside one (`RequestsReader`, ...). A caller that needs
// one kind can take just that piece; a backend implements each piece.
//
// MUST: a write() is all or nothing: when the callback or any statement
// fails, nothing of it is stored.
// MUST: the audit trail's rules (audit_trail.h): appended only through
// append_audit, chained inside the transaction, never after a tampered tail.
// MUST: the outbox's rules (outbox.h): append_audit queues the deliveries
// of the event's channels in the event's own transaction.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>

#include "core/audit.h"
#include "core/result.h"
#include "store/audit_trail.h"
#include "store/codes.h"
#include "store/endpoints.h"
#include "store/logins.h"
#include "store/outbox.h"
#include "store/page.h"
#include "store/policies.h"
#include "store/push.h"
#include "store/replicas.h"
#include "store/requests.h"
#include "store/streams.h"
#include "store/users.h"

namespace hoist::store {

// Operations inside one write transaction.
class StoreTx : public AuditTx,
                public RequestsTx,
                public UsersTx,
                public EndpointsTx,
                public CodesTx,
                public PoliciesTx,
                public PushTx,
                public StreamsTx,
                public OutboxTx {
 public:
  ~StoreTx() override = default;
};

class Store : public AuditReader,
              public RequestsReader,
              public UsersReader,
              public EndpointsReader,
              public CodesReader,
              public PoliciesReader,
              public PushReader,
              public StreamsReader,
              public OutboxReader,
              public LoginCounts {
 public:
  ~Store() override = default;

  // Runs fn in one write transaction. Commits when fn returns ok, rolls back
  // otherwise (and on any store error); returns fn's error or the store's.
  virtual Status write(const std::function<Status(StoreTx&)>& fn) = 0;
  // The same, for a write that is harmless to lose in a power cut because
  // it is redone when missing (the outbox's attempt records: one lost only
  // sends its message again). Its commit need not wait for the disk
  // (SQLite: synchronous=NORMAL for that transaction; PostgreSQL would use
  // synchronous_commit=off), so the request path's durable commits do not
  // queue behind its syncs. It survives a crash of hoistd either way.
  // MUST: it appends nothing to the audit trail (refused: rolled back).
  virtual Status write_unsynced(const std::function<Status(StoreTx&)>& fn) = 0;

  // An agent's acknowledgement of its push messages up to `seq`
  // (PushTx::acknowledge_push) on its own: every agent's next poll sends
  // one, thousands after a policy change. This default is an unsynced
  // write; PostgreSQL runs it as one statement without the write lock,
  // which it needs not take: it only deletes, and every message up to a
  // seq an agent received was committed before (seqs are given out under
  // the lock, in commit order), so it cannot touch a message on its way.
  virtual Status acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) {
    return write_unsynced([&](StoreTx& tx) { return tx.acknowledge_push(endpoint_id, seq); });
  }

  // The schema version the store is at (the number of migrations applied).
  virtual Result<int> schema_version() = 0;

  // What replicas sharing this database tell each other (replicas.h).
  virtual Replicas& replicas() = 0;
};

// Verifies the whole stored trail in pages; `expected_head` as in
// verify_chain. Fails only when the store cannot be read.
Result<ChainVerification> verify_stored_chain(Store& store, const std::optional<ChainHead>& expected_head,
                                              std::size_t page = kMaxPage);

}  // namespace hoist::store
