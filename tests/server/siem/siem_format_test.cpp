// The SIEM formats: ECS JSON and RFC 5424 with structured data, and that
// nothing a user typed can break a line or a frame.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

#include "server/siem/siem_format.h"

namespace hoist::siem {
namespace {

namespace json = boost::json;

AuditEvent event(std::string action, std::string details, std::uint64_t seq = 42) {
  AuditEvent e;
  e.seq = seq;
  e.time = AuditTime{std::chrono::milliseconds{1'800'000'000'123}};
  e.actor = "agent:web-1";
  e.action = std::move(action);
  e.target = "req-7";
  e.host = "web-1";
  e.details = std::move(details);
  e.hash = sha256("event " + std::to_string(seq));
  return e;
}

TEST(SiemFormat, EcsNamesTheCommandUserHostAndOutcome) {
  const auto e =
      event("endpoint.decision",
            R"({"user":"alice","runas":"root","command":"/usr/bin/apt-get","argv":["apt-get","install","vim"],)"
            R"("sha256":"abc","action":"allow","pid":77})");
  const auto v = json::parse(to_ecs_json(e)).as_object();
  EXPECT_EQ(v.at("@timestamp"), "2027-01-15T08:00:00.123Z");
  EXPECT_EQ(v.at("event").at("action"), "endpoint.decision");
  EXPECT_EQ(v.at("event").at("outcome"), "success");
  EXPECT_EQ(v.at("event").at("sequence"), 42);
  EXPECT_EQ(v.at("event").at("id"), json::string(e.hash.hex()));
  EXPECT_EQ(v.at("user").at("name"), "alice");
  EXPECT_EQ(v.at("user").at("target").at("name"), "root");
  EXPECT_EQ(v.at("host").at("name"), "web-1");
  EXPECT_EQ(v.at("process").at("executable"), "/usr/bin/apt-get");
  EXPECT_EQ(v.at("process").at("command_line"), "apt-get install vim");
  EXPECT_EQ(v.at("process").at("hash").at("sha256"), "abc");
  EXPECT_EQ(v.at("process").at("pid"), 77);
  EXPECT_EQ(v.at("hoist").at("details").at("argv").as_array().size(), 3U);
}

TEST(SiemFormat, OutcomesFollowTheDecisionAndTheKind) {
  EXPECT_EQ(outcome_of(event("endpoint.decision", R"({"action":"deny"})")), "failure");
  EXPECT_EQ(outcome_of(event("endpoint.decision", R"({"action":"request"})")), "unknown");
  EXPECT_EQ(outcome_of(event("request.denied", "{}")), "failure");
  EXPECT_EQ(outcome_of(event("request.refused", "{}")), "failure");
  EXPECT_EQ(outcome_of(event("request.throttled", "{}")), "failure");
  EXPECT_EQ(outcome_of(event("request.approved", "{}")), "success");
  // Details that are not an object (never written, but read as stored).
  const auto v = json::parse(to_ecs_json(event("x", "not json"))).as_object();
  EXPECT_EQ(v.at("hoist").at("details").at("text"), "not json");
}

TEST(SiemFormat, Rfc5424HasItsHeaderStructuredDataAndTheJson) {
  const auto e = event("request.denied", R"({"reason":"no"})");
  const std::string m = to_rfc5424(e, SyslogOptions{});
  // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
  const std::regex header(R"(^<84>1 2027-01-15T08:00:00\.123Z web-1 hoistd - request\.denied \[meta sequenceId="42"\])"
                          R"(\[hoist@32473 seq="42" id="[0-9a-f]{64}" action="request\.denied" actor="agent:web-1" )"
                          R"(target="req-7" host="web-1" outcome="failure"\] \{.*\}$)");
  EXPECT_TRUE(std::regex_match(m, header)) << m;  // 84 = authpriv (10) * 8 + warning (4)
  const std::string ok = to_rfc5424(event("request.approved", "{}"), SyslogOptions{});
  EXPECT_EQ(ok.rfind("<85>1 ", 0), 0U) << ok;  // notice
  const auto json_start = m.find(" {");
  ASSERT_NE(json_start, std::string::npos);
  EXPECT_EQ(json::parse(m.substr(json_start + 1)).at("event").at("sequence"), 42);
}

// Attacker: whoever chooses a user name, a target or a host name that
// lands in an event. Goal: forge structured data, end a syslog message or
// a JSON line early, or spoof header fields.
TEST(SiemFormat, NothingTypedBreaksAFrameOrALine) {
  auto e = event("request.created", R"({"justification":"line one\nline two\" ] [evil x=\"1\"]"})");
  e.actor = "mallory\"] [forged seq=\"1\"] \\";
  e.target = "t]\n<13>1 fake";
  e.host = "host with spaces\n<13>1";
  const std::string m = to_rfc5424(e, SyslogOptions{});
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_NE(m.find(R"(actor="mallory\"\] [forged seq=\"1\"\] \\")"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(target="t\]?<13>1 fake")"), std::string::npos) << m;
  EXPECT_EQ(m.rfind("<85>1 2027-01-15T08:00:00.123Z host_with_spaces_<13>1 hoistd - request.created [", 0), 0U)
      << "header fields have no spaces or controls: " << m;
  const std::string line = to_ecs_json(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(line).at("hoist").at("details").at("justification"), "line one\nline two\" ] [evil x=\"1\"]");
}

TEST(SiemFormat, OctetCountingFramesTheExactLength) {
  const std::string m = to_rfc5424(event("a", R"({"x":"caf\u00e9"})"), SyslogOptions{});
  const std::string framed = octet_framed(m);
  const auto space = framed.find(' ');
  EXPECT_EQ(std::stoul(framed.substr(0, space)), m.size());
  EXPECT_EQ(framed.substr(space + 1), m);
}

TEST(SiemFormat, TheMetaSequenceIdStaysInItsRange) {
  const std::string m = to_rfc5424(event("a", "{}", 2147483648ULL), SyslogOptions{});
  EXPECT_NE(m.find(R"([meta sequenceId="1"])"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(seq="2147483648")"), std::string::npos) << m;
}

}  // namespace
}  // namespace hoist::siem
