// The notification outbox's speed (issue 19; not a test: scripts/bench.sh
// runs it against a hoistd it started and set up with hoistd_api_bench
// setup). Its own HTTPS receiver on 127.0.0.1 (hoistd's server library,
// the certificate scripts/bench.sh made for nginx) answers 204 and notes
// when each message arrives. Three figures, each beside a baseline of the
// same run:
//
//   1. submit and approve, 3 webhook channels (request.*) against none:
//      blocks that alternate the channels on and off, so a drift of the
//      machine falls on both; after an "on" block the receiver is let
//      catch up before the next block starts (its sending is not left to
//      load the "off" block). Twice: paced, one call every --pace-ms (the
//      target's figure: each call's latency with the outbox at work, the
//      rate still far above a fleet's), then back to back (the machine
//      saturated: the client, hoistd, its sender and the receiver share
//      the cores, so this mostly measures that sharing);
//   2. submit to webhook received: from just before an agent's submission
//      until the receiver has its request.created, one at a time, beside
//      the submission's own round trip;
//   3. outbox throughput: the receiver holds each channel's first message
//      while requests are submitted behind it, then lets go; deliveries per
//      second from then until the last arrives, for one channel and for
//      three at once.
//
//   notify_bench --ready FILE --env FILE --cert PEM --key PEM
//                [--requests N (back to back, per on/off block pair, 2000)]
//                [--paced N (paced, per block pair, 600)] [--pace-ms N (10)]
//                [--blocks B (4)] [--latency N (300)] [--burst N (3000)]
//
// Lines starting with "summary:" are what scripts/bench.sh repeats.
#include <openssl/rand.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench_support.h"
#include "core/webhook_signature.h"
#include "log/logger.h"
#include "net/client/https_client.h"
#include "net/json_text.h"
#include "server/http/https_server.h"

namespace {

namespace bench = hoist::bench;
using hoist::net::Header;
using hoist::net::HttpRequest;
using hoist::net::HttpResponse;
using hoist::net::HttpsClient;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "notify_bench: %s\n", message.c_str());
  std::exit(1);
}

std::map<std::string, std::string> parse_flags(int argc, char** argv) {
  std::map<std::string, std::string> out;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) fail(fmt::format("expected --name value, got {}", key));
    out[key.substr(2)] = argv[++i];
  }
  return out;
}

std::string need(const std::map<std::string, std::string>& flags, const std::string& name) {
  const auto it = flags.find(name);
  if (it == flags.end()) fail(fmt::format("--{} is required", name));
  return it->second;
}

std::size_t number(const std::map<std::string, std::string>& flags, const std::string& name, std::size_t fallback) {
  const auto it = flags.find(name);
  return it == flags.end() ? fallback : std::stoul(it->second);
}

// What arrived, by channel path ("/a") and request id: when, per event type.
class Receiver {
 public:
  HttpResponse handle(const HttpRequest& r) {
    const auto type = bench::json_string_at(r.body, "/type").value_or("");
    const auto id = bench::json_string_at(r.body, "/data/request/id").value_or("");
    std::unique_lock lock(mu_);
    if (holding_.contains(r.path) && !seen_first_.contains(r.path)) {
      // The first message of a held channel waits here until release();
      // hoistd's sender waits for the answer, and the channel's later
      // messages queue in the outbox behind it.
      seen_first_.insert(r.path);
      held_.wait(lock, [&] { return !holding_.contains(r.path); });
    }
    arrivals_[r.path][id + " " + type] = bench::Clock::now();
    ++count_[r.path];
    changed_.notify_all();
    HttpResponse answer;
    answer.status = 204;
    return answer;
  }

