// GET /metrics through the API: who may scrape (only the metrics token;
// nothing leaks to anyone else), the series the API feeds (decisions and
// their wait, requests by state, the audit sequence), the route label of
// every answer (a template, never the path as sent), and that a scrape
// renders at most once per interval.
#include <sodium.h>

#include <set>

#include "api_test_support.h"
#include "server/auth/secrets.h"
#include "server/metrics/server_metrics.h"

namespace hoist::api::testing {
namespace {

// The sample line that starts with `series` ("name{labels}"), or "".
std::string sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  std::size_t at = 0;
  while (at < text.size()) {
    const auto end = text.find('\n', at);
    const auto line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return "";
}

class Metrics : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    metrics_owned_ = std::make_unique<server::ServerMetrics>(std::chrono::milliseconds(0));
    metrics_ = metrics_owned_.get();
    token_ = auth::make_secret_token(auth::kMetricsTokenKind);
    metrics_token_hash_ = auth::hash_secret(token_.secret);
    restart();
    metrics_->watch_store(*store_);
  }

  void TearDown() override {
    ApiTest::TearDown();
    metrics_owned_.reset();
  }

  Reply scrape() { return call("GET", "/metrics", "", bearer(token_.text())); }
  std::string text() {
    const auto r = scrape();
    EXPECT_EQ(r.status, 200) << r;
    return r.raw.body;
  }
  std::string value(const std::string& series) { return sample(text(), series); }

  std::unique_ptr<server::ServerMetrics> metrics_owned_;
  auth::SecretToken token_;
};

TEST_F(Metrics, TheTokenScrapesEverySeries) {
  const auto r = scrape();
  ASSERT_EQ(r.status, 200) << r;
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.raw.route, "/metrics");
  for (const std::string family : {"hoist_http_requests_total counter", "hoist_http_request_duration_seconds histogram",
                                   "hoist_request_decisions_total counter", "hoist_request_wait_seconds histogram",
                                   "hoist_long_polls_waiting gauge", "hoist_requests gauge",
                                   "hoist_audit_last_seq gauge", "hoist_notify_pruned_total counter"}) {
    EXPECT_NE(r.raw.body.find("# TYPE " + family + "\n"), std::string::npos) << family << "\n" << r.raw.body;
  }
  EXPECT_EQ(sample(r.raw.body, "hoist_requests{state=\"pending\"}"), "0");
  EXPECT_EQ(sample(r.raw.body, "hoist_request_decisions_total{outcome=\"approved\"}"), "0");
  EXPECT_EQ(sample(r.raw.body, "hoist_long_polls_waiting{channel=\"agent_push\"}"), "0");
}

TEST_F(Metrics, AnyOtherCallerGets401AndNothingOfTheMetrics) {
  const auto wrong = auth::make_secret_token(auth::kMetricsTokenKind);  // right shape, another secret
  const auto agent = [&] {
    put_policy("fleet", kFleetPolicy, {"web"});
    return enrol({"web"});
  }();
  const std::vector<Headers> callers = {
      {},
      bearer(wrong.text()),
      bearer(token_.kind + "_" + token_.id + "_" + token_.secret),  // no hoist_ prefix
      bearer(token_.text() + " "),
      bearer(token_.text().substr(0, token_.text().size() - 1)),
      as(store::Role::kAdmin),  // an admin's API token is not the metrics token
      agent.headers(),
      {{"authorization", "Basic " + token_.text()}},
      {{"authorization", "bearer " + token_.text()}},
  };
  for (const auto& headers : callers) {
    for (const std::string method : {"GET", "HEAD", "POST"}) {
      const auto r = call(method, "/metrics", "", headers);
      EXPECT_EQ(r.status, 401) << method << " " << r;
      EXPECT_EQ(r.raw.body.find("hoist_"), r.raw.body.find("hoist_metrics_")) << r;  // no series name
      EXPECT_EQ(r.raw.body.find("# TYPE"), std::string::npos) << r;
      EXPECT_EQ(r.raw.body.find(token_.secret), std::string::npos) << r;
      EXPECT_EQ(r.raw.body.find(wrong.secret), std::string::npos) << r;
    }
  }
  // With the token, another method is refused too.
  EXPECT_EQ(call("POST", "/metrics", "", bearer(token_.text())).status, 405);
}

TEST_F(Metrics, WithoutATokenConfiguredMetricsIsLikeAnyOtherPath) {
  metrics_token_hash_.clear();
  restart();
  const auto metrics = call("GET", "/metrics", "", bearer(token_.text()));
  const auto other = call("GET", "/no-such-page", "", bearer(token_.text()));
  EXPECT_EQ(metrics.status, 404) << metrics;
  EXPECT_EQ(metrics.status, other.status);
  EXPECT_EQ(metrics.raw.body, other.raw.body);
  EXPECT_EQ(metrics.raw.body.find("# TYPE"), std::string::npos);
}

