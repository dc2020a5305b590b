// The limits on agents' submissions through the API, with hoistd's
// defaults (app/submission_throttle.h): a flood from one endpoint is
// answered 429 with Retry-After after its burst, leaves a bounded number
// of audit events and of notification deliveries, and holds up no other
// endpoint; what was refused is audited as request.throttled, with how
// many.
#include <fmt/format.h>

#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

class ThrottleApi : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    ASSERT_LT(put_policy("fleet", kFleetPolicy, {"web"}).status, 300);
    web1_ = enrol({"web"}, "web-01");
    web2_ = enrol({"web"}, "web-02");
    // What approvers subscribe to: every request event.
    const auto created = call_json("POST", "/api/v1/notify/channels",
                                   json::object{{"kind", "webhook"},
                                                {"name", "approvers"},
                                                {"events", json::array{"request.*"}},
                                                {"config", json::object{{"url", "https://hooks.example/in"}}},
                                                {"secret", kSecret}},
                                   as(store::Role::kAdmin));
    ASSERT_EQ(created.status, 201) << created;
    channel_ = created.str("/id");
    (void)as(store::Role::kAuditor);  // its token.used event before anything is counted
  }

  std::size_t deliveries() {
    const auto r =
        call("GET", "/api/v1/notify/deliveries?channel=" + channel_ + "&limit=1000", "", as(store::Role::kAdmin));
    EXPECT_EQ(r.status, 200) << r;
    return r.array("/deliveries").size();
  }
  json::array throttled_events() {
    const auto r = call("GET", "/api/v1/audit?action=request.throttled", "", as(store::Role::kAuditor));
    EXPECT_EQ(r.status, 200) << r;
    return r.array("/events");
  }

  Agent web1_;
  Agent web2_;
  std::string channel_;
};

// The attack pass: one endpoint credential sent 2000 submissions in 9 s,
// each refusal an audit event and a delivery on every channel taking
// request.*; a real request's notification arrived 24 s late.
TEST_F(ThrottleApi, AFloodFromOneEndpointIsRefusedAndLeavesABoundedTrail) {
  const auto seq_before = audit_head_seq();
  const auto deliveries_before = deliveries();
  int accepted = 0;
  int first_refused = -1;
  for (int i = 0; i < 2000; ++i) {
    Submission s;
    s.user = "user" + std::to_string(i % 200);  // many names: each under its own limit
    s.justification = "URGENT " + std::to_string(i);
    const auto r = submit(web1_, s);
    clock_.advance(std::chrono::microseconds{4500});
    if (r.status == 201) {
      ++accepted;
      continue;
    }
    ASSERT_EQ(r.status, 429) << r;
    if (first_refused < 0) {
      first_refused = i;
      EXPECT_EQ(r.error_code(), "rate_limited") << r;
      EXPECT_EQ(r.error_message(),
                "web-01 has sent too many requests in a short time (at most 60 at once, then one every 1s); "
                "try again in 1 s");
      EXPECT_EQ(r.header("retry-after"), "1") << r;
    }
  }
  // The burst of 60, then one a second for 9 s.
  EXPECT_EQ(first_refused, 60);
  EXPECT_GE(accepted, 60);
  EXPECT_LE(accepted, 60 + 9);

  // One event per accepted submission and one for the whole flood; as many
  // deliveries on the channel, not 2000.
  EXPECT_EQ(audit_head_seq() - seq_before, static_cast<std::uint64_t>(accepted) + 1);
  EXPECT_EQ(deliveries() - deliveries_before, static_cast<std::size_t>(accepted) + 1);
  auto events = throttled_events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].at("host").as_string(), "web-01");
  EXPECT_EQ(events[0].at("actor").as_string(), "agent:" + web1_.id);
  EXPECT_EQ(events[0].at("details").at("throttled").as_int64(), 1);

  // Another endpoint's request goes through at once, and is announced
  // right behind the flood's few events.
  const auto other = submit(web2_, Submission{});
  ASSERT_EQ(other.status, 201) << other;
  EXPECT_EQ(deliveries() - deliveries_before, static_cast<std::size_t>(accepted) + 2);

  // Once the minute has passed, one event counts the rest.
  EXPECT_EQ(*api_->report_throttled(), 0U);
  clock_.advance(std::chrono::seconds{61});
  EXPECT_EQ(*api_->report_throttled(), 1U);
  events = throttled_events();
  ASSERT_EQ(events.size(), 2U);
  const auto& counted = events[0].at("seq").as_int64() > events[1].at("seq").as_int64() ? events[0] : events[1];
  EXPECT_EQ(counted.at("details").at("throttled").as_int64(), 2000 - accepted - 1) << counted;
  EXPECT_EQ(counted.at("details").at("by_endpoint_limit").as_int64(), 2000 - accepted - 1) << counted;
  EXPECT_EQ(deliveries() - deliveries_before, static_cast<std::size_t>(accepted) + 3);
}

