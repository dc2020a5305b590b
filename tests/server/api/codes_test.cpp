// POST /api/v1/codes: a technician issues an offline admin code for an
// enrolled endpoint; the code fits on that endpoint's key (as the agent will
// check it), is audited without the code itself, and is refused for the
// wrong computer, an unknown endpoint, an odd duration or an auditor.
#include <fmt/format.h>

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

namespace hoist::api::testing {
namespace {

std::string hex_of(const codes::HostKey& key) {
  std::string out;
  for (const std::uint8_t b : key) {
    out += fmt::format("{:02x}", b);
  }
  return out;
}

class CodesKeyTest : public ApiTest {
 protected:
  codes::HostKey key_of(const std::string& endpoint_id, std::uint32_t generation) {
    auto k = codes::derive_host_key(codes_master_key(), endpoint_id, generation);
    EXPECT_TRUE(k.ok());
    return k.ok() ? *k : codes::HostKey{};
  }
  Reply enrol_raw(const std::string& hostname) {
    auto token = api_->create_enrollment_token({"laptops"}, 1, Seconds{3600}, "test-setup");
    EXPECT_TRUE(token.ok());
    return call_json("POST", "/api/v1/agent/enrol",
                     json::object{{"token", token.ok() ? *token : ""}, {"hostname", hostname}, {"agent_version", "1"}});
  }
  Reply issue_response(const Agent& agent, const codes::Challenge& challenge, const std::string& user = "alice") {
    return call_json("POST", "/api/v1/codes",
                     json::object{{"endpoint", agent.id},
                                  {"user", user},
                                  {"duration_s", 3600},
                                  {"challenge", codes::format_challenge(challenge)}},
                     as(store::Role::kApprover));
  }
  static json::object code_used(std::int64_t ref, std::int64_t generation, const std::string& kind = "response",
                                const std::string& user = "alice") {
    return json::object{
        {"code_kind", kind},  {"ref", ref},    {"generation", generation}, {"user", user},
        {"duration_s", 3600}, {"command", ""}, {"grant_id", "g-1"},        {"used_at", "2026-03-02T11:00:00Z"}};
  }
  Reply upload(const Agent& agent, const std::string& event_id, const json::value& details) {
    return call_json("POST", "/api/v1/agent/events",
                     json::object{{"events", json::array{json::object{{"id", event_id},
                                                                      {"kind", "code.used"},
                                                                      {"time_ms", 1'800'000'000'000},
                                                                      {"target", "g-1"},
                                                                      {"details", details}}}}},
                     agent.headers());
  }
  json::array codes_list(const std::string& query = "") {
    const auto r = call("GET", "/api/v1/codes" + query, "", as(store::Role::kAuditor));
    EXPECT_EQ(r.status, 200) << r;
    return r.array("/codes");
  }
};

TEST_F(CodesKeyTest, EnrolmentHandsTheEndpointItsOwnKey) {
  const auto first = enrol_raw("laptop-1");
  ASSERT_EQ(first.status, 201) << first;
  EXPECT_EQ(first.num("/codes_key/generation"), 1);
  EXPECT_EQ(first.str("/codes_key/key"), hex_of(key_of(first.str("/id"), 1)));
  EXPECT_EQ(first.num("/codes_key_generation"), 1);
  // Re-enrolling the same computer makes a new endpoint, so a new key.
  const auto again = enrol_raw("laptop-1");
  ASSERT_EQ(again.status, 201) << again;
  EXPECT_NE(again.str("/codes_key/key"), first.str("/codes_key/key"));
  EXPECT_EQ(again.str("/codes_key/key"), hex_of(key_of(again.str("/id"), 1)));
  // The key is never audited.
  const auto audit = call("GET", "/api/v1/audit", "", as(store::Role::kAdmin));
  EXPECT_EQ(json::serialize(audit.body).find(first.str("/codes_key/key")), std::string::npos);

  const Agent agent{first.str("/id"), first.str("/credential"), "laptop-1"};
  const auto fetched = call("GET", "/api/v1/agent/codes-key", "", agent.headers());
  ASSERT_EQ(fetched.status, 200) << fetched;
  EXPECT_EQ(fetched.num("/generation"), 1);
  EXPECT_EQ(fetched.str("/key"), first.str("/codes_key/key"));
}

TEST_F(CodesKeyTest, WithoutAMasterKeyThereIsNoHostKey) {
  master_key_.clear();
  restart();
  const auto enrolled = enrol_raw("laptop-1");
  ASSERT_EQ(enrolled.status, 201) << enrolled;
  EXPECT_EQ(enrolled.at("/codes_key"), nullptr) << enrolled;
  const Agent agent{enrolled.str("/id"), enrolled.str("/credential"), "laptop-1"};
  const auto fetched = call("GET", "/api/v1/agent/codes-key", "", agent.headers());
  EXPECT_EQ(fetched.status, 503) << fetched;
  EXPECT_EQ(fetched.error_code(), "unavailable") << fetched;
}

TEST_F(CodesKeyTest, RotationMakesOldCodesStopFitting) {
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  const codes::Challenge challenge{codes::host_tag(laptop.id), 0x00ABCDE};
  const auto before = issue_response(laptop, challenge);
  ASSERT_EQ(before.status, 201) << before;
  EXPECT_EQ(before.num("/generation"), 1);
  (void)push_messages(laptop);  // nothing queued yet, but the cursor is known

  const auto refused =
      call("POST", "/api/v1/endpoints/" + laptop.id + "/codes-key/rotate", "", as(store::Role::kApprover));
  EXPECT_EQ(refused.status, 403) << refused;
  const auto rotated =
      call("POST", "/api/v1/endpoints/" + laptop.id + "/codes-key/rotate", "", as(store::Role::kAdmin));
  ASSERT_EQ(rotated.status, 200) << rotated;
  EXPECT_EQ(rotated.str("/endpoint"), laptop.id);
  EXPECT_EQ(rotated.num("/generation"), 2);
  EXPECT_EQ(woken_.back(), laptop.id);

  // Pushed to the agent, audited without the key.
  const auto messages = push_messages(laptop);
  ASSERT_FALSE(messages.empty());
  const auto& last = messages.back();
  EXPECT_EQ(last.at("kind"), "codes_key") << last;
  EXPECT_EQ(last.at("payload"), (json::object{{"generation", 2}})) << last;
  const auto events = audit_for(laptop.id);
  ASSERT_FALSE(events.empty());
  const auto& audited = events.back();
  EXPECT_EQ(audited.at("action"), "endpoint.codes_key_rotated") << audited;
  EXPECT_EQ(audited.at("details").at("old_generation"), 1) << audited;
  EXPECT_EQ(audited.at("details").at("new_generation"), 2) << audited;
  EXPECT_EQ(json::serialize(audited).find(hex_of(key_of(laptop.id, 2))), std::string::npos);

  // The agent fetches its new key.
  const auto fetched = call("GET", "/api/v1/agent/codes-key", "", laptop.headers());
  ASSERT_EQ(fetched.status, 200) << fetched;
  EXPECT_EQ(fetched.num("/generation"), 2);
  EXPECT_EQ(fetched.str("/key"), hex_of(key_of(laptop.id, 2)));
  EXPECT_NE(fetched.str("/key"), hex_of(key_of(laptop.id, 1)));

  // Codes issued now fit the new key only.
  const auto after = issue_response(laptop, challenge);
  ASSERT_EQ(after.status, 201) << after;
  EXPECT_EQ(after.num("/generation"), 2);
  EXPECT_TRUE(codes::verify_response(key_of(laptop.id, 2), challenge, "alice", "", after.str("/code")).ok());
  EXPECT_FALSE(codes::verify_response(key_of(laptop.id, 1), challenge, "alice", "", after.str("/code")).ok());
  EXPECT_FALSE(codes::verify_response(key_of(laptop.id, 2), challenge, "alice", "", before.str("/code")).ok());

  // Unknown or retired endpoints have no key to rotate.
  EXPECT_EQ(call("POST", "/api/v1/endpoints/ep-nope/codes-key/rotate", "", as(store::Role::kAdmin)).status, 404);
  ASSERT_EQ(call("DELETE", "/api/v1/endpoints/" + laptop.id, "", as(store::Role::kAdmin)).status, 200);
  EXPECT_EQ(call("POST", "/api/v1/endpoints/" + laptop.id + "/codes-key/rotate", "", as(store::Role::kAdmin)).status,
            404);
}

TEST_F(CodesKeyTest, IssuedCodesAreListedWithoutTheCode) {
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  const Agent other = enrol({"laptops"}, "laptop-8");
  const auto response = issue_response(laptop, codes::Challenge{codes::host_tag(laptop.id), 0x1234567});
  ASSERT_EQ(response.status, 201) << response;
  const auto preissued = call_json(
      "POST", "/api/v1/codes",
      json::object{
          {"endpoint", other.id}, {"user", "bob"}, {"duration_s", 1800}, {"command", "/usr/bin/apt-get"}, {"days", 3}},
      as(store::Role::kAdmin));
  ASSERT_EQ(preissued.status, 201) << preissued;
  EXPECT_GT(preissued.num("/id"), response.num("/id"));

  const auto all = codes_list();
  ASSERT_EQ(all.size(), 2U);
  const auto& newest = all[0].as_object();
  EXPECT_EQ(newest.at("id"), preissued.num("/id"));
  EXPECT_EQ(newest.at("kind"), "preissued");
  EXPECT_EQ(newest.at("host"), "laptop-8");
  EXPECT_EQ(newest.at("user"), "bob");
  EXPECT_EQ(newest.at("command"), "/usr/bin/apt-get");
  EXPECT_EQ(newest.at("valid_until"), json::string(preissued.str("/valid_until")));
  EXPECT_EQ(newest.at("state"), "issued");
  const auto& oldest = all[1].as_object();
  EXPECT_EQ(oldest.at("endpoint"), json::string(laptop.id));
  EXPECT_EQ(oldest.at("kind"), "response");
  EXPECT_EQ(oldest.at("ref"), 0x1234567);
  EXPECT_EQ(oldest.at("generation"), 1);
  EXPECT_EQ(oldest.at("duration_s"), 3600);
  EXPECT_EQ(oldest.at("valid_until"), nullptr);
  EXPECT_EQ(oldest.at("used_at"), nullptr);
  EXPECT_EQ(oldest.at("issued_at"), json::string(now_text()));
  EXPECT_NE(oldest.at("issued_by").as_string().find("approver"), json::string::npos) << oldest;
  for (const auto* code : {&response, &preissued}) {
    std::string bare = code->str("/code");
    std::erase(bare, '-');
    const std::string listed = json::serialize(all);
    EXPECT_EQ(listed.find(code->str("/code")), std::string::npos);
    EXPECT_EQ(listed.find(bare), std::string::npos);
  }
  // The audit event names the record.
  const auto audit = call("GET", "/api/v1/audit?action=code.issued", "", as(store::Role::kAuditor));
  ASSERT_EQ(audit.array("/events").size(), 2U) << audit;
  EXPECT_EQ(audit.array("/events")[0].at("details").at("issued_code_id"), response.num("/id"));
  EXPECT_EQ(audit.array("/events")[0].at("details").at("generation"), 1);
  EXPECT_EQ(audit.array("/events")[1].at("details").at("code_id"), newest.at("ref"));

  EXPECT_EQ(codes_list("?endpoint=" + laptop.id).size(), 1U);
  EXPECT_EQ(codes_list("?user=bob").size(), 1U);
  EXPECT_EQ(codes_list("?user=carol").size(), 0U);
  EXPECT_EQ(codes_list("?limit=1").size(), 1U);
  EXPECT_EQ(call("GET", "/api/v1/codes?limit=0", "", as(store::Role::kAuditor)).status, 400);
}

TEST_F(CodesKeyTest, AReportedUseMarksTheCodeOnce) {
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  const auto issued = issue_response(laptop, codes::Challenge{codes::host_tag(laptop.id), 0x1234567});
  ASSERT_EQ(issued.status, 201) << issued;
  const std::string ev1(32, 'a');
  const std::string ev2(32, 'b');

  clock_.advance(std::chrono::minutes{5});
  const auto first = upload(laptop, ev1, code_used(0x1234567, 1));
  ASSERT_EQ(first.status, 200) << first;
  auto listed = codes_list();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].at("state"), "used");
  EXPECT_EQ(listed[0].at("used_at"), "2026-03-02T11:00:00Z");

