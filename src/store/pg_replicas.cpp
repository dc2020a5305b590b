#include "store/pg_replicas.h"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

namespace {

// The channels a replica may publish on; anything else is dropped.
constexpr std::array<std::string_view, 4> kChannels = {"push", "console", "policy", "endpoint"};
// How often an idle listener checks that its server still answers (a
// half-open connection to a vanished server stays silent otherwise).
constexpr std::chrono::seconds kListenerCheck{10};
constexpr std::size_t kMaxPublished = 1024;

bool known_channel(std::string_view channel) {
  for (auto c : kChannels) {
    if (c == channel) return true;
  }
  return false;
}

std::string random_origin() {
  std::array<unsigned char, 8> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return fmt::format("{:x}", static_cast<std::uint64_t>(::getpid()));
  }
  std::string out;
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

}  // namespace

PgReplicas::PgReplicas(Pool& pool, pg::ConnOptions listen_options)
    : pool_(pool), options_(std::move(listen_options)), origin_(random_origin()) {
  options_.application_name += " (listener)";
}

PgReplicas::~PgReplicas() {
  stop();
}

// Sent by the listener's thread on its own connection, so that the caller
// (a request's handler) does not wait for a round trip; dropped while the
// listener is disconnected (the other replicas' pollers catch up).
void PgReplicas::publish(std::string_view channel, std::string_view payload) {
  if (!known_channel(channel) || payload.size() > 1000 || wake_fd_ < 0) return;
  {
    const std::lock_guard lock(published_mu_);
    if (published_.size() >= kMaxPublished) {
      overflowed_ = true;
    } else {
      published_.emplace(channel, payload);
    }
  }
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

std::set<std::pair<std::string, std::string>> PgReplicas::take_published() {
  const std::lock_guard lock(published_mu_);
  auto out = std::move(published_);
  published_.clear();
  if (std::exchange(overflowed_, false)) {
    // Too many to name: every memo and every waiter, everywhere.
    out.clear();
    for (auto c : kChannels) out.emplace(c, "");
  }
  return out;
}

void PgReplicas::listen(OnChange on_change, std::function<void()> on_resync) {
  if (thread_.joinable()) return;
  on_change_ = std::move(on_change);
  on_resync_ = std::move(on_resync);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  thread_ = std::thread([this] { run(); });
}

void PgReplicas::stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
    wake_fd_ = -1;
  }
  listening_ = false;
}

bool PgReplicas::sleep(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    pollfd pfd{wake_fd_, POLLIN, 0};
    (void)::poll(&pfd, 1, static_cast<int>(left));
    std::uint64_t n = 0;
    (void)!::read(wake_fd_, &n, sizeof n);
    (void)take_published();  // nobody to send them to
  }
  return !stopping_;
}

