// Helpers the hoistd benchmarks share (not part of hoistd): the ready file
// and the bench env file, what the bench agents send, percentiles, small
// JSON reads and /proc figures. No Beast or Asio here.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::bench {

using Clock = std::chrono::steady_clock;

// What hoistd --ready-file writes.
struct ReadyFile {
  std::string url;  // https://127.0.0.1:PORT
  std::uint16_t port = 0;
  std::string ca_file;
};
Result<ReadyFile> read_ready_file(const std::string& path);

// KEY=VALUE lines (the file `hoistd_api_bench setup` writes; secrets, so
// they travel in 0600 files, never on a command line).
Result<std::map<std::string, std::string>> read_env_file(const std::string& path);
Status write_env_file(const std::string& path, const std::map<std::string, std::string>& values);
// Writes `text` to a new file only its owner may read.
Status write_private_file(const std::string& path, const std::string& text);

// The label every bench endpoint gets and the policy assigned to it: a
// manual request rule for /usr/bin/apt-get, so a submission lands pending.
inline constexpr std::string_view kLabel = "bench";
extern const std::string kPolicyName;
extern const std::string kPolicyText;
// POST /api/v1/agent/requests body for that rule (group staff).
std::string submission_body(std::size_t i, std::string_view user = "alice");
// hoistd lets a requester keep at most 10 requests waiting on an endpoint,
// and an endpoint 100: a bench submits in batches of kBatch, from
// kBatchUsers users ("bench-user-N") in turn, and decides each batch. The
// limits on how fast an endpoint and a user may submit are raised out of
// reach in the hoistd.toml scripts/bench.sh writes (the defaults would
// answer 429 after 60).
inline constexpr std::size_t kBatchUsers = 10;
inline constexpr std::size_t kBatch = 100;
std::string batch_user(std::size_t i);

// The string at a JSON pointer ("/request/id") of a JSON text, or nullopt.
std::optional<std::string> json_string_at(std::string_view json_text, std::string_view pointer);
// The unsigned number at a JSON pointer, or nullopt.
std::optional<std::uint64_t> json_u64_at(std::string_view json_text, std::string_view pointer);

// Percentiles of a sample set in milliseconds (nearest rank).
struct Summary {
  std::size_t n = 0;
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  double mean = 0;
};
Summary summarize(std::vector<double> samples_ms);
double ms_since(Clock::time_point start);

// VmRSS of a process in KiB, and how many descriptors it has open.
std::optional<std::int64_t> vm_rss_kib(pid_t pid);
std::optional<std::size_t> open_fds(pid_t pid);

// fdatasync() latency of a 4 KiB append to a file in `dir`, `n` times: what
// a durable write costs on that file system (hoistd's SQLite store syncs
// its write-ahead log at every commit).
Result<Summary> fdatasync_latency(const std::string& dir, int n);

}  // namespace hoist::bench