TEST_F(Metrics, ATokenIsRefusedWhereAnAPITokenIsExpected) {
  const auto r = call("GET", "/api/v1/whoami", "", bearer(token_.text()));
  EXPECT_EQ(r.status, 401) << r;
}

TEST_F(Metrics, DecisionsAndTheirWaitByOutcome) {
  put_policy("fleet", kFleetPolicy, {"web"});
  const auto agent = enrol({"web"});
  // Approved after 90 s.
  auto created = submit(agent, Submission{});
  ASSERT_EQ(created.status, 201) << created;
  EXPECT_EQ(value("hoist_requests{state=\"pending\"}"), "1");
  clock_.advance(std::chrono::seconds(90));
  ASSERT_EQ(call_json("POST", "/api/v1/requests/" + created.str("/request/id") + "/approve", json::object{},
                      as(store::Role::kApprover))
                .status,
            200);
  // Denied after 10 s.
  created = submit(agent, Submission{});
  clock_.advance(std::chrono::seconds(10));
  ASSERT_EQ(call_json("POST", "/api/v1/requests/" + created.str("/request/id") + "/deny", json::object{},
                      as(store::Role::kApprover))
                .status,
            200);
  // Approved by a rule at once.
  Submission docker;
  docker.groups = {"developers"};
  docker.path = "/usr/bin/docker";
  docker.argv = {"docker", "ps"};
  docker.duration_s = 600;
  const auto auto_approved = submit(agent, docker);
  ASSERT_EQ(auto_approved.str("/request/state"), "approved") << auto_approved;
  // Nobody answers one within the hour.
  created = submit(agent, Submission{});
  ASSERT_EQ(created.status, 201);
  clock_.advance(std::chrono::hours(2));
  ASSERT_TRUE(api_->expire_due().ok());

  const auto t = text();
  EXPECT_EQ(sample(t, "hoist_request_decisions_total{outcome=\"approved\"}"), "1") << t;
  EXPECT_EQ(sample(t, "hoist_request_decisions_total{outcome=\"denied\"}"), "1") << t;
  EXPECT_EQ(sample(t, "hoist_request_decisions_total{outcome=\"auto_approved\"}"), "1") << t;
  EXPECT_EQ(sample(t, "hoist_request_decisions_total{outcome=\"expired\"}"), "1") << t;
  EXPECT_EQ(sample(t, "hoist_request_decisions_total{outcome=\"self_approved\"}"), "0") << t;
  // The grants that expired with the same sweep are no decision.
  EXPECT_EQ(sample(t, "hoist_request_wait_seconds_bucket{outcome=\"approved\",le=\"60\"}"), "0") << t;
  EXPECT_EQ(sample(t, "hoist_request_wait_seconds_bucket{outcome=\"approved\",le=\"120\"}"), "1") << t;
  EXPECT_EQ(sample(t, "hoist_request_wait_seconds_sum{outcome=\"approved\"}"), "90") << t;
  EXPECT_EQ(sample(t, "hoist_request_wait_seconds_sum{outcome=\"denied\"}"), "10") << t;
  EXPECT_EQ(sample(t, "hoist_request_wait_seconds_sum{outcome=\"auto_approved\"}"), "0") << t;
  EXPECT_EQ(sample(t, "hoist_request_wait_seconds_count{outcome=\"expired\"}"), "1") << t;
  // From the store.
  EXPECT_EQ(sample(t, "hoist_requests{state=\"pending\"}"), "0") << t;
  EXPECT_EQ(sample(t, "hoist_requests{state=\"denied\"}"), "1") << t;
  EXPECT_EQ(sample(t, "hoist_requests{state=\"expired\"}"), "3") << t;  // one pending, two grants
  EXPECT_EQ(sample(t, "hoist_audit_last_seq"), std::to_string(audit_head_seq())) << t;
}

