#include "server/notify/outbox_sender.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

namespace hoist::notify {

OutboxSender::OutboxSender(store::Store& store, log::Logger& log, SenderFactory factory, OpenSecrets open_secrets,
                           Now now, OutboxOptions options)
    : store_(store),
      log_(log),
      factory_(std::move(factory)),
      open_secrets_(std::move(open_secrets)),
      now_(std::move(now)),
      options_(std::move(options)),
      random_(std::random_device{}()) {}

OutboxSender::~OutboxSender() {
  stop();
}

void OutboxSender::start() {
  const std::lock_guard lock(mu_);
  if (!threads_.empty()) return;
  stop_ = false;
  threads_.emplace_back([this] { dispatch_loop(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i) threads_.emplace_back([this] { worker_loop(false); });
}

void OutboxSender::stop() {
  std::vector<std::thread> threads;
  {
    const std::lock_guard lock(mu_);
    stop_ = true;
    for (auto& [id, cached] : senders_) {
      if (cached.sender) cached.sender->interrupt();
    }
    threads.swap(threads_);
  }
  dispatch_cv_.notify_all();
  work_cv_.notify_all();
  for (auto& t : threads) t.join();
  // Extras are started only by the dispatcher, which has ended.
  std::list<Extra> extras;
  {
    const std::lock_guard lock(mu_);
    extras.swap(extras_);
  }
  for (auto& e : extras) e.thread.join();
  const std::lock_guard lock(mu_);
  senders_.clear();  // interrupted clients stay interrupted: make new ones after a start
  queue_.clear();
  busy_.clear();
  running_.clear();
  running_slow_ = 0;
  idle_ = 0;
  live_extras_ = 0;
}

std::deque<std::string>::iterator OutboxSender::takeable() {
  const auto workers = static_cast<std::size_t>(std::max(1, options_.workers));
  const auto slow_limit =
      std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(workers) * options_.slow_share));
  return std::find_if(queue_.begin(), queue_.end(),
                      [&](const std::string& id) { return !slow_.contains(id) || running_slow_ < slow_limit; });
}

bool OutboxSender::needs_extra(std::chrono::steady_clock::time_point now) const {
  if (stop_ || idle_ > 0 || live_extras_ >= static_cast<std::size_t>(std::max(1, options_.workers))) return false;
  // Only for a channel that is not itself slow: slow ones keep their limit.
  const bool waiting =
      std::any_of(queue_.begin(), queue_.end(), [&](const std::string& id) { return !slow_.contains(id); });
  if (!waiting) return false;
  return std::any_of(running_.begin(), running_.end(),
                     [&](const auto& r) { return now - r.second >= options_.slow_after; });
}

void OutboxSender::note_speed(const std::string& channel_id, std::chrono::steady_clock::duration took) {
  const std::lock_guard lock(mu_);
  if (took >= options_.slow_after) {
    if (slow_.insert(channel_id).second) {
      log_.warn("notify.channel_slow",
                {{"channel", channel_id},
                 {"attempt_ms",
                  static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count())}});
    }
  } else {
    slow_.erase(channel_id);
  }
}

void OutboxSender::wake() {
  {
    const std::lock_guard lock(mu_);
    woken_ = true;
  }
  dispatch_cv_.notify_one();
}

double OutboxSender::draw() {
  const std::lock_guard lock(mu_);
  return std::uniform_real_distribution<double>(0.0, 1.0)(random_);
}

void OutboxSender::dispatch_loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (woken_ && !more_due_ && options_.settle.count() > 0) {
      dispatch_cv_.wait_for(lock, options_.settle, [this] { return stop_ || more_due_; });
      if (stop_) break;
    }
    woken_ = false;
    more_due_ = false;
    lock.unlock();
    const auto now = now_();
    const bool ours = !options_.may_send || options_.may_send();
    auto due =
        ours ? store_.due_channels(now) : Result<store::OutboxReader::DueChannels>(store::OutboxReader::DueChannels{});
    std::chrono::milliseconds wait = options_.poll_interval;
    lock.lock();
    if (!due) {
      lock.unlock();
      log_.error("notify.outbox_read_failed", {{"error", due.error().message}});
      lock.lock();
    } else {
      for (const auto& id : due->due) {
        if (busy_.insert(id).second) {
          queue_.push_back(id);
          work_cv_.notify_one();
        }
      }
      std::vector<std::thread> finished;
      for (auto it = extras_.begin(); it != extras_.end();) {
        if (it->done) {
          finished.push_back(std::move(it->thread));
          it = extras_.erase(it);
        } else {
          ++it;
        }
      }
      if (needs_extra(std::chrono::steady_clock::now())) {
        ++live_extras_;
        auto& extra = extras_.emplace_back();
        extra.thread = std::thread([this] { worker_loop(true); });
        log_.warn("notify.extra_worker", {{"reason", "runs have gone on for slow_after while channels wait"},
                                          {"extra_workers", static_cast<std::uint64_t>(live_extras_)}});
      }
      if (!finished.empty()) {
        lock.unlock();
        for (auto& t : finished) t.join();  // they have ended, or are about to
        lock.lock();
      }
      if (due->next_due) {
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*due->next_due - now),
                          std::chrono::milliseconds{1}, options_.poll_interval);
      }
    }
    dispatch_cv_.wait_for(lock, wait, [this] { return stop_ || woken_ || more_due_; });
  }
}

