// Several hoistd URLs for one client (replicas behind one database, docs/
// high-availability.md): the list as people give it, and which URL a
// client tries next and how long it leaves one that failed. Pure: no I/O,
// no clock and no randomness of its own (time and jitter are passed in),
// so every choice is unit-tested (tests/net/server_list_test.cpp);
// net/client/failover_client.h does the I/O.
//
// MUST: every URL of a list is https:// (the list is refused otherwise,
// before anything is sent), and a list holds 1 to kMaxServers URLs.
// MUST: one call tries each URL at most once; a URL that failed rests
// (bounded, jittered exponential back-off) and is skipped while another
// is not resting; the URL that answered stays first (sticky) until it
// fails.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::net {

// More URLs than this is a mistake, not a deployment: each unusable one may
// cost a connect timeout.
inline constexpr std::size_t kMaxServers = 16;

// The URLs of `given`, each item one URL or several separated by commas
// (a repeated --server, or "https://a:8443,https://b:8443"), spaces around
// them dropped, in order. InvalidArgument, naming the culprit, for an empty
// list or item, a URL that does not start with https://, a URL given twice
// or more than kMaxServers URLs. (The client checks each URL's form fully
// when it is made.)
Result<std::vector<std::string>> parse_server_list(const std::vector<std::string>& given);

// The list as one line, the URLs separated by commas (for a file or a
// message; parse_server_list reads it back).
std::string join_server_list(const std::vector<std::string>& urls);

struct Backoff {
  std::chrono::milliseconds first{1000};  // the rest after the first failure
  std::chrono::milliseconds max{60000};   // no rest is longer
};

// How long a URL rests after `failures` (>= 1) failures in a row:
// first * 2^(failures - 1), at most max, then jittered into [d/2, d) by
// `jitter` in [0, 1) (values outside are clamped), so that many clients
// that lost the same server do not come back in step.
std::chrono::milliseconds rest_after(unsigned failures, double jitter, const Backoff& backoff = {});

// The choice among `count` URLs (by index into the list). Not thread-safe.
class ServerRotation {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit ServerRotation(std::size_t count, Backoff backoff = {});

  // The URLs one call tries, in order: the current one, then the others in
  // list order after it (wrapping), skipping those resting at `now`. When
  // every URL rests, all of them, the one whose rest ends first first: a
  // call always tries what may answer (a person waits on it), and the
  // caller's own back-off paces calls while nothing answers.
  [[nodiscard]] std::vector<std::size_t> order(TimePoint now) const;

  // Makes `index` the current one without counting an answer (a program
  // starting with the URL that answered it before it restarted); an index
  // out of range is ignored.
  void start_at(std::size_t index);
  // `index` answered: it becomes the current one and its failures reset.
  void succeeded(std::size_t index);
  // `index` failed at `now`: it rests (rest_after with `jitter`); when it
  // was the current one, the next in the list becomes current.
  void failed(std::size_t index, TimePoint now, double jitter);

  [[nodiscard]] std::size_t current() const { return current_; }
  [[nodiscard]] std::size_t size() const { return servers_.size(); }
  [[nodiscard]] unsigned failures(std::size_t index) const { return servers_.at(index).failures; }
  [[nodiscard]] TimePoint rests_until(std::size_t index) const { return servers_.at(index).rests_until; }

 private:
  struct Server {
    unsigned failures = 0;
    TimePoint rests_until{};
  };
  std::vector<Server> servers_;
  std::size_t current_ = 0;
  Backoff backoff_;
};

}  // namespace hoist::net