  // Re-sent (its acknowledgement lost): nothing marked or audited again.
  const auto again = upload(laptop, ev1, code_used(0x1234567, 1));
  ASSERT_EQ(again.status, 200) << again;
  EXPECT_EQ(again.num("/duplicates"), 1);
  // Another event for the same code: audited, but matches nothing.
  const auto second = upload(laptop, ev2, code_used(0x1234567, 1));
  ASSERT_EQ(second.status, 200) << second;

  const auto audit = call("GET", "/api/v1/audit?action=endpoint.code.used", "", as(store::Role::kAuditor));
  const auto& events = audit.array("/events");
  ASSERT_EQ(events.size(), 2U) << audit;
  const auto& matched = events[0].at("details").as_object();
  EXPECT_EQ(matched.at("event_id"), json::string(ev1));
  EXPECT_EQ(matched.at("matched"), true);
  EXPECT_EQ(matched.at("issued_code_id"), issued.num("/id"));
  EXPECT_EQ(matched.at("grant_id"), "g-1");
  const auto& unmatched = events[1].at("details").as_object();
  EXPECT_EQ(unmatched.at("event_id"), json::string(ev2));
  EXPECT_EQ(unmatched.at("matched"), false);
  EXPECT_EQ(unmatched.at("issued_code"), nullptr);
  EXPECT_FALSE(unmatched.contains("issued_code_id"));