void OutboxSender::worker_loop(bool extra) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (extra) {
      if (stop_ || takeable() == queue_.end()) break;
    } else {
      ++idle_;
      work_cv_.wait(lock, [this] { return stop_ || takeable() != queue_.end(); });
      --idle_;
      if (stop_) return;
    }
    const auto it = takeable();
    const std::string id = *it;
    queue_.erase(it);
    const bool slow = slow_.contains(id);
    if (slow) ++running_slow_;
    running_[id] = std::chrono::steady_clock::now();
    lock.unlock();
    std::size_t attempts = 0;
    try {
      attempts = run_channel(id);
    } catch (const std::exception& e) {
      log_.error("notify.exception", {{"channel", id}, {"what", e.what()}});
    }
    lock.lock();
    running_.erase(id);
    if (slow) --running_slow_;
    busy_.erase(id);
    // A slow run's end may let a waiting slow channel go.
    if (slow) work_cv_.notify_all();
    // It may have more due. A channel that made no progress (the store
    // failed) is looked at again at the next poll, not at once.
    if (attempts > 0) {
      more_due_ = true;
      dispatch_cv_.notify_one();
    }
  }
  // An extra ends.
  --live_extras_;
  for (auto& e : extras_) {
    if (e.thread.get_id() == std::this_thread::get_id()) e.done = true;
  }
}

Sender* OutboxSender::sender_for(const store::ChannelRecord& channel, std::string& error) {
  {
    const std::lock_guard lock(mu_);
    if (stop_) {
      error = "hoistd is stopping";
      return nullptr;
    }
    auto it = senders_.find(channel.id);
    if (it != senders_.end() && it->second.version == channel.version) return it->second.sender.get();
  }
  auto secrets = open_secrets_(channel);
  if (!secrets) {
    error = fmt::format("the channel's secrets cannot be opened: {}", secrets.error().message);
    return nullptr;
  }
  auto made = factory_(channel, *secrets);
  if (!made) {
    error = fmt::format("the channel's settings are not usable: {}", made.error().message);
    return nullptr;
  }
  const std::lock_guard lock(mu_);
  auto& slot = senders_[channel.id];
  slot.version = channel.version;
  slot.sender = std::move(*made);  // only this channel's worker used the old one
  return slot.sender.get();
}

Result<Message> OutboxSender::message_for(const std::string& channel_id, const AuditEvent& event) {
  Message m;
  m.id = event_id(event);
  m.event = event;
  if (concerns_request(event) && !event.target.empty()) {
    if (auto r = store_.request(event.target); r && *r) {
      m.request = std::move(**r);
      m.link = request_link(options_.public_url, event.target);
    }
    m.subject = event.target;
    auto ref = store_.message_ref(channel_id, m.subject);
    if (!ref) return ref.error();
    if (*ref) m.thread_ref = std::move((*ref)->ref);
  }
  return m;
}