  void hold(const std::string& path) {
    std::lock_guard lock(mu_);
    holding_.insert(path);
    seen_first_.erase(path);
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      holding_.clear();
    }
    held_.notify_all();
  }
  // Waits until `path` has `type` for request `id`; its arrival time.
  bench::Clock::time_point wait_for(const std::string& path, const std::string& id, const std::string& type) {
    std::unique_lock lock(mu_);
    const auto key = id + " " + type;
    if (!changed_.wait_for(lock, std::chrono::seconds(30), [&] { return arrivals_[path].contains(key); })) {
      fail(fmt::format("{} of {} did not reach {} within 30 s", type, id, path));
    }
    return arrivals_[path][key];
  }
  // Waits until `path` has had `n` messages in all; the time of the last.
  bench::Clock::time_point wait_count(const std::string& path, std::size_t n, std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    if (!changed_.wait_for(lock, limit, [&] { return count_[path] >= n; })) {
      fail(fmt::format("{} got {} of {} messages within {} s", path, count_[path], n, limit.count()));
    }
    bench::Clock::time_point last{};
    for (const auto& [key, at] : arrivals_[path]) last = std::max(last, at);
    return last;
  }
  std::size_t count(const std::string& path) {
    std::lock_guard lock(mu_);
    return count_[path];
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::condition_variable held_;
  std::set<std::string> holding_;
  std::set<std::string> seen_first_;
  std::map<std::string, std::map<std::string, bench::Clock::time_point>> arrivals_;
  std::map<std::string, std::size_t> count_;
};

class Api {
 public:
  Api(const bench::ReadyFile& ready, std::vector<Header> auth) : auth_(std::move(auth)) {
    hoist::net::ClientOptions options;
    options.url = ready.url;
    options.ca_file = ready.ca_file;
    auto client = HttpsClient::create(options);
    if (!client) fail(client.error().message);
    client_ = std::move(*client);
  }
  HttpResponse call(std::string_view method, std::string_view target, std::string_view body, int expected) {
    auto r = client_->request(method, target, body, auth_);
    if (!r) fail(fmt::format("{} {}: {}", method, target, r.error().message));
    if (r->status != expected) {
      fail(
          fmt::format("{} {}: HTTP {} (expected {}): {}", method, target, r->status, expected, r->body.substr(0, 300)));
    }
    return std::move(*r);
  }

 private:
  std::unique_ptr<HttpsClient> client_;
  std::vector<Header> auth_;
};

std::vector<Header> bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

std::string enrol(Api& admin, const std::string& hostname) {
  const auto token = admin.call("POST", "/api/v1/enrolment-tokens", R"({"labels":["bench"],"uses":1})", 201);
  const auto enrolled = admin.call("POST", "/api/v1/agent/enrol",
                                   fmt::format(R"({{"token":"{}","hostname":"{}","agent_version":"0.1.0"}})",
                                               bench::json_string_at(token.body, "/token").value_or(""), hostname),
                                   201);
  return bench::json_string_at(enrolled.body, "/credential").value_or("");
}

std::string new_secret() {
  std::vector<std::uint8_t> key(32);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) fail("no randomness");
  return hoist::webhook::format_secret(key);
}

struct Lifecycle {
  std::vector<double> submit_ms;
  std::vector<double> approve_ms;
};

// n submissions, then their approvals, in batches (bench::kBatch: hoistd's
// limits on waiting requests), sequential; appends the timings.
// With a pace, each call starts that long after the one before.
void lifecycle(Api& agent, Api& approver, std::size_t n, std::size_t& serial, Lifecycle& out,
               std::chrono::milliseconds pace = std::chrono::milliseconds{0}) {
  for (std::size_t done = 0; done < n;) {
    std::vector<std::string> ids;
    for (; done < n && ids.size() < bench::kBatch; ++done) {
      const auto start = bench::Clock::now();
      const auto r =
          agent.call("POST", "/api/v1/agent/requests", bench::submission_body(serial, bench::batch_user(serial)), 201);
      ++serial;
      out.submit_ms.push_back(bench::ms_since(start));
      ids.push_back(bench::json_string_at(r.body, "/request/id").value_or(""));
      std::this_thread::sleep_until(start + pace);
    }
    for (const auto& id : ids) {
      const auto start = bench::Clock::now();
      (void)approver.call("POST", "/api/v1/requests/" + id + "/approve", R"({"comment":"bench"})", 200);
      out.approve_ms.push_back(bench::ms_since(start));
      std::this_thread::sleep_until(start + pace);
    }
  }
}

