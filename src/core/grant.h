// Grants: what an approved request, an offline admin code or break-glass
// allows on an endpoint, and which grant covers a command. Pure: no I/O,
// no clock; `now` is passed in.
//
// MUST: a command grant covers only the command it was asked for: the same
// path, the same SHA-256 when the request recorded one, the same arguments
// (a code's grant: any arguments) and the same target user and group. A
// session grant covers every command. MUST: a grant is active while
// now < deadline and it is not revoked; the deadline itself is expired.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/evaluator.h"

namespace hoist {

enum class GrantKind { kCommand, kSession };
enum class GrantOrigin { kServer, kOfflineCode, kBreakGlass };

std::string_view to_string(GrantKind kind);
std::string_view to_string(GrantOrigin origin);

// What a command grant allows; empty for a session (any command).
// command_path and argv_patterns are bytes (Linux paths need not be UTF-8).
struct GrantScope {
  std::string command_path;           // absolute
  std::optional<std::string> sha256;  // 64 lowercase hex digits
  std::vector<std::string> argv_patterns;
  std::string runas_user{"root"};  // sudo -u: the target user the grant holds for
  std::string runas_group{};       // sudo -g: the group it holds for ("" = none given)

  bool operator==(const GrantScope&) const = default;
};

struct Grant {
  std::string id;  // the server's request id (or the offline code's / break-glass id)
  std::string user;
  std::uint32_t uid = 0;
  GrantKind kind = GrantKind::kCommand;
  GrantScope scope;
  TimePoint start{};
  TimePoint deadline{};  // the truth: expired from this instant on
  std::optional<TimePoint> revoked_at;
  bool record_processes = false;
  GrantOrigin origin = GrantOrigin::kServer;

  // Active at `now`: not revoked and before its deadline. `start` is not
  // compared: it is the server's clock, and a few seconds of skew must not
  // void a grant that was just approved.
  [[nodiscard]] bool active_at(TimePoint now) const { return !revoked_at && now < deadline; }
  bool operator==(const Grant&) const = default;
};

// Whether `g` covers `command` (kind, path, digest, arguments, target),
// whatever the time.
bool covers(const Grant& g, const CommandLine& command);

// The grant among `grants` that covers the command at `now`, if any: the
// one with the latest deadline.
const Grant* covering_grant(const std::vector<Grant>& grants, const CommandLine& command, TimePoint now);

// A temporary admin session in force at `now`, or null.
const Grant* session_in_force(const std::vector<Grant>& grants, TimePoint now);

// Whole seconds from `now` to the deadline; 0 once it has passed.
std::uint64_t seconds_left(const Grant& g, TimePoint now);

}  // namespace hoist
