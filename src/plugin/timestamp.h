// "Authenticated a moment ago": a record per user and terminal session so a
// user is not asked for a password twice within kTimestampTimeout, keyed as
// sudoers_timestamp(5) keys its records: uid, the tty's device number, the
// session id and the session leader's start time (from /proc), so a new
// login on a reused pts or a reused session id does not inherit it. Without
// a tty the parent process (its pid and start time) is the key, as sudoers'
// "ppid" records.
//
// MUST: records are trusted only in a directory owned by root, mode 0700
// (created so when missing, its parent must exist); anything else disables
// caching (every check asks) and never grants. MUST: times are CLOCK_BOOTTIME
// seconds, so setting the wall clock cannot extend a record; a record from
// the future is stale. MUST: a record names the boot it was written in
// (/proc/sys/kernel/random/boot_id), as sudoers_timestamp(5) ties records
// to the boot time: CLOCK_BOOTTIME starts again at 0, so a record of an
// earlier boot (a timestamp_dir that survives reboots) is stale, and so is
// a record without a boot id or when the boot id cannot be read. MUST:
// files are written atomically (temp + rename) and opened with O_NOFOLLOW.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "plugin/sudo_args.h"

namespace hoist::plugin {

inline constexpr std::uint64_t kTimestampTimeout = 300;

struct TimestampKey {
  std::uint32_t uid = 0;
  std::uint64_t tty_device = 0;  // st_rdev of the tty; 0 without one
  std::int64_t sid = 0;          // session id, or the parent pid without a tty
  std::uint64_t start_time = 0;  // that process's start time (clock ticks since boot, /proc/PID/stat)
  // "<uid>-<tty>-<sid>-<start>": the record's file name.
  [[nodiscard]] std::string file_name() const;
};

// The key for the invoker described by user_info. Unavailable when /proc
// or the tty cannot be read (then nothing is cached).
Result<TimestampKey> timestamp_key(const UserInfo& user);

// Field 22 (starttime) of /proc/<pid>/stat.
Result<std::uint64_t> process_start_time(std::int64_t pid);

class TimestampStore {
 public:
  explicit TimestampStore(std::string dir) : dir_(std::move(dir)) {}
  // True when a record for key is younger than kTimestampTimeout.
  [[nodiscard]] bool fresh(const TimestampKey& key) const;
  // Writes (or refreshes) the record.
  Status update(const TimestampKey& key) const;
  // sudo -k / -K: removes every record of uid.
  Status remove_all(std::uint32_t uid) const;

 private:
  // The directory, checked (and created when missing); Unavailable when it
  // cannot be trusted.
  [[nodiscard]] Status ready(bool create) const;
  std::string dir_;
};

// CLOCK_BOOTTIME in seconds.
std::uint64_t boot_seconds();

// This boot's id (/proc/sys/kernel/random/boot_id: a UUID, 36 characters).
Result<std::string> boot_id();

// A record's text: "<CLOCK_BOOTTIME seconds> <boot id>\n".
std::string timestamp_record(std::uint64_t seconds, std::string_view boot);
// Whether a record's text is fresh at `now` (CLOCK_BOOTTIME seconds) in the
// boot `boot`: written in that boot, not in the future, younger than
// kTimestampTimeout.
bool timestamp_record_fresh(std::string_view text, std::uint64_t now, std::string_view boot);

}  // namespace hoist::plugin
