// A stream of hoistd's audit trail to one receiver (siem_sinks.h): every
// event, in audit order, at least once. The position is a cursor in the
// store (store/streams.h) moved only after the receiver has a batch, so a
// restart or a kill -9 resends at most the batch in flight, and receivers
// drop duplicates by event id. A receiver that is down is retried with
// growing, jittered waits (1 s doubling to 60 s); nothing is lost meanwhile:
// the events are in the audit trail.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "log/logger.h"
#include "server/siem/siem_sinks.h"
#include "store/store.h"

namespace hoist::siem {

struct StreamOptions {
  std::string name;                             // the stream's cursor is "siem:<name>"
  std::size_t batch = 500;                      // events per send, at most store::kMaxPage
  std::chrono::milliseconds idle{500};          // between looks at a trail with nothing new
  std::chrono::milliseconds first_retry{1000};  // after a failed send; doubles
  std::chrono::milliseconds max_retry{60'000};
  // Whether this process may send now: with several replicas, only the
  // one holding the stream's lease (null: always). Asked before each batch.
  std::function<bool()> may_send = nullptr;
};

class AuditStream {
 public:
  AuditStream(store::Store& store, std::unique_ptr<Sink> sink, StreamOptions options, std::function<TimePoint()> clock);
  // One batch: the events after the cursor, sent, then the cursor moved.
  // How many were delivered (0: nothing new); the sink's or the store's
  // error otherwise (the cursor has not moved).
  Result<std::size_t> pump();
  [[nodiscard]] const StreamOptions& options() const { return o_; }

 private:
  store::Store& store_;
  std::unique_ptr<Sink> sink_;
  StreamOptions o_;
  std::function<TimePoint()> clock_;
};

// Runs an AuditStream on its own thread until destroyed.
class StreamRunner {
 public:
  StreamRunner(std::unique_ptr<AuditStream> stream, log::Logger& log);
  ~StreamRunner();
  StreamRunner(const StreamRunner&) = delete;
  StreamRunner& operator=(const StreamRunner&) = delete;

 private:
  void run();
  std::unique_ptr<AuditStream> stream_;
  log::Logger& log_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hoist::siem
