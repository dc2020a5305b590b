// hoistd's request service over a real SQLite store in a temporary
// directory: what each step stores, audits and pushes, the cap on waiting
// requests, and who may act on a request. The HTTP API on top is in
// api_tests; here nothing is parsed or rendered.
#include "server/app/request_service.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/policy_file.h"
#include "platform/system_time_zones.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace hoist::app {
namespace {

using Clock = std::chrono::system_clock;
const Clock::time_point kStart =
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::March / 2} + std::chrono::hours{10};

constexpr std::string_view kPolicy = R"(version = 1

[settings]
default_action = "deny"
request_expiry = "1h"
self_approval_groups = ["oncall"]

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
approval = "manual"

[[rule]]
name = "docker"
action = "request"
path = "/usr/bin/docker"
approval = "autonomous"

[[rule]]
name = "journal"
action = "request"
path = "/usr/bin/journalctl"
approval = "self"
groups = ["oncall"]

[[rule]]
name = "sessions"
action = "request"
session = true
approval = "manual"

[[auto_approval]]
name = "dev-short"
groups = ["developers"]
rules = ["docker"]
max_duration = "1h"
)";

class RequestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::open_sqlite_store(dir_.path() + "/hoist.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    auto parsed = parse_policy(kPolicy, "fleet", zones_);
    ASSERT_TRUE(parsed.policy) << (parsed.errors.empty() ? "" : parsed.errors.front().to_string());
    auto compiled = CompiledPolicy::compile(std::move(*parsed.policy));
    ASSERT_TRUE(compiled.ok()) << compiled.error().message;
    policy_ = *compiled;
    for (const auto* ep : {&web1_, &web2_}) {
      store::EndpointRecord rec;
      rec.id = ep->endpoint_id;
      rec.hostname = ep->host;
      rec.credential_hash = "x";
      rec.enrolled_at = now_s();
      ASSERT_TRUE(store_->write([&](store::StoreTx& tx) { return tx.insert_endpoint(rec); }).ok());
    }
    service_ = std::make_unique<RequestService>(deps());
  }

  ServiceDeps deps() {
    return ServiceDeps{
        .store = *store_,
        .zones = zones_,
        .append_audit = [this](store::StoreTx& tx, const std::string& actor, std::string_view action,
                               const std::string& target, const std::string& host,
                               const boost::json::object& details) -> Status {
          if (refuse_audit_) return unavailable("the audit trail does not verify");
          store::AuditDraft d{std::chrono::time_point_cast<std::chrono::milliseconds>(now_),
                              actor,
                              std::string(action),
                              target,
                              host,
                              boost::json::serialize(details)};
          auto appended = tx.append_audit(d);
          if (!appended) return appended.error();
          return {};
        },
        .wake_push = [this](const std::string& endpoint_id) { woken_.push_back(endpoint_id); },
        .new_request_id = [this](Clock::time_point) { return "req-" + std::to_string(++ids_); },
    };
  }

  TimePoint now_s() const { return std::chrono::time_point_cast<Seconds>(now_); }

  static SubmitBody command(const std::string& user, const std::string& path, std::vector<std::string> groups = {}) {
    SubmitBody b;
    b.kind = "command";
    b.user = user;
    b.groups = std::move(groups);
    b.justification = "ticket 4711";
    b.path = path;
    b.argv = {path.substr(path.rfind('/') + 1), "x"};
    b.trusted_path = true;
    b.runas.user = "root";
    return b;
  }
  static SubmitBody session(const std::string& user) {
    SubmitBody b;
    b.kind = "session";
    b.user = user;
    b.justification = "patch night";
    return b;
  }

  Result<SubmitOutcome> submit(const SubmitBody& b, const EndpointCaller& at) {
    return service_->submit(*policy_, at, b, now_);
  }
  std::string submit_pending(const SubmitBody& b, const EndpointCaller& at) {
    auto r = submit(b, at);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok() || !r->request) return "";
    EXPECT_EQ(r->request->request.state, RequestState::kPending);
    return r->request->request.id;
  }
  std::vector<AuditEvent> audit(const std::string& action) {
    store::AuditFilter f;
    f.action = action;
    auto events = store_->audit_events(f);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<AuditEvent>{};
  }
  std::size_t pending(const std::string& user) {
    store::RequestFilter f;
    f.state = RequestState::kPending;
    f.requester = user;
    auto r = store_->requests(f);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->size() : 0;
  }
  std::vector<store::PushMessage> pushed(const EndpointCaller& at) {
    auto r = store_->push_after(at.endpoint_id, 0, 100);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::vector<store::PushMessage>{};
  }

  hoist::testing::PrivateDir dir_;
  platform::SystemTimeZones zones_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<const CompiledPolicy> policy_;
  std::unique_ptr<RequestService> service_;
  Clock::time_point now_ = kStart;
  bool refuse_audit_ = false;
  int ids_ = 0;
  std::vector<std::string> woken_;
  const EndpointCaller web1_{"agent:ep-1", "ep-1", "web-01", {"web"}};
  const EndpointCaller web2_{"agent:ep-2", "ep-2", "web-02", {"web"}};
  const UserCaller bob_{"bob", "bob (token 3f2a)"};
};