std::size_t OutboxSender::run_channel(const std::string& channel_id) {
  auto channel = store_.channel(channel_id);
  if (!channel) {
    log_.error("notify.outbox_read_failed", {{"channel", channel_id}, {"error", channel.error().message}});
    return 0;
  }
  if (!*channel || !(*channel)->enabled) return 0;
  auto pending = store_.pending_deliveries(channel_id, options_.batch);
  if (!pending) {
    log_.error("notify.outbox_read_failed", {{"channel", channel_id}, {"error", pending.error().message}});
    return 0;
  }
  std::size_t attempts = 0;
  std::chrono::microseconds yielded{0};
  // Attempts are recorded in batches: one write transaction (one sync of
  // the log) for a run of deliveries, not one each, so the outbox drains
  // fast and the request path's own writes seldom wait behind it. A crash
  // before the batch is written sends its messages again: still at least
  // once. A retry ends the run and is written with it.
  // A message reference goes in the transaction of its attempt, and is
  // written before the next delivery is read: the request's next event,
  // maybe the very next delivery, edits that message.
  struct Unrecorded {
    store::AttemptRecord attempt;
    std::optional<store::MessageRef> ref;
  };
  std::vector<Unrecorded> unrecorded;
  // Re-driven or deleted meanwhile: that one's outcome no longer applies;
  // the others' still do.
  const auto gone = [](const Error& e) { return e.code == ErrorCode::kConflict || e.code == ErrorCode::kNotFound; };
  const auto record = [&]() -> bool {
    if (unrecorded.empty()) return true;
    auto recorded = store_.write_unsynced([&](store::StoreTx& tx) -> Status {
      for (const auto& r : unrecorded) {
        auto done = tx.record_attempt(r.attempt);
        if (!done) {
          if (!gone(done.error())) return done.error();
          continue;
        }
        if (r.ref) {
          if (auto put = tx.put_message_ref(*r.ref); !put && !gone(put.error())) return put.error();
        }
      }
      return {};
    });
    if (!recorded) {
      log_.warn("notify.attempt_not_recorded", {{"channel", channel_id},
                                                {"attempts", static_cast<std::uint64_t>(unrecorded.size())},
                                                {"error", recorded.error().message}});
    }
    unrecorded.clear();
    return recorded.ok();
  };
  for (const auto& d : *pending) {
    {
      const std::lock_guard lock(mu_);
      if (stop_) break;
    }
    if (d.next_attempt_at > now_()) break;                 // not yet due: later ones wait behind it
    if (options_.may_send && !options_.may_send()) break;  // another replica's now
    if (options_.busy) {
      while (yielded < options_.yield_limit && options_.busy()) {
        constexpr std::chrono::microseconds kStep{250};
        std::this_thread::sleep_for(kStep);
        yielded += kStep;
      }
    }
    auto events = store_.audit_range(d.audit_seq, 1);
    if (!events) {
      log_.error("notify.outbox_read_failed", {{"channel", channel_id}, {"error", events.error().message}});
      break;
    }
    outbox::AttemptOutcome outcome;
    std::string event_id_text;
    std::string subject;
    if (events->empty() || events->front().seq != d.audit_seq) {
      outcome = {404, std::nullopt, fmt::format("audit event #{} is not in the store", d.audit_seq)};
    } else {
      auto message = message_for(channel_id, events->front());
      if (!message) {
        log_.error("notify.outbox_read_failed", {{"channel", channel_id}, {"error", message.error().message}});
        break;
      }
      event_id_text = message->id;
      subject = message->subject;
      std::string error;
      if (Sender* sender = sender_for(**channel, error)) {
        const auto began = std::chrono::steady_clock::now();
        outcome = sender->send(*message, now_());
        note_speed(channel_id, std::chrono::steady_clock::now() - began);
      } else {
        outcome = {std::nullopt, std::nullopt, error};
      }
    }
    {
      const std::lock_guard lock(mu_);
      if (stop_ && !outcome.status) break;  // interrupted by stop(): not the receiver's doing
    }
    ++attempts;
    const auto at = now_();
    const auto decision = outbox::decide(outcome, d.attempts + 1, d.since, at, options_.schedule, draw());
    std::optional<store::MessageRef> ref;
    if (decision.verdict == outbox::Verdict::kDelivered && outcome.message_ref && !subject.empty()) {
      if (outcome.message_ref->empty() || outcome.message_ref->size() > store::kMaxMessageRefBytes) {
        // Not worth losing the record of a delivery for: the next event posts anew.
        log_.error("notify.message_ref_unusable", {{"channel", channel_id}, {"delivery", d.id}});
      } else {
        ref = store::MessageRef{channel_id, subject, *outcome.message_ref, at};
      }
    }
    unrecorded.push_back(
        {store::AttemptRecord{d.id, decision.verdict, at, decision.next_attempt_at, decision.reason, outcome.status},
         ref});
    if (ref && !record()) return 0;  // the store failed: look again at the next poll
    switch (decision.verdict) {
      case outbox::Verdict::kDelivered:
        log_.debug("notify.delivered", {{"channel", channel_id}, {"delivery", d.id}, {"event", event_id_text}});
        continue;
      case outbox::Verdict::kDead:
        log_.error("notify.dead_letter", {{"channel", channel_id},
                                          {"delivery", d.id},
                                          {"event", event_id_text},
                                          {"attempts", d.attempts + 1},
                                          {"error", decision.reason}});
        continue;  // a dead letter no longer holds the channel
      case outbox::Verdict::kRetry:
        log_.warn("notify.retry", {{"channel", channel_id},
                                   {"delivery", d.id},
                                   {"event", event_id_text},
                                   {"attempts", d.attempts + 1},
                                   {"next_attempt", format_event_time(decision.next_attempt_at)},
                                   {"error", decision.reason}});
        break;
    }
    break;  // a retry holds the channel's later deliveries behind it
  }
  if (!record()) return 0;  // the store failed: look again at the next poll
  return attempts;
}

}  // namespace hoist::notify
