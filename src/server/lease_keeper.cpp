#include "server/lease_keeper.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <utility>

namespace hoist::server {

LeaseKeeper::LeaseKeeper(store::Replicas& replicas, std::string holder, std::vector<std::string> names,
                         log::Logger& log, Options options)
    : replicas_(replicas),
      holder_(std::move(holder)),
      names_(std::move(names)),
      log_(log),
      options_(options),
      shared_(replicas.shared()) {
  if (!shared_) return;
  renew();
  thread_ = std::thread([this] { run(); });
}

LeaseKeeper::~LeaseKeeper() {
  if (!shared_) return;
  {
    const std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  for (const auto& name : names_) {
    bool had = false;
    {
      const std::lock_guard lock(mu_);
      auto it = until_.find(name);
      had = it != until_.end() && it->second > std::chrono::steady_clock::now();
      until_.erase(name);
    }
    if (had) {
      if (auto st = replicas_.release_lease(name, holder_); !st) {
        log_.warn("replica.lease_not_released", {{"lease", name}, {"error", st.error().message}});
      }
    }
  }
}

bool LeaseKeeper::held(std::string_view name) const {
  if (!shared_) return true;
  const std::lock_guard lock(mu_);
  auto it = until_.find(name);
  return it != until_.end() && std::chrono::steady_clock::now() < it->second;
}

void LeaseKeeper::renew() {
  for (const auto& name : names_) {
    const auto sent = std::chrono::steady_clock::now();
    auto got = replicas_.hold_lease(name, holder_, options_.ttl);
    const bool before = held(name);
    const bool now_held = got.ok() && *got;
    {
      const std::lock_guard lock(mu_);
      if (now_held) {
        until_[name] = sent + std::chrono::milliseconds(options_.ttl) * 2 / 3;
      } else {
        until_.erase(name);
      }
    }
    if (now_held && !before) {
      log_.info("replica.lease_taken", {{"lease", name}, {"holder", holder_}});
    } else if (!now_held && before) {
      log_.warn("replica.lease_lost",
                {{"lease", name}, {"error", got.ok() ? std::string("another replica holds it") : got.error().message}});
    }
  }
}

void LeaseKeeper::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, options_.renew_every, [this] { return stop_; })) {
    lock.unlock();
    renew();
    lock.lock();
  }
}

std::string LeaseKeeper::make_holder() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0) host[0] = '\0';
  std::array<unsigned char, 4> bytes{};
  std::uint32_t random = 0;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) == 1) {
    random = (std::uint32_t{bytes[0]} << 24U) | (std::uint32_t{bytes[1]} << 16U) | (std::uint32_t{bytes[2]} << 8U) |
             std::uint32_t{bytes[3]};
  }
  return fmt::format("{}:{}:{:08x}", host.data(), ::getpid(), random);
}

}  // namespace hoist::server