TEST_F(RequestServiceTest, ARequestIsStoredAuditedAndPushedInOneStep) {
  auto r = submit(command("alice", "/usr/bin/apt-get"), web1_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->action, Action::kRequest);
  ASSERT_TRUE(r->request);
  EXPECT_EQ(r->request->request.id, "req-1");
  EXPECT_EQ(r->request->request.state, RequestState::kPending);
  EXPECT_EQ(r->request->endpoint_id, "ep-1");
  EXPECT_EQ(r->request->version, 1);
  const auto created = audit("request.created");
  ASSERT_EQ(created.size(), 1U);
  EXPECT_EQ(created[0].actor, "agent:ep-1");
  EXPECT_EQ(created[0].target, "req-1");
  EXPECT_EQ(created[0].host, "web-01");
  ASSERT_EQ(pushed(web1_).size(), 1U);
  EXPECT_EQ(woken_, std::vector<std::string>{"ep-1"});
}

TEST_F(RequestServiceTest, ADenyIsAuditedAndStoresNothing) {
  auto r = submit(command("alice", "/usr/bin/bash"), web1_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->action, Action::kDeny);
  EXPECT_FALSE(r->request);
  EXPECT_EQ(audit("request.refused").size(), 1U);
  EXPECT_TRUE(store_->requests({})->empty());
  EXPECT_TRUE(pushed(web1_).empty());
}

TEST_F(RequestServiceTest, BadInputIsRefusedBeforeTheStore) {
  SubmitBody b = command("alice", "/usr/bin/apt-get");
  b.kind = "shell";
  EXPECT_EQ(submit(b, web1_).error().message, "field \"kind\" must be \"command\" or \"session\"");
  b = command("alice", "/usr/bin/apt-get");
  b.sha256 = "nothex";
  EXPECT_EQ(submit(b, web1_).error().code, ErrorCode::kInvalidArgument);
  b = session("alice");
  b.path = "/usr/bin/apt-get";
  EXPECT_EQ(submit(b, web1_).error().message, "a session request takes no \"command\"");
  EXPECT_TRUE(store_->requests({})->empty());
  EXPECT_TRUE(audit("request.refused").empty());
}

TEST_F(RequestServiceTest, TheEleventhWaitingRequestIsRefusedAndAudited) {
  for (int i = 0; i < 9; ++i) submit_pending(command("alice", "/usr/bin/apt-get"), web1_);
  submit_pending(session("alice"), web1_);  // a session counts like a command
  auto refused = submit(command("alice", "/usr/bin/apt-get"), web1_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(refused.error().message,
            "alice has 10 requests waiting on web-01; an approver must decide one, or withdraw one with "
            "`hoist cancel ID` (`hoist status` lists them)");
  EXPECT_EQ(submit(session("alice"), web1_).error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(pending("alice"), kMaxPendingPerRequester);
  const auto events = audit("request.refused");
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].actor, "agent:ep-1");
  EXPECT_EQ(events[0].host, "web-01");
  EXPECT_NE(events[0].details.find("\"rule\":\"installs\""), std::string::npos) << events[0].details;
  EXPECT_NE(events[0].details.find("has 10 requests waiting"), std::string::npos) << events[0].details;
  EXPECT_EQ(pushed(web1_).size(), kMaxPendingPerRequester);  // the refusals pushed nothing
}

