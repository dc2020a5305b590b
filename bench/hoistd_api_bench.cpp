// hoistd API benchmarks over real HTTPS (not tests; scripts/bench.sh runs
// them against a hoistd it starts). Subcommands:
//
//   free-port
//       Prints a free TCP port on 127.0.0.1 (for the nginx baseline).
//   setup --ready FILE --env-out FILE [--heartbeat-agents N --credentials-out FILE]
//       Logs in as the first admin (HOIST_ADMIN_PASSWORD), creates an API
//       token, the bench policy (a manual request rule) assigned to label
//       "bench", and enrols one agent; checks that its policy fetch with the
//       ETag is answered 304. Writes HOIST_BENCH_API_TOKEN,
//       HOIST_BENCH_AGENT_CREDENTIAL and HOIST_BENCH_ETAG to a 0600 file
//       (for wrk's Lua scripts and the other drivers). With
//       --heartbeat-agents, enrols N more agents and writes their
//       credentials, one a line, to another 0600 file (bench/heartbeat.lua).
//   lifecycle --ready FILE --env FILE [--requests N] [--sync-dir DIR]
//       N agent submissions that land pending, then their approvals, in
//       batches of 100 (hoistd keeps at most 10 waiting per requester and
//       100 per endpoint), each timed on one keep-alive connection per
//       role, sequentially. Baselines in the
//       same run: the agent's 304 policy fetch on the same kind of
//       connection (HTTP + TLS + authentication, no write), and fdatasync of
//       a 4 KiB append in DIR (what one durable write costs on that file
//       system; each submission and approval commits one SQLite transaction
//       with synchronous = FULL). With --baselines no, neither baseline
//       (several drivers running at once, as scripts/bench.sh's replicas
//       part does, time only the writes). --hostname names the endpoint
//       (distinct per driver); --samples-out FILE writes every latency,
//       "submit MS" or "approve MS", one a line, for the caller to merge.
//
// Figures go to stdout; lines starting with "summary:" are what
// scripts/bench.sh repeats in its final summary.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench_support.h"
#include "net/client/https_client.h"
#include "net/json_text.h"

namespace {

namespace bench = hoist::bench;
using hoist::net::Header;
using hoist::net::HttpResponse;
using hoist::net::HttpsClient;

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "hoistd_api_bench: %s\n", message.c_str());
  std::exit(1);
}

std::map<std::string, std::string> parse_flags(int argc, char** argv, int first) {
  std::map<std::string, std::string> out;
  for (int i = first; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) {
      fail(fmt::format("expected --name value, got {}", key));
    }
    out[key.substr(2)] = argv[++i];
  }
  return out;
}

std::string need(const std::map<std::string, std::string>& flags, const std::string& name) {
  const auto it = flags.find(name);
  if (it == flags.end()) {
    fail(fmt::format("--{} is required", name));
  }
  return it->second;
}

std::unique_ptr<HttpsClient> connect(const bench::ReadyFile& ready) {
  hoist::net::ClientOptions options;
  options.url = ready.url;
  options.ca_file = ready.ca_file;
  auto client = HttpsClient::create(options);
  if (!client) {
    fail(client.error().message);
  }
  return std::move(*client);
}

HttpResponse call(HttpsClient& client, std::string_view method, std::string_view target, std::string_view body,
                  const std::vector<Header>& headers, int expected_status) {
  auto r = client.request(method, target, body, headers);
  if (!r) {
    fail(fmt::format("{} {}: {}", method, target, r.error().message));
  }
  if (r->status != expected_status) {
    fail(fmt::format("{} {}: HTTP {} (expected {}): {}", method, target, r->status, expected_status,
                     r->body.substr(0, 500)));
  }
  return std::move(*r);
}

std::vector<Header> bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

bench::ReadyFile ready_from(const std::map<std::string, std::string>& flags) {
  auto ready = bench::read_ready_file(need(flags, "ready"));
  if (!ready) {
    fail(ready.error().message);
  }
  return *ready;
}

