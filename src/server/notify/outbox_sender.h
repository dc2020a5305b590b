// hoistd's outbox sender: delivers the store's pending deliveries
// (store/outbox.h) through each channel's Sender, at least once, in order
// per channel, and records each attempt as the outbox's rules decide
// (core/outbox.h). State lives only in the store, so a restart (or a
// kill -9) resumes where the store says; an attempt that was sent but not
// recorded is sent again (receivers drop it by its webhook-id).
//
// One dispatcher thread finds the channels whose first pending delivery is
// due (woken after each write, else every poll_interval); `workers`
// threads send, one channel each at a time, so a slow or hanging receiver
// holds only its own channel (for at most its timeout per attempt).
//
// Hanging receivers cannot take every worker: a channel whose attempt took
// slow_after or longer is slow until an attempt of its is quick again, and
// at most slow_share of the workers (at least one) run slow channels at a
// time. The others keep serving the rest. And while runs that have gone on
// for slow_after hold workers that other due channels wait for, the
// dispatcher starts extra workers (up to `workers` more), each of which
// ends after its run: receivers that begin hanging all at once, before
// any is known to be slow, hold up the others for one look of the
// dispatcher (poll_interval) past slow_after, not for their timeout.
//
// MUST: no network I/O inside a store transaction: an attempt is sent,
// then recorded in a transaction of its own.
// MUST: a channel's deliveries go out in audit order: its first pending
// delivery blocks the later ones until it is delivered or dead.
// MUST: secrets are opened only to make a channel's Sender; never logged.
// MUST: a message reference an attempt returns is stored in the same
// transaction that records the attempt as delivered, or not at all.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/outbox.h"
#include "log/logger.h"
#include "server/notify/sender.h"
#include "store/store.h"

namespace hoist::notify {

struct OutboxOptions {
  outbox::RetrySchedule schedule;
  // How often the dispatcher looks when nothing wakes it.
  std::chrono::milliseconds poll_interval{1000};
  int workers = 4;  // channels sent to at the same time
  std::size_t batch = 100;
  std::string public_url;  // for the console links in messages; "" for none
  // How long the dispatcher waits after a commit wakes it before it looks:
  // the request whose commit it was gets its answer written out first,
  // and the events of a burst go out in one run rather than one each.
  std::chrono::milliseconds settle{0};
  // Whether the request path has requests in hand. Before each attempt a
  // worker lets them go first, for up to yield_limit in all per run.
  std::function<bool()> busy = nullptr;
  std::chrono::milliseconds yield_limit{20};
  // An attempt this long makes its channel slow (see above).
  std::chrono::milliseconds slow_after{2000};
  double slow_share = 0.5;
  // Whether this process may send now: with several replicas, only the
  // one holding the outbox's lease (null: always). Asked before each look
  // at the outbox and before each attempt.
  std::function<bool()> may_send = nullptr;
};

class OutboxSender {
 public:
  using Now = std::function<AuditTime()>;
  // The channel's secrets as its kind's JSON text ("" for none), or why not.
  using OpenSecrets = std::function<Result<std::string>(const store::ChannelRecord& channel)>;

  OutboxSender(store::Store& store, log::Logger& log, SenderFactory factory, OpenSecrets open_secrets, Now now,
               OutboxOptions options);
  ~OutboxSender();  // stop()
  OutboxSender(const OutboxSender&) = delete;
  OutboxSender& operator=(const OutboxSender&) = delete;

  // Starts the dispatcher and the workers.
  void start();
  // Ends attempts in progress (they are retried after the next start) and
  // joins the threads. Idempotent.
  void stop();
  // Something was committed: look at once.
  void wake();

  // Sends one channel's due deliveries in order on the caller's thread
  // until one is not yet due or fails; returns how many attempts it made.
  // The threads call it; tests call it directly.
  std::size_t run_channel(const std::string& channel_id);

 private:
  struct CachedSender {
    std::int64_t version = 0;
    std::unique_ptr<Sender> sender;
  };
  Sender* sender_for(const store::ChannelRecord& channel, std::string& error);
  // The message for `event` on `channel_id`, with where that channel
  // posted about its request before; an error when the store cannot say.
  Result<Message> message_for(const std::string& channel_id, const AuditEvent& event);
  double draw();
  void dispatch_loop();
  // An extra worker ends when it finds nothing to take at once.
  void worker_loop(bool extra);
  // With mu_ held: the first queued channel a worker may take now (a slow
  // one only while fewer than the slow limit run), or queue_.end().
  std::deque<std::string>::iterator takeable();
  // With mu_ held: whether to start an extra worker now.
  bool needs_extra(std::chrono::steady_clock::time_point now) const;
  void note_speed(const std::string& channel_id, std::chrono::steady_clock::duration took);

  store::Store& store_;
  log::Logger& log_;
  SenderFactory factory_;
  OpenSecrets open_secrets_;
  Now now_;
  OutboxOptions options_;

  std::mutex mu_;
  std::condition_variable dispatch_cv_;
  std::condition_variable work_cv_;
  bool stop_ = false;
  bool woken_ = false;             // something was committed: look after the settle time
  bool more_due_ = false;          // a worker left its channel with more due: look at once
  std::set<std::string> busy_;     // channels a worker holds or will
  std::deque<std::string> queue_;  // channels waiting for a worker
  std::map<std::string, CachedSender> senders_;
  std::mt19937_64 random_;
  std::vector<std::thread> threads_;
  std::set<std::string> slow_;  // channels whose last timed attempt took slow_after or longer
  std::size_t running_slow_ = 0;
  std::size_t idle_ = 0;  // workers waiting for a channel
  // When each run in progress began, by channel.
  std::map<std::string, std::chrono::steady_clock::time_point> running_;
  struct Extra {
    std::thread thread;
    bool done = false;
  };
  std::list<Extra> extras_;
  std::size_t live_extras_ = 0;
};

}  // namespace hoist::notify