// A stolen agent credential can send any requester name: the endpoint as a
// whole has a cap too.
TEST_F(RequestServiceTest, AnEndpointHasAtMostAHundredWaitingRequestsWhoeverAsked) {
  for (std::size_t user = 0; user < kMaxPendingPerEndpoint / kMaxPendingPerRequester; ++user) {
    for (std::size_t i = 0; i < kMaxPendingPerRequester; ++i) {
      submit_pending(command("user" + std::to_string(user), "/usr/bin/apt-get"), web1_);
    }
  }
  auto refused = submit(command("someone-new", "/usr/bin/apt-get"), web1_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(refused.error().message,
            "100 requests wait for a decision on web-01 already; an approver must decide some before more can be sent");
  EXPECT_EQ(audit("request.refused").size(), 1U);
  submit_pending(command("someone-new", "/usr/bin/apt-get"), web2_);  // another endpoint is not affected
  EXPECT_EQ(pushed(web1_).size(), kMaxPendingPerEndpoint);
}

TEST_F(RequestServiceTest, TheCapIsPerRequesterAndEndpointAndCountsOnlyWaitingRequests) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kMaxPendingPerRequester; ++i) {
    ids.push_back(submit_pending(command("alice", "/usr/bin/apt-get"), web1_));
  }
  EXPECT_EQ(submit(command("alice", "/usr/bin/apt-get"), web1_).error().code, ErrorCode::kRateLimited);
  submit_pending(command("carol", "/usr/bin/apt-get"), web1_);  // another requester
  submit_pending(command("alice", "/usr/bin/apt-get"), web2_);  // another endpoint
  // Auto-approved: it does not wait, so it is not refused.
  SubmitBody dev = command("alice", "/usr/bin/docker", {"developers"});
  dev.duration_s = 600;
  auto approved = submit(dev, web1_);
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  EXPECT_EQ(approved->request->request.state, RequestState::kApproved);
  // A decision frees a place, for one more.
  ASSERT_TRUE(service_->deny(ids[0], bob_, "no", now_s()).ok());
  submit_pending(command("alice", "/usr/bin/apt-get"), web1_);
  EXPECT_EQ(submit(command("alice", "/usr/bin/apt-get"), web1_).error().code, ErrorCode::kRateLimited);
  // So does a withdrawal, and so does expiry (request_expiry = 1h), swept or not.
  ASSERT_TRUE(service_->cancel(web1_, ids[1], "alice", now_s()).ok());
  submit_pending(command("alice", "/usr/bin/apt-get"), web1_);
  now_ += std::chrono::hours{1};
  submit_pending(command("alice", "/usr/bin/apt-get"), web1_);
}

// --- the submission throttle (submission_throttle.h) ---

class ThrottledRequestServiceTest : public RequestServiceTest {
 protected:
  void SetUp() override {
    RequestServiceTest::SetUp();
    SubmissionThrottle::Options o;
    o.limits.per_endpoint = {30, std::chrono::seconds{1}};
    o.limits.per_user = {5, std::chrono::seconds{6}};
    service_ = std::make_unique<RequestService>(deps(), o);
  }
  AuditTime now_ms() const { return std::chrono::time_point_cast<std::chrono::milliseconds>(now_); }
  // What the API does with a submission: the throttle, then submit().
  Result<SubmitOutcome> send(const SubmitBody& b, const EndpointCaller& at) {
    if (auto throttled = service_->throttle(at, b.user, now_ms())) return throttled->error;
    return submit(b, at);
  }
  std::size_t audited() {
    auto events = store_->audit_events({});
    return events.ok() ? events->size() : 0;
  }
};

