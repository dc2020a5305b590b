// Every kind of audit event Hoist records: the `action` of an AuditEvent
// (core/audit.h). The text of each kind is written once, in the table in
// audit_kind.cpp; everything else names a kind by its enumerator, so a
// renamed or mistyped kind does not compile. The details each kind
// carries are built by one typed builder per kind: for the events
// hoistd records in src/server/app/audit_events.h, for the events a
// hoist-agent records in src/agent/endpoint_events.h. The console keeps the
// same list in console/src/lib/audit_kinds.ts, checked against this one by
// the console_audit_kinds test. docs/audit.md lists the kinds.
//
// An agent records its events in its outbox under a short kind
// ("decision"); hoistd audits each as "endpoint.<kind>". hoistd audits
// every kind an agent sends, also ones this version does not know (a newer
// agent's), so the audit trail can hold actions that are not in this list.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace hoist {

enum class AuditKind : std::uint8_t {
  // Recorded by hoistd.
  kRequestCreated,
  kRequestRefused,
  kRequestThrottled,
  kRequestApproved,
  kRequestDenied,
  kRequestCancelled,
  kRequestExpired,
  kGrantRevoked,
  kGrantExpired,
  kPolicyVersionAdded,
  kPolicyAssigned,
  kPolicyDeleted,
  kEnrolmentTokenCreated,
  kEnrolmentTokenRevoked,
  kEndpointEnrolled,
  kEndpointRetired,
  kEndpointCodesKeyRotated,
  kEndpointEventsThrottled,  // an endpoint uploaded events faster than its limit (counted,
                             // server/app/upload_throttle.h)
  kCodeIssued,
  kUserCreated,
  kUserUpdated,
  kUserLogin,
  kUserLoginFailed,
  kUserLogout,
  kTokenCreated,
  kTokenUsed,
  kTokenRevoked,
  kAccessDenied,
  kNotifyChannelCreated,
  kNotifyChannelUpdated,
  kNotifyChannelDeleted,
  kNotifyChannelTested,
  kNotifyDeliveryRedriven,
  // Recorded by a hoist-agent, audited by hoistd.
  kEndpointDecision,
  kEndpointDecisionsCounted,  // decisions that ran nothing, over a user's budget, counted (agent/denial_budget.h)
  kEndpointEdit,
  kEndpointGrantUsed,
  kEndpointProcess,
  kEndpointSessionRequested,
  kEndpointRequestSelfApproved,
  kEndpointCodeUsed,
  kEndpointCodeRefused,
  kEndpointCodesKeyInstalled,
  kEndpointBreakGlass,
  kEndpointSpoolRejected,
  kEndpointEventQuarantined,
};

// Who records an event of a kind.
enum class AuditOrigin : std::uint8_t {
  kServer,    // hoistd, as the change happens
  kEndpoint,  // a hoist-agent, in its outbox; hoistd audits it on upload
};

// The kind's text, as the audit trail holds it: "request.created",
// "endpoint.decision", ...
std::string_view to_string(AuditKind kind);

// The kind whose text is `text`; nullopt for any other text.
std::optional<AuditKind> parse_audit_kind(std::string_view text);

AuditOrigin origin_of(AuditKind kind);

// Every kind, in the table's order (the order the console lists them in).
std::span<const AuditKind> all_audit_kinds();

// The prefix of every action hoistd records for an agent's event.
inline constexpr std::string_view kEndpointActionPrefix = "endpoint.";

// An agent event's kind, as the agent stores and uploads it: the action
// without kEndpointActionPrefix ("decision" for kEndpointDecision). For a
// kind hoistd records itself, the whole text (no agent records one).
std::string_view endpoint_event_kind(AuditKind kind);

// The action hoistd audits an uploaded event of `agent_kind` as, known or
// not: "endpoint." + agent_kind; but "endpoint.forged." + agent_kind when
// that would be the action of a kind hoistd records itself (an agent that
// uploads "enrolled" or "retired" is lying).
inline constexpr std::string_view kForgedInfix = "forged.";
std::string endpoint_event_action(std::string_view agent_kind);

// The kind of an uploaded event, when it is one this version knows.
std::optional<AuditKind> parse_endpoint_event_kind(std::string_view agent_kind);

}  // namespace hoist