  // Another endpoint cannot use up this endpoint's code.
  const auto issued2 = issue_response(laptop, codes::Challenge{codes::host_tag(laptop.id), 0x7654321});
  ASSERT_EQ(issued2.status, 201) << issued2;
  const Agent other = enrol({"laptops"}, "laptop-8");
  ASSERT_EQ(upload(other, std::string(32, 'c'), code_used(0x7654321, 1)).status, 200);
  EXPECT_EQ(codes_list()[0].at("state"), "issued");
}

TEST_F(CodesKeyTest, BadCodeUseDetailsAreAuditedUnmatchedNotRefused) {
  // A refused upload would block the agent's outbox for good: a use hoistd
  // cannot read is audited with what is wrong, and marks nothing.
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  const auto with = [](json::object details, const std::string& key, json::value value) {
    details[key] = std::move(value);
    return details;
  };
  const auto without = [](json::object details, const std::string& key) {
    details.erase(key);
    return details;
  };
  const json::object good = code_used(42, 1);
  const std::pair<json::object, std::string> bad[] = {
      {without(good, "ref"), "ref"},
      {without(good, "used_at"), "used_at"},
      {without(good, "grant_id"), "grant_id"},
      {with(good, "ref", "42"), "ref"},
      {with(good, "ref", -1), "ref"},
      {with(good, "ref", std::int64_t{1} << 30), "ref"},
      {with(with(good, "code_kind", "preissued"), "ref", 1 << 24), "ref"},
      {with(good, "code_kind", "guess"), "code_kind"},
      {with(good, "generation", 0), "generation"},
      {with(good, "generation", "1"), "generation"},
      {with(good, "user", 7), "user"},
      {with(good, "duration_s", 0), "duration_s"},
      {with(good, "used_at", "yesterday"), "used_at"},
  };
  int n = 0;
  for (const auto& [details, field] : bad) {
    const std::string id = fmt::format("{:032x}", 0xe000 + n++);
    const auto r = upload(laptop, id, details);
    EXPECT_EQ(r.status, 200) << json::serialize(details) << ": " << r;
    const auto audit = call("GET", "/api/v1/audit?action=endpoint.code.used", "", as(store::Role::kAuditor));
    const auto events = audit.array("/events");
    ASSERT_EQ(events.size(), static_cast<std::size_t>(n)) << audit;
    const auto& d = events.back().at("details").as_object();  // oldest first
    EXPECT_EQ(d.at("event_id"), json::string(id)) << audit;
    EXPECT_EQ(d.at("matched"), false) << audit;
    ASSERT_TRUE(d.contains("problem")) << audit;
    EXPECT_NE(std::string(d.at("problem").as_string()).find(field), std::string::npos) << audit;
  }
  // Fields hoistd does not know are carried along, not refused.
  const auto extra = upload(laptop, std::string(32, 'e'), with(with(good, "extra", 1), "target", "code-x"));
  EXPECT_EQ(extra.status, 200) << extra;
  const auto audit = call("GET", "/api/v1/audit?action=endpoint.code.used", "", as(store::Role::kAuditor));
  const auto& d = audit.array("/events").back().at("details").as_object();
  EXPECT_FALSE(d.contains("problem")) << audit;
  EXPECT_EQ(d.at("extra"), 1) << audit;
}

}  // namespace
}  // namespace hoist::api::testing
