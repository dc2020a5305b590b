// hoistd's audit events, one builder per kind: the kind and the exact
// details text. The expected texts are what hoistd recorded before the
// builders existed (field order included): stored audit chains hold them.
#include "server/app/audit_events.h"

#include <gtest/gtest.h>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <string>

namespace hoist::app {
namespace {

using namespace std::chrono_literals;

TimePoint at(int hour, int minute) {
  return TimePoint{std::chrono::sys_days{std::chrono::year{2026} / 3 / 2} + std::chrono::hours{hour} +
                   std::chrono::minutes{minute}};
}

template <audited::Event E>
void expect_event(const E& e, AuditKind kind, std::string_view text) {
  EXPECT_EQ(E::kind(), kind);
  EXPECT_EQ(origin_of(E::kind()), AuditOrigin::kServer);
  EXPECT_EQ(boost::json::serialize(e.details()), text);
}

TEST(AuditEvents, Requests) {
  expect_event(audited::RequestRefused{.user = "alice",
                                       .path = "/usr/bin/bash",
                                       .rule = "fleet/no-shells",
                                       .reason = "rule \"fleet/no-shells\" denies it"},
               AuditKind::kRequestRefused,
               R"({"user":"alice","path":"/usr/bin/bash","rule":"fleet/no-shells",)"
               R"("reason":"rule \"fleet/no-shells\" denies it"})");
  expect_event(audited::RequestThrottled{.throttled = 1939,
                                         .by_endpoint_limit = 1900,
                                         .first_at = at(10, 0),
                                         .last_at = at(10, 1),
                                         .last_user = "mallory"},
               AuditKind::kRequestThrottled,
               R"({"throttled":1939,"by_endpoint_limit":1900,"first_at":"2026-03-02T10:00:00Z",)"
               R"("last_at":"2026-03-02T10:01:00Z","last_user":"mallory"})");
  expect_event(audited::RequestCreated{.requester = "bob",
                                       .request_kind = RequestKind::kCommand,
                                       .path = "/usr/bin/true",
                                       .argv = {"/usr/bin/true"},
                                       .runas = "root",
                                       .runas_group = "",
                                       .sha256 = *Sha256::from_hex(
                                           "c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2"),
                                       .rule = "base/truths",
                                       .approval_mode = ApprovalMode::kManual,
                                       .justification = "nightly backup job",
                                       .requested_duration = 900s},
               AuditKind::kRequestCreated,
               R"({"requester":"bob","kind":"command","path":"/usr/bin/true","argv":["/usr/bin/true"],"runas":"root",)"
               R"("runas_group":"","sha256":"c79bf44242829108e323378531f4ac839513ca1fba45efd6583643526e1e9fd2",)"
               R"("rule":"base/truths","approval_mode":"manual","justification":"nightly backup job",)"
               R"("requested_duration_s":900})");
  expect_event(audited::RequestCreated{.requester = "bob",
                                       .request_kind = RequestKind::kSession,
                                       .path = "",
                                       .argv = {},
                                       .runas = "root",
                                       .runas_group = "",
                                       .sha256 = std::nullopt,
                                       .rule = "base/admin-sessions",
                                       .approval_mode = ApprovalMode::kManual,
                                       .justification = "red team",
                                       .requested_duration = 1800s},
               AuditKind::kRequestCreated,
               R"({"requester":"bob","kind":"session","path":"","argv":[],"runas":"root","runas_group":"",)"
               R"("sha256":"","rule":"base/admin-sessions","approval_mode":"manual","justification":"red team",)"
               R"("requested_duration_s":1800})");
  expect_event(audited::RequestAutoApproved{.auto_approval = "fleet/dev-short", .grant_deadline = at(10, 30)},
               AuditKind::kRequestApproved,
               R"({"by":"autonomous","auto_approval":"fleet/dev-short","grant_deadline":"2026-03-02T10:30:00Z"})");
}

TEST(AuditEvents, TextFromARequestBodyIsMadeValidUtf8) {
  expect_event(audited::RequestRefused{.user = "al\xffice", .path = "/x", .rule = "", .reason = "no"},
               AuditKind::kRequestRefused,
               "{\"user\":\"al\xEF\xBF\xBDice\",\"path\":\"/x\",\"rule\":\"\",\"reason\":\"no\"}");
}

TEST(AuditEvents, AChangeEndsWithTheRequestAfterIt) {
  Request after;
  after.requester = "alice";
  after.state = RequestState::kApproved;
  after.grant_deadline = at(10, 10);
  const audited::RequestChange approved = audited::RequestApproved{.comment = ""};
  EXPECT_EQ(audited::kind_of(approved), AuditKind::kRequestApproved);
  EXPECT_EQ(boost::json::serialize(audited::details_of(approved, after)),
            R"({"by":"approver","comment":"","state":"approved","requester":"alice",)"
            R"("grant_deadline":"2026-03-02T10:10:00Z"})");

  const audited::RequestChange self = audited::RequestSelfApproved{.via = "agent:e1", .comment = "ok"};
  EXPECT_EQ(audited::kind_of(self), AuditKind::kRequestApproved);
  EXPECT_EQ(boost::json::serialize(audited::details_of(self, after)),
            R"({"by":"self","via":"agent:e1","comment":"ok","state":"approved","requester":"alice",)"
            R"("grant_deadline":"2026-03-02T10:10:00Z"})");

  after.grant_deadline.reset();
  after.state = RequestState::kDenied;
  const audited::RequestChange denied = audited::RequestDenied{.comment = "no"};
  EXPECT_EQ(audited::kind_of(denied), AuditKind::kRequestDenied);
  EXPECT_EQ(boost::json::serialize(audited::details_of(denied, after)),
            R"({"comment":"no","state":"denied","requester":"alice"})");

  after.state = RequestState::kCancelled;
  const audited::RequestChange cancelled = audited::RequestCancelled{.user = "alice"};
  EXPECT_EQ(audited::kind_of(cancelled), AuditKind::kRequestCancelled);
  EXPECT_EQ(boost::json::serialize(audited::details_of(cancelled, after)),
            R"({"user":"alice","state":"cancelled","requester":"alice"})");

  after.state = RequestState::kExpired;
  EXPECT_EQ(audited::kind_of(audited::RequestExpired{}), AuditKind::kRequestExpired);
  EXPECT_EQ(boost::json::serialize(audited::details_of(audited::RequestExpired{}, after)),
            R"({"state":"expired","requester":"alice"})");

  after.grant_deadline = at(10, 10);
  EXPECT_EQ(audited::kind_of(audited::GrantExpired{}), AuditKind::kGrantExpired);
  EXPECT_EQ(boost::json::serialize(audited::details_of(audited::GrantExpired{}, after)),
            R"({"state":"expired","requester":"alice","grant_deadline":"2026-03-02T10:10:00Z"})");

  after.state = RequestState::kRevoked;
  const audited::RequestChange revoked = audited::GrantRevoked{.reason = "done early"};
  EXPECT_EQ(audited::kind_of(revoked), AuditKind::kGrantRevoked);
  EXPECT_EQ(boost::json::serialize(audited::details_of(revoked, after)),
            R"({"reason":"done early","state":"revoked","requester":"alice","grant_deadline":"2026-03-02T10:10:00Z"})");
}

TEST(AuditEvents, Policies) {
  expect_event(
      audited::PolicyVersionAdded{
          .version = 2, .comment = "second", .diff = "--- web@1\n+++ web@2\n", .diff_truncated = false},
      AuditKind::kPolicyVersionAdded,
      R"({"version":2,"comment":"second","diff":"--- web@1\n+++ web@2\n","diff_truncated":false})");
  expect_event(audited::PolicyAssigned{.labels = {}, .previous_labels = {"web"}}, AuditKind::kPolicyAssigned,
               R"({"labels":[],"previous_labels":["web"]})");
  expect_event(audited::PolicyDeleted{}, AuditKind::kPolicyDeleted, "{}");
}

TEST(AuditEvents, Endpoints) {
  expect_event(audited::EnrolmentTokenCreated{.labels = {"db"}, .uses = 1, .expires_at = at(11, 0)},
               AuditKind::kEnrolmentTokenCreated, R"({"labels":["db"],"uses":1,"expires_at":"2026-03-02T11:00:00Z"})");
  expect_event(audited::EnrolmentTokenRevoked{}, AuditKind::kEnrolmentTokenRevoked, "{}");
  expect_event(audited::EndpointEnrolled{.enrolment_token = "143bda26cd16850374117caa",
                                         .labels = {"lab"},
                                         .agent_version = "0.1.0",
                                         .remote = "127.0.0.1"},
               AuditKind::kEndpointEnrolled,
               R"({"enrolment_token":"143bda26cd16850374117caa","labels":["lab"],"agent_version":"0.1.0",)"
               R"("remote":"127.0.0.1"})");
  expect_event(audited::EndpointRetired{}, AuditKind::kEndpointRetired, "{}");
  expect_event(audited::EndpointCodesKeyRotated{.old_generation = 1, .new_generation = 2},
               AuditKind::kEndpointCodesKeyRotated, R"({"old_generation":1,"new_generation":2})");
}

TEST(AuditEvents, AnAgentsEventKeepsItsDetailsUnderHoistdsFields) {
  const audited::EndpointEvent decision{
      .agent_kind = "decision",
      .agent_details = {{"target", ""}, {"event_id", "forged"}, {"user", "alice"}},
      .event_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      .endpoint_time = TimePoint{std::chrono::sys_days{std::chrono::year{2027} / 1 / 15}}};
  EXPECT_EQ(decision.action(), "endpoint.decision");
  EXPECT_EQ(boost::json::serialize(decision.details()),
            R"({"target":"","event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","user":"alice",)"
            R"("endpoint_time":"2027-01-15T00:00:00Z"})");

  auto used = decision;
  used.agent_kind = "code.used";
  used.agent_details = {{"code_kind", "response"}};
  used.code_use = audited::EndpointEvent::CodeMatch{.issued_code_id = 1};
  EXPECT_EQ(used.action(), to_string(AuditKind::kEndpointCodeUsed));
  EXPECT_EQ(boost::json::serialize(used.details()),
            R"({"code_kind":"response","matched":true,"issued_code_id":1,)"
            R"("event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","endpoint_time":"2027-01-15T00:00:00Z"})");
  used.code_use = audited::EndpointEvent::CodeMatch{.issued_code_id = std::nullopt};
  EXPECT_EQ(boost::json::serialize(used.details()),
            R"({"code_kind":"response","matched":false,"issued_code":null,)"
            R"("event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","endpoint_time":"2027-01-15T00:00:00Z"})");
  used.code_use = audited::EndpointEvent::CodeUnreadable{.problem = "field \"ref\" is required"};
  EXPECT_EQ(boost::json::serialize(used.details()),
            R"({"code_kind":"response","matched":false,"issued_code":null,"problem":"field \"ref\" is required",)"
            R"("event_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","endpoint_time":"2027-01-15T00:00:00Z"})");

