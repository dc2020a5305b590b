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
// MUST: a command grant covers only the command it was asked for: the same
// path, the same SHA-256 when the request recorded one, the same arguments
// and the same target user and group.
//
// Edits (sudoedit) are decided on the files (CompiledPolicy::evaluate_edit):
// an edit rule allows or denies; without one only a temporary admin session
// allows an edit, and nothing else does. Command grants never cover edits.
#pragma once

#include <optional>
#include <vector>

#include "agent/state/agent_state.h"
#include "core/evaluator.h"
#include "ipc/messages.h"

namespace hoist::agent {

struct CheckFacts {
  Subject subject;
  CommandLine command;  // for an edit: only command.runas is set
  TimePoint now{};
  std::optional<std::vector<EditFile>> edit{};  // sudo -e: the files
};

// `policy` null: no policy received yet (everything but root is denied).
// `approval_wait` is the policy's wait (sent for request decisions).
ipc::DecisionMessage decide(const CompiledPolicy* policy, const std::vector<Grant>& active_grants,
                            const CheckFacts& facts, const TimeZones& zones);

// The grant among `grants` that covers the command at `now`, if any: the
// one with the latest deadline.
const Grant* covering_grant(const std::vector<Grant>& grants, const CommandLine& command, TimePoint now);

}  // namespace hoist::agent
