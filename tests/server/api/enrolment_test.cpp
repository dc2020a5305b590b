// Enrolment tokens, endpoint credentials, heartbeats and retirement.
#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

class Enrolment : public ApiTest {
 protected:
  Reply enrol_with(const std::string& token, const std::string& hostname = "db-01") {
    return call_json("POST", "/api/v1/agent/enrol",
                     json::object{{"token", token}, {"hostname", hostname}, {"agent_version", "0.1.0"}});
  }
};

TEST_F(Enrolment, AOneUseTokenEnrolsOnce) {
  auto token = api_->create_enrollment_token({"db", "prod"}, 1, Seconds{3600}, "test");
  ASSERT_TRUE(token.ok()) << token.error().message;
  const auto first = enrol_with(*token);
  ASSERT_EQ(first.status, 201) << first;
  EXPECT_EQ(first.str("/hostname"), "db-01");
  EXPECT_EQ(first.array("/labels"), (json::array{"db", "prod"})) << "labels come from the token";
  EXPECT_EQ(first.str("/credential").rfind("hoist_agent_", 0), 0U) << first;
  const std::string id = first.str("/id");
  EXPECT_EQ(call("GET", "/api/v1/agent/policy", "", bearer(first.str("/credential"))).status, 200);

  const auto second = enrol_with(*token, "db-02");
  EXPECT_EQ(second.status, 401) << second;
  const auto endpoints = call("GET", "/api/v1/endpoints", "", as(store::Role::kAuditor));
  ASSERT_EQ(endpoints.array("/endpoints").size(), 1U) << endpoints;
  EXPECT_EQ(endpoints.array("/endpoints")[0].at("id"), json::string(id));
  // Only the credential's hash is stored: it is never shown again.
  EXPECT_EQ(endpoints.raw.body.find("hoist_agent_"), std::string::npos);
  EXPECT_EQ(audit_actions_for(id), (std::vector<std::string>{"endpoint.enrolled"}));
}

TEST_F(Enrolment, LabelsCannotBeChosenByTheAgent) {
  auto token = api_->create_enrollment_token({"db"}, 1, Seconds{3600}, "test");
  ASSERT_TRUE(token.ok());
  const auto r = call_json("POST", "/api/v1/agent/enrol",
                           json::object{{"token", *token},
                                        {"hostname", "db-01"},
                                        {"agent_version", "0.1.0"},
                                        {"labels", json::array{"admin-servers"}}});
  EXPECT_EQ(r.status, 400) << r;
  EXPECT_NE(r.error_message().find("\"labels\""), std::string::npos) << r;
  // The refused attempt did not spend the token's use.
  const auto ok = enrol_with(*token);
  ASSERT_EQ(ok.status, 201) << ok;
  EXPECT_EQ(ok.array("/labels"), (json::array{"db"}));
}

