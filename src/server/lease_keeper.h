// The leases one hoistd replica wants (store/replicas.h), kept on a thread
// of its own: background work that must run on one replica at a time
// (expiry, the outbox, retention, each SIEM stream) asks held(name) before
// each step. A lease is renewed every `renew_every`; it counts as held
// only until two thirds of its ttl after the renewal was sent, so this
// replica stops before the database could give it to another. A stopped
// keeper gives its leases back, so another replica takes over at once;
// a killed one's leases expire after ttl.
//
// Where the store is not shared (SQLite) every lease is held, always, and
// no thread runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "log/logger.h"
#include "store/replicas.h"

namespace hoist::server {

class LeaseKeeper {
 public:
  struct Options {
    std::chrono::seconds ttl{15};
    std::chrono::milliseconds renew_every{5000};
  };

  // Takes what it can at once (before returning), then keeps renewing.
  LeaseKeeper(store::Replicas& replicas, std::string holder, std::vector<std::string> names, log::Logger& log,
              Options options);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Whether this replica may do `name`'s work now. Never blocks on I/O.
  [[nodiscard]] bool held(std::string_view name) const;
  [[nodiscard]] const std::string& holder() const { return holder_; }

  // A holder id for this process: host name, pid and a random part.
  static std::string make_holder();

 private:
  void renew();
  void run();

  store::Replicas& replicas_;
  std::string holder_;
  std::vector<std::string> names_;
  log::Logger& log_;
  Options options_;
  bool shared_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, std::chrono::steady_clock::time_point, std::less<>> until_;
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace hoist::server