TEST_F(ThrottleApi, OneUserIsToldToWaitAndOthersOnTheEndpointAreNotHeldUp) {
  // mallory's first 10 wait, the next 10 are refused by the cap on waiting
  // requests (each audited: a person may do that), then her limit holds.
  int created = 0;
  int capped = 0;
  int throttled = 0;
  Reply last;
  for (int i = 0; i < 100; ++i) {
    Submission s;
    s.user = "mallory";
    last = submit(web1_, s);
    if (last.status == 201) {
      ++created;
    } else if (last.error_message().find("requests waiting") != std::string::npos) {
      ++capped;
    } else {
      ++throttled;
      EXPECT_EQ(last.status, 429) << last;
    }
  }
  EXPECT_EQ(created, 10);
  EXPECT_EQ(capped, 10);
  EXPECT_EQ(throttled, 80);
  EXPECT_EQ(last.error_message(),
            "mallory has sent too many requests from web-01 in a short time (at most 20 at once, then one every "
            "6s); try again in 6 s");
  EXPECT_EQ(last.header("retry-after"), "6") << last;
  EXPECT_EQ(throttled_events().size(), 1U);

  // Another user on the same endpoint is not held up.
  Submission alice;
  EXPECT_EQ(submit(web1_, alice).status, 201);
  // After the wait, mallory is heard again (and told about her cap).
  clock_.advance(std::chrono::seconds{6});
  Submission again;
  again.user = "mallory";
  const auto heard = submit(web1_, again);
  EXPECT_EQ(heard.status, 429);
  EXPECT_NE(heard.error_message().find("mallory has 10 requests waiting on web-01"), std::string::npos) << heard;
}

// The attack pass on the throttle: /api/v1/agent/events had no limit, so
// one endpoint credential put 20,000 events on the trail (and on every
// channel taking them) in 3 s, about 10 MB of database a second. Now each
// endpoint's uploads take from a bucket of 2000 events, then one every
// 50 ms: an upload gets the first events the bucket holds acknowledged
// (the agent keeps the rest), then 429 with Retry-After; the cut uploads
// are one endpoint.events_throttled event a minute; another endpoint is
// not held up.
TEST_F(ThrottleApi, AnEventFloodFromOneEndpointIsCutToItsLimit) {
  std::uint64_t next_id = 0;
  const auto upload = [&](const Agent& agent, int n) {
    json::array events;
    for (int i = 0; i < n; ++i) {
      events.push_back(json::object{{"id", fmt::format("{:032x}", ++next_id)},
                                    {"kind", "process"},
                                    {"time_ms", 1'800'000'000'000},
                                    {"target", "req-1"},
                                    {"details", json::object{{"user", "mallory"}, {"command", "/usr/bin/id"}}}});
    }
    return call_json("POST", "/api/v1/agent/events", json::object{{"events", std::move(events)}}, agent.headers());
  };
  const auto seq_before = audit_head_seq();
  std::size_t acknowledged = 0;
  int refused = 0;
  for (int i = 0; i < 30; ++i) {
    const auto r = upload(web1_, 1000);
    if (r.status == 200) {
      acknowledged += r.array("/acknowledged").size();
      continue;
    }
    ASSERT_EQ(r.status, 429) << r;
    if (refused++ == 0) {
      EXPECT_EQ(r.error_code(), "rate_limited") << r;
      EXPECT_EQ(r.error_message(),
                "web-01 uploads events faster than hoistd takes them (at most 2000 at once, then one every 50ms); "
                "send the rest in 1 s");
      EXPECT_EQ(r.header("retry-after"), "1") << r;
    }
  }
  EXPECT_EQ(acknowledged, 2000U) << "the burst, and not one more without time passing";
  EXPECT_EQ(refused, 28);
  // 2000 events and one endpoint.events_throttled (the first cut, at once).
  EXPECT_EQ(audit_head_seq(), seq_before + 2001);
  const auto throttled = [&] {
    const auto r = call("GET", "/api/v1/audit?action=endpoint.events_throttled", "", as(store::Role::kAuditor));
    EXPECT_EQ(r.status, 200) << r;
    return r.array("/events");
  };
  ASSERT_EQ(throttled().size(), 1U);
  EXPECT_EQ(throttled()[0].at("host"), "web-01");

  // Another endpoint uploads at once.
  const auto other = upload(web2_, 1000);
  ASSERT_EQ(other.status, 200) << other;
  EXPECT_EQ(other.array("/acknowledged").size(), 1000U);

  // Time refills web-01's bucket: 10 s is 200 more, a prefix of the next upload.
  clock_.advance(std::chrono::seconds{10});
  const auto later = upload(web1_, 1000);
  ASSERT_EQ(later.status, 200) << later;
  EXPECT_EQ(later.array("/acknowledged").size(), 200U);

  // The sweep after the minute records what was cut since, once.
  clock_.advance(std::chrono::seconds{60});
  ASSERT_TRUE(api_->report_throttled().ok());
  const auto events = throttled();
  ASSERT_EQ(events.size(), 2U);
  const auto& d = events[1].at("details").as_object();
  EXPECT_EQ(d.at("uploads").as_int64(), 28);  // 27 refused unread after the first report, one cut to 200
  EXPECT_EQ(d.at("events").as_int64(), 800);
}

}  // namespace
}  // namespace hoist::api::testing
