// Bad input is refused with 400 {"error":{"code":"invalid_argument",
// "message":...}} naming the field, and nothing is written: not a request,
// not an audit event, not a policy version.
#include <functional>

#include "api_test_support.h"

namespace hoist::api::testing {
namespace {

struct BadBody {
  std::string name;
  std::string body;
  std::string must_mention;  // in the error message: the field, or the problem
};

std::string with(const std::function<void(json::object&)>& edit) {
  json::object body = Submission{}.to_json();
  edit(body);
  return json::serialize(body);
}

std::vector<BadBody> bad_submissions() {
  std::string nested = "{\"user\":\"alice\",\"justification\":\"x\",\"command\":";
  for (int i = 0; i < 40; ++i) {
    nested += "{\"a\":";
  }
  nested += "1" + std::string(40, '}') + "}";
  std::string bad_utf8 = with([](json::object& b) { b["justification"] = "BAD-BYTES-HERE"; });
  bad_utf8.replace(bad_utf8.find("BAD-BYTES-HERE"), 14, "caf\xC3 \xFF\xFE");
  return {
      {"malformed JSON", R"({"user": "alice", "justification": )", "not valid JSON"},
      {"trailing garbage", Submission{}.text() + "}", "not valid JSON"},
      {"an array body", "[" + Submission{}.text() + "]", "JSON object"},
      {"a string body", R"("alice")", "JSON object"},
      // PostgreSQL's text cannot hold U+0000: refused before anything is
      // stored or audited, on every backend.
      {"a NUL in a string", with([](json::object& b) { b["justification"] = json::string_view("ticket\0 4711", 12); }),
       "NUL"},
      {"a NUL in a key", R"({"user\u0000": "alice"})", "NUL"},
      {"user is a number", with([](json::object& b) { b["user"] = 5; }), "\"user\""},
      {"user is null", with([](json::object& b) { b["user"] = nullptr; }), "\"user\""},
      {"groups is a string", with([](json::object& b) { b["groups"] = "wheel"; }), "\"groups\""},
      {"a group is a number", with([](json::object& b) {
         b["groups"] = json::array{"staff", 7};
       }),
       "\"groups[1]\""},
      {"argv item is a number", with([](json::object& b) {
         b["command"].as_object()["argv"] = json::array{"apt-get", 5};
       }),
       "\"command.argv[1]\""},
      {"trusted_path is a string", with([](json::object& b) { b["command"].as_object()["trusted_path"] = "yes"; }),
       "\"command.trusted_path\""},
      {"duration is a string", with([](json::object& b) { b["duration_s"] = "3600"; }), "\"duration_s\""},
      {"duration is a fraction", with([](json::object& b) { b["duration_s"] = 1.5; }), "\"duration_s\""},
      {"duration is zero", with([](json::object& b) { b["duration_s"] = 0; }), "\"duration_s\""},
      {"duration is huge", with([](json::object& b) { b["duration_s"] = 1e30; }), "\"duration_s\""},
      {"duration above a year", with([](json::object& b) { b["duration_s"] = 400 * 86400; }), "\"duration_s\""},
      {"unknown field", with([](json::object& b) { b["colour"] = "red"; }), "\"colour\""},
      {"unknown nested field", with([](json::object& b) { b["command"].as_object()["shell"] = true; }),
       "\"command.shell\""},
      {"unknown package field",
       with([](json::object& b) { b["command"].as_object()["package"].as_object()["version"] = "2.6"; }),
       "\"command.package.version\""},
      {"package without name",
       with([](json::object& b) { b["command"].as_object()["package"].as_object().erase("name"); }),
       "\"command.package.name\""},
      {"command is a string", with([](json::object& b) { b["command"] = "/usr/bin/apt-get"; }), "\"command\""},
      {"bad UTF-8 bytes", bad_utf8, "not valid JSON"},
      {"justification too long", with([](json::object& b) { b["justification"] = std::string(2001, 'j'); }),
       "\"justification\""},
      {"user too long", with([](json::object& b) { b["user"] = std::string(257, 'u'); }), "\"user\""},
      {"path too long", with([](json::object& b) { b["command"].as_object()["path"] = "/" + std::string(4096, 'p'); }),
       "\"command.path\""},
      {"missing user", with([](json::object& b) { b.erase("user"); }), "\"user\""},
      {"missing justification", with([](json::object& b) { b.erase("justification"); }), "\"justification\""},
      {"blank justification", with([](json::object& b) { b["justification"] = "   "; }), "justification"},
      {"missing command", with([](json::object& b) { b.erase("command"); }), "\"command\""},
      {"missing path", with([](json::object& b) { b["command"].as_object().erase("path"); }), "\"command.path\""},
      {"sha256 not hex", with([](json::object& b) { b["command"].as_object()["sha256"] = std::string(64, 'z'); }),
       "\"command.sha256\""},
      {"unknown kind", with([](json::object& b) { b["kind"] = "shell"; }), "\"kind\""},
      {"session with a command", with([](json::object& b) { b["kind"] = "session"; }), "command"},
      {"an empty body", "", "\"user\""},
      {"nested too deep", nested, "not valid JSON"},
  };
}

class BadInput : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    put_policy("fleet", kFleetPolicy, {"web"});
    agent_ = enrol({"web"});
    token_for(store::Role::kAdmin);
  }

