// The push channel across several hoistd replicas on one PostgreSQL (not a
// test; scripts/bench.sh's `replicas` part starts the database and the
// replicas and runs it):
//
//   replicas_bench --ready A,B,C --env FILE --pids PA,PB,PC [--samples 300]
//                  [--steps 10000,30000,100000] [--sources 8] [--mem-floor-mib 6144]
//
// 1. Approve-to-push. A watcher endpoint submits on replica B and holds its
//    long poll on B; once the poll has had 20 ms to park, an approver
//    approves the request, alternately on B (the baseline: the decision
//    and the poll on one replica) and on A (across replicas: the wake-up
//    travels through the database's NOTIFY). The latency runs from sending
//    the approval to reading the push that carries it (checked: the id,
//    state "approved"). `samples` of each.
// 2. Idle push connections, in steps: for each step's total, enrols the
//    endpoints still missing (a few connections per replica at once) and
//    opens one connection per endpoint, round-robin over the replicas and
//    over `sources` loopback source addresses (127.0.0.2, ...: one source
//    address has about 28,000 ephemeral ports), each holding a long poll
//    (re-sent when answered). Per replica: VmRSS and descriptors before any
//    idle connection and with the step's connections: memory per
//    connection. Then one policy change (a new version of the endpoints'
//    policy, saved on replica A): the time until every parked poll on every
//    replica has answered with the "policy" message.
//    Opening stops, and the later steps are skipped, when the machine's
//    MemAvailable falls below `mem-floor-mib` or a connection fails: the
//    figures of the steps that completed stand, and the reason is printed.
//
// One thread, Beast over Asio with C++20 coroutines; the client checks each
// replica's certificate against the shared CA. Lines starting with
// "summary:" are what scripts/bench.sh repeats in its final summary.
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
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
  std::fprintf(stderr, "replicas_bench: %s\n", message.c_str());
  std::exit(1);
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The machine's MemAvailable in MiB (what the memory floor watches).
std::int64_t mem_available_mib() {
  std::ifstream in("/proc/meminfo");
  for (std::string key; in >> key;) {
    std::int64_t kib = 0;
    in >> kib;
    if (key == "MemAvailable:") return kib / 1024;
    in.ignore(256, '\n');
  }
  return -1;
}

// One keep-alive HTTPS connection to a replica, from `source` when given.
class Conn {
 public:
  Conn(asio::io_context& io, ssl::context& tls) : stream_(io, tls) {}

  awaitable<void> open(const tcp::endpoint& server, const std::optional<asio::ip::address>& source = std::nullopt) {
    stream_.set_verify_mode(ssl::verify_peer);
    stream_.set_verify_callback(ssl::host_name_verification(server.address().to_string()));
    auto& socket = beast::get_lowest_layer(stream_).socket();
    if (source) {
      socket.open(tcp::v4());
      // The port is chosen at connect() time, per destination, so each
      // source address has its whole ephemeral range for each replica.
      const int one = 1;
      if (::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) {
        fail("setsockopt(IP_BIND_ADDRESS_NO_PORT) failed");
      }
      socket.bind(tcp::endpoint(*source, 0));
    }
    // A replica out of descriptors leaves a connection in its backlog,
    // never handshaken: that fails the connection, not the run.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    co_await beast::get_lowest_layer(stream_).async_connect(server, use_awaitable);
    socket.set_option(tcp::no_delay(true));
    co_await stream_.async_handshake(ssl::stream_base::client, use_awaitable);
    beast::get_lowest_layer(stream_).expires_never();
  }

