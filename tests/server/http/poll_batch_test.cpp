// Woken long polls polled in batches (poll_batches.h, and HttpsServer's use
// of it over real TLS on loopback): the grouping, errors, a wake during a
// batch, a deadline inside one, a connection that closed or never reads,
// and a flood of wakes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http_test_support.h"
#include "net/http_message.h"
#include "server/http/poll_batches.h"

namespace hoist::http_testing {
namespace {

using std::chrono::seconds;
using Item = net::LongPollBatcher::Item;
using server::take_batch;

// --- The pure logic -----------------------------------------------------------

class NullBatcher final : public net::LongPollBatcher {
 public:
  void poll_many(std::vector<Item>& /*items*/) override {}
};

TEST(TakeBatch, GroupsBySharedBatcherInWokenOrderUpToTheMost) {
  NullBatcher a;
  NullBatcher b;
  struct Entry {
    int id;
    const net::LongPollBatcher* batcher;
  };
  std::deque<Entry> queue{{1, &a}, {2, &b}, {3, &a}, {4, nullptr}, {5, &a}, {6, &a}, {7, &b}};
  const auto of = [](const Entry& e) { return e.batcher; };
  const auto ids = [](const std::vector<Entry>& batch) {
    std::vector<int> out;
    for (const auto& e : batch) out.push_back(e.id);
    return out;
  };
  using V = std::vector<int>;
  EXPECT_EQ(ids(take_batch(queue, of, 3)), (V{1, 3, 5}));  // the oldest first, with its batcher's next ones
  EXPECT_EQ(ids(take_batch(queue, of, 3)), (V{2, 7}));     // then the oldest left
  EXPECT_EQ(ids(take_batch(queue, of, 3)), (V{4}));        // a poll without a batcher goes alone
  EXPECT_EQ(ids(take_batch(queue, of, 3)), (V{6}));
  EXPECT_TRUE(queue.empty());
  EXPECT_TRUE(take_batch(queue, of, 3).empty());
}

class ThrowingBatcher final : public net::LongPollBatcher {
 public:
  void poll_many(std::vector<Item>& items) override {
    items.front().answer = net::json_response(200, R"({"half":"done"})");
    throw std::runtime_error("the database went away");
  }
};

class SilentBatcher final : public net::LongPollBatcher {
 public:
  void poll_many(std::vector<Item>& /*items*/) override {}  // answers nothing, not even the last
};

TEST(PollBatch, ABatcherThatThrowsAnswersEveryPollWithAnError) {
  auto batcher = std::make_shared<ThrowingBatcher>();
  std::vector<std::shared_ptr<net::LongPoll>> polls;
  std::vector<Item> items;
  for (int i = 0; i < 3; ++i) {
    polls.push_back(std::make_shared<net::LongPoll>());
    polls.back()->batcher = batcher;
    items.push_back({polls.back().get(), i == 2, std::nullopt});
  }
  const auto failure = server::poll_batch(items);
  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->find("the database went away"), std::string::npos) << *failure;
  for (const auto& item : items) {
    ASSERT_TRUE(item.answer.has_value());
    EXPECT_EQ(item.answer->status, 500) << "a half-made answer must not go out";
  }
}

TEST(PollBatch, ALastPollLeftUnansweredGetsAnErrorAndTheOthersWait) {
  auto batcher = std::make_shared<SilentBatcher>();
  auto waiting = std::make_shared<net::LongPoll>();
  auto due = std::make_shared<net::LongPoll>();
  waiting->batcher = due->batcher = batcher;
  std::vector<Item> items{{waiting.get(), false, std::nullopt}, {due.get(), true, std::nullopt}};
  EXPECT_TRUE(server::poll_batch(items).has_value());
  EXPECT_FALSE(items[0].answer.has_value());
  ASSERT_TRUE(items[1].answer.has_value());
  EXPECT_EQ(items[1].answer->status, 500);
}

TEST(PollBatch, APollWithoutABatcherIsPolledItself) {
  auto poll = std::make_shared<net::LongPoll>();
  int polled = 0;
  poll->poll = [&polled](bool last) -> std::optional<net::HttpResponse> {
    ++polled;
    if (last) return net::json_response(200, "{}");
    return std::nullopt;
  };
  std::vector<Item> items{{poll.get(), false, std::nullopt}};
  EXPECT_FALSE(server::poll_batch(items).has_value());
  EXPECT_FALSE(items[0].answer.has_value());
  items[0].last = true;
  EXPECT_FALSE(server::poll_batch(items).has_value());
  ASSERT_TRUE(items[0].answer.has_value());
  EXPECT_EQ(items[0].answer->status, 200);
  EXPECT_EQ(polled, 2);
}

// --- Through the server -------------------------------------------------------

// A batcher as a store would be: answers the polls whose key is ready
// (the body names the key), the last ones "pending"; records each call.
class FakeBatcher final : public net::LongPollBatcher {
 public:
  void poll_many(std::vector<Item>& items) override {
    {
      const std::lock_guard lock(mu_);
      std::vector<std::pair<std::string, bool>> call;
      for (const auto& item : items) call.emplace_back(item.poll->key, item.last);
      calls_.push_back(std::move(call));
    }
    if (fail) throw std::runtime_error("the database went away");
    for (auto& item : items) {
      if (is_ready(item.poll->key)) {
        item.answer =
            net::json_response(200, key == "big" && item.poll->key == "big" ? std::string(16 << 20, ' ') + "{}"
                                                                            : R"({"key":")" + item.poll->key + "\"}");
      } else if (item.last) {
        item.answer = net::json_response(200, R"({"state":"pending"})");
      }
    }
    if (after_read) after_read(items);
  }

