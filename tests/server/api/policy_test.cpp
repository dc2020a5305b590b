// Policy versions, diffs, optimistic concurrency, assignment to endpoint
// groups, and the effective policy agents fetch (ETag, push on change).
#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

const std::string kV1 = R"(version = 1

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
)";

const std::string kV2 = R"(version = 1

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
max_duration = "1h"
)";

const std::string kV3 = R"(version = 1

[[rule]]
name = "apt"
action = "request"
path = "/usr/bin/apt"
)";

class Policies : public ApiTest {
 protected:
  Reply put(const std::string& name, const std::string& text, std::optional<int> expected = std::nullopt) {
    json::object body{{"text", text}, {"comment", "test"}};
    if (expected) {
      body["expected_version"] = *expected;
    }
    return call_json("PUT", "/api/v1/policies/" + name, body, as(store::Role::kAdmin));
  }

  std::vector<json::object> policy_pushes(const Agent& agent) {
    std::vector<json::object> out;
    for (const auto& m : push_messages(agent)) {
      if (m.at("kind") == "policy") {
        out.push_back(m.at("payload").as_object());
      }
    }
    return out;
  }
};

TEST_F(Policies, VersionsGrowAndDiffsShowTheChange) {
  const auto v1 = put("base", kV1);
  ASSERT_EQ(v1.status, 201) << v1;
  EXPECT_EQ(v1.num("/version"), 1);
  EXPECT_EQ(v1.str("/author"), "test-admin");
  const auto v2 = put("base", kV2);
  ASSERT_EQ(v2.status, 200) << v2;
  EXPECT_EQ(v2.num("/version"), 2);

  const auto versions = call("GET", "/api/v1/policies/base/versions", "", as(store::Role::kAuditor));
  ASSERT_EQ(versions.array("/versions").size(), 2U) << versions;
  EXPECT_EQ(versions.array("/versions")[0].at("version"), 1);
  EXPECT_EQ(versions.array("/versions")[1].at("version"), 2);

  const auto one = call("GET", "/api/v1/policies/base/versions/1", "", as(store::Role::kAuditor));
  EXPECT_EQ(one.str("/text"), kV1) << one;
  const auto current = call("GET", "/api/v1/policies/base", "", as(store::Role::kAuditor));
  EXPECT_EQ(current.num("/current_version"), 2) << current;
  EXPECT_EQ(current.str("/current/text"), kV2) << current;

  const auto diff = call("GET", "/api/v1/policies/base/diff?from=1&to=2", "", as(store::Role::kAuditor));
  ASSERT_EQ(diff.status, 200) << diff;
  const std::string text = diff.str("/diff");
  EXPECT_EQ(text.rfind("--- base@1\n+++ base@2\n@@ ", 0), 0U) << text;
  EXPECT_NE(text.find("\n+max_duration = \"1h\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n path = \"/usr/bin/apt-get\"\n"), std::string::npos) << "context lines: " << text;
  // Without from/to: the newest version against the one before.
  EXPECT_EQ(call("GET", "/api/v1/policies/base/diff", "", as(store::Role::kAuditor)).str("/diff"), text);
  const auto reverse = call("GET", "/api/v1/policies/base/diff?from=2&to=1", "", as(store::Role::kAuditor));
  EXPECT_NE(reverse.str("/diff").find("\n-max_duration = \"1h\"\n"), std::string::npos) << reverse;
  EXPECT_EQ(call("GET", "/api/v1/policies/base/diff?from=1&to=9", "", as(store::Role::kAuditor)).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/policies/base/diff?from=x", "", as(store::Role::kAuditor)).status, 400);

  // The audit trail records each version with its diff.
  const auto events = audit_for("base");
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[1].at("action"), "policy.version_added");
  EXPECT_NE(std::string(events[1].at("details").at("diff").as_string()).find("+max_duration"), std::string::npos);
}

TEST_F(Policies, AStaleExpectedVersionConflicts) {
  ASSERT_EQ(put("base", kV1).status, 201);
  ASSERT_EQ(put("base", kV2, 1).status, 200);
  token_for(store::Role::kAuditor);  // its creation is audited: before the head is taken
  const auto head = audit_head_seq();
  const auto stale = put("base", kV3, 1);
  EXPECT_EQ(stale.status, 409) << stale;
  EXPECT_EQ(stale.error_code(), "conflict");
  EXPECT_EQ(call("GET", "/api/v1/policies/base", "", as(store::Role::kAuditor)).num("/current_version"), 2);
  EXPECT_EQ(audit_head_seq(), head);
  const auto fresh = put("base", kV3, 2);
  EXPECT_EQ(fresh.status, 200) << fresh;
  EXPECT_EQ(fresh.num("/version"), 3);
  // A new policy expects version 0.
  EXPECT_EQ(put("other", kV1, 1).status, 409);
  EXPECT_EQ(put("other", kV1, 0).status, 201);
}

