// The store's side of each endpoint's channel with hoistd: messages queued
// for its agent's push poll, and the ids of the events its agent uploaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/result.h"
#include "store/page.h"

namespace hoist::store {

// A message for one endpoint's push channel (a request's new state, a
// policy change, a new admin-code key). seq grows across all endpoints; an
// agent resumes after the last seq it processed, so a reconnect loses
// nothing.
struct PushMessage {
  std::uint64_t seq = 0;
  std::string endpoint_id;
  std::string kind;     // "request", "policy", "codes_key"
  std::string payload;  // JSON object text
  TimePoint created_at{};
};

// Inside a write transaction.
class PushTx {
 public:
  virtual ~PushTx() = default;
  // Queues a message for an endpoint; NotFound for an unknown endpoint.
  virtual Result<PushMessage> enqueue_push(const std::string& endpoint_id, const std::string& kind,
                                           const std::string& payload, TimePoint at) = 0;
  // Queues the same message for each of `endpoint_ids` that is an endpoint
  // (in that order: their seqs grow along the list); returns how many were
  // queued. A policy change reaches thousands: one statement on
  // PostgreSQL, where this default's one round trip each would hold the
  // write lock for seconds.
  virtual Result<std::size_t> enqueue_push_many(const std::vector<std::string>& endpoint_ids, const std::string& kind,
                                                const std::string& payload, TimePoint at) {
    std::size_t queued = 0;
    for (const auto& id : endpoint_ids) {
      auto m = enqueue_push(id, kind, payload, at);
      if (m.ok()) {
        ++queued;
      } else if (m.error().code != ErrorCode::kNotFound) {
        return m.error();
      }
    }
    return queued;
  }
  // Drops the endpoint's messages up to and including `seq` (acknowledged).
  virtual Status acknowledge_push(const std::string& endpoint_id, std::uint64_t seq) = 0;

  // Records that an agent's event `id` was received from `endpoint_id`, so
  // a re-sent event is recognised: true when it is new, false when this
  // endpoint sent it before. Conflict when another endpoint used the id;
  // NotFound for an unknown endpoint; InvalidArgument for an empty id or kind.
  virtual Result<bool> record_agent_event(const std::string& id, const std::string& endpoint_id,
                                          const std::string& kind, TimePoint at) = 0;
};

// Where one agent's push poll resumes: its endpoint's messages after
// after_seq.
struct PushCursor {
  std::string endpoint_id;
  std::uint64_t after_seq = 0;
};

// The most cursors one push_after_many reads (hoistd's batches are smaller).
inline constexpr std::size_t kMaxPushCursors = 1000;

class PushReader {
 public:
  virtual ~PushReader() = default;
  // The endpoint's messages with seq > after_seq, in order, at most limit.
  virtual Result<std::vector<PushMessage>> push_after(const std::string& endpoint_id, std::uint64_t after_seq,
                                                      std::size_t limit) = 0;
  // push_after for every cursor in one read (one statement where the
  // backend can): out[i] is cursors[i]'s messages, in order, at most
  // limit_each; an unknown endpoint's is empty. Many woken long polls
  // cost one round trip instead of one each. InvalidArgument for a
  // limit_each as push_after refuses, or more than kMaxPushCursors cursors.
  virtual Result<std::vector<std::vector<PushMessage>>> push_after_many(std::span<const PushCursor> cursors,
                                                                        std::size_t limit_each) = 0;
};

}  // namespace hoist::store
