// HttpsServer over real TLS on loopback, driven by hoist_https_client:
// request conversion, keep-alive, limits, handler failures, timeouts,
// graceful stop and long polls.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http_test_support.h"
#include "net/http_message.h"

namespace hoist::http_testing {
namespace {

using std::chrono::seconds;

// Records every request a handler sees.
class Recorder {
 public:
  void add(const net::HttpRequest& request) {
    const std::lock_guard lock(mutex_);
    requests_.push_back(request);
  }
  std::vector<net::HttpRequest> requests() {
    const std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t count() {
    const std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  std::mutex mutex_;
  std::vector<net::HttpRequest> requests_;
};

// Answers every request with 200 and {"path":...}, after recording it.
net::Handler recording_handler(Recorder& recorder) {
  return [&recorder](const net::HttpRequest& request) {
    recorder.add(request);
    if (request.path == "/throw") throw std::runtime_error("handler failed on purpose");
    return net::json_response(200, R"({"ok":true})");
  };
}

void expect_json_error(const net::HttpResponse& response, int status, std::string_view code) {
  EXPECT_EQ(response.status, status);
  EXPECT_EQ(response.header("content-type").value_or(""), "application/json");
  EXPECT_NE(response.body.find(R"({"error":{"code":")" + std::string(code) + "\""), std::string::npos) << response.body;
  EXPECT_NE(response.body.find(R"("message":")"), std::string::npos) << response.body;
}

TEST(HttpsServer, GetRoundTrip) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto response = client->request("GET", "/v1/a%20b/c?x=1&name=J%C3%BCrg%20en&x=2&flag", {},
                                  {{"X-Custom-Header", "Value With Case"}});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"ok":true})");
  EXPECT_EQ(response->header("content-type").value_or(""), "application/json");

  const auto requests = recorder.requests();
  ASSERT_EQ(requests.size(), 1U);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/v1/a%20b/c?x=1&name=J%C3%BCrg%20en&x=2&flag");
  EXPECT_EQ(r.path, "/v1/a b/c");
  const std::vector<std::pair<std::string, std::string>> query{
      {"x", "1"}, {"name", "J\xC3\xBCrg en"}, {"x", "2"}, {"flag", ""}};
  EXPECT_EQ(r.query, query);
  EXPECT_EQ(r.query_param("x").value_or(""), "1");
  EXPECT_EQ(r.header("x-custom-header").value_or(""), "Value With Case");
  for (const auto& h : r.headers) {
    EXPECT_TRUE(std::none_of(h.name.begin(), h.name.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
        << "header names reach handlers lower-cased: " << h.name;
  }
  EXPECT_EQ(r.header("host").value_or(""), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(r.header("user-agent").value_or(""), "hoist/0.1.0");
  EXPECT_FALSE(r.header("content-type").has_value()) << "no body, no Content-Type";
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.remote_address, "127.0.0.1");
}

TEST(HttpsServer, PostRoundTrip) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  const std::string body = R"({"command":"apt-get update","reason":"patch day"})";
  auto response = client->request("POST", "/v1/requests", body, {{"Authorization", "Bearer t0ken"}});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);

  const auto requests = recorder.requests();
  ASSERT_EQ(requests.size(), 1U);
  const auto& r = requests[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/requests");
  EXPECT_TRUE(r.query.empty());
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.header("content-type").value_or(""), "application/json");
  EXPECT_EQ(r.header("content-length").value_or(""), std::to_string(body.size()));
  EXPECT_EQ(r.header("authorization").value_or(""), "Bearer t0ken");
  EXPECT_EQ(r.remote_address, "127.0.0.1");
}

TEST(HttpsServer, KeepAliveReusesOneConnection) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  const auto before = connections_to(server.port());
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  for (int i = 0; i < 5; ++i) {
    auto response = client->request(i % 2 == 0 ? "GET" : "POST", "/n/" + std::to_string(i), i % 2 == 0 ? "" : "{}");
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(recorder.count(), 5U);
  auto after = connections_to(server.port());
  for (auto port : before) after.erase(port);
  EXPECT_EQ(after.size(), 1U) << "five requests, one TCP connection";
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(client_side_state(server.port(), *after.begin()), kTcpEstablished) << "still open for the next request";
}

TEST(HttpsServer, BodyOverLimitGets400) {
  Recorder recorder;
  server::HttpLimits limits;
  limits.max_body_bytes = 1024;
  TestServer server(recording_handler(recorder), limits);
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto at_limit = client->request("POST", "/at-limit", std::string(1024, 'a'));
  ASSERT_TRUE(at_limit) << at_limit.error().message;
  EXPECT_EQ(at_limit->status, 200);

  auto over = client->request("POST", "/over-limit", std::string(1025, 'a'));
  ASSERT_TRUE(over) << "a body over max_body_bytes must be answered with 400, got: " << over.error().message;
  expect_json_error(*over, 400, "invalid_argument");
  EXPECT_EQ(recorder.count(), 1U) << "the handler never sees an oversized body";
}

TEST(HttpsServer, HeadersOverLimitGet400) {
  Recorder recorder;
  server::HttpLimits limits;
  limits.max_header_bytes = 2048;
  TestServer server(recording_handler(recorder), limits);
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto small = client->request("GET", "/small", {}, {{"x-pad", std::string(1000, 'p')}});
  ASSERT_TRUE(small) << small.error().message;
  EXPECT_EQ(small->status, 200);

  auto big = client->request("GET", "/big", {}, {{"x-pad", std::string(4096, 'p')}});
  ASSERT_TRUE(big) << big.error().message;
  expect_json_error(*big, 400, "invalid_argument");
  EXPECT_EQ(recorder.count(), 1U);
}

TEST(HttpsServer, EncodedSlashOrNulInPathGets400) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  // A NUL in a query parameter too (PostgreSQL's libpq would cut the
  // value there: a filter on "x%00y" would match "x").
  for (const std::string target :
       {"/v1/users/a%2Fb", "/v1/users/a%2fb", "/v1/a%00", "/v1/users?actor=a%00b", "/v1/users?a%00b=1"}) {
    auto response = client->request("GET", target);
    ASSERT_TRUE(response) << target << ": " << response.error().message;
    expect_json_error(*response, 400, "invalid_argument");
  }
  // The query may hold an encoded '/'; only the path is routed on.
  auto fine = client->request("GET", "/v1/users?next=%2Fa%2Fb");
  ASSERT_TRUE(fine) << fine.error().message;
  EXPECT_EQ(fine->status, 200);
  const auto requests = recorder.requests();
  ASSERT_EQ(requests.size(), 1U);
  EXPECT_EQ(requests[0].query_param("next").value_or(""), "/a/b");
}