  awaitable<void> send(bhttp::verb method, const std::string& target, const std::string& credential,
                       const std::string& body = {}) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!credential.empty()) req.set(bhttp::field::authorization, "Bearer " + credential);
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
    buffer_.shrink_to_fit();  // an idle connection keeps no read buffer
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
  std::vector<bench::ReadyFile> ready;
  std::vector<pid_t> pids;
  std::string api_token;
  std::size_t samples = 300;
  std::vector<std::size_t> steps{10000, 30000, 100000};
  std::size_t sources = 8;
  std::int64_t mem_floor_mib = 6144;
  // Several driver processes (one process holds at most its open-files
  // limit): this one is `shard` of `shards`; they meet through files in
  // `sync_dir`. Shard 0 measures the latency, the replicas and the policy
  // change; the others open their share of every step.
  std::size_t shard = 0;
  std::size_t shards = 1;
  std::string sync_dir;
};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(bench::Clock::now().time_since_epoch()).count();
}

void write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  if (auto st = bench::write_private_file(tmp, text); !st) fail(st.error().message);
  std::filesystem::rename(tmp, path);
}

std::vector<std::int64_t> read_numbers(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::int64_t> out;
  for (std::int64_t v = 0; in >> v;) out.push_back(v);
  return out;
}

struct Idle {
  std::shared_ptr<Conn> conn;
  std::string credential;
  std::size_t replica = 0;
  unsigned policy_seen = 0;  // the last policy change this poll carried
};