TEST_F(Metrics, EveryAnswerNamesItsRouteTemplateNeverThePath) {
  put_policy("fleet", kFleetPolicy, {"web"});
  const auto agent = enrol({"web"});
  const auto created = submit(agent, Submission{});
  const std::string id = created.str("/request/id");
  EXPECT_EQ(created.raw.route, "/api/v1/agent/requests");
  EXPECT_EQ(call("GET", "/api/v1/requests/" + id, "", as(store::Role::kAuditor)).raw.route, "/api/v1/requests/{id}");
  // Refused before the handler: still the template.
  EXPECT_EQ(call("GET", "/api/v1/requests/" + id).raw.route, "/api/v1/requests/{id}");
  EXPECT_EQ(call("GET", "/api/v1/requests/made-up-" + id, "", as(store::Role::kAuditor)).raw.route,
            "/api/v1/requests/{id}");
  EXPECT_EQ(call("GET", "/api/v1/no/such/thing/" + id).raw.route, "unmatched");
  EXPECT_EQ(call("DELETE", "/api/v1/health").raw.route, "unmatched");
  EXPECT_EQ(call("GET", "/some/page/" + id).raw.route, "console");
  EXPECT_EQ(call("GET", "/metrics").raw.route, "/metrics");
  for (const auto& r : api_->routes()) {
    EXPECT_EQ(r.pattern.find(id), std::string::npos);
  }
}

TEST_F(Metrics, LongPollsWaitingAreCountedWhileTheyWait) {
  put_policy("fleet", kFleetPolicy, {"web"});
  const auto agent = enrol({"web"});
  const auto drained = call("GET", "/api/v1/agent/push?after=0&wait=0", "", agent.headers());
  ASSERT_EQ(drained.status, 200) << drained;
  const auto cursor = drained.num("/cursor");
  auto waiting = call("GET", "/api/v1/agent/push?after=" + std::to_string(cursor) + "&wait=30", "", agent.headers());
  ASSERT_NE(waiting.raw.long_poll, nullptr) << waiting;
  EXPECT_EQ(value("hoist_long_polls_waiting{channel=\"agent_push\"}"), "1");
  waiting.raw.long_poll.reset();  // the connection ends
  EXPECT_EQ(value("hoist_long_polls_waiting{channel=\"agent_push\"}"), "0");
}

TEST(ServerMetrics, AScrapeRendersAtMostOncePerInterval) {
  server::ServerMetrics m(std::chrono::milliseconds(1000));
  int reads = 0;
  m.registry().gauge_callback("hoist_test_reads", "Reads.", [&reads] { return std::optional<double>(++reads); });
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  for (int i = 0; i < 100; ++i) {
    EXPECT_NE(m.scrape(t0 + std::chrono::milliseconds(i * 9)).find("hoist_test_reads 1\n"), std::string::npos);
  }
  EXPECT_EQ(reads, 1);
  EXPECT_NE(m.scrape(t0 + std::chrono::milliseconds(1000)).find("hoist_test_reads 2\n"), std::string::npos);
  EXPECT_EQ(reads, 2);
}

TEST(ServerMetrics, TheOutboxsRetentionCountsWhatItDeletedByTable) {
  server::ServerMetrics m(std::chrono::milliseconds(0));
  auto text = m.scrape(std::chrono::steady_clock::now());
  EXPECT_NE(text.find("hoist_notify_pruned_total{table=\"deliveries\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hoist_notify_pruned_total{table=\"message_refs\"} 0\n"), std::string::npos) << text;
  m.observe_outbox_pruned(1500, 3);
  m.observe_outbox_pruned(0, 0);
  m.observe_outbox_pruned(2, 0);
  text = m.scrape(std::chrono::steady_clock::now());
  EXPECT_NE(text.find("hoist_notify_pruned_total{table=\"deliveries\"} 1502\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hoist_notify_pruned_total{table=\"message_refs\"} 3\n"), std::string::npos) << text;
}

TEST(ServerMetrics, LabelsComeFromFixedSetsWhateverTheClientSent) {
  server::ServerMetrics m(std::chrono::milliseconds(0));
  const auto report = [&m](std::string_view method, std::string_view route, int status) {
    m.observe_http(net::ExchangeReport{method, route, status, std::chrono::milliseconds(3)});
  };
  for (int i = 0; i < 1000; ++i) {
    report("X-" + std::to_string(i), "/api/v1/health", 200);  // made-up methods
    report("GET", "/api/v1/health", 1000 + i);                // impossible statuses
  }
  report("", "", 400);  // the HTTP layer's own refusal
  const auto text = m.scrape(std::chrono::steady_clock::now());
  EXPECT_NE(text.find("hoist_http_requests_total{route=\"/api/v1/health\",method=\"other\",status=\"200\"} 1000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hoist_http_requests_total{route=\"/api/v1/health\",method=\"GET\",status=\"other\"} 1000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hoist_http_requests_total{route=\"server\",method=\"other\",status=\"400\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("X-"), std::string::npos);
  EXPECT_NE(
      text.find("hoist_http_request_duration_seconds_bucket{route=\"/api/v1/health\",method=\"GET\",le=\"0.005\"} "
                "1000\n"),
      std::string::npos)
      << text;
}

}  // namespace
}  // namespace hoist::api::testing
