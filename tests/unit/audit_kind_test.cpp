#include "core/audit_kind.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>

namespace hoist {
namespace {

TEST(AuditKind, EveryKindReadsBackFromItsText) {
  for (const AuditKind kind : all_audit_kinds()) {
    const auto text = to_string(kind);
    EXPECT_EQ(parse_audit_kind(text), kind) << text;
  }
}

TEST(AuditKind, TextsAreDistinctActions) {
  std::set<std::string, std::less<>> seen;
  for (const AuditKind kind : all_audit_kinds()) {
    const auto text = to_string(kind);
    EXPECT_TRUE(seen.emplace(text).second) << text;
    // What hoistd takes as an agent's kind ([a-z][a-z0-9_.]*), and as a filter.
    ASSERT_FALSE(text.empty());
    EXPECT_TRUE(text.front() >= 'a' && text.front() <= 'z') << text;
    for (const char c : text) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.') << text;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(AuditKind::kEndpointEventQuarantined) + 1);
}

TEST(AuditKind, TheTextsTheTrailAlreadyHolds) {
  // Stored audit chains hold these texts: they never change.
  EXPECT_EQ(to_string(AuditKind::kRequestCreated), "request.created");
  EXPECT_EQ(to_string(AuditKind::kRequestApproved), "request.approved");
  EXPECT_EQ(to_string(AuditKind::kGrantExpired), "grant.expired");
  EXPECT_EQ(to_string(AuditKind::kEnrolmentTokenCreated), "enrolment_token.created");
  EXPECT_EQ(to_string(AuditKind::kEndpointCodesKeyRotated), "endpoint.codes_key_rotated");
  EXPECT_EQ(to_string(AuditKind::kUserLoginFailed), "user.login_failed");
  EXPECT_EQ(to_string(AuditKind::kEndpointDecision), "endpoint.decision");
  EXPECT_EQ(to_string(AuditKind::kEndpointGrantUsed), "endpoint.grant.used");
  EXPECT_EQ(to_string(AuditKind::kEndpointRequestSelfApproved), "endpoint.request.self_approved");
  EXPECT_EQ(to_string(AuditKind::kEndpointEventQuarantined), "endpoint.event.quarantined");
}

TEST(AuditKind, UnknownTextsAreNotKinds) {
  for (const std::string_view text :
       {"", "request", "request.", "Request.created", "request.created ", "request_created", "grant.used", "decision",
        "endpoint.", "endpoint.endpoint.decision", "endpoint.grant_use"}) {
    EXPECT_EQ(parse_audit_kind(text), std::nullopt) << text;
  }
}

TEST(AuditKind, AnAgentsKindIsItsActionWithoutTheEndpointPrefix) {
  std::size_t endpoint_kinds = 0;
  for (const AuditKind kind : all_audit_kinds()) {
    if (origin_of(kind) != AuditOrigin::kEndpoint) continue;
    ++endpoint_kinds;
    const auto agent_kind = endpoint_event_kind(kind);
    EXPECT_EQ(endpoint_event_action(agent_kind), to_string(kind));
    EXPECT_EQ(parse_endpoint_event_kind(agent_kind), kind) << agent_kind;
  }
  EXPECT_EQ(endpoint_kinds, 13U);
  EXPECT_EQ(endpoint_event_kind(AuditKind::kEndpointDecision), "decision");
  EXPECT_EQ(endpoint_event_kind(AuditKind::kEndpointGrantUsed), "grant.used");
  EXPECT_EQ(endpoint_event_kind(AuditKind::kEndpointEventQuarantined), "event.quarantined");
}

TEST(AuditKind, HoistdsOwnEndpointKindsAreNotAnAgentsKinds) {
  // hoistd records these; an agent's "enrolled" is no known kind.
  for (const AuditKind kind :
       {AuditKind::kEndpointEnrolled, AuditKind::kEndpointRetired, AuditKind::kEndpointCodesKeyRotated}) {
    EXPECT_EQ(origin_of(kind), AuditOrigin::kServer);
    EXPECT_EQ(parse_endpoint_event_kind(to_string(kind).substr(kEndpointActionPrefix.size())), std::nullopt);
  }
  EXPECT_EQ(parse_endpoint_event_kind("endpoint.decision"), std::nullopt);
  EXPECT_EQ(parse_endpoint_event_kind(""), std::nullopt);
}

TEST(AuditKind, AnyUploadedKindHasAnAction) {
  // A newer agent's kind is audited too, under the same prefix.
  EXPECT_EQ(endpoint_event_action("future.kind"), "endpoint.future.kind");
  EXPECT_EQ(parse_endpoint_event_kind("future.kind"), std::nullopt);
}

// Attacker: a thief with root on an enrolled computer, who controls its
// agent's uploads.
// Goal:     audit events that read as hoistd's own (an endpoint enrolled or
//           retired, a key rotated), to cover tracks or to frame someone.
// Must hold: no uploaded kind is audited under an action hoistd records
//           itself.
TEST(AuditKind, AnUploadedKindNeverReadsAsHoistdsOwnEvent) {
  int server_endpoint_kinds = 0;
  for (const AuditKind kind : all_audit_kinds()) {
    if (origin_of(kind) != AuditOrigin::kServer) continue;
    const std::string_view text = to_string(kind);
    if (text.starts_with(kEndpointActionPrefix)) ++server_endpoint_kinds;
    for (const std::string_view upload : {text, text.substr(std::min(text.size(), kEndpointActionPrefix.size()))}) {
      const std::string action = endpoint_event_action(upload);
      auto as = parse_audit_kind(action);
      EXPECT_TRUE(!as || origin_of(*as) == AuditOrigin::kEndpoint) << upload << " is audited as " << action;
    }
  }
  EXPECT_GE(server_endpoint_kinds, 3);  // enrolled, retired, codes_key_rotated
  EXPECT_EQ(endpoint_event_action("enrolled"), "endpoint.forged.enrolled");
  EXPECT_EQ(endpoint_event_action("retired"), "endpoint.forged.retired");
  // The agent's own kinds keep their actions.
  EXPECT_EQ(endpoint_event_action("decision"), "endpoint.decision");
}

}  // namespace
}  // namespace hoist