  void set_ready(const std::string& k) {
    const std::lock_guard lock(mu_);
    ready_.insert(k);
  }
  bool is_ready(const std::string& k) {
    const std::lock_guard lock(mu_);
    return ready_.contains(k);
  }
  std::vector<std::vector<std::pair<std::string, bool>>> calls() {
    const std::lock_guard lock(mu_);
    return calls_;
  }
  // How many times a key was polled, and how many of those were last.
  std::pair<int, int> polled(const std::string& k) {
    const std::lock_guard lock(mu_);
    int n = 0;
    int last = 0;
    for (const auto& call : calls_) {
      for (const auto& [key_polled, was_last] : call) {
        if (key_polled == k) {
          ++n;
          if (was_last) ++last;
        }
      }
    }
    return {n, last};
  }

  std::atomic<bool> fail{false};
  std::string key;  // "big": the poll with key "big" is answered with 16 MiB
  // Runs after the read, inside the call (a commit racing with it).
  std::function<void(std::vector<Item>&)> after_read;

 private:
  std::mutex mu_;
  std::set<std::string> ready_;
  std::vector<std::vector<std::pair<std::string, bool>>> calls_;
};

// GET /poll/KEY?ms=N: a long poll with that key, through the batcher, for
// N ms (10 s by default); anything else 200 at once.
net::Handler batched_handler(const std::shared_ptr<FakeBatcher>& batcher) {
  return [batcher](const net::HttpRequest& request) {
    if (request.path.rfind("/poll/", 0) != 0) return net::json_response(200, R"({"ok":true})");
    net::HttpResponse response;
    response.long_poll = std::make_shared<net::LongPoll>();
    response.long_poll->key = request.path.substr(6);
    const auto ms = request.query_param("ms");
    response.long_poll->until = steady_clock::now() + milliseconds(ms ? std::stoi(std::string(*ms)) : 10000);
    response.long_poll->batcher = batcher;
    response.long_poll->poll_first = request.query_param("first").has_value();
    return response;
  };
}

server::HttpLimits slow_recheck() {
  server::HttpLimits limits;
  limits.long_poll_recheck = seconds(30);  // only wake(), until and stop() end these polls
  return limits;
}

// Long polls from their own connections, started at once.
struct Pollers {
  std::vector<std::unique_ptr<net::HttpsClient>> clients;
  std::vector<std::future<Result<net::HttpResponse>>> answers;

  Pollers(const std::string& url, const std::vector<std::string>& targets) {
    for (const auto& target : targets) {
      clients.push_back(pinned_client(url));
      auto* client = clients.back().get();
      answers.push_back(std::async(std::launch::async, [client, target] { return client->request("GET", target); }));
    }
  }
};

