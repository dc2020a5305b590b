// What replica_fault_tests share: clients of their own (through HAProxy or
// straight to a replica), a load of agents submitting and approvers
// approving on threads, long polls that note when each pushed request
// reached them, and reading the counts back from PostgreSQL.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "e2e/e2e_test_support.h"
#include "replica_harness.h"
#include "support/haproxy_process.h"

namespace hoist::replicas {

using namespace hoist::e2e;  // NOLINT(google-build-using-namespace): the e2e helpers
using hoist::testing::HaproxyProcess;
using hoist::testing::operator+;

// The name every replica's certificate carries (and HAProxy's checks ask for).
inline constexpr const char* kServiceName = "hoist.test";

// Replica settings for a load: the sweep each second, no submission
// throttle in the way, the service name, one address (the test's clients
// are all on 127.0.0.1, straight or through HAProxy) may hold every
// connection, and HAProxy's PROXY protocol v2 header read from its source
// address alone (support/haproxy_process.h).
inline std::string load_toml() {
  return "[requests]\nsweep_interval = \"1s\"\nendpoint_burst = 100000\nendpoint_every = \"1ms\"\n"
         "user_burst = 100000\nuser_every = \"1ms\"\n[tls]\ndns_names = [\"" +
         std::string(kServiceName) +
         "\"]\n[limits]\nmax_connections_per_address = 4096\n[server]\nproxy_protocol_from = [\"" +
         std::string(hoist::testing::kHaproxySource) + "\"]\n";
}

// A client of `url` trusting the replicas' CA by its fingerprint.
inline std::unique_ptr<net::HttpsClient> client_of(const std::string& url, const std::string& pin,
                                                   std::chrono::seconds timeout = std::chrono::seconds(20)) {
  net::ClientOptions o;
  o.url = url;
  o.pin_fingerprint = pin;
  o.connect_timeout = std::chrono::seconds(5);
  o.request_timeout = timeout;
  auto made = net::HttpsClient::create(std::move(o));
  if (!made) {
    ADD_FAILURE() << "cannot make a client of " << url << ": " << made.error().message;
    return nullptr;
  }
  return std::move(*made);
}

inline double since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What the clients were told, to be counted against the database after.
struct Ledger {
  std::mutex m;
  std::map<std::string, std::string> acked;  // justification tag -> request id (201)
  std::set<std::string> unknown;             // no answer, or a 5xx: may or may not exist
  std::set<std::string> refused;             // a 4xx: must not exist
  std::deque<std::string> to_approve;
  std::set<std::string> approved;          // request ids whose approval got 200
  std::set<std::string> approval_unknown;  // no answer, or a 5xx
  std::vector<steady_clock::time_point> acked_at;
  std::vector<std::string> errors;  // a sample of what failed, for the report
};

// Submits `apt-get install curl` as `agent` for `user` with justification
// `tag`, noting the outcome in `ledger`, and queues it for the approvers
// when `approve`. Returns the request's id on a 201.
inline std::string submit_one(net::HttpsClient& client, const AgentCredential& agent, const std::string& user,
                              const std::string& tag, Ledger& ledger, bool approve) {
  auto body = apt_get_submission();
  body["justification"] = tag;
  body["user"] = user;
  const auto reply =
      hoist::testing::send_request(client, "POST", "/api/v1/agent/requests", json::serialize(body), agent.headers());
  const std::lock_guard lock(ledger.m);
  if (reply.status == 201) {
    const std::string id = reply.str("/request/id");
    ledger.acked[tag] = id;
    ledger.acked_at.push_back(steady_clock::now());
    if (approve) ledger.to_approve.push_back(id);
    return id;
  }
  if (reply.status == 0 || reply.status >= 500) {
    ledger.unknown.insert(tag);
    if (ledger.errors.size() < 20)
      ledger.errors.push_back(std::to_string(reply.status) + " " + reply.error + reply.body);
  } else {
    ledger.refused.insert(tag);
    if (ledger.errors.size() < 20) ledger.errors.push_back(std::to_string(reply.status) + " " + reply.body);
  }
  return {};
}

// Threads that run until stop(): submitters (each on its own client of
// its own URL, as one of `agents`), approvers (approving what the
// submitters were told was made, as `admin`).
class Load {
 public:
  Load(Ledger& ledger, std::vector<AgentCredential> agents, Headers admin, std::string pin)
      : ledger_(ledger), agents_(std::move(agents)), admin_(std::move(admin)), pin_(std::move(pin)) {}
  ~Load() { stop(); }
  Load(const Load&) = delete;
  Load& operator=(const Load&) = delete;