TEST_F(Policies, ACheckReportsErrorsByLineAndTheDiffWithoutSavingAnything) {
  ASSERT_EQ(put("base", kV1).status, 201);
  const auto auditor = as(store::Role::kAuditor);
  const auto head = audit_head_seq();
  const std::string bad = "version = 1\n\n[[rule]]\nname = \"installs\"\naction = \"maybe\"\npath = \"apt-get\"\n";
  const auto checked = call_json("POST", "/api/v1/policies/base/check", json::object{{"text", bad}}, auditor);
  ASSERT_EQ(checked.status, 200) << checked;
  EXPECT_EQ(checked.body.at_pointer("/valid"), false) << checked;
  const auto& errors = checked.array("/errors");
  ASSERT_EQ(errors.size(), 2U) << checked;
  EXPECT_EQ(errors[0].at("line"), 5) << checked;
  EXPECT_NE(std::string(errors[0].at("where").as_string()).find("action"), std::string::npos) << checked;
  EXPECT_EQ(errors[1].at("line"), 6) << checked;
  EXPECT_EQ(std::string(errors[1].at("text").as_string()).rfind("base.toml:6:", 0), 0U) << checked;
  EXPECT_EQ(checked.at("/rules"), nullptr) << checked;

  const auto good = call_json("POST", "/api/v1/policies/base/check", json::object{{"text", kV2}}, auditor);
  ASSERT_EQ(good.status, 200) << good;
  EXPECT_EQ(good.body.at_pointer("/valid"), true) << good;
  EXPECT_EQ(good.num("/rules"), 1);
  EXPECT_EQ(good.num("/current_version"), 1);
  EXPECT_EQ(good.body.at_pointer("/changed"), true) << good;
  EXPECT_NE(good.str("/diff").find("\n+max_duration = \"1h\"\n"), std::string::npos) << good;
  const auto same = call_json("POST", "/api/v1/policies/base/check", json::object{{"text", kV1}}, auditor);
  EXPECT_EQ(same.body.at_pointer("/changed"), false) << same;
  const auto fresh = call_json("POST", "/api/v1/policies/new-one/check", json::object{{"text", kV1}}, auditor);
  EXPECT_EQ(fresh.num("/current_version"), 0) << fresh;

  // Nothing was stored or audited.
  EXPECT_EQ(call("GET", "/api/v1/policies/base", "", auditor).num("/current_version"), 1);
  EXPECT_EQ(call("GET", "/api/v1/policies/new-one", "", auditor).status, 404);
  EXPECT_EQ(audit_head_seq(), head);
}

TEST_F(Policies, AgentsFetchWithETagsAndHearOfChanges) {
  ASSERT_EQ(put_policy("base", kV1, {"web"}).status, 201);
  const Agent agent = enrol({"web"});
  const Agent elsewhere = enrol({"db"}, "db-01");

  const auto first = call("GET", "/api/v1/agent/policy", "", agent.headers());
  ASSERT_EQ(first.status, 200) << first;
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty()) << first;
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(first.str("/etag"), etag);
  ASSERT_EQ(first.array("/policies").size(), 1U) << first;
  EXPECT_EQ(first.array("/policies")[0].at("text"), json::string(kV1));

  const auto again = call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", etag}});
  EXPECT_EQ(again.status, 304) << again;
  EXPECT_TRUE(again.raw.body.empty()) << again;
  EXPECT_EQ(again.header("etag"), etag);
  // As RFC 9110 says: a list, a weak tag, or *.
  for (const std::string& inm : {"\"other\", " + etag, "W/" + etag, std::string("*"), " " + etag + " "}) {
    EXPECT_EQ(call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", inm}}).status, 304)
        << inm;
  }
  EXPECT_EQ(call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", "\"other\""}}).status,
            200);

  const int wakes_before = wakes_;
  ASSERT_EQ(put("base", kV2).status, 200);
  EXPECT_GT(wakes_, wakes_before);
  const auto pushes = policy_pushes(agent);
  ASSERT_FALSE(pushes.empty()) << "no policy push after a new version";
  EXPECT_EQ(pushes.back().at("policy"), "base");
  EXPECT_EQ(pushes.back().at("version"), 2);
  EXPECT_TRUE(policy_pushes(elsewhere).empty()) << "an endpoint the policy does not apply to was told";

  const auto changed = call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", etag}});
  ASSERT_EQ(changed.status, 200) << changed;
  EXPECT_NE(changed.header("etag"), etag);
  EXPECT_EQ(changed.array("/policies")[0].at("text"), json::string(kV2));
  EXPECT_EQ(changed.array("/policies")[0].at("version"), 2);

  // The other endpoint has no policy at all: nothing is granted there.
  const auto none = call("GET", "/api/v1/agent/policy", "", elsewhere.headers());
  EXPECT_TRUE(none.array("/policies").empty()) << none;
  const auto refused = submit(elsewhere, Submission{});
  EXPECT_EQ(refused.str("/decision"), "deny") << refused;
}

