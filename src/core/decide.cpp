#include "core/decide.h"

#include <algorithm>

namespace hoist {

EndpointDecision decide(const CompiledPolicy* policy, const std::vector<Grant>& active_grants, const CheckFacts& facts,
                        const TimeZones& zones) {
  EndpointDecision out;
  if (policy == nullptr) {
    out.action = Action::kDeny;
    out.reason = "this computer has no Hoist policy yet (hoist-agent has not reached hoistd since it was enrolled)";
    return out;
  }
  const auto& settings = policy->policy().settings;
  out.contact = settings.contact;
  if (facts.edit) {
    const Decision d = policy->evaluate_edit(facts.subject, *facts.edit, facts.command.runas, facts.now, zones);
    out.reason = d.reason;
    out.rule = d.rule != nullptr ? d.rule->name : std::string();
    out.reauthenticate = d.reauthenticate;
    out.action = d.action == Action::kAllow ? Action::kAllow : Action::kDeny;
    // No rule names the files: a session (root for its duration) may edit
    // anything; a deny rule holds against it.
    if (d.action != Action::kAllow && d.rule == nullptr) {
      if (const Grant* session = session_in_force(active_grants, facts.now)) {
        out.action = Action::kAllow;
        out.reason = "a temporary admin session is in force";
        out.grant_id = session->id;
        out.reauthenticate = false;
      }
    }
    return out;
  }
  const Decision d = policy->evaluate(facts.subject, facts.command, facts.now, zones);
  out.reason = d.reason;
  out.rule = d.rule != nullptr ? d.rule->name : std::string();
  out.reauthenticate = d.reauthenticate;
  if (d.action == Action::kDeny) {
    // A deny rule holds against every grant. The policy's default deny
    // holds against command grants (their request rule is gone), not
    // against a session, which is for the commands no rule names.
    if (d.rule != nullptr || session_in_force(active_grants, facts.now) == nullptr) {
      out.action = Action::kDeny;
      return out;
    }
  }
  if (d.action == Action::kAllow) {
    out.action = Action::kAllow;
    // Allowed anyway; but during a temporary admin session every elevated
    // process is recorded, this one's too (not bounded by the session).
    if (const Grant* session = session_in_force(active_grants, facts.now)) {
      out.grant_id = session->id;
      out.record_processes = true;
    }
    return out;
  }
  if (const Grant* g = covering_grant(active_grants, facts.command, facts.now)) {
    out.action = Action::kAllow;
    out.reason = g->kind == GrantKind::kSession ? "a temporary admin session is in force" : "an approved request";
    out.grant_id = g->id;
    out.timeout_s = std::max<std::uint64_t>(1, seconds_left(*g, facts.now));
    // While a session is in force everything is recorded, also what a
    // command grant allows.
    out.record_processes = g->record_processes || session_in_force(active_grants, facts.now) != nullptr;
    out.reauthenticate = false;  // approved already
    return out;
  }
  out.action = Action::kRequest;
  out.default_duration_s = static_cast<std::uint64_t>(d.default_duration.count());
  out.max_duration_s = static_cast<std::uint64_t>(d.max_duration.count());
  out.approval_wait_s = static_cast<std::uint64_t>(settings.approval_wait.count());
  return out;
}

}  // namespace hoist