  // Submissions from ten users in turn; with `leave_some`, every third is
  // left undecided (to expire), the rest queued for the approvers.
  void add_submitter(const std::string& url, const std::string& prefix, bool leave_some) {
    auto client = client_of(url, pin_);
    if (!client) return;
    threads_.emplace_back([this, client = std::move(client), prefix, leave_some, n = threads_.size()]() mutable {
      for (int i = 0; !stopping_; ++i) {
        const auto& agent = agents_[(n + static_cast<std::size_t>(i)) % agents_.size()];
        (void)submit_one(*client, agent, "user" + std::to_string(i % 10), prefix + "-" + std::to_string(i), ledger_,
                         !leave_some || i % 3 != 0);
        std::this_thread::sleep_for(milliseconds(20));
      }
    });
  }

  void add_approver(const std::string& url) {
    auto client = client_of(url, pin_);
    if (!client) return;
    threads_.emplace_back([this, client = std::move(client)]() mutable {
      while (!stopping_) {
        std::string id;
        {
          const std::lock_guard lock(ledger_.m);
          if (!ledger_.to_approve.empty()) {
            id = ledger_.to_approve.front();
            ledger_.to_approve.pop_front();
          }
        }
        if (id.empty()) {
          std::this_thread::sleep_for(milliseconds(20));
          continue;
        }
        const auto reply = hoist::testing::send_request(*client, "POST", "/api/v1/requests/" + id + "/approve",
                                                        R"({"comment":"load"})", admin_);
        const std::lock_guard lock(ledger_.m);
        if (reply.status == 200) {
          ledger_.approved.insert(id);
        } else if (reply.status == 0 || reply.status >= 500) {
          ledger_.approval_unknown.insert(id);
        }
      }
    });
  }

  void stop() {
    stopping_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    threads_.clear();
  }

 private:
  Ledger& ledger_;
  std::vector<AgentCredential> agents_;
  Headers admin_;
  std::string pin_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

// An agent's long polls, one after another on one client of `url`
// (wait=10), noting when each request id first reached it in a push.
class Poller {
 public:
  Poller(const std::string& url, const std::string& pin, AgentCredential agent) : agent_(std::move(agent)) {
    client_ = client_of(url, pin, std::chrono::seconds(30));
    if (!client_) return;
    thread_ = std::thread([this, client = client_.get()] {
      std::uint64_t cursor = 0;
      while (!stopping_) {
        const auto reply = hoist::testing::send_request(
            *client, "GET", "/api/v1/agent/push?after=" + std::to_string(cursor) + "&wait=10", {}, agent_.headers());
        const auto now = steady_clock::now();
        if (reply.status != 200) {
          ++failures_;
          std::this_thread::sleep_for(milliseconds(50));
          continue;
        }
        const std::lock_guard lock(m_);
        for (const auto& msg : reply.array("/messages")) {
          const auto* payload = msg.as_object().if_contains("payload");
          if (payload == nullptr || !payload->is_object()) continue;
          const auto* id = payload->as_object().if_contains("request_id");
          if (id != nullptr && id->is_string()) seen_.emplace(std::string(id->as_string()), now);
        }
        cursor = static_cast<std::uint64_t>(reply.num("/cursor"));
      }
    });
  }
  ~Poller() { stop(); }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Ends the poll in progress at once (HttpsClient::interrupt).
  void stop() {
    stopping_ = true;
    if (client_) client_->interrupt();
    if (thread_.joinable()) thread_.join();
  }
  // When request `id` first reached this agent's poll, if it did.
  std::optional<steady_clock::time_point> seen(const std::string& id) {
    const std::lock_guard lock(m_);
    const auto it = seen_.find(id);
    if (it == seen_.end()) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] const AgentCredential& agent() const { return agent_; }
  [[nodiscard]] int failures() const { return failures_; }