// The attack pass: one endpoint credential sent 2000 submissions in 9 s;
// each refusal was an audit event (and a notification on every channel
// taking request.*).
TEST_F(ThrottledRequestServiceTest, AFloodIsRefusedAndAuditedOncePerWindowNotOncePerAttempt) {
  int accepted = 0;
  int throttled = 0;
  for (int i = 0; i < 2000; ++i) {
    now_ = kStart + std::chrono::milliseconds{i * 9000 / 2000};
    auto r = send(command(i % 4 == 0 ? "mallory" : "m" + std::to_string(i % 97), "/usr/bin/apt-get"), web1_);
    if (r.ok()) {
      ++accepted;
    } else if (r.error().message.find("too many requests") != std::string::npos) {
      ++throttled;
    }
  }
  // 30 at once, then one a second for 9 s; the cap of waiting requests
  // refuses a few of those on its own.
  EXPECT_LE(accepted, 30 + 9);
  EXPECT_GE(throttled, 2000 - 30 - 9);
  EXPECT_LE(audited(), 30U + 9U + 1U) << "one event per accepted or refused submission, and one for the flood";
  auto events = audit("request.throttled");
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].actor, "agent:ep-1");
  EXPECT_EQ(events[0].host, "web-01");
  EXPECT_EQ(events[0].target, "");
  EXPECT_NE(events[0].details.find("\"throttled\":1,"), std::string::npos) << events[0].details;

  // Another endpoint is not held up.
  EXPECT_TRUE(send(command("alice", "/usr/bin/apt-get"), web2_).ok());

  // The rest are audited as one event once the window has passed.
  ASSERT_EQ(*service_->report_throttled(now_ms()), 0U);
  now_ = kStart + std::chrono::seconds{61};
  ASSERT_EQ(*service_->report_throttled(now_ms()), 1U);
  events = audit("request.throttled");
  ASSERT_EQ(events.size(), 2U);
  EXPECT_NE(events[1].details.find(fmt::format("\"throttled\":{},", throttled - 1)), std::string::npos)
      << events[1].details;
  EXPECT_NE(events[1].details.find("\"first_at\":\"2026-03-02T10:00:00Z\""), std::string::npos) << events[1].details;
  EXPECT_NE(events[1].details.find("\"last_at\":\"2026-03-02T10:00:08Z\""), std::string::npos) << events[1].details;
  EXPECT_EQ(*service_->report_throttled(now_ms() + std::chrono::hours{1}), 0U);
}

TEST_F(ThrottledRequestServiceTest, TheUserIsToldWhichLimitAndHowLongToWait) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(service_->throttle(web1_, "alice", now_ms()) == std::nullopt);
  auto t = service_->throttle(web1_, "alice", now_ms() + std::chrono::seconds{2});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->error.code, ErrorCode::kRateLimited);
  EXPECT_EQ(t->error.message,
            "alice has sent too many requests from web-01 in a short time (at most 5 at once, then one every 6s); "
            "try again in 4 s");
  EXPECT_EQ(t->retry_after, Seconds{4});
  // The endpoint had 25 left, and 2 s gave it 2 more.
  for (int i = 0; i < 27; ++i) {
    ASSERT_TRUE(service_->throttle(web1_, "u" + std::to_string(i), now_ms() + std::chrono::seconds{2}) == std::nullopt);
  }
  t = service_->throttle(web1_, "bob", now_ms() + std::chrono::milliseconds{2300});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->error.message,
            "web-01 has sent too many requests in a short time (at most 30 at once, then one every 1s); "
            "try again in 1 s");
  EXPECT_EQ(t->retry_after, Seconds{1});
}

TEST_F(ThrottledRequestServiceTest, ACountThatCannotBeAuditedIsKeptForTheNextReport) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(service_->throttle(web1_, "alice", now_ms()) == std::nullopt);
  refuse_audit_ = true;
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(service_->throttle(web1_, "alice", now_ms())) << "refused all the same";
  EXPECT_FALSE(service_->report_throttled(now_ms(), true).ok());
  refuse_audit_ = false;
  ASSERT_EQ(*service_->report_throttled(now_ms(), true), 1U);
  const auto events = audit("request.throttled");
  ASSERT_EQ(events.size(), 1U);
  EXPECT_NE(events[0].details.find("\"throttled\":7,"), std::string::npos) << events[0].details;
}

