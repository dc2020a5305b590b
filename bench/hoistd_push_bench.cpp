// hoistd push-channel benchmark over real HTTPS (not a test; scripts/bench.sh
// runs it against a hoistd it starts):
//
//   hoistd_push_bench --ready FILE --env FILE --pid PID [--idle 10000] [--samples 200]
//
// 1. Enrols `idle` endpoints (label "bench") and one more, the watcher.
// 2. Baseline: approve-to-push latency with no idle connections. The
//    watcher submits a request (it lands pending; at most one waits at a
//    time, within hoistd's caps), reads its push past it, starts its long poll (GET /api/v1/agent/push?after=CURSOR&
//    wait=60) and, once that has had 20 ms to park, the approver approves
//    one of its requests; the latency is from sending the approval to
//    reading the push response that carries it. `samples` times.
// 3. Opens one connection per idle endpoint, each holding a long poll
//    (after=0&wait=60, re-sent when answered), and reads hoistd's VmRSS
//    before and with them: (with - before) / idle is the memory per idle
//    push connection.
// 4. The approve-to-push latency again, under that load.
//
// One thread, Beast over Asio with C++20 coroutines. The client checks the
// server's certificate against hoistd's CA. Lines starting with "summary:"
// are what scripts/bench.sh repeats in its final summary.
#include <openssl/ssl.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench_support.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace bench = hoist::bench;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;
using Response = bhttp::response<bhttp::string_body>;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "hoistd_push_bench: %s\n", message.c_str());
  std::exit(1);
}

// One keep-alive HTTPS connection to hoistd.
class Conn {
 public:
  Conn(asio::io_context& io, ssl::context& tls) : stream_(io, tls) {}

