#include "server/notify/outbox_sender.h"

#include <fmt/format.h>

#include <algorithm>

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
  for (int i = 0; i < std::max(1, options_.workers); ++i) threads_.emplace_back([this] { worker_loop(); });
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
  const std::lock_guard lock(mu_);
  senders_.clear();  // interrupted clients stay interrupted: make new ones after a start
  queue_.clear();
  busy_.clear();
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
    auto due = store_.due_channels(now);
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
      if (due->next_due) {
        wait = std::clamp(std::chrono::duration_cast<std::chrono::milliseconds>(*due->next_due - now),
                          std::chrono::milliseconds{1}, options_.poll_interval);
      }
    }
    dispatch_cv_.wait_for(lock, wait, [this] { return stop_ || woken_ || more_due_; });
  }
}

void OutboxSender::worker_loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const std::string id = queue_.front();
    queue_.pop_front();
    lock.unlock();
    std::size_t attempts = 0;
    try {
      attempts = run_channel(id);
    } catch (const std::exception& e) {
      log_.error("notify.exception", {{"channel", id}, {"what", e.what()}});
    }
    lock.lock();
    busy_.erase(id);
    // It may have more due. A channel that made no progress (the store
    // failed) is looked at again at the next poll, not at once.
    if (attempts > 0) {
      more_due_ = true;
      dispatch_cv_.notify_one();
    }
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
    if (d.next_attempt_at > now_()) break;  // not yet due: later ones wait behind it
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
        outcome = sender->send(*message, now_());
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
