#include "core/audit_kind.h"

#include <algorithm>
#include <array>

namespace hoist {

namespace {

struct Row {
  AuditKind kind;
  std::string_view text;
  AuditOrigin origin;
};

constexpr AuditOrigin kServer = AuditOrigin::kServer;
constexpr AuditOrigin kEndpoint = AuditOrigin::kEndpoint;

// The one place each kind's text is written. Rows follow the enumerators'
// order; changing a text changes what the audit trail records from then on
// (console/src/lib/audit_kinds.ts must follow, and the docs).
constexpr std::array kRows = {
    Row{AuditKind::kRequestCreated, "request.created", kServer},
    Row{AuditKind::kRequestRefused, "request.refused", kServer},
    Row{AuditKind::kRequestThrottled, "request.throttled", kServer},
    Row{AuditKind::kRequestApproved, "request.approved", kServer},
    Row{AuditKind::kRequestDenied, "request.denied", kServer},
    Row{AuditKind::kRequestCancelled, "request.cancelled", kServer},
    Row{AuditKind::kRequestExpired, "request.expired", kServer},
    Row{AuditKind::kGrantRevoked, "grant.revoked", kServer},
    Row{AuditKind::kGrantExpired, "grant.expired", kServer},
    Row{AuditKind::kPolicyVersionAdded, "policy.version_added", kServer},
    Row{AuditKind::kPolicyAssigned, "policy.assigned", kServer},
    Row{AuditKind::kPolicyDeleted, "policy.deleted", kServer},
    Row{AuditKind::kEnrolmentTokenCreated, "enrolment_token.created", kServer},
    Row{AuditKind::kEnrolmentTokenRevoked, "enrolment_token.revoked", kServer},
    Row{AuditKind::kEndpointEnrolled, "endpoint.enrolled", kServer},
    Row{AuditKind::kEndpointRetired, "endpoint.retired", kServer},
    Row{AuditKind::kEndpointCodesKeyRotated, "endpoint.codes_key_rotated", kServer},
    Row{AuditKind::kEndpointEventsThrottled, "endpoint.events_throttled", kServer},
    Row{AuditKind::kCodeIssued, "code.issued", kServer},
    Row{AuditKind::kUserCreated, "user.created", kServer},
    Row{AuditKind::kUserUpdated, "user.updated", kServer},
    Row{AuditKind::kUserLogin, "user.login", kServer},
    Row{AuditKind::kUserLoginFailed, "user.login_failed", kServer},
    Row{AuditKind::kUserLogout, "user.logout", kServer},
    Row{AuditKind::kTokenCreated, "token.created", kServer},
    Row{AuditKind::kTokenUsed, "token.used", kServer},
    Row{AuditKind::kTokenRevoked, "token.revoked", kServer},
    Row{AuditKind::kAccessDenied, "access.denied", kServer},
    Row{AuditKind::kNotifyChannelCreated, "notify.channel_created", kServer},
    Row{AuditKind::kNotifyChannelUpdated, "notify.channel_updated", kServer},
    Row{AuditKind::kNotifyChannelDeleted, "notify.channel_deleted", kServer},
    Row{AuditKind::kNotifyChannelTested, "notify.channel_tested", kServer},
    Row{AuditKind::kNotifyDeliveryRedriven, "notify.delivery_redriven", kServer},
    Row{AuditKind::kEndpointDecision, "endpoint.decision", kEndpoint},
    Row{AuditKind::kEndpointDecisionsCounted, "endpoint.decisions.counted", kEndpoint},
    Row{AuditKind::kEndpointEdit, "endpoint.edit", kEndpoint},
    Row{AuditKind::kEndpointGrantUsed, "endpoint.grant.used", kEndpoint},
    Row{AuditKind::kEndpointProcess, "endpoint.process", kEndpoint},
    Row{AuditKind::kEndpointSessionRequested, "endpoint.session.requested", kEndpoint},
    Row{AuditKind::kEndpointRequestSelfApproved, "endpoint.request.self_approved", kEndpoint},
    Row{AuditKind::kEndpointCodeUsed, "endpoint.code.used", kEndpoint},
    Row{AuditKind::kEndpointCodeRefused, "endpoint.code.refused", kEndpoint},
    Row{AuditKind::kEndpointCodesKeyInstalled, "endpoint.codes_key.installed", kEndpoint},
    Row{AuditKind::kEndpointBreakGlass, "endpoint.break_glass", kEndpoint},
    Row{AuditKind::kEndpointSpoolRejected, "endpoint.spool.rejected", kEndpoint},
    Row{AuditKind::kEndpointEventQuarantined, "endpoint.event.quarantined", kEndpoint},
};

constexpr bool rows_in_order() {
  for (std::size_t i = 0; i < kRows.size(); ++i) {
    if (static_cast<std::size_t>(kRows[i].kind) != i) return false;
  }
  return static_cast<std::size_t>(AuditKind::kEndpointEventQuarantined) + 1 == kRows.size();
}
static_assert(rows_in_order(), "one row per AuditKind, in the enumerators' order");

constexpr bool texts_unique() {
  for (std::size_t i = 0; i < kRows.size(); ++i) {
    for (std::size_t j = i + 1; j < kRows.size(); ++j) {
      if (kRows[i].text == kRows[j].text) return false;
    }
  }
  return true;
}
static_assert(texts_unique(), "two kinds with one text");

constexpr bool endpoint_rows_prefixed() {
  return std::ranges::all_of(kRows, [](const Row& r) {
    return r.origin == kServer ||
           (r.text.starts_with(kEndpointActionPrefix) && r.text.size() > kEndpointActionPrefix.size());
  });
}
static_assert(endpoint_rows_prefixed(), "an agent's kind is audited as endpoint.<kind>");

constexpr std::array<AuditKind, kRows.size()> kinds() {
  std::array<AuditKind, kRows.size()> out{};
  for (std::size_t i = 0; i < kRows.size(); ++i) out[i] = kRows[i].kind;
  return out;
}
constexpr std::array kKinds = kinds();

const Row& row(AuditKind kind) {
  return kRows[static_cast<std::size_t>(kind)];
}

}  // namespace

std::string_view to_string(AuditKind kind) {
  return row(kind).text;
}

std::optional<AuditKind> parse_audit_kind(std::string_view text) {
  for (const auto& r : kRows) {
    if (r.text == text) return r.kind;
  }
  return std::nullopt;
}

AuditOrigin origin_of(AuditKind kind) {
  return row(kind).origin;
}

std::span<const AuditKind> all_audit_kinds() {
  return kKinds;
}

std::string_view endpoint_event_kind(AuditKind kind) {
  const Row& r = row(kind);
  return r.origin == kEndpoint ? r.text.substr(kEndpointActionPrefix.size()) : r.text;
}

std::string endpoint_event_action(std::string_view agent_kind) {
  std::string out(kEndpointActionPrefix);
  out += agent_kind;
  // Never the action of an event hoistd records itself (endpoint.enrolled,
  // endpoint.retired, ...): an agent, which a thief with root on its
  // computer controls, cannot write what reads as hoistd's own event.
  if (auto kind = parse_audit_kind(out); kind && origin_of(*kind) == AuditOrigin::kServer) {
    out = std::string(kEndpointActionPrefix) + std::string(kForgedInfix) + std::string(agent_kind);
  }
  return out;
}

std::optional<AuditKind> parse_endpoint_event_kind(std::string_view agent_kind) {
  for (const auto& r : kRows) {
    if (r.origin == kEndpoint && r.text.substr(kEndpointActionPrefix.size()) == agent_kind) return r.kind;
  }
  return std::nullopt;
}

}  // namespace hoist
