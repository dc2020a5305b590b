// What several hoistd replicas sharing one database need from it, beyond
// records (docs/high-availability.md):
// - changes: a replica tells the others that something they keep in
//   memory or wait on changed (an endpoint's push queue, the console feed,
//   the policies, an endpoint's credential), after its commit;
// - leases: background work (expiry, the outbox, retention, a SIEM stream)
//   runs on one replica at a time, on a lease timed by the database's
//   clock, and moves to another when its holder stops renewing it;
// - shared keys: every replica must hold the same secrets (the CA, the
//   admin-code master key, the channel secrets' key); the database keeps a
//   fingerprint of each, so a replica with another key refuses to start.
//
// SQLite serves one hoistd: it has no other replica to tell, every lease is
// this process's, and the keys are the data directory's own.
//
// MUST: a change is a wake-up, never the data: the receiver reads the
// database. A change can be lost (a listener reconnecting, a publisher
// dying after its commit), so every waiter also polls; on_resync says when
// changes may have been lost.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace hoist::store {

class Replicas {
 public:
  virtual ~Replicas() = default;

  // Whether other processes may share this database (PostgreSQL).
  [[nodiscard]] virtual bool shared() const = 0;

  // Tells the other replicas that `channel` changed; `payload` says what
  // (an endpoint id, or "" for all). Best effort, after the commit; never
  // throws, fails quietly (the pollers catch up).
  virtual void publish(std::string_view channel, std::string_view payload) = 0;
  // Starts delivering the other replicas' changes, on a thread of its own:
  // on_change for each, and on_resync whenever changes may have been lost
  // (at the start, and after the listener reconnected). Call once.
  using OnChange = std::function<void(std::string_view channel, std::string_view payload)>;
  virtual void listen(OnChange on_change, std::function<void()> on_resync) = 0;
  // Stops the listener (joins its thread).
  virtual void stop() = 0;
  // Whether changes are arriving now: false while the listener is
  // disconnected, so that memos another replica could have made stale are
  // not trusted. Always true where nothing is shared.
  [[nodiscard]] virtual bool listening() const = 0;

  // Takes or renews the lease `name` for `holder` until the database's
  // clock passes now + ttl. True when `holder` holds it after the call;
  // false when another holder's lease has not expired. Unavailable when
  // the database cannot say.
  virtual Result<bool> hold_lease(const std::string& name, const std::string& holder, std::chrono::seconds ttl) = 0;
  // Gives it up (a clean stop), so another replica takes it at once.
  virtual Status release_lease(const std::string& name, const std::string& holder) = 0;

  // Records `fingerprint` for the shared key `name` when the database has
  // none yet, and returns the one it holds (the recorded one, or this one).
  virtual Result<std::string> claim_key_fingerprint(const std::string& name, const std::string& fingerprint) = 0;
};

// The Replicas of a store no other process shares (SQLite).
class LocalReplicas final : public Replicas {
 public:
  [[nodiscard]] bool shared() const override { return false; }
  void publish(std::string_view /*channel*/, std::string_view /*payload*/) override {}
  void listen(OnChange /*on_change*/, std::function<void()> /*on_resync*/) override {}
  void stop() override {}
  [[nodiscard]] bool listening() const override { return true; }
  Result<bool> hold_lease(const std::string& /*name*/, const std::string& /*holder*/,
                          std::chrono::seconds /*ttl*/) override {
    return true;
  }
  Status release_lease(const std::string& /*name*/, const std::string& /*holder*/) override { return {}; }
  Result<std::string> claim_key_fingerprint(const std::string& /*name*/, const std::string& fingerprint) override {
    return fingerprint;
  }
};

}  // namespace hoist::store