TEST(HttpsServer, HandlerExceptionGives500AndServerKeepsServing) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto failed = client->request("POST", "/throw", "{}");
  ASSERT_TRUE(failed) << failed.error().message;
  expect_json_error(*failed, 500, "internal");
  EXPECT_EQ(failed->body.find("on purpose"), std::string::npos) << "exception text is not sent to clients";

  auto same_connection = client->request("GET", "/after");
  ASSERT_TRUE(same_connection) << same_connection.error().message;
  EXPECT_EQ(same_connection->status, 200);

  auto other = pinned_client(server.url());
  ASSERT_NE(other, nullptr);
  auto new_connection = other->request("GET", "/after");
  ASSERT_TRUE(new_connection) << new_connection.error().message;
  EXPECT_EQ(new_connection->status, 200);
  EXPECT_EQ(recorder.count(), 3U);
}

TEST(HttpsServer, IdleTimeoutClosesIdleConnectionAndClientReconnects) {
  Recorder recorder;
  server::HttpLimits limits;
  limits.idle_timeout = seconds(1);
  TestServer server(recording_handler(recorder), limits);
  ASSERT_TRUE(server.ok()) << server.error();
  const auto before = connections_to(server.port());
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  ASSERT_TRUE(client->request("GET", "/first"));
  const auto served = steady_clock::now();
  auto first = connections_to(server.port());
  for (auto port : before) first.erase(port);
  ASSERT_EQ(first.size(), 1U);
  const auto client_port = *first.begin();
  EXPECT_EQ(client_side_state(server.port(), client_port), kTcpEstablished);

  // The server closes its end after idle_timeout: the client's end is left
  // in CLOSE_WAIT.
  ASSERT_TRUE(eventually([&] { return client_side_state(server.port(), client_port) == kTcpCloseWait; }));
  EXPECT_GE(seconds_since(served), 0.9) << "closed before idle_timeout";
  EXPECT_LT(seconds_since(served), 3.0);

  // A POST is safe here: the client sees the close before sending.
  auto second = client->request("POST", "/second", "{}");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->status, 200);
  auto after = connections_to(server.port());
  for (auto port : before) after.erase(port);
  EXPECT_EQ(after.size(), 2U) << "one reconnect";
  EXPECT_EQ(recorder.count(), 2U);
}

TEST(HttpsServer, StopFinishesRunningRequestThenRefusesConnections) {
  std::promise<void> started;
  std::atomic<int> calls{0};
  TestServer server([&](const net::HttpRequest& request) {
    if (request.path == "/slow" && calls.fetch_add(1) == 0) {
      started.set_value();
      std::this_thread::sleep_for(seconds(1));
      return net::json_response(200, R"({"slow":"done"})");
    }
    return net::json_response(200, "{}");
  });
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  const auto begin = steady_clock::now();
  auto slow = std::async(std::launch::async, [&] { return client->request("POST", "/slow", "{}"); });
  ASSERT_EQ(started.get_future().wait_for(seconds(5)), std::future_status::ready);
  server.server().stop();

  auto response = slow.get();
  ASSERT_TRUE(response) << "the request running at stop() must be answered: " << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"slow":"done"})");
  EXPECT_EQ(response->header("connection").value_or(""), "close");
  EXPECT_GE(seconds_since(begin), 0.9);

  auto late = pinned_client(server.url());
  ASSERT_NE(late, nullptr);
  auto refused = late->request("GET", "/late");
  ASSERT_FALSE(refused) << "a new connection after stop() was served";
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable) << refused.error().message;

  EXPECT_TRUE(server.wait_stopped(milliseconds(3000))) << "run() did not return after the drain";
  EXPECT_EQ(calls.load(), 1);
}

