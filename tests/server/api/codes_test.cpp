// POST /api/v1/codes: a technician issues an offline admin code for an
// enrolled endpoint; the code fits on that endpoint's key (as the agent will
// check it), is audited without the code itself, and is refused for the
// wrong computer, an unknown endpoint, an odd duration or an auditor.
#include "core/admin_code.h"
#include "server/api/api_test_support.h"

namespace hoist::api::testing {
namespace {

class CodesTest : public ApiTest {
 protected:
  codes::HostKey key_of(const std::string& endpoint_id) {
    auto k = codes::derive_host_key(codes_master_key(), endpoint_id, 1);
    EXPECT_TRUE(k.ok());
    return k.ok() ? *k : codes::HostKey{};
  }
};

TEST_F(CodesTest, AResponseFitsOnThatEndpointOnly) {
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  const Agent other = enrol({"laptops"}, "laptop-8");
  const codes::Challenge challenge{codes::host_tag(laptop.id), 0x1234567};
  const auto issued = call_json("POST", "/api/v1/codes",
                                json::object{{"endpoint", laptop.id},
                                             {"user", "alice"},
                                             {"duration_s", 3600},
                                             {"challenge", codes::format_challenge(challenge)},
                                             {"reason", "on a plane, ticket 77"}},
                                as(store::Role::kApprover));
  ASSERT_EQ(issued.status, 201) << issued;
  EXPECT_EQ(issued.str("/kind"), "response");
  EXPECT_EQ(issued.str("/host"), "laptop-7");
  const std::string code = issued.str("/code");
  auto terms = codes::verify_response(key_of(laptop.id), challenge, "alice", "", code);
  ASSERT_TRUE(terms.ok()) << terms.error().message;
  EXPECT_EQ(terms->duration, Seconds{3600});
  EXPECT_FALSE(codes::verify_response(key_of(other.id), challenge, "alice", "", code).ok());

  // Audited, without the code.
  const auto audit = call("GET", "/api/v1/audit?action=code.issued", "", as(store::Role::kAuditor));
  ASSERT_EQ(audit.array("/events").size(), 1U) << audit;
  const auto& event = audit.array("/events")[0];
  EXPECT_EQ(event.at("target"), json::string(laptop.id)) << event;
  EXPECT_EQ(event.at("details").at("nonce"), 0x1234567) << event;
  EXPECT_EQ(json::serialize(event).find(code), std::string::npos) << "the code is in the audit trail";
  EXPECT_EQ(json::serialize(event).find(code.substr(0, 4) + code.substr(5, 4)), std::string::npos);

  // A challenge from another computer is caught before anyone reads a code back.
  const auto wrong = call_json("POST", "/api/v1/codes",
                               json::object{{"endpoint", other.id},
                                            {"user", "alice"},
                                            {"duration_s", 3600},
                                            {"challenge", codes::format_challenge(challenge)}},
                               as(store::Role::kApprover));
  if (codes::host_tag(other.id) != challenge.host_tag) {
    EXPECT_EQ(wrong.status, 400) << wrong;
    EXPECT_NE(wrong.error_message().find("not made by laptop-8"), std::string::npos) << wrong;
  }
}

TEST_F(CodesTest, APreIssuedCodeHoldsForItsDays) {
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  const auto issued = call_json("POST", "/api/v1/codes",
                                json::object{{"endpoint", laptop.id},
                                             {"user", "alice"},
                                             {"duration_s", 1800},
                                             {"command", "/usr/bin/apt-get"},
                                             {"days", 3}},
                                as(store::Role::kAdmin));
  ASSERT_EQ(issued.status, 201) << issued;
  EXPECT_EQ(issued.str("/kind"), "preissued");
  const auto today = static_cast<std::uint32_t>(clock_.now_s().time_since_epoch().count() / 86400);
  auto ok = codes::verify_preissued(key_of(laptop.id), "alice", "/usr/bin/apt-get", today + 2, issued.str("/code"));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->terms.duration, Seconds{1800});
  EXPECT_FALSE(
      codes::verify_preissued(key_of(laptop.id), "alice", "/usr/bin/apt-get", today + 3, issued.str("/code")).ok());
  EXPECT_FALSE(codes::verify_preissued(key_of(laptop.id), "alice", "", today, issued.str("/code")).ok());
}

TEST_F(CodesTest, RefusesWhatNoCodeCanSay) {
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  const auto issue = [&](json::object body, store::Role role = store::Role::kApprover) {
    return call_json("POST", "/api/v1/codes", body, as(role));
  };
  EXPECT_EQ(issue(json::object{{"endpoint", laptop.id}, {"user", "alice"}, {"duration_s", 3600}}, store::Role::kAuditor)
                .status,
            403);
  EXPECT_EQ(issue(json::object{{"endpoint", "ep-nope"}, {"user", "alice"}, {"duration_s", 3600}}).status, 404);
  const auto odd = issue(json::object{{"endpoint", laptop.id}, {"user", "alice"}, {"duration_s", 3601}});
  EXPECT_EQ(odd.status, 400) << odd;
  EXPECT_NE(odd.error_message().find("5m, 10m"), std::string::npos) << odd;
  EXPECT_EQ(issue(json::object{{"endpoint", laptop.id}, {"user", "alice"}}).status, 400);
  EXPECT_EQ(
      issue(json::object{{"endpoint", laptop.id}, {"user", "alice"}, {"duration_s", 3600}, {"challenge", "!!"}}).status,
      400);
  EXPECT_EQ(issue(json::object{{"endpoint", laptop.id},
                               {"user", "alice"},
                               {"duration_s", 3600},
                               {"challenge", "AC1A-BWY1"},
                               {"days", 2}})
                .status,
            400);
  EXPECT_EQ(issue(json::object{{"endpoint", laptop.id}, {"user", "alice"}, {"duration_s", 3600}, {"extra", 1}}).status,
            400);
  const auto none = call("GET", "/api/v1/audit?action=code.issued", "", as(store::Role::kAuditor));
  EXPECT_TRUE(none.array("/events").empty()) << none;
}

}  // namespace
}  // namespace hoist::api::testing
