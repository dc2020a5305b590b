// What hoistd gives the web console: its files from memory with strict
// security headers, the CSRF token again after a reload (whoami), and the
// live feed of audit events as Server-Sent Events over a long poll.
#include <fstream>

#include "server/api/api_test_support.h"

namespace hoist::api::testing {
namespace {

class ConsoleTest : public ApiTest {
 protected:
  // A console dist with an index, a hashed asset and a symlink out of it.
  void write_console() {
    const std::string dist = dir_.path() + "/dist";
    std::filesystem::create_directories(dist + "/assets");
    std::ofstream(dist + "/index.html") << "<!doctype html><title>Hoist</title><script src=\"/assets/app-1a2b.js\">";
    std::ofstream(dist + "/assets/app-1a2b.js") << "console.log('hi')";
    std::ofstream(dir_.path() + "/secret.txt") << "not for the web";
    std::filesystem::create_symlink(dir_.path() + "/secret.txt", dist + "/leak.txt");
    auto files = server::ConsoleFiles::load(dist);
    ASSERT_TRUE(files.ok()) << files.error().message;
    EXPECT_EQ(files->size(), 2U) << "the symlink is not followed";
    console_ = std::make_shared<const server::ConsoleFiles>(std::move(*files));
    restart();
  }

  // The SSE events of a stream answer: (id, event, data) triples.
  struct Sse {
    std::string id, event, data;
  };
  static std::vector<Sse> events_of(const std::string& body) {
    std::vector<Sse> out;
    Sse cur;
    std::istringstream in(body);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) {
        if (!cur.event.empty()) out.push_back(cur);
        cur = {};
      } else if (line.starts_with("id: ")) {
        cur.id = line.substr(4);
      } else if (line.starts_with("event: ")) {
        cur.event = line.substr(7);
      } else if (line.starts_with("data: ")) {
        cur.data = line.substr(6);
      }
    }
    return out;
  }
};

