// net/client/failover_client.h against real HttpsServers on loopback: a
// closed port, a port that accepts TCP and never answers, a server of
// another CA, a 503, and a server that takes a request and never answers
// it, each before a good server in the list.
#include "net/client/failover_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "http_test_support.h"

namespace hoist::http_testing {
namespace {

using std::chrono::seconds;

net::Handler counting(std::atomic<int>& calls, int status = 200) {
  return [&calls, status](const net::HttpRequest&) {
    calls.fetch_add(1);
    if (status == 503) {
      return net::json_response(503, R"({"error":{"code":"unavailable","message":"the database is unreachable"}})");
    }
    return net::json_response(status, R"({"ok":true})");
  };
}

// A loopback port with nothing listening (bound, never listened on, then
// closed: connect is refused).
std::string closed_url() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return "https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

// A port that completes TCP connections (the kernel's backlog) and never
// says a word: the TLS handshake waits for connect_timeout.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

struct Made {
  std::shared_ptr<net::ServerSet> servers;
  std::unique_ptr<net::FailoverApiClient> client;
  std::vector<std::string> answered;  // what on_answer reported
};

std::unique_ptr<Made> failover_client(const std::vector<std::string>& urls, seconds request_timeout = seconds(10)) {
  auto made = std::make_unique<Made>();
  auto* out = made.get();
  made->servers = std::make_shared<net::ServerSet>(urls, net::Backoff{},
                                                   [out](const std::string& url) { out->answered.push_back(url); });
  net::ClientOptions options;
  options.pin_fingerprint = server_tls().files.pin_fingerprint;
  options.connect_timeout = seconds(1);
  options.request_timeout = request_timeout;
  auto client = net::FailoverApiClient::create(made->servers, options);
  EXPECT_TRUE(client) << client.error().message;
  if (client) made->client = std::move(*client);
  return made;
}

TEST(FailoverClient, ClosedPortFirstThenTheLiveServerForEveryMethodAndItSticks) {
  std::atomic<int> calls{0};
  TestServer live(counting(calls));
  ASSERT_TRUE(live.ok()) << live.error();
  const std::string closed = closed_url();
  auto made = failover_client({closed, live.url()});
  ASSERT_NE(made->client, nullptr);
  for (const std::string method : {"GET", "POST", "DELETE", "GET"}) {
    auto reply = made->client->send(method, "/x", method == "POST" ? R"({})" : "", {});
    ASSERT_TRUE(reply) << method << ": " << reply.error().message;
    EXPECT_EQ(reply->status, 200);
  }
  EXPECT_EQ(calls.load(), 4);
  EXPECT_EQ(made->servers->answered(), live.url());
  EXPECT_EQ(made->answered, std::vector<std::string>{live.url()});  // one switch, reported once
}

TEST(FailoverClient, APortThatNeverAnswersCostsOneConnectTimeout) {
  std::atomic<int> calls{0};
  TestServer live(counting(calls));
  ASSERT_TRUE(live.ok()) << live.error();
  const SilentListener silent;
  auto made = failover_client({silent.url(), live.url()});
  const auto start = steady_clock::now();
  auto reply = made->client->send("POST", "/x", "{}", {});
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 200);
  EXPECT_LT(seconds_since(start), 4.0);  // connect_timeout is 1 s
  // Sticky: the next calls do not wait for the silent one again.
  const auto again = steady_clock::now();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(made->client->send("GET", "/x", "", {}));
  EXPECT_LT(seconds_since(again), 1.0);
  EXPECT_EQ(calls.load(), 4);
}

TEST(FailoverClient, A503MovesOnAndOtherAnswersAreTheAnswer) {
  std::atomic<int> down_calls{0};
  std::atomic<int> live_calls{0};
  TestServer down(counting(down_calls, 503));
  TestServer live(counting(live_calls));
  ASSERT_TRUE(down.ok() && live.ok());
  auto made = failover_client({down.url(), live.url()});
  auto reply = made->client->send("POST", "/x", "{}", {});
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(down_calls.load(), 1);
  EXPECT_EQ(live_calls.load(), 1);
  ASSERT_TRUE(made->client->send("POST", "/x", "{}", {}));
  EXPECT_EQ(down_calls.load(), 1);  // it rests, and the live one is current
  EXPECT_EQ(live_calls.load(), 2);

  for (const int status : {400, 401, 403, 404, 409, 500, 502}) {
    std::atomic<int> first_calls{0};
    std::atomic<int> second_calls{0};
    TestServer first(counting(first_calls, status));
    TestServer second(counting(second_calls));
    ASSERT_TRUE(first.ok() && second.ok());
    auto pair = failover_client({first.url(), second.url()});
    auto r = pair->client->send("POST", "/x", "{}", {});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, status);
    EXPECT_EQ(second_calls.load(), 0) << status;
  }
}