TEST_F(Enrolment, ManyUseTokensAndTokenRoutes) {
  const auto created = call_json("POST", "/api/v1/enrolment-tokens",
                                 json::object{{"labels", json::array{"web"}}, {"uses", 2}, {"expires_in_s", 600}},
                                 as(store::Role::kAdmin));
  ASSERT_EQ(created.status, 201) << created;
  const std::string token = created.str("/token");
  EXPECT_EQ(enrol_with(token, "web-01").status, 201);
  EXPECT_EQ(enrol_with(token, "web-02").status, 201);
  EXPECT_EQ(enrol_with(token, "web-03").status, 401);

  const auto revocable = call_json("POST", "/api/v1/enrolment-tokens", json::object{{"labels", json::array{"web"}}},
                                   as(store::Role::kAdmin));
  ASSERT_EQ(revocable.status, 201) << revocable;
  const auto revoke = call("DELETE", "/api/v1/enrolment-tokens/" + revocable.str("/id"), "", as(store::Role::kAdmin));
  ASSERT_EQ(revoke.status, 200) << revoke;
  EXPECT_EQ(enrol_with(revocable.str("/token")).status, 401) << "a revoked enrolment token";

  const auto expiring =
      call_json("POST", "/api/v1/enrolment-tokens", json::object{{"labels", json::array{"web"}}, {"expires_in_s", 60}},
                as(store::Role::kAdmin));
  ASSERT_EQ(expiring.status, 201) << expiring;
  clock_.advance(std::chrono::seconds{60});
  EXPECT_EQ(enrol_with(expiring.str("/token")).status, 401) << "an expired enrolment token";

  // The list: each token's state, newest first, never its secret.
  const auto list = call("GET", "/api/v1/enrolment-tokens", "", as(store::Role::kAdmin));
  ASSERT_EQ(list.status, 200) << list;
  std::map<std::string, std::string> states;
  for (const auto& t : list.array("/tokens")) {
    states[std::string(t.at("id").as_string())] = std::string(t.at("state").as_string());
    EXPECT_FALSE(t.as_object().contains("token")) << list;
    EXPECT_FALSE(t.as_object().contains("secret_hash")) << list;
  }
  EXPECT_EQ(states[created.str("/id")], "used_up") << list;
  EXPECT_EQ(states[revocable.str("/id")], "revoked") << list;
  EXPECT_EQ(states[expiring.str("/id")], "expired") << list;
  // hoist_KIND_ID_SECRET: the secret is all after the id (base64url: it may
  // hold '_' itself).
  std::size_t after_id = 0;
  for (int i = 0; i < 3; ++i) after_id = token.find('_', after_id) + 1;
  EXPECT_EQ(list.raw.body.find(token.substr(after_id)), std::string::npos);
  EXPECT_EQ(call("GET", "/api/v1/enrolment-tokens", "", as(store::Role::kApprover)).status, 403);

  // Forged or mangled tokens.
  std::string forged = token;
  char& c = forged[forged.size() - 10];  // inside the secret: well-formed, but not the secret
  c = c == 'A' ? 'B' : 'A';
  EXPECT_EQ(enrol_with(forged).status, 401);
  EXPECT_EQ(enrol_with("hoist_enrol_nonsense").status, 401);
  EXPECT_EQ(enrol_with(token_for(store::Role::kAdmin)).status, 401) << "an API token is not an enrolment token";
}

TEST_F(Enrolment, ARetiredEndpointsCredentialDies) {
  const Agent agent = enrol({"web"});
  ASSERT_EQ(call("GET", "/api/v1/agent/policy", "", agent.headers()).status, 200);
  const auto retired = call("DELETE", "/api/v1/endpoints/" + agent.id, "", as(store::Role::kAdmin));
  ASSERT_EQ(retired.status, 200) << retired;
  EXPECT_NE(retired.str("/retired_at"), "<missing>");
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/v1/agent/policy"},
                                                        {"GET", "/api/v1/agent/push?after=0"},
                                                        {"POST", "/api/v1/agent/heartbeat"},
                                                        {"POST", "/api/v1/agent/requests"}}) {
    const auto r = call(method, target, "", agent.headers());
    EXPECT_EQ(r.status, 401) << method << " " << target << ": " << r;
  }
  EXPECT_EQ(audit_actions_for(agent.id), (std::vector<std::string>{"endpoint.enrolled", "endpoint.retired"}));
  // It is still listed, as retired, for the record.
  const auto one = call("GET", "/api/v1/endpoints/" + agent.id, "", as(store::Role::kAuditor));
  EXPECT_EQ(one.status, 200) << one;
}