void PgReplicas::run() {
  std::chrono::milliseconds backoff{100};
  while (!stopping_) {
    auto opened = pg::Conn::open(options_);
    if (!opened.ok()) {
      listening_ = false;
      if (!sleep(backoff)) return;
      backoff = std::min(backoff * 2, std::chrono::milliseconds{5000});
      continue;
    }
    auto& conn = **opened;
    if (!conn.exec("LISTEN hoist_push; LISTEN hoist_console; LISTEN hoist_policy; LISTEN hoist_endpoint",
                   "listen for the other replicas")
             .ok()) {
      if (!sleep(backoff)) return;
      continue;
    }
    backoff = std::chrono::milliseconds{100};
    listening_ = true;
    // Whatever changed while nobody listened is unknown: the receiver
    // forgets its memos and wakes every waiter.
    if (on_resync_) on_resync_();
    auto last_check = std::chrono::steady_clock::now();
    while (!stopping_) {
      std::array<pollfd, 2> fds{pollfd{conn.socket(), POLLIN, 0}, pollfd{wake_fd_, POLLIN, 0}};
      (void)::poll(fds.data(), fds.size(), 1000);
      if (stopping_) break;
      if ((fds[1].revents & POLLIN) != 0) {
        std::uint64_t n = 0;
        (void)!::read(wake_fd_, &n, sizeof n);
        // Every change waiting, in one round trip (a policy change
        // publishes one per endpoint).
        std::vector<std::string> channels;
        std::vector<std::string> payloads;
        for (const auto& [channel, payload] : take_published()) {
          channels.push_back(fmt::format("hoist_{}", channel));
          payloads.push_back(fmt::format("{} {}", origin_, payload));
        }
        if (!channels.empty() &&
            !conn.query("SELECT count(pg_notify(c, p)) FROM unnest($1::TEXT[], $2::TEXT[]) AS t(c, p)",
                        "tell the other replicas", pg::text_array(channels), pg::text_array(payloads))
                 .ok()) {
          break;
        }
      }
      auto notes = conn.notifications();
      if (!notes.ok()) break;
      for (const auto& n : *notes) {
        const auto space = n.payload.find(' ');
        if (space == std::string::npos || n.payload.compare(0, space, origin_) == 0) continue;
        if (n.channel.rfind("hoist_", 0) != 0) continue;
        const std::string_view channel = std::string_view(n.channel).substr(6);
        if (!known_channel(channel) || !on_change_) continue;
        on_change_(channel, std::string_view(n.payload).substr(space + 1));
      }
      if (std::chrono::steady_clock::now() - last_check >= kListenerCheck) {
        if (!conn.exec("SELECT 1", "check the listener's server").ok()) break;
        last_check = std::chrono::steady_clock::now();
      }
    }
    listening_ = false;
  }
}

Result<bool> PgReplicas::hold_lease(const std::string& name, const std::string& holder, std::chrono::seconds ttl) {
  auto conn = pool_.take();
  if (!conn.ok()) return conn.error();
  auto rows = (*conn)->query(
      "INSERT INTO leases (name, holder, expires_at, token) VALUES ($1, $2, clock_timestamp() + make_interval(secs "
      "=> $3), 1) ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, "
      "token = leases.token + CASE WHEN leases.holder = EXCLUDED.holder THEN 0 ELSE 1 END WHERE leases.holder = "
      "EXCLUDED.holder OR leases.expires_at < clock_timestamp() RETURNING token",
      "hold a lease", name, holder, static_cast<std::int64_t>(ttl.count()));
  if (!rows.ok()) return rows.error();
  return !rows->empty();
}

Status PgReplicas::release_lease(const std::string& name, const std::string& holder) {
  auto conn = pool_.take();
  if (!conn.ok()) return conn.error();
  auto done = (*conn)->execute("DELETE FROM leases WHERE name = $1 AND holder = $2", "give up a lease", name, holder);
  if (!done.ok()) return done.error();
  return {};
}

Result<std::string> PgReplicas::claim_key_fingerprint(const std::string& name, const std::string& fingerprint) {
  auto conn = pool_.take();
  if (!conn.ok()) return conn.error();
  // Two replicas claiming at once: the second's statement may see neither
  // row (its snapshot predates the first's commit); it asks again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto rows = (*conn)->query(
        "WITH added AS (INSERT INTO shared_keys (name, fingerprint, created_ms) VALUES ($1, $2, (extract(epoch FROM "
        "clock_timestamp()) * 1000)::BIGINT) ON CONFLICT (name) DO NOTHING RETURNING fingerprint) SELECT fingerprint "
        "FROM added UNION ALL SELECT fingerprint FROM shared_keys WHERE name = $1",
        "record a shared key's fingerprint", name, fingerprint);
    if (!rows.ok()) return rows.error();
    if (!rows->empty()) return rows->row(0).text_at(0);
  }
  return unavailable(fmt::format("{}: the fingerprint of {} could not be recorded or read", options_.noun, name));
}

}  // namespace hoist::store::pg_backend