TEST_F(ConsoleTest, ServesTheConsoleFromMemoryWithSecurityHeaders) {
  auto none = call("GET", "/");
  EXPECT_EQ(none.status, 404) << "no console configured";
  EXPECT_NE(none.error_message().find("--console-dir"), std::string::npos) << none;

  write_console();
  auto index = call("GET", "/");
  ASSERT_EQ(index.status, 200) << index;
  EXPECT_NE(index.raw.body.find("<title>Hoist</title>"), std::string::npos);
  EXPECT_EQ(index.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.header("cache-control"), "no-cache");
  const std::string csp = index.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(index.header("x-content-type-options"), "nosniff");

  auto js = call("GET", "/assets/app-1a2b.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_NE(js.header("cache-control").find("immutable"), std::string::npos);
  auto again = call("GET", "/assets/app-1a2b.js", "", {{"if-none-match", js.header("etag")}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.raw.body.empty());

  for (const std::string path : {"/leak.txt", "/../secret.txt", "/assets/../../secret.txt", "/nope.html"}) {
    auto r = call("GET", path);
    EXPECT_EQ(r.status, 404) << path << ": " << r;
    EXPECT_EQ(r.raw.body.find("not for the web"), std::string::npos) << path;
  }
  EXPECT_EQ(call("POST", "/index.html").status, 405);
  EXPECT_EQ(call("GET", "/api/v1/nope").status, 404) << "the API stays the API";
}

TEST_F(ConsoleTest, WhoamiGivesAReloadedPageItsCsrfToken) {
  create_user("tech", store::Role::kApprover);
  const Session s = login("tech");
  auto who = call("GET", "/api/v1/whoami", "", s.headers(false));
  ASSERT_EQ(who.status, 200) << who;
  EXPECT_EQ(who.str("/csrf_token"), s.csrf) << "the same token as the login gave";
  // It works for a write.
  auto token = call_json("POST", "/api/v1/tokens", json::object{{"label", "x"}},
                         {{"cookie", s.cookie}, {"x-csrf-token", who.str("/csrf_token")}});
  EXPECT_EQ(token.status, 201) << token;
  // Another session's token does not.
  const Session other = login("tech");
  EXPECT_NE(other.csrf, s.csrf);
  auto crossed = call_json("POST", "/api/v1/tokens", json::object{{"label", "y"}},
                           {{"cookie", s.cookie}, {"x-csrf-token", other.csrf}});
  EXPECT_EQ(crossed.status, 403) << crossed;
  // The console's first question: 200 either way.
  auto session = call("GET", "/api/v1/session", "", s.headers(false));
  ASSERT_EQ(session.status, 200) << session;
  EXPECT_EQ(*session.at("/authenticated"), true) << session;
  EXPECT_EQ(session.str("/user"), "tech");
  EXPECT_EQ(session.str("/role"), "approver");
  EXPECT_EQ(session.str("/csrf_token"), s.csrf);
  for (const Headers& h : {Headers{}, Headers{{"cookie", "hoist_session=forged"}}, as(store::Role::kAdmin)}) {
    auto anonymous = call("GET", "/api/v1/session", "", h);
    ASSERT_EQ(anonymous.status, 200) << anonymous;
    EXPECT_EQ(*anonymous.at("/authenticated"), false) << anonymous;
    EXPECT_EQ(anonymous.at("/user"), nullptr) << anonymous;
  }
  // An API token has no CSRF token to give.
  auto by_token = call("GET", "/api/v1/whoami", "", as(store::Role::kAuditor));
  EXPECT_EQ(by_token.at("/csrf_token"), nullptr) << by_token;
}

TEST_F(ConsoleTest, TheStreamSendsEachNewAuditEventAndWakesOnWrites) {
  const auto headers = as(store::Role::kAuditor);
  // First: where the trail is now.
  auto first = call("GET", "/api/v1/stream", "", headers);
  ASSERT_EQ(first.status, 200) << first;
  EXPECT_EQ(first.header("content-type"), "text/event-stream; charset=utf-8");
  EXPECT_NE(first.raw.body.find("retry: 250"), std::string::npos) << first.raw.body;
  auto ready = events_of(first.raw.body);
  ASSERT_EQ(ready.size(), 1U) << first.raw.body;
  EXPECT_EQ(ready[0].event, "ready");
  const std::string head = ready[0].id;
  EXPECT_EQ(std::to_string(audit_head_seq()), head);

  // Nothing new: a long poll, which stays parked until a write.
  auto parked = call("GET", "/api/v1/stream", "", [&] {
    auto h = headers;
    h.emplace_back("last-event-id", head);
    return h;
  }());
  ASSERT_NE(parked.raw.long_poll, nullptr) << parked;
  EXPECT_EQ(parked.raw.long_poll->key, kConsoleStreamKey);
  EXPECT_FALSE(parked.raw.long_poll->poll(false).has_value());

  const int wakes = console_wakes_;
  const Agent laptop = enrol({"laptops"}, "laptop-7");
  EXPECT_GT(console_wakes_, wakes) << "a write wakes the streams";
  auto woken = parked.raw.long_poll->poll(false);
  ASSERT_TRUE(woken.has_value());
  auto batch = events_of(woken->body);
  ASSERT_FALSE(batch.empty()) << woken->body;
  EXPECT_EQ(batch.back().event, "audit");
  EXPECT_GT(std::stoull(batch.back().id), std::stoull(head));
  const auto data = json::parse(batch.back().data);
  EXPECT_EQ(data.at("action"), "endpoint.enrolled") << batch.back().data;
  EXPECT_EQ(data.at("seq").to_number<std::uint64_t>(), std::stoull(batch.back().id));

  // Reconnecting with the last id sends only what came after it.
  auto next = call("GET", "/api/v1/stream?after=" + batch.back().id, "", headers);
  ASSERT_NE(next.raw.long_poll, nullptr);
  auto quiet = next.raw.long_poll->poll(true);
  ASSERT_TRUE(quiet.has_value());
  EXPECT_TRUE(events_of(quiet->body).empty()) << quiet->body;
  EXPECT_NE(quiet->body.find("retry: 250"), std::string::npos);

  EXPECT_EQ(call("GET", "/api/v1/stream", "", {{"last-event-id", "x1"}, headers.front()}).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/stream").status, 401);
}

// Issue 17, item 14: one auditor held hundreds of waiting streams, and
// every write woke each of them. A user holds at most 8; the next is a
// clear 429, and a slot is free again as soon as a stream's wait ends.
TEST_F(ConsoleTest, OneUserHoldsAtMostEightWaitingStreams) {
  const auto auditor = as(store::Role::kAuditor);
  const auto approver = as(store::Role::kApprover);  // made now: a write later would wake the streams
  const auto headers = auditor + Headers{{"last-event-id", std::to_string(audit_head_seq())}};
  std::vector<Reply> waiting;
  for (int i = 0; i < 8; ++i) {
    waiting.push_back(call("GET", "/api/v1/stream", "", headers));
    ASSERT_NE(waiting.back().raw.long_poll, nullptr) << i << ": " << waiting.back();
  }
  const auto ninth = call("GET", "/api/v1/stream", "", headers);
  EXPECT_EQ(ninth.status, 429) << ninth;
  EXPECT_EQ(ninth.error_code(), "rate_limited");
  EXPECT_NE(ninth.error_message().find("8 live streams"), std::string::npos) << ninth;
  EXPECT_EQ(ninth.header("retry-after"), "25");
  EXPECT_EQ(ninth.raw.long_poll, nullptr);

  // Another user is not affected.
  const auto other = call("GET", "/api/v1/stream", "", approver + Headers{headers.back()});
  EXPECT_NE(other.raw.long_poll, nullptr) << other;

  // A stream whose wait is over (answered, or its connection gone) frees its slot.
  waiting.pop_back();
  const auto again = call("GET", "/api/v1/stream", "", headers);
  EXPECT_NE(again.raw.long_poll, nullptr) << again;
  EXPECT_EQ(call("GET", "/api/v1/stream", "", headers).status, 429);
  // Streams answered at once (a first connection) hold nothing.
  EXPECT_EQ(call("GET", "/api/v1/stream", "", as(store::Role::kAuditor)).status, 200);
}

}  // namespace
}  // namespace hoist::api::testing