// Stops a server while a request outlives drain_timeout, then destroys the
// server with that request's session still suspended in it. Returns what
// went wrong; "" when nothing did.
std::string drain_timeout_scenario() {
  std::promise<void> started;
  server::HttpLimits limits;
  limits.drain_timeout = seconds(1);
  auto server = std::make_unique<TestServer>(
      [&](const net::HttpRequest&) {
        started.set_value();
        std::this_thread::sleep_for(milliseconds(2000));
        return net::json_response(200, "{}");
      },
      limits);
  if (!server->ok()) return "cannot start the server: " + server->error();
  auto client = pinned_client(server->url());
  if (client == nullptr) return "cannot create a client";

  auto slow = std::async(std::launch::async, [&] { return client->request("POST", "/slow", "{}"); });
  if (started.get_future().wait_for(seconds(5)) != std::future_status::ready) return "the handler was not called";
  const auto stopped_at = steady_clock::now();
  server->server().stop();
  if (!server->wait_stopped(milliseconds(1800))) return "run() outlived drain_timeout";
  if (seconds_since(stopped_at) < 0.9) return "run() returned before drain_timeout";
  server.reset();
  if (slow.get()) return "the request was answered after drain_timeout";
  return "";
}

// In a forked child, so that a crash fails this test instead of ending the
// whole program. The child uses the parent's TLS material and ends with
// _Exit, so it neither leaves nor removes files.
TEST(HttpsServer, DrainTimeoutCutsOffWhatIsLeftAndTheServerCanBeDestroyed) {
  ASSERT_FALSE(server_tls().files.pin_fingerprint.empty());
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(
      {
        const std::string problem = drain_timeout_scenario();
        (void)std::fputs((problem + "\n").c_str(), stderr);
        std::_Exit(problem.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(HttpsServer, StopClosesIdleKeepAliveConnections) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  const auto before = connections_to(server.port());
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->request("GET", "/kept"));
  auto conns = connections_to(server.port());
  for (auto port : before) conns.erase(port);
  ASSERT_EQ(conns.size(), 1U);
  const auto client_port = *conns.begin();

  const auto stopped_at = steady_clock::now();
  server.server().stop();
  ASSERT_TRUE(eventually([&] { return client_side_state(server.port(), client_port) == kTcpCloseWait; }))
      << "the idle connection was not closed";
  EXPECT_TRUE(server.wait_stopped(milliseconds(4000)));
  // The server waits up to 2 s for the idle client's close_notify.
  EXPECT_LT(seconds_since(stopped_at), 3.0);
  auto late = client->request("GET", "/late");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, ErrorCode::kUnavailable);
}

// A long poll whose readiness is a flag; records how it was polled.
struct PollState {
  std::string key;  // LongPoll::key
  std::atomic<bool> ready{false};
  std::atomic<int> polls{0};
  std::atomic<int> last_polls{0};
  std::promise<void> handler_called;
  std::atomic<bool> handler_called_set{false};
  std::chrono::milliseconds wait{10000};

  net::HttpResponse respond() {
    if (!handler_called_set.exchange(true)) handler_called.set_value();
    net::HttpResponse response;
    auto lp = std::make_shared<net::LongPoll>();
    lp->key = key;
    lp->until = steady_clock::now() + wait;
    lp->poll = [this](bool last) -> std::optional<net::HttpResponse> {
      polls.fetch_add(1);
      if (last) last_polls.fetch_add(1);
      if (ready.load()) return net::json_response(200, R"({"state":"ready"})");
      if (last) return net::json_response(200, R"({"state":"pending"})");
      return std::nullopt;
    };
    response.long_poll = std::move(lp);
    return response;
  }
};

server::HttpLimits slow_recheck() {
  server::HttpLimits limits;
  limits.long_poll_recheck = seconds(30);  // only wake(), until and stop() end these polls
  return limits;
}

TEST(HttpsServerLongPoll, WakeAnswersPromptly) {
  PollState state;
  TestServer server(
      [&](const net::HttpRequest& request) {
        return request.path == "/wait" ? state.respond() : net::json_response(200, "{}");
      },
      slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto poll = std::async(std::launch::async, [&] { return client->request("GET", "/wait"); });
  ASSERT_EQ(state.handler_called.get_future().wait_for(seconds(5)), std::future_status::ready);
  std::this_thread::sleep_for(milliseconds(200));  // let the server start waiting
  EXPECT_EQ(state.polls.load(), 0);

  server.server().wake();  // not ready yet: polled again, still waiting
  ASSERT_TRUE(eventually([&] { return state.polls.load() == 1; }, milliseconds(2000)));
  EXPECT_EQ(poll.wait_for(milliseconds(100)), std::future_status::timeout);

  const auto woken = steady_clock::now();
  state.ready = true;
  server.server().wake();
  ASSERT_EQ(poll.wait_for(seconds(3)), std::future_status::ready);
  auto response = poll.get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"state":"ready"})");
  EXPECT_LT(seconds_since(woken), 1.0);
  EXPECT_EQ(state.last_polls.load(), 0);

  auto next = client->request("GET", "/again");  // the connection is kept
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->status, 200);
}