  void expect_refused(const Reply& r, const std::string& must_mention) {
    EXPECT_EQ(r.status, 400) << r;
    EXPECT_EQ(r.error_code(), "invalid_argument") << r;
    EXPECT_NE(r.error_message().find(must_mention), std::string::npos)
        << "the message should mention " << must_mention << ": " << r;
  }

  Agent agent_;
};

TEST_F(BadInput, SubmissionsAreRefusedNamingTheFieldAndNothingIsWritten) {
  // The valid body the cases start from is accepted (so each case fails for its own reason).
  const auto valid = submit(agent_, Submission{});
  ASSERT_EQ(valid.status, 201) << valid;

  const auto head = audit_head_seq();
  const auto requests = stored_request_count();
  for (const auto& c : bad_submissions()) {
    SCOPED_TRACE(c.name);
    const auto r = call("POST", "/api/v1/agent/requests", c.body, agent_.headers());
    expect_refused(r, c.must_mention);
    EXPECT_TRUE(r.body.is_object()) << "the error body must be JSON: " << r;
  }
  EXPECT_EQ(audit_head_seq(), head) << "a refused body wrote to the audit trail";
  EXPECT_EQ(stored_request_count(), requests) << "a refused body stored a request";
}

TEST_F(BadInput, ConsoleBodiesAreRefusedNamingTheField) {
  const Headers admin = as(store::Role::kAdmin);
  const auto head = audit_head_seq();
  const struct {
    const char* method;
    const char* target;
    std::string body;
    const char* must_mention;
  } cases[] = {
      {"POST", "/api/v1/users", R"({"name":"eve","role":5})", "\"role\""},
      {"POST", "/api/v1/users", R"({"name":"eve","role":"root"})", "root"},
      {"POST", "/api/v1/users", R"({"name":"Eve Smith","role":"auditor"})", "user name"},
      {"POST", "/api/v1/users", R"({"name":"eve","role":"auditor","password":"short"})", "12"},
      {"POST", "/api/v1/users", R"({"name":"eve","role":"auditor","admin":true})", "\"admin\""},
      {"PATCH", "/api/v1/users/test-admin", R"({"disabled":"yes"})", "\"disabled\""},
      {"POST", "/api/v1/tokens", R"({"label":"ci","expires_in_s":"soon"})", "\"expires_in_s\""},
      {"POST", "/api/v1/tokens", R"({"label":"ci","expires_in_s":999999999})", "\"expires_in_s\""},
      {"POST", "/api/v1/tokens", R"({"label":""})", "\"label\""},
      {"POST", "/api/v1/tokens", R"({"label":"ci","user":"test-auditor"})", "\"user\""},
      {"PUT", "/api/v1/policies/fleet", R"({"text":5})", "\"text\""},
      {"PUT", "/api/v1/policies/fleet", R"({"txt":"version = 1"})", "\"text\""},
      {"POST", "/api/v1/policies/fleet/check", R"({"text":[]})", "\"text\""},
      {"PUT", "/api/v1/policies/fleet", R"({"text":"version = 1","expected_version":-1})", "\"expected_version\""},
      {"PUT", "/api/v1/policies/Bad%20Name", R"({"text":"version = 1"})", "policy name"},
      {"PUT", "/api/v1/policies/fleet/labels", R"({"labels":["Web Servers"]})", "Web Servers"},
      {"POST", "/api/v1/enrolment-tokens", R"({"labels":["web"],"uses":0})", "\"uses\""},
      {"DELETE", "/api/v1/endpoints/0123456789abcdef01234567", R"({"force":true})", "\"force\""},
      {"POST", "/api/v1/login", R"([])", "JSON object"},
      {"POST", "/api/v1/login", R"({"user":"test-admin"})", "\"password\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target + " " + c.body);
    expect_refused(call(c.method, c.target, c.body, admin), c.must_mention);
  }
  EXPECT_EQ(audit_head_seq(), head) << "a refused body wrote to the audit trail";
  EXPECT_EQ(call("GET", "/api/v1/policies/fleet/versions", "", admin).array("/versions").size(), 1U);
}

TEST_F(BadInput, DuplicateKeysAreRefused) {
  const auto head = audit_head_seq();
  const auto requests = stored_request_count();
  std::string body = Submission{}.text();
  body.insert(body.size() - 1, R"(,"user":"root")");
  const auto r = call("POST", "/api/v1/agent/requests", body, agent_.headers());
  expect_refused(r, "\"user\"");
  EXPECT_EQ(audit_head_seq(), head);
  EXPECT_EQ(stored_request_count(), requests);
}

TEST_F(BadInput, PolicyWithErrorsListsThemWithLinesAndStoresNothing) {
  const std::string bad = R"(version = 1

[[rule]]
name = "ok"
action = "allow"
path = "/usr/bin/true"
colour = "red"

[[rule]]
name = "broken"
action = "sometimes"
path = "/usr/bin/false"
)";
  const auto head = audit_head_seq();
  const auto r = call_json("PUT", "/api/v1/policies/broken", json::object{{"text", bad}}, as(store::Role::kAdmin));
  expect_refused(r, "2 error(s)");
  const std::string message = r.error_message();
  EXPECT_NE(message.find("broken.toml:7"), std::string::npos) << "the unknown field is on line 7: " << message;
  EXPECT_NE(message.find("colour"), std::string::npos) << message;
  EXPECT_NE(message.find("broken.toml:11"), std::string::npos) << "the bad action is on line 11: " << message;
  EXPECT_NE(message.find("sometimes"), std::string::npos) << message;
  EXPECT_EQ(call("GET", "/api/v1/policies/broken", "", as(store::Role::kAdmin)).status, 404);
  EXPECT_EQ(call("GET", "/api/v1/policies/broken/versions", "", as(store::Role::kAdmin)).status, 404);

  // Nor does a bad edit of an existing policy add a version.
  const auto edit = call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", bad}}, as(store::Role::kAdmin));
  EXPECT_EQ(edit.status, 400) << edit;
  const auto versions = call("GET", "/api/v1/policies/fleet/versions", "", as(store::Role::kAdmin));
  EXPECT_EQ(versions.array("/versions").size(), 1U) << versions;
  EXPECT_EQ(audit_head_seq(), head);
}

}  // namespace
}  // namespace hoist::api::testing