std::map<std::string, std::string> env_from(const std::map<std::string, std::string>& flags) {
  auto env = bench::read_env_file(need(flags, "env"));
  if (!env) {
    fail(env.error().message);
  }
  return *env;
}

// Enrols one endpoint with label "bench" (a one-use enrolment token made
// with the admin's API token); returns its credential.
std::string enrol(HttpsClient& admin, const std::string& api_token, const std::string& hostname) {
  const auto token =
      call(admin, "POST", "/api/v1/enrolment-tokens", R"({"labels":["bench"],"uses":1})", bearer(api_token), 201);
  const auto enrol_token = bench::json_string_at(token.body, "/token");
  if (!enrol_token) {
    fail("no enrolment token in the reply");
  }
  const auto enrolled =
      call(admin, "POST", "/api/v1/agent/enrol",
           fmt::format(R"({{"token":"{}","hostname":"{}","agent_version":"0.1.0"}})", *enrol_token, hostname), {}, 201);
  const auto credential = bench::json_string_at(enrolled.body, "/credential");
  if (!credential) {
    fail("no credential in the enrolment reply");
  }
  return *credential;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    fail("cannot find a free port on 127.0.0.1");
  }
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  std::printf("%d\n", ntohs(addr.sin_port));
  ::close(fd);
  return 0;
}

int setup(const std::map<std::string, std::string>& flags) {
  const auto ready = ready_from(flags);
  const std::string env_out = need(flags, "env-out");
  const char* password = std::getenv("HOIST_ADMIN_PASSWORD");  // NOLINT(concurrency-mt-unsafe)
  if (password == nullptr || *password == '\0') {
    fail("HOIST_ADMIN_PASSWORD is not set");
  }
  auto admin = connect(ready);
  const auto login =
      call(*admin, "POST", "/api/v1/login",
           fmt::format(R"({{"user":"admin","password":{}}})", hoist::net::json_string(password)), {}, 200);
  const auto cookie = std::string(login.header("set-cookie").value_or(""));
  const auto csrf = bench::json_string_at(login.body, "/csrf_token");
  if (cookie.empty() || !csrf) {
    fail("the login reply has no session cookie or CSRF token");
  }
  const auto token = call(*admin, "POST", "/api/v1/tokens", R"({"label":"bench"})",
                          {{"cookie", cookie.substr(0, cookie.find(';'))}, {"x-csrf-token", *csrf}}, 201);
  const auto api_token = bench::json_string_at(token.body, "/token");
  if (!api_token) {
    fail("no API token in the reply");
  }
  const auto policy =
      call(*admin, "PUT", "/api/v1/policies/" + bench::kPolicyName,
           fmt::format(R"({{"text":{}}})", hoist::net::json_string(bench::kPolicyText)), bearer(*api_token), 201);
  (void)policy;
  (void)call(*admin, "PUT", "/api/v1/policies/" + bench::kPolicyName + "/labels", R"({"labels":["bench"]})",
             bearer(*api_token), 200);

  const std::string credential = enrol(*admin, *api_token, "bench-wrk");
  auto agent = connect(ready);
  const auto full = call(*agent, "GET", "/api/v1/agent/policy", "", bearer(credential), 200);
  const auto etag = std::string(full.header("etag").value_or(""));
  if (etag.empty()) {
    fail("the policy fetch has no ETag");
  }
  auto with_etag = bearer(credential);
  with_etag.push_back({"if-none-match", etag});
  (void)call(*agent, "GET", "/api/v1/agent/policy", "", with_etag, 304);

  if (auto st = bench::write_env_file(env_out, {{"HOIST_BENCH_API_TOKEN", *api_token},
                                                {"HOIST_BENCH_AGENT_CREDENTIAL", credential},
                                                {"HOIST_BENCH_ETAG", etag}});
      !st) {
    fail(st.error().message);
  }
  std::printf("setup: admin token, policy \"%s\" on label \"bench\", agent enrolled; its policy fetch is 304\n",
              bench::kPolicyName.c_str());

  // Heartbeats from distinct agents: hoistd stores last_seen in whole
  // seconds, so one agent's repeated heartbeats within a second change
  // nothing and SQLite writes nothing for them.
  const auto heartbeat_agents = std::stoul(flags.count("heartbeat-agents") ? flags.at("heartbeat-agents") : "0");
  if (heartbeat_agents > 0) {
    const auto made =
        call(*admin, "POST", "/api/v1/enrolment-tokens",
             fmt::format(R"({{"labels":["bench"],"uses":{}}})", heartbeat_agents), bearer(*api_token), 201);
    const auto enrol_token = bench::json_string_at(made.body, "/token").value_or("");
    std::string credentials;
    for (std::size_t i = 0; i < heartbeat_agents; ++i) {
      const auto enrolled = call(
          *admin, "POST", "/api/v1/agent/enrol",
          fmt::format(R"({{"token":"{}","hostname":"bench-heartbeat-{:04}","agent_version":"0.1.0"}})", enrol_token, i),
          {}, 201);
      credentials += bench::json_string_at(enrolled.body, "/credential").value_or("") + "\n";
    }
    if (auto st = bench::write_private_file(need(flags, "credentials-out"), credentials); !st) {
      fail(st.error().message);
    }
    std::printf("setup: %lu more agents enrolled for the heartbeat run\n", heartbeat_agents);
  }
  return 0;
}