// The repeated fetch answered 304 comes from memory (no database), and
// only while memory is sure: call() checks each such answer against the
// full path's.
TEST_F(Policies, RepeatedFetchesAreAnsweredFromMemoryWhileCurrent) {
  ASSERT_EQ(put_policy("base", kV1, {"web"}).status, 201);
  const Agent agent = enrol({"web"});
  const std::string etag = call("GET", "/api/v1/agent/policy", "", agent.headers()).header("etag");
  const auto fetch = [&](const Headers& extra = {}) {
    return call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", etag}} + extra);
  };
  memory_answers_ = 0;
  EXPECT_EQ(fetch().status, 304);
  EXPECT_EQ(fetch().status, 304);
  EXPECT_EQ(memory_answers_, 2);

  // Not from memory: another ETag, a wrong secret, another route.
  EXPECT_EQ(call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", "\"x\""}}).status, 200);
  Agent forged = agent;
  forged.credential.back() = forged.credential.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(call("GET", "/api/v1/agent/policy", "", forged.headers() + Headers{{"if-none-match", etag}}).status, 401);
  EXPECT_EQ(memory_answers_, 2);

  // Memory is trusted for a few seconds only (another process may share
  // the database); the full path then answers and refreshes it.
  clock_.advance(std::chrono::seconds(5));
  EXPECT_EQ(fetch().status, 304);
  EXPECT_EQ(memory_answers_, 2);
  EXPECT_EQ(fetch().status, 304);
  EXPECT_EQ(memory_answers_, 3);

  // A policy change is seen at once.
  ASSERT_EQ(put("base", kV2).status, 200);
  EXPECT_EQ(fetch().status, 200);
  EXPECT_EQ(memory_answers_, 3);

  // So is a retirement: the credential dies at once.
  const std::string etag2 = call("GET", "/api/v1/agent/policy", "", agent.headers()).header("etag");
  const auto fetch2 = [&] {
    return call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", etag2}});
  };
  EXPECT_EQ(fetch2().status, 304);
  EXPECT_EQ(fetch2().status, 304);
  EXPECT_EQ(memory_answers_, 5);
  ASSERT_EQ(call("DELETE", "/api/v1/endpoints/" + agent.id, "", as(store::Role::kAdmin)).status, 200);
  EXPECT_EQ(fetch2().status, 401);
  EXPECT_EQ(memory_answers_, 5);
}

TEST_F(Policies, AssignmentChangesReachTheAgents) {
  ASSERT_EQ(put("base", kV1).status, 201);
  const Agent agent = enrol({"web"});
  const auto unassigned = call("GET", "/api/v1/agent/policy", "", agent.headers());
  const std::string etag = unassigned.header("etag");
  EXPECT_TRUE(unassigned.array("/policies").empty());

  const auto assign = call_json("PUT", "/api/v1/policies/base/labels", json::object{{"labels", json::array{"web"}}},
                                as(store::Role::kAdmin));
  ASSERT_EQ(assign.status, 200) << assign;
  EXPECT_EQ(assign.array("/labels"), (json::array{"web"}));
  EXPECT_EQ(policy_pushes(agent).size(), 1U);
  const auto assigned = call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", etag}});
  ASSERT_EQ(assigned.status, 200) << assigned;
  EXPECT_EQ(assigned.array("/policies").size(), 1U);
  EXPECT_EQ(submit(agent, Submission{}).str("/decision"), "request");

  // Taking the label away is a change for that endpoint too.
  const auto unassign = call_json("PUT", "/api/v1/policies/base/labels", json::object{{"labels", json::array{}}},
                                  as(store::Role::kAdmin));
  ASSERT_EQ(unassign.status, 200) << unassign;
  EXPECT_EQ(policy_pushes(agent).size(), 2U);
  EXPECT_EQ(call("GET", "/api/v1/agent/policy", "", agent.headers()).header("etag"), etag);
}