// An agent's outbox is uploaded until acknowledged; an event sent twice
// (its acknowledgement lost) is audited once.
TEST_F(Enrolment, AgentEventsAreAuditedOncePerId) {
  const Agent agent = enrol({"web"});
  const std::string id1(32, 'a');
  const std::string id2(32, 'b');
  const auto event = [](const std::string& id, const std::string& kind, const std::string& target) {
    return json::object{{"id", id},
                        {"kind", kind},
                        {"time_ms", 1'800'000'000'000},
                        {"target", target},
                        {"details", json::object{{"user", "alice"}, {"command", "/usr/bin/id"}}}};
  };
  const auto first = call_json(
      "POST", "/api/v1/agent/events",
      json::object{{"events", json::array{event(id1, "grant.used", "req-1"), event(id2, "process", "req-1")}}},
      agent.headers());
  ASSERT_EQ(first.status, 200) << first;
  EXPECT_EQ(first.array("/acknowledged"), (json::array{json::string(id1), json::string(id2)}));
  EXPECT_EQ(first.num("/duplicates"), 0);
  const auto again =
      call_json("POST", "/api/v1/agent/events",
                json::object{{"events", json::array{event(id1, "grant.used", "req-1")}}}, agent.headers());
  ASSERT_EQ(again.status, 200) << again;
  EXPECT_EQ(again.num("/duplicates"), 1);
  EXPECT_EQ(audit_actions_for("req-1"), (std::vector<std::string>{"endpoint.grant.used", "endpoint.process"}));
  const auto events = audit_for("req-1");
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].at("host"), "web-01");
  const auto& details = events[0].at("details").as_object();
  EXPECT_EQ(details.at("event_id"), json::string(id1));
  EXPECT_EQ(details.at("user"), "alice");
  EXPECT_EQ(details.at("endpoint_time"), "2027-01-15T08:00:00Z");

  // Another endpoint cannot claim an id; bad batches store nothing.
  const Agent other = enrol({"web"}, "web-02");
  EXPECT_EQ(call_json("POST", "/api/v1/agent/events",
                      json::object{{"events", json::array{event(std::string(32, 'c'), "process", "req-2"),
                                                          event(id1, "process", "req-2")}}},
                      other.headers())
                .status,
            409);
  for (const auto& bad :
       {json::object{{"events", json::array{}}},
        json::object{{"events", json::array{event("ABC", "process", "req-2")}}},
        json::object{{"events", json::array{event(std::string(32, 'd'), "Process!", "req-2")}}},
        json::object{{"events", json::array{json::object{{"id", std::string(32, 'e')}, {"kind", "x"}}}}},
        json::object{{"events", json::array{event(std::string(32, 'f'), "process", "req-2")}}, {"extra", 1}}}) {
    const auto r = call_json("POST", "/api/v1/agent/events", bad, agent.headers());
    EXPECT_EQ(r.status, 400) << json::serialize(bad) << ": " << r;
  }
  EXPECT_TRUE(audit_actions_for("req-2").empty());
  EXPECT_EQ(call_json("POST", "/api/v1/agent/events", json::object{{"events", json::array{event(id2, "x", "")}}},
                      as(store::Role::kAdmin))
                .status,
            403);
}

TEST_F(Enrolment, HeartbeatUpdatesLastSeenAndVersion) {
  const Agent agent = enrol({"web"});
  const auto before = call("GET", "/api/v1/endpoints/" + agent.id, "", as(store::Role::kAuditor));
  ASSERT_EQ(before.status, 200) << before;
  EXPECT_EQ(before.str("/agent_version"), "0.1.0");
  EXPECT_EQ(before.str("/last_seen"), now_text());

  clock_.advance(std::chrono::minutes{10});
  const auto beat =
      call_json("POST", "/api/v1/agent/heartbeat", json::object{{"agent_version", "0.2.0"}}, agent.headers());
  ASSERT_EQ(beat.status, 200) << beat;
  EXPECT_EQ(beat.str("/endpoint_id"), agent.id);
  EXPECT_EQ(beat.str("/server_time"), now_text());
  const auto after = call("GET", "/api/v1/endpoints/" + agent.id, "", as(store::Role::kAuditor));
  EXPECT_EQ(after.str("/agent_version"), "0.2.0");
  EXPECT_EQ(after.str("/last_seen"), now_text());
  EXPECT_EQ(after.str("/enrolled_at"), before.str("/enrolled_at"));

  const auto filtered = call("GET", "/api/v1/endpoints?label=db", "", as(store::Role::kAuditor));
  EXPECT_TRUE(filtered.array("/endpoints").empty()) << filtered;
}

}  // namespace
}  // namespace hoist::api::testing
