// The message every channel formats: the event, its request, the link.
#include "server/notify/message.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace hoist::notify {
namespace {

namespace json = boost::json;

AuditEvent event(const std::string& action, const std::string& target) {
  AuditEvent e;
  e.seq = 42;
  e.time = AuditTime{std::chrono::milliseconds{1'800'000'000'123}};
  e.actor = "agent:ep-1";
  e.action = action;
  e.target = target;
  e.host = "laptop-7";
  e.details = R"({"requester":"alice"})";
  e.hash = sha256("event 42");
  return e;
}

store::RequestRecord request() {
  store::RequestRecord r;
  r.request.id = "req-1";
  r.request.requester = "alice";
  r.request.host = "laptop-7";
  r.request.rule = "installs";
  r.request.justification = "ticket 4711 <!channel> @here \xff";
  r.request.requested_duration = Seconds{1800};
  r.request.created_at = TimePoint{Seconds{1'800'000'000}};
  r.request.pending_deadline = TimePoint{Seconds{1'800'003'600}};
  r.command.path = "/usr/bin/apt-get";
  r.command.argv = {"apt-get", "install", "curl"};
  r.command.sha256 = sha256("apt-get");
  r.command.package = "apt";
  return r;
}

TEST(NotifyMessage, TheEventIdIsStableAndUniquePerChain) {
  const auto e = event("request.created", "req-1");
  EXPECT_EQ(event_id(e), "evt_42_" + e.hash.hex().substr(0, 16));
  auto other = e;
  other.hash = sha256("another database's event 42");
  EXPECT_NE(event_id(e), event_id(other));
}

TEST(NotifyMessage, TheBodyHoldsTheEventTheRequestAndTheLink) {
  Message m{"evt_42_x", event("request.created", "req-1"), request(), request_link("https://hoist.example/", "req-1")};
  const auto v = json::parse(json_body(m));
  EXPECT_EQ(v.at("type"), "request.created");
  EXPECT_EQ(v.at("timestamp"), "2027-01-15T08:00:00.123Z");
  const auto& d = v.at("data");
  EXPECT_EQ(d.at("id"), "evt_42_x");
  EXPECT_EQ(d.at("seq"), 42);
  EXPECT_EQ(d.at("kind"), "request.created");
  EXPECT_EQ(d.at("actor"), "agent:ep-1");
  EXPECT_EQ(d.at("host"), "laptop-7");
  EXPECT_EQ(d.at("details").at("requester"), "alice");
  EXPECT_EQ(d.at("link"), "https://hoist.example/#/requests/req-1");
  const auto& r = d.at("request");
  EXPECT_EQ(r.at("user"), "alice");
  EXPECT_EQ(r.at("command").at("argv"), (json::array{"apt-get", "install", "curl"}));
  EXPECT_EQ(r.at("command").at("sha256"), json::value(sha256("apt-get").hex()));
  EXPECT_EQ(r.at("command").at("package"), "apt");
  EXPECT_EQ(r.at("duration_s"), 1800);
  EXPECT_EQ(r.at("rule"), "installs");
  EXPECT_EQ(r.at("pending_deadline"), "2027-01-15T09:00:00Z");
  // As typed, in a JSON string; invalid UTF-8 replaced.
  EXPECT_EQ(r.at("justification"), "ticket 4711 <!channel> @here \xEF\xBF\xBD");
}

TEST(NotifyMessage, WithoutARequestOrPublicUrlThoseAreNull) {
  Message m{"evt", event("policy.deleted", "fleet"), std::nullopt, request_link("", "req-1")};
  const auto v = json::parse(json_body(m));
  EXPECT_TRUE(v.at("data").at("request").is_null());
  EXPECT_TRUE(v.at("data").at("link").is_null());
  EXPECT_TRUE(concerns_request(event("grant.revoked", "req-1")));
  EXPECT_TRUE(concerns_request(event("request.approved", "req-1")));
  EXPECT_FALSE(concerns_request(event("policy.deleted", "req-1")));
}

TEST(NotifyMessage, DetailsThatAreNotJsonAreText) {
  auto e = event("request.created", "req-1");
  e.details = "not json";
  const auto v = json::parse(json_body(Message{"evt", e, std::nullopt, ""}));
  EXPECT_EQ(v.at("data").at("details"), "not json");
}

}  // namespace
}  // namespace hoist::notify