// One request submitted and approved (two events), untimed; its id.
std::string submit_and_approve(Api& agent, Api& approver, std::size_t& serial) {
  const auto r = agent.call("POST", "/api/v1/agent/requests", bench::submission_body(serial++), 201);
  const auto id = bench::json_string_at(r.body, "/request/id").value_or("");
  (void)approver.call("POST", "/api/v1/requests/" + id + "/approve", R"({"comment":"bench"})", 200);
  return id;
}

void print_summary(const char* what, const bench::Summary& s) {
  std::printf("  %-48s p50 %8.3f ms   p99 %8.3f ms   max %8.3f ms   (n=%zu)\n", what, s.p50, s.p99, s.max, s.n);
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = parse_flags(argc, argv);
  auto ready = bench::read_ready_file(need(flags, "ready"));
  if (!ready) fail(ready.error().message);
  auto env = bench::read_env_file(need(flags, "env"));
  if (!env) fail(env.error().message);
  const std::string cert = need(flags, "cert");
  const std::size_t per_block = number(flags, "requests", 2000);
  const std::size_t blocks = number(flags, "blocks", 4);
  const std::size_t latency_n = number(flags, "latency", 300);
  const std::size_t burst = number(flags, "burst", 3000);
  const std::size_t paced_per_block = number(flags, "paced", 600);
  const std::chrono::milliseconds pace_ms{number(flags, "pace-ms", 10)};

  // The receiver.
  Receiver receiver;
  auto log = hoist::log::make_null_logger();
  hoist::server::HttpsServerOptions server_options;
  server_options.port = 0;
  server_options.cert_chain_file = cert;
  server_options.key_file = need(flags, "key");
  server_options.handle_signals = false;
  server_options.handler_threads = 4;
  auto server = hoist::server::HttpsServer::create(
      server_options, [&receiver](const HttpRequest& r) { return receiver.handle(r); }, *log);
  if (!server) fail(server.error().message);
  std::thread serving([&] { (*server)->run(); });
  const std::string base = fmt::format("https://127.0.0.1:{}", (*server)->port());

  Api admin(*ready, bearer(env->at("HOIST_BENCH_API_TOKEN")));
  Api agent(*ready, bearer(enrol(admin, "bench-notify")));
  Api approver(*ready, bearer(env->at("HOIST_BENCH_API_TOKEN")));

  std::vector<std::string> channels;
  for (const char* path : {"/a", "/b", "/c"}) {
    const auto made =
        admin.call("POST", "/api/v1/notify/channels",
                   fmt::format(R"({{"kind":"webhook","name":"bench{}","events":["request.*"],"enabled":false,)"
                               R"("config":{{"url":"{}{}","ca_file":{},"timeout_s":60}},"secret":"{}"}})",
                               path + 1, base, path, hoist::net::json_string(cert), new_secret()),
                   201);
    channels.push_back(bench::json_string_at(made.body, "/id").value_or(""));
  }
  const auto set_enabled = [&](bool on) {
    for (const auto& id : channels) {
      (void)admin.call("PATCH", "/api/v1/notify/channels/" + id, on ? R"({"enabled":true})" : R"({"enabled":false})",
                       200);
    }
  };

  // 1. Submit and approve with three channels against none.
  std::size_t serial = 1'000'000;
  Lifecycle warm;
  lifecycle(agent, approver, 200, serial, warm);
  // Alternating blocks of n requests without and with the channels.
  const auto compare = [&](std::size_t n, std::chrono::milliseconds pace, const char* what) {
    Lifecycle off;
    Lifecycle on;
    for (std::size_t b = 0; b < blocks; ++b) {
      lifecycle(agent, approver, n / 2, serial, off, pace);
      set_enabled(true);
      const auto before = receiver.count("/c");
      lifecycle(agent, approver, n / 2, serial, on, pace);
      // Two events per request (created, approved) on each channel.
      (void)receiver.wait_count("/c", before + n, std::chrono::seconds(300));
      (void)receiver.wait_count("/a", receiver.count("/c"), std::chrono::seconds(300));
      (void)receiver.wait_count("/b", receiver.count("/c"), std::chrono::seconds(300));
      set_enabled(false);
    }
    const auto off_submit = bench::summarize(off.submit_ms);
    const auto off_approve = bench::summarize(off.approve_ms);
    const auto on_submit = bench::summarize(on.submit_ms);
    const auto on_approve = bench::summarize(on.approve_ms);
    std::printf("\nSubmit and approve %s, 3 webhook channels (request.*) against none, %zu blocks each\n", what,
                blocks);
    print_summary("submit, no channel", off_submit);
    print_summary("submit, 3 channels", on_submit);
    print_summary("approve, no channel", off_approve);
    print_summary("approve, 3 channels", on_approve);
    std::printf("summary: 3 channels vs none, %s: submit p50 %.2fx mean %.2fx, approve p50 %.2fx mean %.2fx%s\n", what,
                on_submit.p50 / off_submit.p50, on_submit.mean / off_submit.mean, on_approve.p50 / off_approve.p50,
                on_approve.mean / off_approve.mean, pace.count() > 0 ? " (target <= 1.1x)" : "");
  };
  compare(paced_per_block, pace_ms, fmt::format("paced, a call every {} ms", pace_ms.count()).c_str());
  compare(per_block, std::chrono::milliseconds{0}, "back to back");

  // 2. Submit to webhook received, one channel.
  (void)admin.call("PATCH", "/api/v1/notify/channels/" + channels[0], R"({"enabled":true})", 200);
  std::vector<double> to_webhook_ms;
  std::vector<double> submit_rtt_ms;
  for (std::size_t i = 0; i < latency_n; ++i) {
    const auto start = bench::Clock::now();
    const auto r = agent.call("POST", "/api/v1/agent/requests", bench::submission_body(serial++), 201);
    submit_rtt_ms.push_back(bench::ms_since(start));
    const auto id = bench::json_string_at(r.body, "/request/id").value_or("");
    const auto arrived = receiver.wait_for("/a", id, "request.created");
    to_webhook_ms.push_back(std::chrono::duration<double, std::milli>(arrived - start).count());
    (void)approver.call("POST", "/api/v1/requests/" + id + "/approve", R"({"comment":"bench"})", 200);
  }
  const auto to_webhook = bench::summarize(to_webhook_ms);
  const auto submit_rtt = bench::summarize(submit_rtt_ms);
  std::printf("\nSubmit to webhook received (one channel, sequential)\n");
  print_summary("submit to request.created at the receiver", to_webhook);
  print_summary("baseline: the submission's own round trip", submit_rtt);
  std::printf("summary: submit to webhook: p50 %.2f ms p99 %.2f ms (target p99 <= 100 ms); submit alone p50 %.2f ms\n",
              to_webhook.p50, to_webhook.p99, submit_rtt.p50);

  // 3. Throughput: a backlog behind a held first message, then let go.
  const auto drain = [&](const std::vector<std::string>& paths) {
    std::map<std::string, std::size_t> before;
    for (const auto& p : paths) {
      before[p] = receiver.count(p);
      receiver.hold(p);
    }
    // Each request gives two events (created, approved).
    for (std::size_t i = 0; i < burst / 2; ++i) (void)submit_and_approve(agent, approver, serial);
    const auto released = bench::Clock::now();
    receiver.release();
    bench::Clock::time_point last{};
    for (const auto& p : paths) {
      last = std::max(last, receiver.wait_count(p, before[p] + burst / 2 * 2, std::chrono::seconds(600)));
    }
    const double seconds = std::chrono::duration<double>(last - released).count();
    return static_cast<double>(burst / 2 * 2 * paths.size()) / seconds;
  };
  set_enabled(false);
  (void)admin.call("PATCH", "/api/v1/notify/channels/" + channels[0], R"({"enabled":true})", 200);
  const double one = drain({"/a"});
  set_enabled(true);
  const double three = drain({"/a", "/b", "/c"});
  std::printf("\nOutbox throughput: %zu events queued behind a held message per channel, then let go\n", burst);
  std::printf("  one channel:    %8.0f deliveries/s\n", one);
  std::printf("  three channels: %8.0f deliveries/s (all three together)\n", three);
  std::printf("summary: outbox throughput: %.0f deliveries/s on one channel, %.0f on three (target >= 1,000/s)\n", one,
              three);

  for (const auto& id : channels) (void)admin.call("DELETE", "/api/v1/notify/channels/" + id, "", 200);
  (*server)->stop();
  serving.join();
  return 0;
}
