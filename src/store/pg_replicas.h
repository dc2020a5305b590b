// Replicas (replicas.h) on PostgreSQL: changes as NOTIFY on the channels
// hoist_push, hoist_console, hoist_policy and hoist_endpoint, heard by one
// LISTEN connection of each replica's own; leases and key fingerprints in
// the tables `leases` and `shared_keys` (pg_schema.cpp, migration 2),
// timed by the database's clock.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "pg/conn.h"
#include "store/replicas.h"

namespace hoist::store::pg_backend {

class Pool;

class PgReplicas final : public Replicas {
 public:
  // `listen_options`: how the listener connects (the pool's options).
  PgReplicas(Pool& pool, pg::ConnOptions listen_options);
  ~PgReplicas() override;
  PgReplicas(const PgReplicas&) = delete;
  PgReplicas& operator=(const PgReplicas&) = delete;

  [[nodiscard]] bool shared() const override { return true; }
  void publish(std::string_view channel, std::string_view payload) override;
  void listen(OnChange on_change, std::function<void()> on_resync) override;
  void stop() override;
  [[nodiscard]] bool listening() const override { return listening_.load(); }
  Result<bool> hold_lease(const std::string& name, const std::string& holder, std::chrono::seconds ttl) override;
  Status release_lease(const std::string& name, const std::string& holder) override;
  Result<std::string> claim_key_fingerprint(const std::string& name, const std::string& fingerprint) override;

 private:
  void run();
  // Waits up to `d`, or until stop(); false when stopping.
  bool sleep(std::chrono::milliseconds d);
  // The changes published since the last call (the listener sends them).
  std::set<std::pair<std::string, std::string>> take_published();

  Pool& pool_;
  pg::ConnOptions options_;
  std::string origin_;  // this process, so that it skips its own changes
  OnChange on_change_;
  std::function<void()> on_resync_;
  std::atomic<bool> listening_{false};
  std::atomic<bool> stopping_{false};
  // An eventfd publish() and stop() write to, to wake the listener's poll.
  int wake_fd_ = -1;
  std::mutex published_mu_;
  // Changes to send, coalesced; past kMaxPublished, one "everything
  // changed" is sent instead.
  std::set<std::pair<std::string, std::string>> published_;
  bool overflowed_ = false;
  std::thread thread_;
};

}  // namespace hoist::store::pg_backend