TEST(HttpsServerBatches, PollsWokenTogetherArePolledInOneBatch) {
  auto batcher = std::make_shared<FakeBatcher>();
  TestServer server(batched_handler(batcher), slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  std::vector<std::string> targets;
  for (int i = 0; i < 40; ++i) targets.push_back("/poll/ep-" + std::to_string(i));
  Pollers pollers(server.url(), targets);
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 40; }));
  std::this_thread::sleep_for(milliseconds(300));  // every one parked
  EXPECT_TRUE(batcher->calls().empty()) << "nobody was woken";

  for (int i = 0; i < 40; ++i) batcher->set_ready("ep-" + std::to_string(i));
  server.server().wake();  // a change that reaches every agent
  for (int i = 0; i < 40; ++i) {
    ASSERT_EQ(pollers.answers[i].wait_for(seconds(5)), std::future_status::ready) << i;
    auto response = pollers.answers[i].get();
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->body, R"({"key":"ep-)" + std::to_string(i) + "\"}");
  }
  const auto calls = batcher->calls();
  ASSERT_EQ(calls.size(), 1U) << "40 woken polls, one batch";
  EXPECT_EQ(calls[0].size(), 40U);
  std::set<std::string> keys;
  for (const auto& [k, last] : calls[0]) {
    keys.insert(k);
    EXPECT_FALSE(last) << k;
  }
  EXPECT_EQ(keys.size(), 40U) << "each poll once";
}

// A change committed while its poll's batch was being read (after the read
// found nothing): the poll is polled again, not left for its deadline.
TEST(HttpsServerBatches, AWakeDuringABatchIsNotLost) {
  auto batcher = std::make_shared<FakeBatcher>();
  std::atomic<server::HttpsServer*> running{nullptr};
  std::atomic<bool> raced{false};
  batcher->after_read = [&](std::vector<Item>& items) {
    for (const auto& item : items) {
      if (item.poll->key == "a" && !item.answer && !raced.exchange(true)) {
        batcher->set_ready("a");    // another request commits...
        running.load()->wake("a");  // ...and wakes: the poll is in its batch, not parked
      }
    }
  };
  TestServer server(batched_handler(batcher), slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  running = &server.server();
  Pollers pollers(server.url(), {"/poll/a", "/poll/b"});
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 2; }));
  std::this_thread::sleep_for(milliseconds(300));
  const auto woken = steady_clock::now();
  server.server().wake("a");  // its batch reads nothing, and the commit races with it
  ASSERT_EQ(pollers.answers[0].wait_for(seconds(3)), std::future_status::ready)
      << "the wake during the batch was lost: the poll waits for its deadline";
  auto response = pollers.answers[0].get();
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, R"({"key":"a"})");
  EXPECT_LT(seconds_since(woken), 1.5);
  EXPECT_EQ(batcher->polled("a").first, 2);
  EXPECT_EQ(batcher->polled("b").first, 0) << "b was never woken";
  EXPECT_EQ(pollers.answers[1].wait_for(milliseconds(0)), std::future_status::timeout);
}

// Polls whose deadlines fall in the same batch as others that still wait:
// only the ones past their deadline are polled "last" and answered.
TEST(HttpsServerBatches, ADeadlineInABatchEndsOnlyThatPoll) {
  auto batcher = std::make_shared<FakeBatcher>();
  TestServer server(batched_handler(batcher), slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  const auto begin = steady_clock::now();
  Pollers pollers(server.url(), {"/poll/early?ms=1000", "/poll/early2?ms=1000", "/poll/late?ms=10000"});
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(pollers.answers[i].wait_for(seconds(4)), std::future_status::ready) << i;
    auto response = pollers.answers[i].get();
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->body, R"({"state":"pending"})");
  }
  // At most one grid step (1 s) after the deadline.
  EXPECT_GE(seconds_since(begin), 0.9);
  EXPECT_LT(seconds_since(begin), 3.0);
  EXPECT_EQ(batcher->polled("early"), std::make_pair(1, 1));
  EXPECT_EQ(batcher->polled("early2"), std::make_pair(1, 1));
  EXPECT_EQ(batcher->polled("late").first, 0) << "not due, not woken";
  EXPECT_EQ(pollers.answers[2].wait_for(milliseconds(0)), std::future_status::timeout);

  // Woken with the late one's deadline not reached: polled, not last.
  auto again = std::async(std::launch::async, [&] {
    auto client = pinned_client(server.url());
    return client->request("GET", "/poll/early3?ms=1");
  });
  server.server().wake();
  ASSERT_EQ(again.wait_for(seconds(4)), std::future_status::ready);
  EXPECT_EQ(pollers.answers[2].wait_for(milliseconds(300)), std::future_status::timeout);
  const auto late = batcher->polled("late");
  EXPECT_GE(late.first, 1);
  EXPECT_EQ(late.second, 0);
  batcher->set_ready("late");
  server.server().wake("late");
  ASSERT_EQ(pollers.answers[2].wait_for(seconds(3)), std::future_status::ready);
  EXPECT_EQ(pollers.answers[2].get()->body, R"({"key":"late"})");
}

