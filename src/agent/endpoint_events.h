// The events a hoist-agent records in its outbox, one type per kind
// (core/audit_kind.h): the fields each kind's details hold, and the JSON
// text hoistd audits as "endpoint.<kind>" (docs/agent.md, "Events").
// Every field of a details object is written here and nowhere else; the
// text is what earlier versions wrote, byte for byte, field order included
// (audit chains hold it, and hoistd reads code.used's fields).
//
// Every details object holds a "target" string (possibly empty): the
// upload sends it as the event's target (server_api.cpp).
//
// A field without a default is one every event of its kind holds: an
// initializer that leaves it out does not compile (-Wextra's
// missing-field-initializers, an error in this build). `{}` marks the
// optional ones.
// Pure: no I/O, no clock.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/audit_kind.h"
#include "core/duration.h"
#include "core/policy.h"
#include "core/request.h"
#include "core/sha256.h"

namespace hoist::agent::events {

// A command sudo asked about: kind edit for sudoedit, else decision when
// no grant allowed it, else grant.used.
struct Command {
  std::string grant_id;  // the grant it runs under, "" for none (the target)
  std::string user;
  std::uint32_t uid;
  std::string runas;
  std::string runas_group{};  // "" = not given (then left out)
  std::vector<std::string> argv;
  Action action;
  std::string rule;
  std::string reason;
  std::string tty;
  // sudoedit: the files; the editor runs as the user.
  std::optional<std::vector<std::string>> edit_files{};
  std::string editor{};
  // Otherwise, the program's facts ("" and nullopt are left out).
  std::string command{};
  std::string real_path{};
  std::optional<Sha256> sha256{};

  [[nodiscard]] AuditKind kind() const;
  [[nodiscard]] boost::json::object details() const;
};

// A process sudo's intercept reported whose facts could not be gathered:
// what it asked for, and why it was denied.
struct UncheckedCommand {
  std::string user;
  std::uint32_t uid;
  std::string command;
  std::vector<std::string> argv;
  Action action;
  std::string reason;
};

// A program started inside an elevated run (temporary admin session), as
// sudo's intercept reported it (kind process).
struct Process {
  using Asked = std::variant<Command, UncheckedCommand>;
  Asked command;
  std::string session;  // the grant the run was allowed under (also the target)
  std::uint32_t pid;
  std::uint32_t ppid;
  std::uint32_t exec_uid;
  std::int64_t sudo_pid;
  std::string cwd;

  static constexpr AuditKind kind() { return AuditKind::kEndpointProcess; }
  [[nodiscard]] boost::json::object details() const;
};

// A user asked for a temporary admin session.
struct SessionRequested {
  std::string request;  // the server's request id (also the target)
  std::string user;
  std::uint32_t uid;
  std::string tty;

  static constexpr AuditKind kind() { return AuditKind::kEndpointSessionRequested; }
  [[nodiscard]] boost::json::object details() const;
};

// A user approved their own request, as the policy lets them.
struct RequestSelfApproved {
  std::string request;  // also the target
  std::string user;
  std::uint32_t uid;
  RequestState state;  // as hoistd answered

  static constexpr AuditKind kind() { return AuditKind::kEndpointRequestSelfApproved; }
  [[nodiscard]] boost::json::object details() const;
};

// An offline admin code was taken: its grant exists from now on. hoistd
// reads code_kind, ref, generation, user, duration_s, command, grant_id and
// used_at (parse_code_used_details in src/server/api).
struct CodeUsed {
  std::string code_kind;  // "response" or "preissued"
  std::uint32_t ref;      // the challenge's nonce or the pre-issued id
  std::uint32_t generation;
  std::string user;
  std::uint32_t uid;
  std::string tty;
  Seconds duration;
  std::string command;   // "" = a session
  std::string grant_id;  // also the target
  TimePoint used_at;
  TimePoint until;

  static constexpr AuditKind kind() { return AuditKind::kEndpointCodeUsed; }
  [[nodiscard]] boost::json::object details() const;
};

// A code that does not fit (a wrong code or a guess), with the running count.
struct CodeRefused {
  std::string user;
  std::uint32_t uid;
  std::string tty;
  std::string code_kind;
  std::string command;
  std::uint32_t failures;
  std::string reason;

  static constexpr AuditKind kind() { return AuditKind::kEndpointCodeRefused; }
  [[nodiscard]] boost::json::object details() const;
};

// The agent took a new admin-code key generation from hoistd.
struct CodesKeyInstalled {
  std::uint32_t generation;
  std::uint32_t previous_generation;

  static constexpr AuditKind kind() { return AuditKind::kEndpointCodesKeyInstalled; }
  [[nodiscard]] boost::json::object details() const;
};

// A break-glass use the plugin spooled while the agent was away: the
// spooled frame's fields as they came (each a string; argv an array).
struct BreakGlass {
  std::string spool_file;
  // In order, "v" and "type" included (left out here); nullopt when the
  // file is no frame (then "malformed": true: a use must not vanish).
  std::optional<std::vector<std::pair<std::string, std::string>>> fields{};

  static constexpr AuditKind kind() { return AuditKind::kEndpointBreakGlass; }
  [[nodiscard]] boost::json::object details() const;
};

// A spool entry the agent would not read, set aside.
struct SpoolRejected {
  std::string spool_file;  // also the target
  std::string problem;
  struct File {
    std::string type;  // "regular file", "FIFO", ...
    std::uint32_t uid;
    std::uint32_t mode;  // st_mode: its permission bits are written, as 4 octal digits
    std::int64_t size;
  };
  std::optional<File> file{};  // nullopt when it could not be examined

  static constexpr AuditKind kind() { return AuditKind::kEndpointSpoolRejected; }
  [[nodiscard]] boost::json::object details() const;
};

// Decisions that ran nothing (denied, or needing approval) that one user
// made over their budget, counted instead of queued one by one
// (agent/denial_budget.h).
struct DecisionsCounted {
  std::string user;
  std::uint32_t uid;
  std::uint64_t count;
  std::int64_t first_ms;  // the first and the last of them
  std::int64_t last_ms;

  static constexpr AuditKind kind() { return AuditKind::kEndpointDecisionsCounted; }
  [[nodiscard]] boost::json::object details() const;
};

// hoistd refused an event for good; it is set aside (quarantined).
struct EventQuarantined {
  std::string event_id;  // also the target
  std::string event_kind;
  std::int64_t event_time_ms;
  std::uint64_t payload_bytes;
  std::string reason;  // hoistd's answer

  static constexpr AuditKind kind() { return AuditKind::kEndpointEventQuarantined; }
  [[nodiscard]] boost::json::object details() const;
};

template <class E>
concept EndpointEvent = requires(const E& e) {
  { e.kind() } -> std::same_as<AuditKind>;
  { e.details() } -> std::same_as<boost::json::object>;
};

// The kind the outbox stores and the upload sends ("decision").
std::string outbox_kind(const EndpointEvent auto& e) {
  return std::string(endpoint_event_kind(e.kind()));
}

// The details' JSON text (unbounded: see event_bounds.h).
std::string details_text(const EndpointEvent auto& e) {
  return boost::json::serialize(e.details());
}

}  // namespace hoist::agent::events