// wake(key) wakes the polls with that key (and those without one) and
// leaves the others waiting: one agent's news costs one poll.
TEST(HttpsServerLongPoll, KeyedWakeWakesOnlyThatKeysPolls) {
  PollState a;
  PollState b;
  PollState any;  // no key: woken by every wake
  a.key = "endpoint-a";
  b.key = "endpoint-b";
  TestServer server(
      [&](const net::HttpRequest& request) {
        if (request.path == "/a") return a.respond();
        if (request.path == "/b") return b.respond();
        return any.respond();
      },
      slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  auto client_a = pinned_client(server.url());
  auto client_b = pinned_client(server.url());
  auto client_any = pinned_client(server.url());
  ASSERT_TRUE(client_a && client_b && client_any);
  auto poll_a = std::async(std::launch::async, [&] { return client_a->request("GET", "/a"); });
  auto poll_b = std::async(std::launch::async, [&] { return client_b->request("GET", "/b"); });
  auto poll_any = std::async(std::launch::async, [&] { return client_any->request("GET", "/any"); });
  for (auto* s : {&a, &b, &any}) {
    ASSERT_EQ(s->handler_called.get_future().wait_for(seconds(5)), std::future_status::ready);
  }
  std::this_thread::sleep_for(milliseconds(200));  // let the server start waiting

  a.ready = true;
  server.server().wake("endpoint-a");
  ASSERT_EQ(poll_a.wait_for(seconds(3)), std::future_status::ready);
  auto response = poll_a.get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, R"({"state":"ready"})");
  ASSERT_TRUE(eventually([&] { return any.polls.load() == 1; }, milliseconds(2000))) << any.polls.load();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(b.polls.load(), 0) << "another endpoint's poll was woken";
  EXPECT_EQ(poll_b.wait_for(milliseconds(0)), std::future_status::timeout);

  b.ready = true;
  any.ready = true;
  server.server().wake();  // wakes everyone
  ASSERT_EQ(poll_b.wait_for(seconds(3)), std::future_status::ready);
  ASSERT_EQ(poll_any.wait_for(seconds(3)), std::future_status::ready);
  EXPECT_EQ(b.polls.load(), 1);
}

// wake() called after the handler decided "not ready" but before the
// server began waiting (here: inside the handler, the tightest form of that
// window) must not be lost.
TEST(HttpsServerLongPoll, WakeBeforeTheWaitStartsIsNotLost) {
  PollState state;
  state.wait = milliseconds(2000);
  std::atomic<server::HttpsServer*> running{nullptr};
  TestServer server(
      [&](const net::HttpRequest&) {
        auto response = state.respond();
        state.ready = true;      // another request approves...
        running.load()->wake();  // ...and wakes the waiting polls
        return response;
      },
      slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  running = &server.server();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  const auto begin = steady_clock::now();
  auto response = client->request("GET", "/v1/requests/1/wait");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, R"({"state":"ready"})");
  EXPECT_LT(seconds_since(begin), 1.0) << "the wake() was lost: the poll waited until `until`";
}

// The same for a wake() that comes while poll() runs (here: from inside it,
// right after it found nothing): the server must poll again.
TEST(HttpsServerLongPoll, WakeWhilePollingIsNotLost) {
  std::atomic<int> polls{0};
  std::atomic<bool> ready{false};
  std::atomic<server::HttpsServer*> running{nullptr};
  std::promise<void> handler_called;
  TestServer server(
      [&](const net::HttpRequest&) {
        handler_called.set_value();
        net::HttpResponse response;
        response.long_poll = std::make_shared<net::LongPoll>();
        response.long_poll->until = steady_clock::now() + milliseconds(2000);
        response.long_poll->poll = [&](bool last) -> std::optional<net::HttpResponse> {
          polls.fetch_add(1);
          if (ready) return net::json_response(200, R"({"state":"ready"})");
          if (last) return net::json_response(200, R"({"state":"pending"})");
          ready = true;            // another request approves...
          running.load()->wake();  // ...and wakes the waiting polls
          return std::nullopt;
        };
        return response;
      },
      slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  running = &server.server();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto poll = std::async(std::launch::async, [&] { return client->request("GET", "/v1/requests/1/wait"); });
  ASSERT_EQ(handler_called.get_future().wait_for(seconds(5)), std::future_status::ready);
  std::this_thread::sleep_for(milliseconds(200));  // let the server start waiting
  const auto woken = steady_clock::now();
  server.server().wake();  // the first poll finds nothing, and is woken while it runs
  auto response = poll.get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, R"({"state":"ready"})");
  EXPECT_LT(seconds_since(woken), 1.0) << "the wake() during poll() was lost: the poll waited until `until`";
  EXPECT_EQ(polls.load(), 2);
}