TEST_F(RequestServiceTest, ReviewsAreTransitionsWithTheirAuditAndPush) {
  const std::string id = submit_pending(command("alice", "/usr/bin/apt-get"), web1_);
  auto approved = service_->approve(id, bob_, Seconds{600}, "ok", now_s());
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  EXPECT_EQ(approved->request.state, RequestState::kApproved);
  EXPECT_EQ(approved->version, 2);
  EXPECT_EQ(approved->request.grant_deadline, now_s() + Seconds{600});
  const auto events = audit("request.approved");
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].actor, "bob (token 3f2a)");
  EXPECT_EQ(events[0].target, id);
  EXPECT_EQ(pushed(web1_).size(), 2U);
  // A second reviewer racing the first: Conflict.
  EXPECT_EQ(service_->deny(id, UserCaller{"dave", "dave"}, "", now_s()).error().code, ErrorCode::kConflict);
  auto revoked = service_->revoke(id, bob_, "done", now_s());
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_EQ(revoked->request.state, RequestState::kRevoked);
  EXPECT_EQ(audit("grant.revoked").size(), 1U);
  EXPECT_EQ(service_->approve("req-none", bob_, std::nullopt, "", now_s()).error().code, ErrorCode::kNotFound);
}

TEST_F(RequestServiceTest, OnlyTheRequesterThroughTheirOwnEndpointCancelsOrSelfApproves) {
  const std::string id = submit_pending(command("carol", "/usr/bin/journalctl", {"oncall"}), web1_);
  EXPECT_EQ(service_->cancel(web2_, id, "carol", now_s()).error().message, "this endpoint has no request " + id);
  EXPECT_EQ(service_->cancel(web1_, id, "mallory", now_s()).error().message, "only the requester may cancel a request");
  EXPECT_EQ(service_->self_approve(web2_, id, "carol", std::nullopt, "", now_s()).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(service_->self_approve(web1_, id, "mallory", std::nullopt, "", now_s()).error().message,
            "self-approval is for the requester only");
  auto approved = service_->self_approve(web1_, id, "carol", Seconds{300}, "on call", now_s());
  ASSERT_TRUE(approved.ok()) << approved.error().message;
  EXPECT_EQ(approved->request.state, RequestState::kApproved);
  const auto events = audit("request.approved");
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].actor, "carol");
  EXPECT_NE(events[0].details.find("\"via\":\"agent:ep-1\""), std::string::npos) << events[0].details;
}

TEST_F(RequestServiceTest, ExpiryEndsAWaitingRequestAndAGrant) {
  const std::string waiting = submit_pending(command("alice", "/usr/bin/apt-get"), web1_);
  const std::string granted = submit_pending(command("alice", "/usr/bin/apt-get"), web1_);
  ASSERT_TRUE(service_->approve(granted, bob_, Seconds{60}, "", now_s()).ok());
  now_ += std::chrono::hours{1};
  auto due = store_->due_requests(now_s(), 100);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2U);
  for (const auto& rec : *due) ASSERT_TRUE(service_->expire(rec, now_s()).ok());
  EXPECT_EQ(audit("request.expired").size(), 1U);
  EXPECT_EQ(audit("grant.expired").size(), 1U);
  EXPECT_EQ((*store_->request(waiting))->request.state, RequestState::kExpired);
  EXPECT_EQ((*store_->request(granted))->request.state, RequestState::kExpired);
}

TEST_F(RequestServiceTest, WhenTheAuditCannotBeWrittenNothingIs) {
  refuse_audit_ = true;
  EXPECT_EQ(submit(command("alice", "/usr/bin/apt-get"), web1_).error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(store_->requests({})->empty());
  EXPECT_TRUE(pushed(web1_).empty());
  EXPECT_TRUE(woken_.empty());
}

}  // namespace
}  // namespace hoist::app