TEST(HttpsServerBatches, AFailedBatchAnswersEachPollWithAnError) {
  auto batcher = std::make_shared<FakeBatcher>();
  EventNames log;
  TestServer server(batched_handler(batcher), slow_recheck(), "127.0.0.1", {}, log.logger());
  ASSERT_TRUE(server.ok()) << server.error();
  Pollers pollers(server.url(), {"/poll/a", "/poll/b", "/poll/c"});
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 3; }));
  std::this_thread::sleep_for(milliseconds(300));
  batcher->fail = true;
  server.server().wake();
  for (auto& answer : pollers.answers) {
    ASSERT_EQ(answer.wait_for(seconds(3)), std::future_status::ready);
    auto response = answer.get();
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 500);
    EXPECT_NE(response->body.find(R"("code":"internal")"), std::string::npos) << response->body;
  }
  EXPECT_EQ(log.count("http.long_poll_failed"), 1) << "one line for the batch";
  auto next = pollers.clients[0]->request("GET", "/other");  // the connection and the server go on
  ASSERT_TRUE(next) << next.error().message;
  EXPECT_EQ(next->status, 200);
}

// A poll whose agent went away while it waited, in a batch with others:
// its answer fails to go out, the others are answered, the server goes on.
TEST(HttpsServerBatches, AClosedConnectionInABatchCostsOnlyItself) {
  auto batcher = std::make_shared<FakeBatcher>();
  TestServer server(batched_handler(batcher), slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  RawTlsClient gone(server.port());
  ASSERT_TRUE(gone.connected());
  ASSERT_TRUE(gone.write("GET /poll/gone HTTP/1.1\r\nHost: x\r\n\r\n"));
  Pollers pollers(server.url(), {"/poll/stays"});
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 2; }));
  std::this_thread::sleep_for(milliseconds(300));
  gone.vanish();
  batcher->set_ready("gone");
  batcher->set_ready("stays");
  server.server().wake();
  ASSERT_EQ(pollers.answers[0].wait_for(seconds(3)), std::future_status::ready);
  EXPECT_EQ(pollers.answers[0].get()->body, R"({"key":"stays"})");
  EXPECT_TRUE(eventually([&] { return server.server().open_connections() == 1; }))
      << "the closed connection is let go once its answer failed";
  EXPECT_EQ(batcher->calls().size(), 1U);
}