TEST(HttpsServerLongPoll, UntilGetsTheLastAnswer) {
  PollState state;
  state.wait = milliseconds(1000);
  TestServer server([&](const net::HttpRequest&) { return state.respond(); }, slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  const auto begin = steady_clock::now();
  auto response = client->request("GET", "/v1/requests/1/wait");
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"state":"pending"})");
  EXPECT_GE(seconds_since(begin), 0.9);
  EXPECT_LT(seconds_since(begin), 3.0);
  EXPECT_EQ(state.polls.load(), 1);
  EXPECT_EQ(state.last_polls.load(), 1);
}

// Parked polls share one timer: a poll parked after another with a later
// deadline still ends at its own.
TEST(HttpsServerLongPoll, EachPollEndsAtItsOwnDeadline) {
  PollState slow;
  slow.wait = milliseconds(3000);
  PollState quick;
  quick.wait = milliseconds(1000);
  TestServer server(
      [&](const net::HttpRequest& request) { return request.path == "/slow" ? slow.respond() : quick.respond(); },
      slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  auto slow_client = pinned_client(server.url());
  auto quick_client = pinned_client(server.url());
  ASSERT_NE(slow_client, nullptr);
  ASSERT_NE(quick_client, nullptr);

  const auto begin = steady_clock::now();
  auto slow_poll = std::async(std::launch::async, [&] { return slow_client->request("GET", "/slow"); });
  ASSERT_EQ(slow.handler_called.get_future().wait_for(seconds(5)), std::future_status::ready);
  std::this_thread::sleep_for(milliseconds(200));
  auto quick_poll = std::async(std::launch::async, [&] { return quick_client->request("GET", "/quick"); });
  ASSERT_EQ(quick_poll.wait_for(seconds(3)), std::future_status::ready);
  EXPECT_LT(seconds_since(begin), 2.5);
  EXPECT_EQ(slow_poll.wait_for(milliseconds(0)), std::future_status::timeout);
  ASSERT_EQ(slow_poll.wait_for(seconds(5)), std::future_status::ready);
  EXPECT_GE(seconds_since(begin), 2.9);
  for (auto* poll : {&slow_poll, &quick_poll}) {
    auto response = poll->get();
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->body, R"({"state":"pending"})");
  }
  EXPECT_EQ(slow.last_polls.load(), 1);
  EXPECT_EQ(quick.last_polls.load(), 1);
}

// Without any wake, a parked poll polls again every recheck interval.
TEST(HttpsServerLongPoll, RecheckFindsAnAnswerNobodyAnnounced) {
  PollState state;
  server::HttpLimits limits;
  limits.long_poll_recheck = seconds(1);
  TestServer server([&](const net::HttpRequest&) { return state.respond(); }, limits);
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto poll = std::async(std::launch::async, [&] { return client->request("GET", "/wait"); });
  ASSERT_EQ(state.handler_called.get_future().wait_for(seconds(5)), std::future_status::ready);
  ASSERT_TRUE(eventually([&] { return state.polls.load() >= 1; }, milliseconds(3000)));  // the first recheck
  EXPECT_EQ(poll.wait_for(milliseconds(0)), std::future_status::timeout);
  const auto set_at = steady_clock::now();
  state.ready = true;  // and no wake()
  ASSERT_EQ(poll.wait_for(seconds(3)), std::future_status::ready);
  // One recheck interval, rounded up to the rechecks' one-second grid
  // (at most 2 s), and room for a slow (sanitized) build.
  EXPECT_LT(seconds_since(set_at), 2.8);
  auto response = poll.get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, R"({"state":"ready"})");
  EXPECT_EQ(state.last_polls.load(), 0);
}

TEST(HttpsServerLongPoll, StopAnswersAtOnce) {
  PollState state;
  TestServer server([&](const net::HttpRequest&) { return state.respond(); }, slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto poll = std::async(std::launch::async, [&] { return client->request("GET", "/v1/requests/1/wait"); });
  ASSERT_EQ(state.handler_called.get_future().wait_for(seconds(5)), std::future_status::ready);
  std::this_thread::sleep_for(milliseconds(200));  // let the server start waiting
  const auto stopped_at = steady_clock::now();
  server.server().stop();
  ASSERT_EQ(poll.wait_for(seconds(3)), std::future_status::ready);
  auto response = poll.get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, R"({"state":"pending"})");
  EXPECT_EQ(response->header("connection").value_or(""), "close");
  EXPECT_LT(seconds_since(stopped_at), 1.0);
  EXPECT_EQ(state.last_polls.load(), 1);
  EXPECT_TRUE(server.wait_stopped(milliseconds(3000)));
}

// --- Reading a body only once it is admitted (issue 17, item 10) -------------

// Refuses /refuse with 401, admits 10 bytes of body on /small, and throws on
// /throw; remembers every head it saw.
struct TestAdmitter {
  std::mutex mutex;
  std::vector<net::HttpRequest> heads;

  net::Admitter admitter() {
    return [this](const net::HttpRequest& head) {
      {
        const std::lock_guard lock(mutex);
        heads.push_back(head);
      }
      net::Admission out;
      if (head.path == "/throw") throw std::runtime_error("admitter failed on purpose");
      if (head.path == "/refuse") {
        auto r = net::json_response(401, R"({"error":{"code":"unauthenticated","message":"log in first"}})");
        r.set_header("www-authenticate", "Bearer realm=\"test\"");
        out.refusal = std::move(r);
        return out;
      }
      out.max_body_bytes = head.path == "/small" ? 10 : std::numeric_limits<std::size_t>::max();
      return out;
    };
  }
  std::size_t count() {
    const std::lock_guard lock(mutex);
    return heads.size();
  }
};

