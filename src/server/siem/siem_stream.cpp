#include "server/siem/siem_stream.h"

#include <algorithm>
#include <random>

namespace hoist::siem {

AuditStream::AuditStream(store::Store& store, std::unique_ptr<Sink> sink, StreamOptions options,
                         std::function<TimePoint()> clock)
    : store_(store), sink_(std::move(sink)), o_(std::move(options)), clock_(std::move(clock)) {
  o_.batch = std::clamp<std::size_t>(o_.batch, 1, store::kMaxPage);
}

Result<std::size_t> AuditStream::pump() {
  const std::string cursor_name = "siem:" + o_.name;
  auto cursor = store_.stream_cursor(cursor_name);
  if (!cursor) return cursor.error();
  store::AuditFilter filter;
  filter.after_seq = *cursor;
  filter.limit = o_.batch;
  auto events = store_.audit_events(filter);
  if (!events) return events.error();
  if (events->empty()) return std::size_t{0};
  if (auto st = sink_->send(*events); !st) return st.error();
  const std::uint64_t last = events->back().seq;
  if (auto st = store_.write([&](store::StoreTx& tx) { return tx.set_stream_cursor(cursor_name, last, clock_()); });
      !st) {
    return st.error();  // sent again next time; receivers drop duplicates
  }
  return events->size();
}

StreamRunner::StreamRunner(std::unique_ptr<AuditStream> stream, log::Logger& log)
    : stream_(std::move(stream)), log_(log), thread_([this] { run(); }) {}

StreamRunner::~StreamRunner() {
  {
    const std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StreamRunner::run() {
  const auto& o = stream_->options();
  std::mt19937_64 rng{std::random_device{}()};
  std::chrono::milliseconds retry = o.first_retry;
  bool failing = false;
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (o.may_send && !o.may_send()) {
      cv_.wait_for(lock, o.idle, [this] { return stop_; });
      continue;
    }
    lock.unlock();
    auto moved = stream_->pump();
    lock.lock();
    std::chrono::milliseconds wait = o.idle;
    if (!moved) {
      if (!failing) log_.warn("siem.failed", {{"stream", o.name}, {"error", moved.error().message}});
      failing = true;
      // Full jitter: anywhere up to the current step, at least a tenth of it.
      std::uniform_int_distribution<long> pick(retry.count() / 10, retry.count());
      wait = std::chrono::milliseconds(pick(rng));
      retry = std::min(retry * 2, o.max_retry);
    } else {
      if (failing) log_.info("siem.resumed", {{"stream", o.name}});
      failing = false;
      retry = o.first_retry;
      if (*moved > 0) continue;  // more may be waiting
    }
    cv_.wait_for(lock, wait, [this] { return stop_; });
  }
}

}  // namespace hoist::siem