class ReplicasBench {
 public:
  ReplicasBench(asio::io_context& io, Options options) : io_(io), opts_(std::move(options)) {
    tls_.load_verify_file(opts_.ready.front().ca_file);
    SSL_CTX_set_mode(tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    for (const auto& r : opts_.ready) servers_.emplace_back(asio::ip::make_address("127.0.0.1"), r.port);
  }

  awaitable<void> run() {
    if (opts_.shard > 0) {
      co_await wait_for_file(sync_path("start"), std::chrono::minutes(30));
      co_await idle_steps();
      stopping_ = true;
      for (auto& c : idle_) {
        if (c.conn) c.conn->close();
      }
      io_.stop();
      co_return;
    }
    const std::size_t n = servers_.size();
    const std::size_t a = 0;
    const std::size_t b = n > 1 ? 1 : 0;
    approver_a_ = co_await connect(a);
    approver_b_ = co_await connect(b);
    const auto token = expect(co_await approver_a_->request(bhttp::verb::post, "/api/v1/enrolment-tokens",
                                                            opts_.api_token, R"({"labels":["bench"],"uses":1})"),
                              201, "creating the watcher's enrolment token");
    watcher_ = co_await enrol_one(*approver_a_, bench::json_string_at(token.body(), "/token").value_or(""),
                                  "bench-replicas-watcher");
    watcher_submit_ = co_await connect(b);
    auto watcher_poll = co_await connect(b);

    std::printf("approve-to-push: the poll on replica B, approvals alternately on B and on A (%zu samples each)...\n",
                opts_.samples);
    std::fflush(stdout);
    std::vector<double> same_ms;
    std::vector<double> across_ms;
    for (std::size_t i = 0; i < 2 * opts_.samples; ++i) {
      const bool across = i % 2 == 1;
      const auto id = co_await submit_and_catch_up(*watcher_poll);
      const double ms = co_await approve_to_push(*watcher_poll, across ? *approver_a_ : *approver_b_, id);
      (across ? across_ms : same_ms).push_back(ms);
    }
    const auto same = bench::summarize(same_ms);
    const auto cross = bench::summarize(across_ms);
    std::printf("  same replica (B, B):   p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms (n=%zu)\n", same.p50, same.p99,
                same.max, same.n);
    std::printf("  across (poll B, approve A): p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms (n=%zu)\n", cross.p50,
                cross.p99, cross.max, cross.n);
    std::printf("  approvals whose push did not carry them: %zu\n", wrong_answers_);
    std::printf(
        "summary: approve-to-push across replicas (poll on B, approve on A): p50 %.2f ms p99 %.2f ms; baseline on "
        "one replica: p50 %.2f ms p99 %.2f ms (p99 %.1fx); target p99 <= 100 ms: %s\n",
        cross.p50, cross.p99, same.p50, same.p99, cross.p99 / same.p99, cross.p99 <= 100 ? "met" : "NOT met");
    if (wrong_answers_ > 0) {
      std::printf("summary:   %zu approvals' pushes did not carry them\n", wrong_answers_);
    }
    std::fflush(stdout);
    if (opts_.shards > 1) write_atomically(sync_path("start"), "1\n");

    co_await idle_steps();
    stopping_ = true;
    for (auto& c : idle_) {
      if (c.conn) c.conn->close();
    }
    io_.stop();
  }

 private:
  awaitable<std::unique_ptr<Conn>> connect(std::size_t replica) {
    auto c = std::make_unique<Conn>(io_, tls_);
    co_await c->open(servers_.at(replica));
    co_return c;
  }

  awaitable<void> sleep(std::chrono::steady_clock::duration d) {
    asio::steady_timer t(io_, d);
    co_await t.async_wait(use_awaitable);
  }

  [[nodiscard]] std::string sync_path(const std::string& name) const { return opts_.sync_dir + "/" + name; }

  awaitable<void> wait_for_file(const std::string& path, std::chrono::steady_clock::duration limit) {
    const auto deadline = bench::Clock::now() + limit;
    while (!std::filesystem::exists(path)) {
      if (bench::Clock::now() > deadline) fail("waited too long for " + path);
      co_await sleep(std::chrono::milliseconds(10));
    }
  }

  awaitable<std::string> enrol_one(Conn& c, const std::string& enrol_token, const std::string& hostname) {
    const auto r = expect(co_await c.request(bhttp::verb::post, "/api/v1/agent/enrol", "",
                                             fmt::format(R"({{"token":"{}","hostname":"{}","agent_version":"0.1.0"}})",
                                                         enrol_token, hostname)),
                          201, "enrolling " + hostname);
    co_return bench::json_string_at(r.body(), "/credential").value_or("");
  }

  // --- approve-to-push ---

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

  awaitable<double> approve_to_push(Conn& poll, Conn& approver, const std::string& id) {
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
    (void)expect(co_await approver.request(bhttp::verb::post, "/api/v1/requests/" + id + "/approve", opts_.api_token,
                                           R"({"comment":"bench"})"),
                 200, "approving");
    if (!done) co_await signal.async_wait(asio::as_tuple(use_awaitable));
    const double ms = std::chrono::duration<double, std::milli>(seen - sent).count();
    const auto& body = pushed.body();
    if (pushed.result_int() != 200 || body.find(id) == std::string::npos ||
        body.find(R"("state":"approved")") == std::string::npos) {
      ++wrong_answers_;
    }
    cursor_ = bench::json_u64_at(body, "/cursor").value_or(cursor_);
    co_return ms;
  }

  // --- idle connections in steps ---

  // Enrols endpoints until there are `total`: 4 connections per replica at
  // once, each enrolment through its own replica.
  awaitable<double> enrol_up_to(std::size_t total) {
    const std::size_t have = idle_.size();
    if (total <= have) co_return 0.0;
    auto admin = co_await connect(0);  // the approver's may have been closed as idle
    const auto made = expect(co_await admin->request(bhttp::verb::post, "/api/v1/enrolment-tokens", opts_.api_token,
                                                     fmt::format(R"({{"labels":["bench"],"uses":{}}})", total - have)),
                             201, "creating the enrolment token");
    const std::string enrol_token = bench::json_string_at(made.body(), "/token").value_or("");
    idle_.resize(total);
    next_ = have;
    const auto start = bench::Clock::now();
    const std::size_t workers = 4 * servers_.size();
    std::size_t running = workers;
    asio::steady_timer all_done(io_, asio::steady_timer::time_point::max());
    for (std::size_t w = 0; w < workers; ++w) {
      asio::co_spawn(
          io_,
          [this, w, total, &enrol_token, &running, &all_done]() -> awaitable<void> {
            auto c = co_await connect(w % servers_.size());
            for (std::size_t i = next_++; i < total; i = next_++) {
              idle_[i].credential =
                  co_await enrol_one(*c, enrol_token, fmt::format("bench-idle-{}-{:06}", opts_.shard, i));
              idle_[i].replica = i % servers_.size();
            }
            if (--running == 0) all_done.cancel();
          },
          [](const std::exception_ptr& e) {
            if (e) std::rethrow_exception(e);
          });
    }
    co_await all_done.async_wait(asio::as_tuple(use_awaitable));
    co_return bench::ms_since(start) / 1000.0;
  }

  // Opens connections [from, to) with their polls; returns how many were
  // opened (fewer when the memory floor is reached or a connect fails).
  awaitable<std::size_t> open_range(std::size_t from, std::size_t to) {
    next_ = from;
    std::size_t opened = 0;
    constexpr int kOpeners = 32;
    int running = kOpeners;
    asio::steady_timer all_done(io_, asio::steady_timer::time_point::max());
    for (int w = 0; w < kOpeners; ++w) {
      asio::co_spawn(
          io_,
          [this, to, &opened, &running, &all_done]() -> awaitable<void> {
            for (std::size_t i = next_++; i < to && stop_reason_.empty(); i = next_++) {
              if (i % 500 == 0) {
                const auto avail = mem_available_mib();
                if (avail >= 0 && avail < opts_.mem_floor_mib) {
                  stop_reason_ =
                      fmt::format("the machine's MemAvailable fell to {} MiB (floor {} MiB) at {} connections", avail,
                                  opts_.mem_floor_mib, i);
                  break;
                }
              }
              auto& slot = idle_[i];
              const auto source = asio::ip::make_address_v4(0x7f000002U + static_cast<unsigned>(i % opts_.sources));
              auto conn = std::make_shared<Conn>(io_, tls_);
              try {
                co_await conn->open(servers_.at(slot.replica), source);
                co_await conn->send(bhttp::verb::get, push_target(0, 60), slot.credential);
              } catch (const std::exception& e) {
                if (stop_reason_.empty()) {
                  stop_reason_ = fmt::format("connection {} (replica {}, from {}) failed: {}", i, slot.replica,
                                             source.to_string(), e.what());
                }
                break;
              }
              slot.conn = conn;
              ++opened;
              asio::co_spawn(io_, hold_poll(i), [this](const std::exception_ptr& e) {
                if (e && !stopping_) ++idle_failures_;
              });
            }
            if (--running == 0) all_done.cancel();
          },
          [](const std::exception_ptr& e) {
            if (e) std::rethrow_exception(e);
          });
    }
    co_await all_done.async_wait(asio::as_tuple(use_awaitable));
    co_return opened;
  }

  awaitable<void> hold_poll(std::size_t i) {
    const auto conn = idle_[i].conn;
    std::uint64_t cursor = 0;
    for (;;) {
      auto res = co_await conn->receive();
      if (stopping_) co_return;
      if (res.result_int() != 200) {
        ++idle_failures_;
        co_return;
      }
      ++idle_answers_;
      if (res.body().find(R"("kind":"policy")") != std::string::npos && idle_[i].policy_seen != policy_change_) {
        idle_[i].policy_seen = policy_change_;
        ++policy_reached_;
        last_reached_ = bench::Clock::now();
      }
      cursor = bench::json_u64_at(res.body(), "/cursor").value_or(cursor);
      co_await conn->send(bhttp::verb::get, push_target(cursor, 60), idle_[i].credential);
    }
  }

  struct ReplicaFigures {
    std::int64_t rss_kib = 0;
    std::size_t fds = 0;
  };
  std::vector<ReplicaFigures> replica_figures() const {
    std::vector<ReplicaFigures> out;
    for (const pid_t pid : opts_.pids) {
      out.push_back({bench::vm_rss_kib(pid).value_or(-1), bench::open_fds(pid).value_or(0)});
    }
    return out;
  }

  // A new version of the bench policy, saved on replica A (shard 0 only).
  awaitable<double> save_policy_change() {
    const std::string text = bench::kPolicyText + fmt::format("\n# bench change {}\n", policy_change_);
    auto admin = co_await connect(0);  // the approver's may have been closed as idle
    const auto start = bench::Clock::now();
    (void)expect(co_await admin->request(bhttp::verb::put, "/api/v1/policies/" + bench::kPolicyName, opts_.api_token,
                                         fmt::format(R"({{"text":"{}"}})", json_escape(text))),
                 200, "saving the policy change");
    co_return bench::ms_since(start);
  }

  // Waits until every poll of this process carried the current change (or
  // `limit` passes); how many did.
  awaitable<std::size_t> wait_reached(std::size_t open, std::chrono::steady_clock::duration limit) {
    const auto deadline = bench::Clock::now() + limit;
    while (policy_reached_ < open && bench::Clock::now() < deadline) co_await sleep(std::chrono::milliseconds(5));
    co_return policy_reached_;
  }

  static std::string json_escape(const std::string& s) {
    std::string out;
    for (const char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    return out;
  }

  awaitable<void> idle_steps() {
    co_await sleep(std::chrono::seconds(1));
    const auto before = replica_figures();
    const std::size_t n = servers_.size();
    const std::size_t k = opts_.shards;
    const bool lead = opts_.shard == 0;
    if (lead) {
      std::printf(
          "\nIdle push connections across %zu replicas, from %zu source addresses (127.0.0.2-%zu), %zu driver "
          "process(es)\n",
          n, opts_.sources, 1 + opts_.sources, k);
      for (std::size_t r = 0; r < n; ++r) {
        std::printf("  replica %c before: VmRSS %lld KiB, %zu descriptors\n", static_cast<char>('A' + r),
                    static_cast<long long>(before[r].rss_kib), before[r].fds);
      }
      std::fflush(stdout);
    }
    std::size_t open = 0;
    for (std::size_t step = 0; step < opts_.steps.size(); ++step) {
      const std::size_t target = opts_.steps[step];
      const std::size_t mine = target / k + (opts_.shard < target % k ? 1 : 0);
      double enrol_s = 0;
      double open_s = 0;
      if (stop_reason_.empty()) {
        enrol_s = co_await enrol_up_to(mine);
        const auto open_start = bench::Clock::now();
        open += co_await open_range(open, mine);
        open_s = bench::ms_since(open_start) / 1000.0;
        if (!stop_reason_.empty()) write_atomically(sync_path(fmt::format("stop-{}", opts_.shard)), stop_reason_);
      }
      std::printf("driver %zu, step %zu: %zu connections open (enrolled in %.1f s, opened in %.1f s)%s%s\n",
                  opts_.shard, target, open, enrol_s, open_s,
                  stop_reason_.empty() ? "" : "; stopped: ", stop_reason_.c_str());
      std::fflush(stdout);
      co_await sleep(std::chrono::seconds(3));  // every poll parked
      policy_reached_ = 0;
      policy_change_ = static_cast<unsigned>(step + 1);
      std::vector<std::size_t> per_replica(n, 0);
      for (std::size_t i = 0; i < open; ++i) ++per_replica[idle_[i].replica];
      const auto own_rss = bench::vm_rss_kib(::getpid()).value_or(-1);
      std::string ready = fmt::format("{} {}", open, own_rss);
      for (const auto c : per_replica) ready += fmt::format(" {}", c);
      write_atomically(sync_path(fmt::format("ready-{}-{}", step, opts_.shard)), ready + "\n");
      if (!lead) {
        co_await wait_for_file(sync_path(fmt::format("changed-{}", step)), std::chrono::minutes(30));
        const auto reached = co_await wait_reached(open, std::chrono::seconds(120));
        write_atomically(sync_path(fmt::format("reached-{}-{}", step, opts_.shard)),
                         fmt::format("{} {}\n", reached, steady_ns_of(last_reached_)));
        continue;
      }
      // Shard 0: every driver's connections, the replicas, the change.
      std::size_t total_open = open;
      std::int64_t client_rss = own_rss;
      for (std::size_t w = 1; w < k; ++w) {
        const auto path = sync_path(fmt::format("ready-{}-{}", step, w));
        co_await wait_for_file(path, std::chrono::minutes(30));
        const auto v = read_numbers(path);
        if (v.size() < 2 + n) fail("cannot read " + path);
        total_open += static_cast<std::size_t>(v[0]);
        client_rss += v[1];
        for (std::size_t r = 0; r < n; ++r) per_replica[r] += static_cast<std::size_t>(v[2 + r]);
      }
      std::string stopped;
      for (std::size_t w = 0; w < k; ++w) {
        std::ifstream in(sync_path(fmt::format("stop-{}", w)));
        std::string reason;
        if (std::getline(in, reason)) stopped += fmt::format("{}driver {}: {}", stopped.empty() ? "" : "; ", w, reason);
      }
      const auto with = replica_figures();
      std::printf("step %zu: %zu connections open over %zu driver(s), MemAvailable %lld MiB\n", target, total_open, k,
                  static_cast<long long>(mem_available_mib()));
      std::string per_conn_text;
      std::int64_t rss_sum = 0;
      for (std::size_t r = 0; r < n; ++r) {
        const double per = static_cast<double>(with[r].rss_kib - before[r].rss_kib) /
                           static_cast<double>(std::max<std::size_t>(1, per_replica[r]));
        rss_sum += with[r].rss_kib;
        std::printf("  replica %c: %zu connections, %zu descriptors, VmRSS %lld -> %lld KiB: %.1f KiB each\n",
                    static_cast<char>('A' + r), per_replica[r], with[r].fds, static_cast<long long>(before[r].rss_kib),
                    static_cast<long long>(with[r].rss_kib), per);
        per_conn_text += fmt::format("{}{:.1f}", r == 0 ? "" : " / ", per);
      }
      std::printf("  the drivers' VmRSS: %lld KiB (%.1f KiB per connection)\n", static_cast<long long>(client_rss),
                  static_cast<double>(client_rss) / static_cast<double>(std::max<std::size_t>(1, total_open)));
      std::fflush(stdout);
      const std::int64_t start_ns = steady_ns();
      if (k > 1) write_atomically(sync_path(fmt::format("changed-{}", step)), "1\n");
      const double put_ms = co_await save_policy_change();
      std::size_t reached = co_await wait_reached(open, std::chrono::seconds(120));
      std::int64_t last_ns = steady_ns_of(last_reached_);
      for (std::size_t w = 1; w < k; ++w) {
        const auto path = sync_path(fmt::format("reached-{}-{}", step, w));
        co_await wait_for_file(path, std::chrono::minutes(5));
        const auto v = read_numbers(path);
        if (v.size() < 2) fail("cannot read " + path);
        reached += static_cast<std::size_t>(v[0]);
        last_ns = std::max(last_ns, v[1]);
      }
      const double reach_s = static_cast<double>(last_ns - start_ns) / 1e9;
      std::printf(
          "  policy change saved on A in %.0f ms; %zu of %zu polls answered with it, the last %.2f s after the save "
          "began\n",
          put_ms, reached, total_open, reach_s);
      std::printf(
          "summary: %zu idle push connections over %zu replicas%s: %s KiB each (VmRSS, per replica); replicas' "
          "VmRSS total %.0f MiB; drivers %.0f MiB\n",
          total_open, n, total_open < target ? fmt::format(" (of {})", target).c_str() : "", per_conn_text.c_str(),
          static_cast<double>(rss_sum) / 1024.0, static_cast<double>(client_rss) / 1024.0);
      std::printf(
          "summary:   policy change on A reached %zu of %zu parked polls in %.2f s (the save itself %.0f ms); "
          "target <= 10 s: %s\n",
          reached, total_open, reach_s, put_ms, reached == total_open && reach_s <= 10 ? "met" : "NOT met");
      if (!stopped.empty()) std::printf("summary:   stopped: %s\n", stopped.c_str());
      std::fflush(stdout);
    }
  }

  static std::int64_t steady_ns_of(bench::Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }

  asio::io_context& io_;
  Options opts_;
  std::vector<tcp::endpoint> servers_;
  ssl::context tls_{ssl::context::tls_client};
  std::unique_ptr<Conn> approver_a_;
  std::unique_ptr<Conn> approver_b_;
  std::unique_ptr<Conn> watcher_submit_;
  std::string watcher_;
  std::uint64_t cursor_ = 0;
  std::size_t submitted_ = 0;
  std::size_t wrong_answers_ = 0;
  std::vector<Idle> idle_;
  std::size_t next_ = 0;
  std::string stop_reason_;
  bool stopping_ = false;
  std::size_t idle_answers_ = 0;
  std::size_t idle_failures_ = 0;
  unsigned policy_change_ = 0;
  std::size_t policy_reached_ = 0;
  bench::Clock::time_point last_reached_;
};

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 1; i + 1 < argc; i += 2) flags[std::string(argv[i]).substr(2)] = argv[i + 1];
  if (argc % 2 != 1 || !flags.count("ready") || !flags.count("env") || !flags.count("pids")) {
    fail(
        "usage: replicas_bench --ready A,B,C --env FILE --pids PA,PB,PC [--samples N] [--steps N,N,...] "
        "[--sources N] [--mem-floor-mib N] [--shard I/K --sync-dir DIR]");
  }
  Options options;
  for (const auto& path : split(flags["ready"])) {
    auto ready = bench::read_ready_file(path);
    if (!ready) fail(ready.error().message);
    options.ready.push_back(*ready);
  }
  for (const auto& pid : split(flags["pids"])) options.pids.push_back(static_cast<pid_t>(std::stol(pid)));
  if (options.ready.empty() || options.ready.size() != options.pids.size()) fail("--ready and --pids must match");
  auto env = bench::read_env_file(flags["env"]);
  if (!env) fail(env.error().message);
  options.api_token = (*env)["HOIST_BENCH_API_TOKEN"];
  if (flags.count("samples")) options.samples = std::stoul(flags["samples"]);
  if (flags.count("steps")) {
    options.steps.clear();
    for (const auto& s : split(flags["steps"])) options.steps.push_back(std::stoul(s));
  }
  if (flags.count("sources")) options.sources = std::max<std::size_t>(1, std::stoul(flags["sources"]));
  if (flags.count("mem-floor-mib")) options.mem_floor_mib = std::stoll(flags["mem-floor-mib"]);
  if (flags.count("shard")) {
    // I/K
    const auto slash = flags["shard"].find('/');
    if (slash == std::string::npos || !flags.count("sync-dir")) fail("--shard I/K needs --sync-dir");
    options.shard = std::stoul(flags["shard"].substr(0, slash));
    options.shards = std::max<std::size_t>(1, std::stoul(flags["shard"].substr(slash + 1)));
    options.sync_dir = flags["sync-dir"];
  }

  try {
    asio::io_context io(1);
    ReplicasBench bench(io, options);
    asio::co_spawn(io, bench.run(), [](const std::exception_ptr& e) {
      if (e) std::rethrow_exception(e);
    });
    io.run();
  } catch (const std::exception& e) {
    fail(e.what());
  }
  return 0;
}