TEST(HttpsServerAdmission, TheAdmitterSeesTheHeadBeforeAnyBody) {
  Recorder recorder;
  TestAdmitter admitter;
  TestServer server(recording_handler(recorder), {}, "127.0.0.1", admitter.admitter());
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  auto refused = client->request("POST", "/refuse", std::string(1000, 'x'), {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_EQ(refused->status, 401);
  EXPECT_EQ(refused->header("www-authenticate").value_or(""), "Bearer realm=\"test\"");
  EXPECT_EQ(recorder.count(), 0U) << "the handler never sees a refused request";
  ASSERT_EQ(admitter.count(), 1U);
  {
    const auto& head = admitter.heads[0];
    EXPECT_EQ(head.method, "POST");
    EXPECT_EQ(head.path, "/refuse");
    EXPECT_EQ(head.body, "") << "the head comes without its body";
    EXPECT_EQ(head.header("content-length").value_or(""), "1000");
    EXPECT_EQ(head.header("authorization").value_or(""), "Bearer nope");
    EXPECT_EQ(head.remote_address, "127.0.0.1");
  }

  auto at_limit = client->request("POST", "/small", std::string(10, 'a'));
  ASSERT_TRUE(at_limit) << at_limit.error().message;
  EXPECT_EQ(at_limit->status, 200);
  ASSERT_EQ(recorder.count(), 1U);
  EXPECT_EQ(recorder.requests()[0].body, std::string(10, 'a'));

  auto over = client->request("POST", "/small", std::string(11, 'a'));
  ASSERT_TRUE(over) << over.error().message;
  expect_json_error(*over, 400, "invalid_argument");
  EXPECT_NE(over->body.find("larger than 10 bytes"), std::string::npos) << over->body;
  EXPECT_EQ(recorder.count(), 1U);

  // No body, no admission: a GET goes straight to the handler.
  const auto seen = admitter.count();
  auto get = client->request("GET", "/small");
  ASSERT_TRUE(get) << get.error().message;
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(admitter.count(), seen);
}

TEST(HttpsServerAdmission, ARefusedBodyIsNeverWaitedFor) {
  Recorder recorder;
  TestAdmitter admitter;
  TestServer server(recording_handler(recorder), {}, "127.0.0.1", admitter.admitter());
  ASSERT_TRUE(server.ok()) << server.error();
  // A 1 MiB body announced and never sent: the answer comes at once, and
  // the connection closes (the unread body cannot be told from a request).
  RawTlsClient c(server.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.write("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"));
  const std::string answer = c.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0U) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
  // Over the admitted size: refused on Content-Length alone.
  RawTlsClient d(server.port());
  ASSERT_TRUE(d.connected());
  ASSERT_TRUE(d.write("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"));
  const std::string too_large = d.read_all();
  EXPECT_EQ(too_large.rfind("HTTP/1.1 400", 0), 0U) << too_large;
  EXPECT_EQ(recorder.count(), 0U);
}

TEST(HttpsServerAdmission, AChunkedBodyIsHeldToTheAdmittedSize) {
  Recorder recorder;
  TestAdmitter admitter;
  TestServer server(recording_handler(recorder), {}, "127.0.0.1", admitter.admitter());
  ASSERT_TRUE(server.ok()) << server.error();
  RawTlsClient c(server.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(
      c.write("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  const std::string answer = c.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0U) << answer;
  EXPECT_EQ(recorder.count(), 0U);
}

TEST(HttpsServerAdmission, ContinueIsSentOnlyToAnAdmittedRequest) {
  Recorder recorder;
  TestAdmitter admitter;
  TestServer server(recording_handler(recorder), {}, "127.0.0.1", admitter.admitter());
  ASSERT_TRUE(server.ok()) << server.error();
  {
    RawTlsClient c(server.port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write("POST /refuse HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
    const std::string answer = c.read_all();
    EXPECT_EQ(answer.rfind("HTTP/1.1 401", 0), 0U) << answer;
  }
  RawTlsClient c(server.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.write(
      "POST /fine HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"));
  const std::string go_on = c.read_some();
  EXPECT_EQ(go_on.rfind("HTTP/1.1 100 Continue", 0), 0U) << go_on;
  ASSERT_TRUE(c.write("{}"));
  const std::string answer = c.read_all();
  EXPECT_NE(answer.find("HTTP/1.1 200"), std::string::npos) << answer;
  EXPECT_EQ(recorder.count(), 1U);
}

TEST(HttpsServerAdmission, AnAdmitterThatThrowsRefusesWith500) {
  Recorder recorder;
  TestAdmitter admitter;
  TestServer server(recording_handler(recorder), {}, "127.0.0.1", admitter.admitter());
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  auto failed = client->request("POST", "/throw", "{}");
  ASSERT_TRUE(failed) << failed.error().message;
  expect_json_error(*failed, 500, "internal");
  EXPECT_EQ(recorder.count(), 0U);
}

// Issue 17, item 14: malformed framing closed the connection without a word.
TEST(HttpsServer, ReloadTlsServesNewConnectionsOnlyAndRefusesAMismatchedKey) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  const auto& mine = server_tls().files;
  const auto& other = other_tls().files;
  const auto trusts = [&](const tls::ServerTls& files) {
    auto client = make_client(server.url(), files.pin_fingerprint);
    return client && (*client)->request("GET", "/x", {}, {}).ok();
  };
  RawTlsClient open(server.port());
  ASSERT_TRUE(open.connected());

  // A key that is not the leaf's, or text that is not PEM: refused, and
  // nothing changes.
  auto refused = server.server().reload_tls(other.served_chain_pem, mine.key_pem->str());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("does not belong"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(server.server().reload_tls("not PEM", mine.key_pem->str()).ok());
  EXPECT_FALSE(server.server().reload_tls(other.served_chain_pem, "not PEM").ok());
  EXPECT_TRUE(trusts(mine));
  EXPECT_FALSE(trusts(other));

  ASSERT_TRUE(server.server().reload_tls(other.served_chain_pem, other.key_pem->str()).ok());
  EXPECT_TRUE(trusts(other));
  EXPECT_FALSE(trusts(mine));
  // The connection made before goes on.
  ASSERT_TRUE(open.write("GET /still-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string answer = open.read_all();
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0U) << answer;
  EXPECT_NE(answer.find("Strict-Transport-Security: max-age=31536000"), std::string::npos) << answer;
}

TEST(HttpsServer, MalformedHttpIsAnswered400BeforeTheClose) {
  Recorder recorder;
  TestServer server(recording_handler(recorder));
  ASSERT_TRUE(server.ok()) << server.error();
  for (const std::string& request : {
           std::string("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
           std::string("G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"),
           std::string("GET / HTTP/7.5\r\nHost: x\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
           std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
       }) {
    RawTlsClient c(server.port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.write(request));
    const std::string answer = c.read_all();
    EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0U) << request << "\n---\n" << answer;
    EXPECT_NE(answer.find("malformed HTTP request"), std::string::npos) << answer;
  }
  EXPECT_EQ(recorder.count(), 0U);
}

// --- Connection slots under a flood (issue 17, item 11) -----------------------

// TCP connections that never start TLS, from one loopback address.
class Silent {
 public:
  Silent(std::uint16_t port, const std::string& from, int n) {
    for (int i = 0; i < n; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, from.c_str(), &local.sin_addr);
      sockaddr_in remote{};
      remote.sin_family = AF_INET;
      remote.sin_port = htons(port);
      remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0 ||
          ::connect(fd, reinterpret_cast<const sockaddr*>(&remote), sizeof remote) != 0) {
        ::close(fd);
        continue;
      }
      fds_.push_back(fd);
    }
  }
  ~Silent() {
    for (int fd : fds_) ::close(fd);
  }
  Silent(const Silent&) = delete;
  Silent& operator=(const Silent&) = delete;
  [[nodiscard]] std::size_t size() const { return fds_.size(); }
  // Whether the server has closed connection i (waits up to `wait`).
  [[nodiscard]] bool closed_by_server(std::size_t i, milliseconds wait) const {
    pollfd p{fds_[i], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
    char byte = 0;
    return ::recv(fds_[i], &byte, 1, MSG_DONTWAIT) <= 0;
  }

 private:
  std::vector<int> fds_;
};

TEST(HttpsServerFlood, OneAddressHoldsAtMostItsShare) {
  Recorder recorder;
  server::HttpLimits limits;
  limits.max_connections_per_address = 5;
  EventNames log;
  TestServer server(recording_handler(recorder), limits, "127.0.0.1", {}, log.logger());
  ASSERT_TRUE(server.ok()) << server.error();
  Silent flood(server.port(), "127.0.0.2", 8);
  ASSERT_EQ(flood.size(), 8U);
  for (std::size_t i = 5; i < 8; ++i) {
    EXPECT_TRUE(flood.closed_by_server(i, milliseconds(5000))) << "connection " << i << " is over the share";
  }
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_FALSE(flood.closed_by_server(i, milliseconds(0))) << "connection " << i << " is within it";
  }
  RawTlsClient sixth(server.port(), "127.0.0.2");
  EXPECT_FALSE(sixth.connected()) << "still over the share";
  auto other = pinned_client(server.url());
  ASSERT_NE(other, nullptr);
  auto answered = other->request("GET", "/from-elsewhere");
  ASSERT_TRUE(answered) << answered.error().message;
  EXPECT_EQ(answered->status, 200);
  // Four refusals: one summary line, not four.
  EXPECT_EQ(log.count("http.connection"), 1);
}

TEST(HttpsServerFlood, AFullServerClosesTheConnectionIdleLongest) {
  Recorder recorder;
  server::HttpLimits limits;
  limits.max_connections = 4;
  EventNames log;
  TestServer server(recording_handler(recorder), limits, "127.0.0.1", {}, log.logger());
  ASSERT_TRUE(server.ok()) << server.error();
  Silent first(server.port(), "127.0.0.2", 1);
  ASSERT_TRUE(eventually([&] { return !connections_to(server.port()).empty(); }));
  std::this_thread::sleep_for(milliseconds(50));  // accepted before the others
  Silent rest(server.port(), "127.0.0.3", 3);
  ASSERT_EQ(rest.size(), 3U);
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto answered = client->request("GET", "/while-full");
    ASSERT_TRUE(answered) << answered.error().message;
    EXPECT_EQ(answered->status, 200);
  }
  EXPECT_TRUE(first.closed_by_server(0, milliseconds(5000))) << "the oldest silent connection made room";
  EXPECT_EQ(log.count("http.connection"), 1);
}

TEST(HttpsServerFlood, BusyConnectionsAreNeverClosedToMakeRoom) {
  // Two long polls fill a server of two: a third connection is refused,
  // and the polls still get their answers.
  server::HttpLimits limits;
  limits.max_connections = 2;
  std::atomic<bool> answer{false};
  const auto handler = [&answer](const net::HttpRequest&) {
    net::HttpResponse r;
    r.long_poll = std::make_shared<net::LongPoll>();
    r.long_poll->until = steady_clock::now() + seconds(30);
    r.long_poll->poll = [&answer](bool last) -> std::optional<net::HttpResponse> {
      if (answer.load() || last) return net::json_response(200, R"({"polled":true})");
      return std::nullopt;
    };
    return r;
  };
  TestServer server(handler, limits);
  ASSERT_TRUE(server.ok()) << server.error();
  std::vector<std::future<int>> polls;
  for (int i = 0; i < 2; ++i) {
    polls.push_back(std::async(std::launch::async, [&server] {
      auto client = pinned_client(server.url());
      auto r = client ? client->request("GET", "/poll") : Result<net::HttpResponse>(unavailable("no client"));
      return r ? r->status : 0;
    }));
  }
  ASSERT_TRUE(eventually([&] { return connections_to(server.port()).size() >= 2; }));
  std::this_thread::sleep_for(milliseconds(200));  // both parked
  RawTlsClient third(server.port());
  EXPECT_FALSE(third.connected()) << "no connection is idle: the newcomer is refused";
  answer = true;
  server.server().wake();
  for (auto& p : polls) EXPECT_EQ(p.get(), 200);
}

TEST(HttpsServerFlood, WaitingLongPollsDoNotCountAgainstTheirAddress) {
  // Agents behind one NAT address each hold a long poll.
  server::HttpLimits limits;
  limits.max_connections_per_address = 2;
  std::atomic<bool> answer{false};
  const auto handler = [&answer](const net::HttpRequest& request) {
    net::HttpResponse r;
    if (request.path != "/poll") return net::json_response(200, R"({"ok":true})");
    r.long_poll = std::make_shared<net::LongPoll>();
    r.long_poll->until = steady_clock::now() + seconds(30);
    r.long_poll->poll = [&answer](bool last) -> std::optional<net::HttpResponse> {
      if (answer.load() || last) return net::json_response(200, R"({"polled":true})");
      return std::nullopt;
    };
    return r;
  };
  TestServer server(handler, limits);
  ASSERT_TRUE(server.ok()) << server.error();
  std::vector<std::future<int>> polls;
  for (int i = 0; i < 4; ++i) {
    polls.push_back(std::async(std::launch::async, [&server] {
      auto client = pinned_client(server.url());
      auto r = client ? client->request("GET", "/poll") : Result<net::HttpResponse>(unavailable("no client"));
      return r ? r->status : 0;
    }));
    ASSERT_TRUE(eventually([&] { return connections_to(server.port()).size() >= polls.size(); }));
    std::this_thread::sleep_for(milliseconds(100));  // parked before the next one comes
  }
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  auto other = client->request("GET", "/other");
  ASSERT_TRUE(other) << other.error().message;
  EXPECT_EQ(other->status, 200);
  answer = true;
  server.server().wake();
  for (auto& p : polls) EXPECT_EQ(p.get(), 200);
}

TEST(HttpsServerFlood, AHandshakeNeverStartedIsCutAtItsDeadline) {
  Recorder recorder;
  server::HttpLimits limits;
  limits.handshake_timeout = seconds(1);
  TestServer server(recording_handler(recorder), limits);
  ASSERT_TRUE(server.ok()) << server.error();
  Silent silent(server.port(), "127.0.0.2", 3);
  ASSERT_EQ(silent.size(), 3U);
  const auto start = steady_clock::now();
  for (std::size_t i = 0; i < silent.size(); ++i) {
    EXPECT_TRUE(silent.closed_by_server(i, milliseconds(6000))) << i;
  }
  EXPECT_GE(seconds_since(start), 0.9) << "not before the deadline";
}

TEST(HttpsServerFlood, TheDefaultsAreTheDocumentedOnes) {
  const server::HttpLimits limits;
  EXPECT_EQ(limits.max_connections, 4096U);
  EXPECT_EQ(limits.max_connections_per_address, 256U);
  EXPECT_EQ(limits.handshake_timeout, seconds(5));
}

}  // namespace
}  // namespace hoist::http_testing