TEST_F(Policies, DeletingAPolicyChangesTheEffectivePolicy) {
  ASSERT_EQ(put_policy("base", kV1, {"web"}).status, 201);
  const Agent agent = enrol({"web"});
  const std::string etag = call("GET", "/api/v1/agent/policy", "", agent.headers()).header("etag");
  const auto deleted = call("DELETE", "/api/v1/policies/base", "", as(store::Role::kAdmin));
  ASSERT_EQ(deleted.status, 200) << deleted;
  EXPECT_EQ(audit_actions_for("base").back(), "policy.deleted");
  const auto after = call("GET", "/api/v1/agent/policy", "", agent.headers() + Headers{{"if-none-match", etag}});
  ASSERT_EQ(after.status, 200) << "the effective policy changed: " << after;
  EXPECT_TRUE(after.array("/policies").empty());
  EXPECT_EQ(submit(agent, Submission{}).str("/decision"), "deny");
}

TEST_F(Policies, DeletingAnAssignedPolicyTellsItsAgents) {
  ASSERT_EQ(put_policy("base", kV1, {"web"}).status, 201);
  const Agent agent = enrol({"web"});
  const Agent elsewhere = enrol({"db"}, "db-01");
  const auto pushes_before = policy_pushes(agent).size();
  const int wakes_before = wakes_;
  ASSERT_EQ(call("DELETE", "/api/v1/policies/base", "", as(store::Role::kAdmin)).status, 200);
  const auto pushes = policy_pushes(agent);
  ASSERT_EQ(pushes.size(), pushes_before + 1) << "the agent was not told that its policy is gone";
  EXPECT_EQ(pushes.back().at("policy"), "base");
  EXPECT_GT(wakes_, wakes_before);
  EXPECT_TRUE(policy_pushes(elsewhere).empty());
}

TEST_F(Policies, DeletedPoliciesKeepTheirHistory) {
  ASSERT_EQ(put("base", kV1).status, 201);
  ASSERT_EQ(call("DELETE", "/api/v1/policies/base", "", as(store::Role::kAdmin)).status, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/policies/base", "", as(store::Role::kAdmin)).status, 404);
  const auto listed = call("GET", "/api/v1/policies", "", as(store::Role::kAuditor));
  ASSERT_EQ(listed.array("/policies").size(), 1U) << listed;
  EXPECT_FALSE(listed.array("/policies")[0].at("deleted_at").is_null());
  EXPECT_EQ(call("GET", "/api/v1/policies/base/versions/1", "", as(store::Role::kAuditor)).str("/text"), kV1);
  const auto assign = call_json("PUT", "/api/v1/policies/base/labels", json::object{{"labels", json::array{"web"}}},
                                as(store::Role::kAdmin));
  EXPECT_EQ(assign.status, 404) << "a deleted policy cannot be assigned: " << assign;
  // Expecting "no current version" (0) re-creates it; the numbering continues.
  const auto again = put("base", kV2, 0);
  EXPECT_EQ(again.num("/version"), 2) << again;
}

TEST_F(Policies, ADeletedPolicyCanBeWrittenAgainWithoutExpectedVersion) {
  ASSERT_EQ(put("base", kV1).status, 201);
  ASSERT_EQ(call("DELETE", "/api/v1/policies/base", "", as(store::Role::kAdmin)).status, 200);
  const auto again = put("base", kV2);
  EXPECT_TRUE(again.status == 200 || again.status == 201) << again;
  EXPECT_EQ(again.num("/version"), 2) << again;
  const auto current = call("GET", "/api/v1/policies/base", "", as(store::Role::kAuditor));
  EXPECT_TRUE(current.at("/deleted_at") != nullptr && current.at("/deleted_at")->is_null()) << current;
  EXPECT_EQ(current.str("/current/text"), kV2) << current;
}

}  // namespace
}  // namespace hoist::api::testing