  auto newer = decision;
  newer.agent_kind = "future.kind";
  EXPECT_EQ(newer.action(), "endpoint.future.kind");
}

TEST(AuditEvents, CodesIssuedNameTheCodeNotItsText) {
  expect_event(audited::CodeIssued{.endpoint = "e8c15230c607a9404fd4a13b",
                                   .user = "alice",
                                   .duration_s = 3600,
                                   .command = "",
                                   .reason = "",
                                   .generation = 1,
                                   .code = audited::CodeIssued::Response{.nonce = 703710},
                                   .issued_code_id = 1},
               AuditKind::kCodeIssued,
               R"({"endpoint":"e8c15230c607a9404fd4a13b","user":"alice","duration_s":3600,"command":"","reason":"",)"
               R"("generation":1,"kind":"response","nonce":703710,"issued_code_id":1})");
  expect_event(audited::CodeIssued{.endpoint = "9434928ae54e8b42eed087bb",
                                   .user = "bob",
                                   .duration_s = 3600,
                                   .command = "",
                                   .reason = "travel T-7",
                                   .generation = 1,
                                   .code = audited::CodeIssued::PreIssued{.code_id = 11974446, .days = 2},
                                   .issued_code_id = 1},
               AuditKind::kCodeIssued,
               R"({"endpoint":"9434928ae54e8b42eed087bb","user":"bob","duration_s":3600,"command":"",)"
               R"("reason":"travel T-7","generation":1,"kind":"preissued","code_id":11974446,"days":2,)"
               R"("issued_code_id":1})");
}

