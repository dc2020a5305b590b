// The endpoint's decision for one command, from the cached policy and the
// grants in force. Pure: no I/O, no clock; the facts and `now` are passed in.
//
// Precedence: a deny rule denies whatever else holds (a grant included;
// the policy's default deny yields only to a session grant);
// an allow rule allows; otherwise a grant in force that covers the command
// allows it for the time it has left (a session grant covers every
// command); otherwise the policy's request or deny. While a session is in
// force every allowed command is recorded (record_processes), whatever
// allowed it.
//
// MUST: a command grant covers only the command it was asked for
// (core/grant.h covers()).
//
// Edits (sudoedit) are decided on the files (CompiledPolicy::evaluate_edit):
// an edit rule allows or denies; without one only a temporary admin session
// allows an edit, and nothing else does. Command grants never cover edits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/evaluator.h"
#include "core/grant.h"

namespace hoist {

struct CheckFacts {
  Subject subject;
  CommandLine command;  // for an edit: only command.runas is set
  TimePoint now{};
  std::optional<std::vector<EditFile>> edit{};  // sudo -e: the files
};

// What the endpoint answers sudo for one command (the agent protocol's
// `decision` carries it as it is: ipc::DecisionMessage).
struct EndpointDecision {
  Action action = Action::kDeny;
  std::string reason;   // for people
  std::string rule;     // the rule that decided, "" for the default
  std::string contact;  // the policy's help-desk text
  bool reauthenticate = false;
  // For action == kRequest: what to ask and how long to wait.
  std::uint64_t default_duration_s = 0;
  std::uint64_t max_duration_s = 0;
  std::uint64_t approval_wait_s = 0;
  // For action == kAllow: bounds on the run.
  std::string grant_id;           // the grant that allows it, "" for an allow rule
  std::uint64_t timeout_s = 0;    // 0 = none; else the grant's time left
  bool record_processes = false;  // a temporary admin session: intercept every exec
  friend bool operator==(const EndpointDecision&, const EndpointDecision&) = default;
};

// `policy` null: no policy received yet (everything but root is denied).
EndpointDecision decide(const CompiledPolicy* policy, const std::vector<Grant>& active_grants, const CheckFacts& facts,
                        const TimeZones& zones);

}  // namespace hoist