  awaitable<void> open(const tcp::endpoint& server) {
    stream_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification(server.address().to_string()));
    co_await beast::get_lowest_layer(stream_).async_connect(server, use_awaitable);
    beast::get_lowest_layer(stream_).socket().set_option(tcp::no_delay(true));
    co_await stream_.async_handshake(ssl::stream_base::client, use_awaitable);
  }

  awaitable<void> send(bhttp::verb method, const std::string& target, const std::string& credential,
                       const std::string& body = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!credential.empty()) {
      req.set(bhttp::field::authorization, "Bearer " + credential);
    }
    if (!body.empty()) {
      req.set(bhttp::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    co_await bhttp::async_write(stream_, req, use_awaitable);
  }

  awaitable<Response> receive() {
    Response res;
    co_await bhttp::async_read(stream_, buffer_, res, use_awaitable);
    co_return res;
  }

  awaitable<Response> request(bhttp::verb method, const std::string& target, const std::string& credential,
                              const std::string& body = {}) {
    co_await send(method, target, credential, body);
    co_return co_await receive();
  }

  void close() {
    boost::system::error_code ec;
    beast::get_lowest_layer(stream_).socket().close(ec);
  }

 private:
  ssl::stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

Response expect(Response res, unsigned status, std::string_view what) {
  if (res.result_int() != status) {
    fail(fmt::format("{}: HTTP {} (expected {}): {}", what, res.result_int(), status, res.body().substr(0, 300)));
  }
  return res;
}

std::string push_target(std::uint64_t after, int wait_s) {
  return fmt::format("/api/v1/agent/push?after={}&wait={}", after, wait_s);
}

struct Options {
  bench::ReadyFile ready;
  std::string api_token;
  pid_t pid = 0;
  std::size_t idle = 10000;
  std::size_t samples = 200;
};

class PushBench {
 public:
  PushBench(asio::io_context& io, Options options)
      : io_(io), opts_(std::move(options)), server_(asio::ip::make_address("127.0.0.1"), opts_.ready.port) {
    tls_.load_verify_file(opts_.ready.ca_file);
    // The client's own buffers are not what is measured; keep them small.
    SSL_CTX_set_mode(tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
  }

  awaitable<void> run() {
    approver_ = co_await connect();
    co_await enrol_all();

    watcher_submit_ = co_await connect();
    auto watcher_poll = co_await connect();

    std::printf("approve-to-push latency, no idle connections (%zu samples)...\n", opts_.samples);
    std::fflush(stdout);
    const auto quiet = co_await latency_phase(*watcher_poll);

    co_await sleep(std::chrono::seconds(1));
    const auto rss_before = bench::vm_rss_kib(opts_.pid).value_or(-1);
    const auto fds_before = bench::open_fds(opts_.pid).value_or(0);

    std::printf("opening %zu idle push connections...\n", opts_.idle);
    std::fflush(stdout);
    const auto open_start = bench::Clock::now();
    co_await open_idle();
    const double open_s = bench::ms_since(open_start) / 1000.0;
    co_await sleep(std::chrono::seconds(3));  // every long poll parked, transient allocations gone
    const auto rss_with = bench::vm_rss_kib(opts_.pid).value_or(-1);
    const auto client_rss = bench::vm_rss_kib(::getpid()).value_or(-1);
    const auto fds_with = bench::open_fds(opts_.pid).value_or(0);

    std::printf("approve-to-push latency with %zu idle connections (%zu samples)...\n", opts_.idle, opts_.samples);
    std::fflush(stdout);
    const auto loaded = co_await latency_phase(*watcher_poll);
    const auto rss_after = bench::vm_rss_kib(opts_.pid).value_or(-1);

    const double per_conn_kib =
        static_cast<double>(rss_with - rss_before) / static_cast<double>(std::max<std::size_t>(1, opts_.idle));
    std::printf("\nPush channel (%zu distinct enrolled endpoints, one long poll each)\n", opts_.idle);
    std::printf("  enrolling them took %.1f s; opening their connections and polls %.1f s\n", enrol_s_, open_s);
    std::printf("  hoistd descriptors open: %zu before, %zu with the idle polls\n", fds_before, fds_with);
    std::printf("  hoistd VmRSS: %lld KiB before, %lld KiB with them (%lld KiB after the loaded phase)\n",
                static_cast<long long>(rss_before), static_cast<long long>(rss_with),
                static_cast<long long>(rss_after));
    std::printf("  memory per idle push connection: %.1f KiB (target <= 16 KiB); this client's VmRSS: %lld KiB\n",
                per_conn_kib, static_cast<long long>(client_rss));
    std::printf("  approve-to-push, no idle connections:  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms (n=%zu)\n",
                quiet.p50, quiet.p99, quiet.max, quiet.n);
    std::printf("  approve-to-push, %zu idle:           p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms (n=%zu)\n", opts_.idle,
                loaded.p50, loaded.p99, loaded.max, loaded.n);
    std::printf("  loaded / unloaded: p50 %.1fx, p99 %.1fx (target p99 <= 50 ms)\n", loaded.p50 / quiet.p50,
                loaded.p99 / quiet.p99);
    std::printf(
        "  idle polls answered at the end of their wait (and sent again): %zu; failed: %zu; carrying "
        "messages: %zu\n",
        idle_answers_, idle_failures_, idle_with_messages_);
    std::printf("  approvals whose push did not carry them: %zu\n", wrong_answers_);
    std::printf("summary: %zu idle push connections: %.1f KiB each (VmRSS %lld -> %lld KiB); target <= 16 KiB\n",
                opts_.idle, per_conn_kib, static_cast<long long>(rss_before), static_cast<long long>(rss_with));
    std::printf(
        "summary:   approve-to-push p50 %.2f ms p99 %.2f ms with them; baseline without: p50 %.2f ms p99 %.2f "
        "ms (p99 %.1fx); target p99 <= 50 ms\n",
        loaded.p50, loaded.p99, quiet.p50, quiet.p99, loaded.p99 / quiet.p99);
    std::fflush(stdout);

    stopping_ = true;
    for (auto& c : idle_) {
      c->close();
    }
    io_.stop();
  }

 private:
  awaitable<std::unique_ptr<Conn>> connect() {
    auto c = std::make_unique<Conn>(io_, tls_);
    co_await c->open(server_);
    co_return c;
  }

  awaitable<void> sleep(std::chrono::steady_clock::duration d) {
    asio::steady_timer t(io_, d);
    co_await t.async_wait(use_awaitable);
  }

  awaitable<void> enrol_all() {
    const auto made =
        expect(co_await approver_->request(bhttp::verb::post, "/api/v1/enrolment-tokens", opts_.api_token,
                                           fmt::format(R"({{"labels":["bench"],"uses":{}}})", opts_.idle + 1)),
               201, "creating the enrolment token");
    enrol_token_ = bench::json_string_at(made.body(), "/token").value_or("");
    watcher_ = co_await enrol_one(*approver_, "bench-watcher");
    credentials_.resize(opts_.idle);
    std::printf("enrolling %zu endpoints...\n", opts_.idle);
    std::fflush(stdout);
    const auto start = bench::Clock::now();
    // A few connections at once: each enrolment is one durable write, so
    // more would only queue in hoistd.
    constexpr int kWorkers = 4;
    std::size_t running = kWorkers;
    asio::steady_timer all_done(io_, asio::steady_timer::time_point::max());
    for (int w = 0; w < kWorkers; ++w) {
      asio::co_spawn(
          io_,
          [this, &running, &all_done]() -> awaitable<void> {
            auto c = co_await connect();
            for (std::size_t i = next_++; i < opts_.idle; i = next_++) {
              credentials_[i] = co_await enrol_one(*c, fmt::format("bench-idle-{:05}", i));
            }
            if (--running == 0) {
              all_done.cancel();
            }
          },
          [](const std::exception_ptr& e) {
            if (e) std::rethrow_exception(e);
          });
    }
    co_await all_done.async_wait(asio::as_tuple(use_awaitable));
    enrol_s_ = bench::ms_since(start) / 1000.0;
  }

  awaitable<std::string> enrol_one(Conn& c, const std::string& hostname) {
    const auto r = expect(co_await c.request(bhttp::verb::post, "/api/v1/agent/enrol", "",
                                             fmt::format(R"({{"token":"{}","hostname":"{}","agent_version":"0.1.0"}})",
                                                         enrol_token_, hostname)),
                          201, "enrolling " + hostname);
    co_return bench::json_string_at(r.body(), "/credential").value_or("");
  }

  // The idle connections: opened a few at a time (the listen backlog and
  // the handshakes), each then holds its long poll and re-sends it when
  // answered (after `wait`, or if anything is ever pushed to it).
  awaitable<void> open_idle() {
    next_ = 0;
    std::size_t sent = 0;
    constexpr int kOpeners = 32;
    std::size_t running = kOpeners;
    asio::steady_timer all_done(io_, asio::steady_timer::time_point::max());
    idle_.resize(opts_.idle);
    for (int w = 0; w < kOpeners; ++w) {
      asio::co_spawn(
          io_,
          [this, &sent, &running, &all_done]() -> awaitable<void> {
            for (std::size_t i = next_++; i < opts_.idle; i = next_++) {
              idle_[i] = std::make_shared<Conn>(io_, tls_);
              co_await idle_[i]->open(server_);
              co_await idle_[i]->send(bhttp::verb::get, push_target(0, 60), credentials_[i]);
              ++sent;
              asio::co_spawn(io_, hold_poll(idle_[i], i), [this](const std::exception_ptr& e) {
                if (e && !stopping_) ++idle_failures_;
              });
            }
            if (--running == 0) {
              all_done.cancel();
            }
          },
          [](const std::exception_ptr& e) {
            if (e) std::rethrow_exception(e);
          });
    }
    co_await all_done.async_wait(asio::as_tuple(use_awaitable));
    if (sent != opts_.idle) {
      fail(fmt::format("only {} of {} idle polls were sent", sent, opts_.idle));
    }
  }

  awaitable<void> hold_poll(std::shared_ptr<Conn> c, std::size_t i) {
    std::uint64_t cursor = 0;
    for (;;) {
      auto res = co_await c->receive();
      if (stopping_) {
        co_return;
      }
      if (res.result_int() != 200) {
        ++idle_failures_;
        co_return;
      }
      ++idle_answers_;
      if (res.body().find(R"("messages":[])") == std::string::npos) {
        ++idle_with_messages_;
      }
      cursor = bench::json_u64_at(res.body(), "/cursor").value_or(cursor);
      co_await c->send(bhttp::verb::get, push_target(cursor, 60), credentials_[i]);
    }
  }

  awaitable<bench::Summary> latency_phase(Conn& poll) {
    std::vector<double> samples;
    for (std::size_t i = 0; i < opts_.samples; ++i) {
      const auto id = co_await submit_and_catch_up(poll);
      samples.push_back(co_await approve_to_push(poll, id));
    }
    co_return bench::summarize(std::move(samples));
  }

  // One request of the watcher's, submitted just before its sample (hoistd
  // lets a requester keep at most 10 waiting, an endpoint 100), and the
  // poll's cursor moved past its "pending" message, so the long poll then
  // waits for the approval alone.
  awaitable<std::string> submit_and_catch_up(Conn& poll) {
    const auto created = expect(co_await watcher_submit_->request(bhttp::verb::post, "/api/v1/agent/requests", watcher_,
                                                                  bench::submission_body(submitted_++)),
                                201, "the watcher's submission");
    for (;;) {
      const auto page =
          expect(co_await poll.request(bhttp::verb::get, push_target(cursor_, 0), watcher_), 200, "catching up");
      const auto cursor = bench::json_u64_at(page.body(), "/cursor").value_or(cursor_);
      if (cursor == cursor_) break;
      cursor_ = cursor;
    }
    co_return bench::json_string_at(created.body(), "/request/id").value_or("");
  }

  awaitable<double> approve_to_push(Conn& poll, const std::string& id) {
    co_await poll.send(bhttp::verb::get, push_target(cursor_, 60), watcher_);
    bool done = false;
    bench::Clock::time_point seen;
    Response pushed;
    asio::steady_timer signal(io_, asio::steady_timer::time_point::max());
    asio::co_spawn(
        io_,
        [&]() -> awaitable<void> {
          pushed = co_await poll.receive();
          seen = bench::Clock::now();
          done = true;
          signal.cancel();
        },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    co_await sleep(std::chrono::milliseconds(20));  // the long poll parks

    const auto sent = bench::Clock::now();
    (void)expect(co_await approver_->request(bhttp::verb::post, "/api/v1/requests/" + id + "/approve", opts_.api_token,
                                             R"({"comment":"bench"})"),
                 200, "approving");
    if (!done) {
      co_await signal.async_wait(asio::as_tuple(use_awaitable));
    }
    const double ms = std::chrono::duration<double, std::milli>(seen - sent).count();
    const auto& body = pushed.body();
    if (pushed.result_int() != 200 || body.find(id) == std::string::npos ||
        body.find(R"("state":"approved")") == std::string::npos) {
      ++wrong_answers_;
    }
    cursor_ = bench::json_u64_at(body, "/cursor").value_or(cursor_);
    co_return ms;
  }

  asio::io_context& io_;
  Options opts_;
  tcp::endpoint server_;
  ssl::context tls_{ssl::context::tls_client};
  std::unique_ptr<Conn> approver_;
  std::string enrol_token_;
  std::string watcher_;  // the watcher's credential
  std::vector<std::string> credentials_;
  std::vector<std::shared_ptr<Conn>> idle_;
  std::size_t next_ = 0;
  std::uint64_t cursor_ = 0;
  double enrol_s_ = 0;
  bool stopping_ = false;
  std::size_t idle_answers_ = 0;
  std::size_t idle_failures_ = 0;
  std::size_t idle_with_messages_ = 0;
  std::unique_ptr<Conn> watcher_submit_;  // the watcher's submissions, one per sample
  std::size_t submitted_ = 0;
  std::size_t wrong_answers_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i + 1 < argc; i += 2) {
    flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  }
  if (argc % 2 != 1 || !flags.count("ready") || !flags.count("env") || !flags.count("pid")) {
    fail("usage: hoistd_push_bench --ready FILE --env FILE --pid PID [--idle N] [--samples N]");
  }
  Options options;
  auto ready = bench::read_ready_file(flags["ready"]);
  auto env = bench::read_env_file(flags["env"]);
  if (!ready || !env) {
    fail(!ready ? ready.error().message : env.error().message);
  }
  options.ready = *ready;
  options.api_token = (*env)["HOIST_BENCH_API_TOKEN"];
  options.pid = static_cast<pid_t>(std::stol(flags["pid"]));
  if (flags.count("idle")) options.idle = std::stoul(flags["idle"]);
  if (flags.count("samples")) options.samples = std::stoul(flags["samples"]);

  try {
    asio::io_context io(1);
    PushBench bench(io, options);
    asio::co_spawn(io, bench.run(), [](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
  } catch (const std::exception& e) {
    fail(e.what());
  }
  return 0;
}