void print_summary(const char* what, const bench::Summary& s) {
  std::printf("  %-44s p50 %8.3f ms   p99 %8.3f ms   max %8.3f ms   (n=%zu)\n", what, s.p50, s.p99, s.max, s.n);
}

int lifecycle(const std::map<std::string, std::string>& flags) {
  const auto ready = ready_from(flags);
  const auto env = env_from(flags);
  const auto n = static_cast<std::size_t>(std::stoul(flags.count("requests") ? flags.at("requests") : "10000"));
  const std::string sync_dir = flags.count("sync-dir") ? flags.at("sync-dir") : ".";
  const bool baselines = !flags.count("baselines") || flags.at("baselines") != "no";
  const std::string hostname = flags.count("hostname") ? flags.at("hostname") : "bench-lifecycle";
  const std::string& api_token = env.at("HOIST_BENCH_API_TOKEN");

  auto approver = connect(ready);
  const std::string credential = enrol(*approver, api_token, hostname);
  auto agent = connect(ready);
  const auto as_agent = bearer(credential);
  const auto as_approver = bearer(api_token);

  // Baseline 1: the agent's 304 policy fetch, sequential, same connection kind.
  const auto full = call(*agent, "GET", "/api/v1/agent/policy", "", as_agent, 200);
  auto with_etag = as_agent;
  with_etag.push_back({"if-none-match", std::string(full.header("etag").value_or(""))});
  std::vector<double> fetch_ms;
  for (int i = 0; baselines && i < 2200; ++i) {
    const auto start = bench::Clock::now();
    (void)call(*agent, "GET", "/api/v1/agent/policy", "", with_etag, 304);
    if (i >= 200) {  // the first 200 warm up
      fetch_ms.push_back(bench::ms_since(start));
    }
  }
  if (fetch_ms.empty()) {
    fetch_ms.push_back(0.0);  // no baseline asked for
  }
  const auto fetch = bench::summarize(fetch_ms);
  // Baseline 2: a durable 4 KiB append on the data directory's file system.
  auto sync = bench::fdatasync_latency(sync_dir, baselines ? 300 : 1);
  if (!sync) {
    fail(sync.error().message);
  }

  // In batches (bench::kBatch): submissions that land pending, then their
  // approvals; each phase's time is summed over the batches.
  std::vector<double> submit_ms;
  submit_ms.reserve(n);
  std::vector<double> approve_ms;
  approve_ms.reserve(n);
  double submit_total_s = 0;
  double approve_total_s = 0;
  for (std::size_t done = 0; done < n;) {
    std::vector<std::string> ids;
    const auto submit_start = bench::Clock::now();
    for (; done < n && ids.size() < bench::kBatch; ++done) {
      const std::string body = bench::submission_body(done, bench::batch_user(done));
      const auto start = bench::Clock::now();
      const auto r = call(*agent, "POST", "/api/v1/agent/requests", body, as_agent, 201);
      submit_ms.push_back(bench::ms_since(start));
      const auto id = bench::json_string_at(r.body, "/request/id");
      const auto state = bench::json_string_at(r.body, "/request/state");
      if (!id || state != "pending") {
        fail(fmt::format("submission {} did not land pending: {}", done, r.body.substr(0, 300)));
      }
      ids.push_back(*id);
    }
    submit_total_s += bench::ms_since(submit_start) / 1000.0;
    const auto approve_start = bench::Clock::now();
    for (const auto& id : ids) {
      const auto start = bench::Clock::now();
      const auto r =
          call(*approver, "POST", "/api/v1/requests/" + id + "/approve", R"({"comment":"bench"})", as_approver, 200);
      approve_ms.push_back(bench::ms_since(start));
      if (bench::json_string_at(r.body, "/state") != "approved") {
        fail(fmt::format("approving {} did not approve it: {}", id, r.body.substr(0, 300)));
      }
    }
    approve_total_s += bench::ms_since(approve_start) / 1000.0;
  }

  if (flags.count("samples-out")) {
    std::string text;
    for (const double ms : submit_ms) text += fmt::format("submit {:.4f}\n", ms);
    for (const double ms : approve_ms) text += fmt::format("approve {:.4f}\n", ms);
    if (auto st = bench::write_private_file(flags.at("samples-out"), text); !st) {
      fail(st.error().message);
    }
  }
  const auto submit = bench::summarize(submit_ms);
  const auto approve = bench::summarize(approve_ms);
  const double total_s = submit_total_s + approve_total_s;
  std::printf("\nSubmit and approve %zu requests (sequential, one keep-alive connection per role)\n", n);
  print_summary("agent submit (lands pending)", submit);
  print_summary("approver approve", approve);
  print_summary("baseline: agent policy fetch answered 304", fetch);
  print_summary("baseline: fdatasync of a 4 KiB append", *sync);
  std::printf("  total %.1f s (submit %.1f s, approve %.1f s): %.0f operations/s\n", total_s, submit_total_s,
              approve_total_s, 2.0 * static_cast<double>(n) / total_s);
  std::printf("  p50 as a multiple of the 304 fetch: submit %.1fx, approve %.1fx; of one fdatasync: %.2fx, %.2fx\n",
              submit.p50 / fetch.p50, approve.p50 / fetch.p50, submit.p50 / sync->p50, approve.p50 / sync->p50);
  std::printf("summary: submit+approve %zu requests: %.1f s total (%.0f ops/s)\n", n, total_s,
              2.0 * static_cast<double>(n) / total_s);
  std::printf("summary:   submit  p50 %.2f ms  p99 %.2f ms | approve p50 %.2f ms  p99 %.2f ms\n", submit.p50,
              submit.p99, approve.p50, approve.p99);
  std::printf("summary:   baselines: 304 fetch p50 %.2f ms (submit %.1fx); fdatasync p50 %.2f ms (submit %.2fx)\n",
              fetch.p50, submit.p50 / fetch.p50, sync->p50, submit.p50 / sync->p50);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fail(
        "usage: hoistd_api_bench free-port | setup --ready F --env-out F [--heartbeat-agents N --credentials-out F] | "
        "lifecycle --ready F --env F "
        "[--requests N] [--sync-dir D] [--baselines no] [--hostname H] [--samples-out F]");
  }
  const std::string command = argv[1];
  const auto flags = parse_flags(argc, argv, 2);
  if (command == "free-port") {
    return free_port();
  }
  if (command == "setup") {
    return setup(flags);
  }
  if (command == "lifecycle") {
    return lifecycle(flags);
  }
  fail(fmt::format("unknown subcommand {}", command));
}