// An agent that never reads its answer (its receive window full) delays
// only its own answer, never the others in its batch.
TEST(HttpsServerBatches, AConnectionThatDoesNotReadStallsNoOtherAnswer) {
  auto batcher = std::make_shared<FakeBatcher>();
  batcher->key = "big";
  TestServer server(batched_handler(batcher), slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  RawTlsClient slow(server.port());
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.write("GET /poll/big HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 1; }));
  std::this_thread::sleep_for(milliseconds(200));  // parked first: first in the batch
  Pollers pollers(server.url(), {"/poll/q1", "/poll/q2"});
  ASSERT_TRUE(eventually([&] { return server.server().open_connections() == 3; }));
  std::this_thread::sleep_for(milliseconds(300));
  for (const char* k : {"big", "q1", "q2"}) batcher->set_ready(k);
  const auto woken = steady_clock::now();
  server.server().wake();
  for (auto& answer : pollers.answers) {
    ASSERT_EQ(answer.wait_for(seconds(3)), std::future_status::ready);
    auto response = answer.get();
    ASSERT_TRUE(response) << response.error().message;
    EXPECT_EQ(response->status, 200);
  }
  // Within the 3 s above, while the slow one's answer (more than its
  // socket buffers hold) is still unwritten.
  EXPECT_LT(seconds_since(woken), 3.0);
  ASSERT_EQ(batcher->calls().size(), 1U);
  EXPECT_EQ(batcher->calls()[0].size(), 3U);
  slow.vanish();  // its write fails now, instead of at the request timeout
}

// A poll whose handler did not look (poll_first) is polled as soon as it
// is parked, through the batcher: answered at once when its answer is
// ready, parked otherwise, with no wake.
TEST(HttpsServerBatches, APollFirstIsPolledAsSoonAsItIsParked) {
  auto batcher = std::make_shared<FakeBatcher>();
  batcher->set_ready("ready");
  TestServer server(batched_handler(batcher), slow_recheck());
  ASSERT_TRUE(server.ok()) << server.error();
  const auto begin = steady_clock::now();
  Pollers pollers(server.url(), {"/poll/ready?first", "/poll/waits?first"});
  ASSERT_EQ(pollers.answers[0].wait_for(seconds(3)), std::future_status::ready);
  EXPECT_EQ(pollers.answers[0].get()->body, R"({"key":"ready"})");
  EXPECT_LT(seconds_since(begin), 1.5);
  ASSERT_TRUE(eventually([&] { return batcher->polled("waits").first == 1; }));
  EXPECT_EQ(pollers.answers[1].wait_for(milliseconds(300)), std::future_status::timeout);
  EXPECT_EQ(batcher->polled("waits"), std::make_pair(1, 0));
  batcher->set_ready("waits");
  server.server().wake("waits");
  ASSERT_EQ(pollers.answers[1].wait_for(seconds(3)), std::future_status::ready);
  EXPECT_EQ(pollers.answers[1].get()->body, R"({"key":"waits"})");
}

std::size_t vm_rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// wake() from other threads (every commit, every other replica's NOTIFY)
// while the I/O thread is busy: what waits for it is bounded, whatever the
// number of wakes. Before, each wake queued a task holding its key.
TEST(HttpsServerBatches, AFloodOfWakesHoldsBoundedMemory) {
  auto batcher = std::make_shared<FakeBatcher>();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> blocked;
  server::HttpsServerOptions options;
  options.port = 0;
  options.cert_chain_file = server_tls().files.cert_chain_pem_path;
  options.key_file = server_tls().files.key_path;
  options.limits = slow_recheck();
  options.handle_signals = false;
  auto logger = log::make_null_logger();
  // The quick handler runs on the I/O thread: /block holds it there.
  auto created = server::HttpsServer::create(options, batched_handler(batcher), *logger,
                                             [&](const net::HttpRequest& r) -> std::optional<net::HttpResponse> {
                                               if (r.path != "/block") return std::nullopt;
                                               blocked.set_value();
                                               released.wait();
                                               return net::json_response(200, "{}");
                                             });
  ASSERT_TRUE(created) << created.error().message;
  auto& srv = **created;
  std::thread runner([&] { srv.run(); });
  const std::string url = "https://127.0.0.1:" + std::to_string(srv.port());
  Pollers parked(url, {"/poll/ep-7"});
  ASSERT_TRUE(eventually([&] { return srv.open_connections() == 1; }));
  std::this_thread::sleep_for(milliseconds(300));
  auto blocker = pinned_client(url);
  auto block = std::async(std::launch::async, [&] { return blocker->request("GET", "/block"); });
  ASSERT_EQ(blocked.get_future().wait_for(seconds(5)), std::future_status::ready);

  const auto before = vm_rss_kib();
  constexpr int kWakes = 1'000'000;
  for (int i = 0; i < kWakes; ++i) {
    srv.wake("endpoint-" + std::string(24, '0') + std::to_string(i));  // each a different key
  }
  const auto after = vm_rss_kib();
  std::printf("VmRSS %zu -> %zu KiB over %d wakes while the I/O thread was busy\n", before, after, kWakes);
  // Under AddressSanitizer freed memory stays in its quarantine (256 MiB by
  // default): the million freed keys show in VmRSS whatever is pending, so
  // the bound is checked in the other builds only.
  if (!kAddressSanitizer) {
    EXPECT_LT(after - std::min(after, before), 16U * 1024U) << "the pending wakes grew without bound";
  }

  batcher->set_ready("ep-7");
  release.set_value();
  ASSERT_EQ(block.wait_for(seconds(5)), std::future_status::ready);
  // Past the bound the wakes became one wake of everything: ep-7 is polled.
  ASSERT_EQ(parked.answers[0].wait_for(seconds(5)), std::future_status::ready);
  EXPECT_EQ(parked.answers[0].get()->body, R"({"key":"ep-7"})");
  srv.stop();
  runner.join();
}

}  // namespace
}  // namespace hoist::http_testing