TEST(FailoverClient, OnlyServersAnswering503GiveThe503) {
  std::atomic<int> calls{0};
  TestServer a(counting(calls, 503));
  TestServer b(counting(calls, 503));
  ASSERT_TRUE(a.ok() && b.ok());
  auto made = failover_client({a.url(), b.url()});
  auto reply = made->client->send("GET", "/x", "", {});
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(calls.load(), 2);
}

TEST(FailoverClient, AServerOfAnotherCaIsNeverUsed) {
  std::atomic<int> impostor_calls{0};
  std::atomic<int> live_calls{0};
  TestServer impostor(counting(impostor_calls), {}, "127.0.0.1", {}, nullptr, other_tls());
  TestServer live(counting(live_calls));
  ASSERT_TRUE(impostor.ok() && live.ok());
  {
    auto made = failover_client({impostor.url(), live.url()});
    for (int i = 0; i < 3; ++i) {
      auto reply = made->client->send("POST", "/x", "{}", {});
      ASSERT_TRUE(reply) << reply.error().message;
    }
    EXPECT_EQ(live_calls.load(), 3);
    EXPECT_EQ(made->servers->answered(), live.url());
  }
  {
    // The only one that is up: every call fails, as untrusted, and not one
    // request reaches it.
    auto made = failover_client({closed_url(), impostor.url()});
    for (int i = 0; i < 3; ++i) {
      auto reply = made->client->send("GET", "/x", "", {});
      ASSERT_FALSE(reply);
      EXPECT_EQ(reply.error().code, ErrorCode::kPermissionDenied) << reply.error().message;
      EXPECT_NE(reply.error().message.find("pinned fingerprint"), std::string::npos) << reply.error().message;
    }
    EXPECT_EQ(made->servers->answered(), "");
  }
  EXPECT_EQ(impostor_calls.load(), 0);
}

TEST(FailoverClient, ARequestThatMayHaveArrivedIsSentElsewhereOnlyWhenSafe) {
  std::atomic<int> slow_calls{0};
  std::atomic<int> live_calls{0};
  TestServer slow([&](const net::HttpRequest&) {
    slow_calls.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    return net::json_response(200, R"({"late":true})");
  });
  TestServer live(counting(live_calls));
  ASSERT_TRUE(slow.ok() && live.ok());
  {
    auto made = failover_client({slow.url(), live.url()}, seconds(1));
    auto post = made->client->send("POST", "/x", "{}", {});
    ASSERT_FALSE(post);  // it may have been processed by the slow one
    EXPECT_EQ(post.error().code, ErrorCode::kUnavailable);
    EXPECT_EQ(slow_calls.load(), 1);
    EXPECT_EQ(live_calls.load(), 0);
    // The slow one rests: the next call goes to the other.
    auto next = made->client->send("POST", "/x", "{}", {});
    ASSERT_TRUE(next) << next.error().message;
    EXPECT_EQ(live_calls.load(), 1);
  }
  {
    auto made = failover_client({slow.url(), live.url()}, seconds(1));
    auto get = made->client->send("GET", "/x", "", {});
    ASSERT_TRUE(get) << get.error().message;  // safe to repeat
    EXPECT_EQ(live_calls.load(), 2);
  }
}

TEST(FailoverClient, NoServerAnsweringSaysWhatEachDid) {
  const std::string a = closed_url();
  const std::string b = closed_url();
  auto made = failover_client({a, b});
  auto reply = made->client->send("GET", "/x", "", {});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(reply.error().message.find(a), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find(b), std::string::npos) << reply.error().message;
}

TEST(FailoverClient, EveryUrlIsCheckedWhenTheClientIsMade) {
  auto servers = std::make_shared<net::ServerSet>(std::vector<std::string>{"https://127.0.0.1:1", "https://a b"});
  net::ClientOptions options;
  options.pin_fingerprint = server_tls().files.pin_fingerprint;
  auto client = net::FailoverApiClient::create(servers, options);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);
}

TEST(FailoverClient, InterruptEndsALongCallAndEveryLaterOne) {
  const SilentListener silent;
  auto made = failover_client({silent.url()}, seconds(30));
  auto* client = made->client.get();
  std::thread stopper([client] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    client->interrupt();
  });
  (void)client->send("GET", "/x", "", {});
  stopper.join();
  auto later = client->send("GET", "/x", "", {});
  ASSERT_FALSE(later);
  EXPECT_NE(later.error().message.find("interrupted"), std::string::npos) << later.error().message;
}

}  // namespace
}  // namespace hoist::http_testing