TEST(AuditEvents, UsersAndTokens) {
  expect_event(audited::UserCreated{.role = store::Role::kApprover}, AuditKind::kUserCreated, R"({"role":"approver"})");
  expect_event(audited::UserUpdated{}, AuditKind::kUserUpdated, "{}");
  expect_event(audited::UserUpdated{.role = store::Role::kAuditor}, AuditKind::kUserUpdated, R"({"role":"auditor"})");
  expect_event(audited::UserUpdated{.disabled = true, .sessions_revoked = 2, .tokens_revoked = 1},
               AuditKind::kUserUpdated, R"({"disabled":true,"sessions_revoked":2,"tokens_revoked":1})");
  expect_event(audited::UserUpdated{.password_changed = true, .sessions_revoked = 1, .tokens_revoked = 1},
               AuditKind::kUserUpdated, R"({"password_changed":true,"sessions_revoked":1,"tokens_revoked":1})");
  expect_event(audited::UserLogin{.remote = "192.0.2.10"}, AuditKind::kUserLogin, R"({"remote":"192.0.2.10"})");
  expect_event(audited::UserLogin{.remote = "192.0.2.10", .step_up = true}, AuditKind::kUserLogin,
               R"({"remote":"192.0.2.10","step_up":true})");
  expect_event(audited::UserLoginFailed{.remote = "127.0.0.1", .known_user = true}, AuditKind::kUserLoginFailed,
               R"({"remote":"127.0.0.1","reason":"wrong password"})");
  expect_event(audited::UserLoginFailed{.remote = "127.0.0.1", .known_user = false}, AuditKind::kUserLoginFailed,
               R"({"remote":"127.0.0.1","reason":"unknown or disabled user"})");
  expect_event(audited::UserLogout{}, AuditKind::kUserLogout, "{}");
  expect_event(audited::TokenCreated{.label = "ci", .expires_at = at(10, 1)}, AuditKind::kTokenCreated,
               R"({"label":"ci","expires_at":"2026-03-02T10:01:00Z"})");
  expect_event(audited::TokenCreated{.label = "ci", .expires_at = std::nullopt}, AuditKind::kTokenCreated,
               R"({"label":"ci","expires_at":null})");
  expect_event(audited::TokenUsed{.label = "tests"}, AuditKind::kTokenUsed, R"({"label":"tests"})");
  expect_event(audited::TokenRevoked{.user = "carol"}, AuditKind::kTokenRevoked, R"({"user":"carol"})");
}

}  // namespace
}  // namespace hoist::app