 private:
  AgentCredential agent_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> failures_{0};
  std::mutex m_;
  std::map<std::string, steady_clock::time_point> seen_;
  std::unique_ptr<net::HttpsClient> client_;  // used by thread_ only, interrupted by stop()
  std::thread thread_;
};

// psql's rows (-A -t: one a line, fields split by '|').
inline std::vector<std::vector<std::string>> rows(PgCluster& cluster, const std::string& sql) {
  std::string out;
  EXPECT_TRUE(cluster.psql(sql, &out, "hoist")) << cluster.error();
  std::vector<std::vector<std::string>> result;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::string::size_type start = 0;
    for (auto bar = line.find('|'); bar != std::string::npos; bar = line.find('|', start)) {
      fields.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    fields.push_back(line.substr(start));
    result.push_back(std::move(fields));
  }
  return result;
}

// Counts what the ledger says against the database: every acknowledged
// request exactly once, every unknown one at most once, every refused one
// not at all, every approval that got 200 approved with exactly one
// request.approved event, no request with two such events or with both an
// approval and an expiry, and the audit sequence without a gap.
inline void check_ledger(PgCluster& cluster, Ledger& ledger) {
  std::map<std::string, int> count;
  for (const auto& r : rows(cluster, "SELECT justification, count(*) FROM requests GROUP BY justification")) {
    if (r.size() == 2) count[r[0]] = std::stoi(r[1]);
  }
  const std::lock_guard lock(ledger.m);
  for (const auto& [tag, id] : ledger.acked) EXPECT_EQ(count[tag], 1) << tag << " (" << id << ") was acknowledged";
  for (const auto& tag : ledger.unknown) EXPECT_LE(count[tag], 1) << tag << " had no clear answer";
  for (const auto& tag : ledger.refused) EXPECT_EQ(count[tag], 0) << tag << " was refused";
  for (const auto& [tag, n] : count) EXPECT_LE(n, 1) << tag << " is stored " << n << " times";

  std::map<std::string, std::string> state;
  for (const auto& r : rows(cluster, "SELECT id, state FROM requests")) {
    if (r.size() == 2) state[r[0]] = r[1];
  }
  std::map<std::string, int> approvals;
  for (const auto& r : rows(cluster,
                            "SELECT target, count(*) FROM audit_events WHERE action = 'request.approved' GROUP BY "
                            "target")) {
    if (r.size() == 2) approvals[r[0]] = std::stoi(r[1]);
  }
  for (const auto& [id, n] : approvals) EXPECT_EQ(n, 1) << id << " approved " << n << " times on the trail";
  for (const auto& id : ledger.approved) {
    EXPECT_EQ(state[id], "approved") << id << " got 200 for its approval";
    const auto it = approvals.find(id);
    EXPECT_EQ(it == approvals.end() ? 0 : it->second, 1) << id << ": request.approved events";
  }
  const auto both = rows(cluster,
                         "SELECT a.target FROM audit_events a JOIN audit_events e ON a.target = e.target WHERE "
                         "a.action = 'request.approved' AND e.action = 'request.expired'");
  EXPECT_TRUE(both.empty()) << both.size() << " requests both approved and expired, e.g. " << both[0][0];
  const auto seqs = rows(cluster, "SELECT count(*), min(seq), max(seq), count(DISTINCT seq) FROM audit_events");
  ASSERT_EQ(seqs.size(), 1U);
  ASSERT_EQ(seqs[0].size(), 4U);
  EXPECT_EQ(seqs[0][1], "1") << "the trail starts at 1";
  EXPECT_EQ(std::stoll(seqs[0][0]), std::stoll(seqs[0][2])) << "a sequence number was skipped";
  EXPECT_EQ(seqs[0][0], seqs[0][3]) << "a sequence number was used twice";
}

// GET /api/v1/audit/verify through `client`: ok.
inline void expect_chain_verifies(net::HttpsClient& client, const Headers& admin) {
  const auto verified = hoist::testing::send_request(client, "GET", "/api/v1/audit/verify", {}, admin);
  ASSERT_EQ(verified.status, 200) << verified;
  EXPECT_TRUE(verified.boolean("/ok")) << verified;
}

}  // namespace hoist::replicas
