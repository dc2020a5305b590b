// The faults a fleet of hoistd replicas must survive, each under load and
// each counted against what the clients were told (fault_support.h):
//  - a replica killed (SIGKILL) behind HAProxy, the shipped configuration;
//  - PostgreSQL restarted: 503 while it is down, served again after, the
//    wake-ups between replicas working again;
//  - PostgreSQL failing over to a synchronous standby;
//  - two replicas appending to the audit trail as fast as they can.
// HOIST_FAULT_APPEND_SECONDS sets the last one's length (default 10).
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "fault_support.h"

namespace hoist::replicas {
namespace {

void put_policy(HoistdProcess& hoistd, const Headers& admin, const std::string& expiry) {
  const auto put =
      hoistd.call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", manual_policy(expiry)}}, admin);
  ASSERT_EQ(put.status, 201) << put;
  const auto assigned =
      hoistd.call_json("PUT", "/api/v1/policies/fleet/labels", json::object{{"labels", json::array{"web"}}}, admin);
  ASSERT_EQ(assigned.status, 200) << assigned;
}

std::vector<AgentCredential> enrol_agents(HoistdProcess& hoistd, int n) {
  std::vector<AgentCredential> agents;
  for (int i = 0; i < n; ++i) {
    auto agent = hoistd.enrol({"web"}, "web-" + std::to_string(i));
    EXPECT_TRUE(agent) << agent.error().message;
    if (agent) agents.push_back(*agent);
  }
  return agents;
}

// Established TCP connections whose far end is 127.0.0.1:`port` (HAProxy's
// to a replica), as the kernel sees them.
int connections_to(std::uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot;
    std::string local;
    std::string remote;
    std::string state;
    fields >> slot >> local >> remote >> state;
    const auto colon = remote.find(':');
    if (colon == std::string::npos || state != "01") continue;
    if (std::stoul(remote.substr(colon + 1), nullptr, 16) == port) ++n;
  }
  return n;
}

// The replica that last logged taking the expiry lease.
std::size_t expiry_holder(Replicas& replicas) {
  std::size_t holder = 0;
  for (std::size_t i = 0; i < replicas.size(); ++i) {
    const std::string out = replicas[i].output();
    if (out.find("replica.lease_taken") != std::string::npos && out.find(R"("lease":"expiry")") != std::string::npos) {
      holder = i;
    }
  }
  return holder;
}

TEST(ReplicaFaults, AReplicaKilledBehindHaproxyLosesNothingAndItsPollsMove) {
  Replicas replicas(load_toml());
  for (int i = 0; i < 3; ++i) ASSERT_NE(replicas.add(), nullptr);
  auto token = replicas[0].admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  ASSERT_NO_FATAL_FAILURE(put_policy(replicas[0], admin, "4s"));
  const auto agents = enrol_agents(replicas[0], 6);
  ASSERT_EQ(agents.size(), 6U);
  const std::string pin = replicas[0].ca_fingerprint();

  HaproxyProcess haproxy(HOIST_HAPROXY_EXAMPLE, replicas[0].ca_file(), kServiceName);
  ASSERT_TRUE(haproxy.check_shipped()) << haproxy.error();
  ASSERT_TRUE(haproxy.start(
      {{"hoistd1", replicas[0].port()}, {"hoistd2", replicas[1].port()}, {"hoistd3", replicas[2].port()}}))
      << haproxy.error();

  // The polls first, one after another, so leastconn spreads them.
  std::vector<std::unique_ptr<Poller>> pollers;
  for (const auto& agent : agents) {
    pollers.push_back(std::make_unique<Poller>(haproxy.url(), pin, agent));
    std::this_thread::sleep_for(milliseconds(100));
  }
  Ledger ledger;
  Load load(ledger, agents, admin, pin);
  for (int i = 0; i < 3; ++i) load.add_submitter(haproxy.url(), "load" + std::to_string(i), true);
  for (int i = 0; i < 2; ++i) load.add_approver(haproxy.url());
  std::this_thread::sleep_for(milliseconds(4000));
  // Every check over TLS (the CA, the name) passed: no replica is down.
  EXPECT_EQ(haproxy.log().find("is DOWN"), std::string::npos) << haproxy.log();

  const std::size_t victim = expiry_holder(replicas);
  const int held = connections_to(replicas[victim].port());
  std::size_t acked_before = 0;
  {
    const std::lock_guard lock(ledger.m);
    acked_before = ledger.acked.size();
  }
  const auto killed_at = steady_clock::now();
  const auto killed_ms = wall_ms();
  replicas[victim].signal(SIGKILL);
  ASSERT_TRUE(replicas[victim].wait_exit(milliseconds(5000)).has_value());

  // A decision for each agent, made at once on a survivor straight (not
  // through HAProxy): each agent's poll must be back, on a survivor, to
  // receive it.
  HoistdProcess& survivor = replicas[(victim + 1) % replicas.size()];
  std::vector<std::string> wake_ids;
  for (const auto& agent : agents) {
    auto body = apt_get_submission();
    body["justification"] = "wake-" + agent.id;
    body["user"] = "bob";
    const auto created = survivor.call_json("POST", "/api/v1/agent/requests", body, agent.headers());
    ASSERT_EQ(created.status, 201) << created;
    const std::string id = created.str("/request/id");
    {
      const std::lock_guard lock(ledger.m);
      ledger.acked["wake-" + agent.id] = id;
    }
    const auto approved =
        survivor.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "wake"}}, admin);
    ASSERT_EQ(approved.status, 200) << approved;
    const std::lock_guard lock(ledger.m);
    ledger.approved.insert(id);
    wake_ids.push_back(id);
  }
  double slowest_poll = 0;
  for (std::size_t i = 0; i < pollers.size(); ++i) {
    std::optional<steady_clock::time_point> seen;
    while (!(seen = pollers[i]->seen(wake_ids[i])) && since(killed_at) < 15) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_TRUE(seen) << "agent " << i << " never heard of its decision after the kill";
    const double after = std::chrono::duration<double>(*seen - killed_at).count();
    slowest_poll = std::max(slowest_poll, after);
    EXPECT_LT(after, 5.0) << "agent " << i << "'s poll was back " << after << " s after the kill";
  }

  // The load goes on through the survivors.
  std::this_thread::sleep_for(milliseconds(6000));
  load.stop();
  for (auto& p : pollers) p->stop();
  std::size_t acked_after = 0;
  {
    const std::lock_guard lock(ledger.m);
    acked_after = ledger.acked.size() - acked_before - agents.size();
  }
  EXPECT_GT(acked_after, 20U) << "the survivors served the load";

  // Expiry moved: a request.expired event written after the kill (only a
  // survivor can have written it; the lease's ttl is 15 s).
  const auto expired_after_kill = [&] {
    const auto r = rows(replicas.cluster(),
                        "SELECT count(*) FROM audit_events WHERE action = 'request.expired' AND "
                        "time_ms > " +
                            std::to_string(killed_ms));
    return r.empty() ? 0 : std::stoi(r[0][0]);
  };
  while (expired_after_kill() == 0 && since(killed_at) < 40) std::this_thread::sleep_for(milliseconds(250));
  const double expiry_moved = since(killed_at);
  EXPECT_GT(expired_after_kill(), 0) << "no request expired after the expiry lease's holder was killed";

  ASSERT_NO_FATAL_FAILURE(check_ledger(replicas.cluster(), ledger));
  auto client = client_of(haproxy.url(), pin);
  ASSERT_NE(client, nullptr);
  expect_chain_verifies(*client, admin);
  {
    const std::lock_guard lock(ledger.m);
    std::printf(
        "[ figures ] killed replica %zu (holding %d connections from HAProxy); agents' polls back within %.2f s; "
        "acknowledged %zu before, %zu after; unknown %zu; refused %zu; approved %zu (unknown %zu); expiry moved "
        "after %.1f s\n",
        victim + 1, held, slowest_poll, acked_before, acked_after, ledger.unknown.size(), ledger.refused.size(),
        ledger.approved.size(), ledger.approval_unknown.size(), expiry_moved);
    for (const auto& e : ledger.errors) std::printf("[ error   ] %s\n", e.c_str());
  }
  RecordProperty("poll_back_s", std::to_string(slowest_poll));
}

// A hung replica (SIGSTOP: its connections stay open, nothing answers)
// fails HAProxy's checks; `on-marked-down shutdown-sessions` then cuts the
// long polls it holds, and the agents' next polls reach a survivor. Without
// that setting a poll would wait on the hung replica for the client's own
// timeout (30 s here).
TEST(ReplicaFaults, AHungReplicaIsMarkedDownAndItsPollsAreCut) {
  Replicas replicas(load_toml());
  for (int i = 0; i < 3; ++i) ASSERT_NE(replicas.add(), nullptr);
  auto token = replicas[0].admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  ASSERT_NO_FATAL_FAILURE(put_policy(replicas[0], admin, "1h"));
  const auto agents = enrol_agents(replicas[0], 6);
  ASSERT_EQ(agents.size(), 6U);
  const std::string pin = replicas[0].ca_fingerprint();
  HaproxyProcess haproxy(HOIST_HAPROXY_EXAMPLE, replicas[0].ca_file(), kServiceName);
  ASSERT_TRUE(haproxy.start(
      {{"hoistd1", replicas[0].port()}, {"hoistd2", replicas[1].port()}, {"hoistd3", replicas[2].port()}}))
      << haproxy.error();
  std::vector<std::unique_ptr<Poller>> pollers;
  for (const auto& agent : agents) {
    pollers.push_back(std::make_unique<Poller>(haproxy.url(), pin, agent));
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::this_thread::sleep_for(milliseconds(1500));
  const std::size_t victim = 2;
  const int held = connections_to(replicas[victim].port());
  EXPECT_GT(held, 0) << "no poll went to the replica about to hang";
  const auto hung_at = steady_clock::now();
  ASSERT_EQ(::kill(replicas[victim].pid(), SIGSTOP), 0);

  HoistdProcess& survivor = replicas[0];
  std::vector<std::string> wake_ids;
  for (const auto& agent : agents) {
    auto body = apt_get_submission();
    body["user"] = "bob";
    const auto created = survivor.call_json("POST", "/api/v1/agent/requests", body, agent.headers());
    ASSERT_EQ(created.status, 201) << created;
    const std::string id = created.str("/request/id");
    const auto approved =
        survivor.call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "wake"}}, admin);
    ASSERT_EQ(approved.status, 200) << approved;
    wake_ids.push_back(id);
  }
  double slowest = 0;
  for (std::size_t i = 0; i < pollers.size(); ++i) {
    std::optional<steady_clock::time_point> seen;
    while (!(seen = pollers[i]->seen(wake_ids[i])) && since(hung_at) < 25) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_TRUE(seen) << "agent " << i << " never heard of its decision after the hang: " << haproxy.log();
    slowest = std::max(slowest, std::chrono::duration<double>(*seen - hung_at).count());
  }
  EXPECT_LT(slowest, 10.0) << "the polls held by the hung replica were cut only after " << slowest << " s";
  EXPECT_NE(haproxy.log().find("is DOWN"), std::string::npos) << haproxy.log();
  ::kill(replicas[victim].pid(), SIGCONT);
  for (auto& p : pollers) p->stop();
  std::printf(
      "[ figures ] hung replica held %d connections; every agent's poll answered on a survivor within %.2f s "
      "of the hang\n",
      held, slowest);
}

TEST(ReplicaFaults, PostgresRestartedUnderLoadAnswers503ThenServesAgain) {
  Replicas replicas(load_toml());
  HoistdProcess* a = replicas.add();
  ASSERT_NE(a, nullptr);
  HoistdProcess* b = replicas.add();
  ASSERT_NE(b, nullptr);
  auto token = a->admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  ASSERT_NO_FATAL_FAILURE(put_policy(*a, admin, "1h"));
  const auto agents = enrol_agents(*a, 2);
  ASSERT_EQ(agents.size(), 2U);
  const std::string pin = a->ca_fingerprint();

  Ledger ledger;
  Load load(ledger, agents, admin, pin);
  load.add_submitter(a->url(), "a", false);
  load.add_submitter(b->url(), "b", false);
  load.add_approver(a->url());
  std::this_thread::sleep_for(milliseconds(2000));

  replicas.cluster().stop();
  const auto down_at = steady_clock::now();
  // While it is down: a clear 503 on both, and neither exits.
  std::this_thread::sleep_for(milliseconds(1000));
  for (HoistdProcess* r : {a, b}) {
    const auto whoami = r->call("GET", "/api/v1/requests?limit=1", "", admin);
    EXPECT_EQ(whoami.status, 503) << whoami;
    EXPECT_EQ(whoami.str("/error/code"), "unavailable") << whoami;
    const auto message = whoami.str("/error/message");
    EXPECT_NE(message.find("database"), std::string::npos) << "the message names the database: " << whoami;
    // ... and not its address: that goes to hoistd's log only.
    EXPECT_EQ(message.find("127.0.0.1"), std::string::npos) << whoami;
    EXPECT_EQ(message.find(std::to_string(replicas.cluster().port())), std::string::npos) << whoami;
    auto body = apt_get_submission();
    body["justification"] = "while-down";
    const auto submitted = r->call_json("POST", "/api/v1/agent/requests", body, agents[0].headers());
    EXPECT_EQ(submitted.status, 503) << submitted;
    // Readiness: health asks the database, so a load balancer takes a
    // replica that cannot reach it out (examples/haproxy/hoistd.cfg).
    EXPECT_EQ(r->call("GET", "/api/v1/health").status, 503);
  }
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_TRUE(a->running()) << a->output();
  EXPECT_TRUE(b->running()) << b->output();

  ASSERT_TRUE(replicas.cluster().start()) << replicas.cluster().error();
  const auto up_at = steady_clock::now();
  // Both serve again, without a restart.
  double back_after = 0;
  for (HoistdProcess* r : {a, b}) {
    int status = 0;
    while (since(up_at) < 20) {
      auto body = apt_get_submission();
      body["justification"] = "after-" + std::to_string(r->port()) + "-" + std::to_string(since(up_at));
      body["user"] = "bob";
      const auto submitted = r->call_json("POST", "/api/v1/agent/requests", body, agents[1].headers());
      status = submitted.status;
      if (status == 201) {
        const std::lock_guard lock(ledger.m);
        ledger.acked[body["justification"].as_string().c_str()] = submitted.str("/request/id");
        break;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_EQ(status, 201) << "replica on port " << r->port() << " did not serve again: " << r->output();
    back_after = std::max(back_after, since(up_at));
  }
  EXPECT_LT(back_after, 5.0) << "the replicas served again " << back_after << " s after PostgreSQL was back";
  const double window = since(down_at);

  // The wake-ups work again: a decision on A reaches a long poll on B
  // (the load stopped, so that nothing else answers the poll first).
  load.stop();
  const auto queued = b->call("GET", "/api/v1/agent/push?after=0", "", agents[1].headers());
  ASSERT_EQ(queued.status, 200) << queued;
  const auto cursor = static_cast<std::uint64_t>(queued.num("/cursor"));
  auto carol = apt_get_submission();
  carol["user"] = "carol";
  const auto created = b->call_json("POST", "/api/v1/agent/requests", carol, agents[1].headers());
  ASSERT_EQ(created.status, 201) << created;
  const std::string id = created.str("/request/id");
  std::uint64_t after = cursor;
  {
    // Drain what the submission itself queued, if anything.
    const auto drained = b->call("GET", "/api/v1/agent/push?after=" + std::to_string(cursor), "", agents[1].headers());
    if (drained.status == 200) after = static_cast<std::uint64_t>(drained.num("/cursor"));
  }
  BackgroundPoll poll(*b, agents[1], after, 25);
  ASSERT_TRUE(poll.started());
  const auto decided_at = steady_clock::now();
  const auto approved =
      a->call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "ok"}}, admin);
  ASSERT_EQ(approved.status, 200) << approved;
  const auto push = poll.reply(milliseconds(20000));
  ASSERT_TRUE(push) << "the long poll on B was not answered";
  ASSERT_EQ(push->status, 200) << *push;
  EXPECT_EQ(request_pushes(*push, id).size(), 1U) << *push;
  const double wake = std::chrono::duration<double>(poll.answered_at() - decided_at).count();
  EXPECT_LT(wake, 2.0) << "the decision on A reached B's poll after " << wake << " s";

  ASSERT_NO_FATAL_FAILURE(check_ledger(replicas.cluster(), ledger));
  auto client = a->client();
  ASSERT_NE(client, nullptr);
  expect_chain_verifies(*client, admin);
  std::printf(
      "[ figures ] PostgreSQL down for %.1f s; replicas served again %.2f s after it was back (503 window "
      "%.1f s); wake-up A->B after the restart %.3f s; unknown %zu\n",
      std::chrono::duration<double>(up_at - down_at).count(), back_after, window, wake, ledger.unknown.size());
}

TEST(ReplicaFaults, PostgresFailsOverToASynchronousStandby) {
  PgCluster::Options durable;
  durable.fsync = true;
  PgCluster primary(durable);
  ASSERT_TRUE(primary.start()) << primary.error();
  ASSERT_TRUE(primary.create_database("hoist")) << primary.error();
  PgCluster standby(durable);
  ASSERT_TRUE(standby.start_as_standby_of(primary)) << standby.error();
  // Synchronous: a commit is acknowledged once the standby has it.
  ASSERT_TRUE(primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'")) << primary.error();
  ASSERT_TRUE(primary.psql("SELECT pg_reload_conf()")) << primary.error();
  std::string sync_state;
  for (int i = 0; i < 100 && sync_state.find("sync") != 0; ++i) {
    (void)primary.psql("SELECT sync_state FROM pg_stat_replication", &sync_state);
    std::this_thread::sleep_for(milliseconds(100));
  }
  ASSERT_EQ(sync_state.substr(0, 4), "sync") << sync_state;

  const std::string conninfo = "host=127.0.0.1,127.0.0.1 port=" + std::to_string(primary.port()) + "," +
                               std::to_string(standby.port()) +
                               " user=hoist dbname=hoist target_session_attrs=read-write connect_timeout=3";
  std::vector<std::unique_ptr<HoistdProcess>> replicas;
  for (int i = 0; i < 2; ++i) {
    HoistdOptions o;
    o.config_toml = "[database]\nbackend = \"postgres\"\nurl = \"" + conninfo + "\"\npool_size = 8\n" + load_toml();
    auto r = std::make_unique<HoistdProcess>(o);
    if (!replicas.empty()) {
      ASSERT_TRUE(copy_shared_keys(*replicas.front(), *r));
    }
    ASSERT_TRUE(r->start()) << r->start_error();
    replicas.push_back(std::move(r));
  }
  HoistdProcess& a = *replicas[0];
  HoistdProcess& b = *replicas[1];
  auto token = a.admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  ASSERT_NO_FATAL_FAILURE(put_policy(a, admin, "1h"));
  const auto agents = enrol_agents(a, 2);
  ASSERT_EQ(agents.size(), 2U);

  Ledger ledger;
  Load load(ledger, agents, admin, a.ca_fingerprint());
  load.add_submitter(a.url(), "a", false);
  load.add_submitter(b.url(), "b", false);
  load.add_approver(a.url());
  load.add_approver(b.url());
  std::this_thread::sleep_for(milliseconds(3000));

  // What was acknowledged before the primary died.
  Ledger before;
  {
    const std::lock_guard lock(ledger.m);
    before.acked = ledger.acked;
    before.approved = ledger.approved;
  }
  primary.crash_everything();
  const auto crashed_at = steady_clock::now();
  ASSERT_TRUE(standby.promote()) << standby.error();
  const double promoted_after = since(crashed_at);

  // Both replicas follow, without a restart: a 201 from each.
  std::vector<double> back;
  for (HoistdProcess* r : {&a, &b}) {
    int status = 0;
    int n = 0;
    while (since(crashed_at) < 30) {
      auto body = apt_get_submission();
      const std::string tag = "failover-" + std::to_string(r->port()) + "-" + std::to_string(n++);
      body["justification"] = tag;
      body["user"] = "bob";
      const auto submitted = r->call_json("POST", "/api/v1/agent/requests", body, agents[0].headers());
      status = submitted.status;
      const std::lock_guard lock(ledger.m);
      if (status == 201) {
        ledger.acked[tag] = submitted.str("/request/id");
        break;
      }
      ledger.unknown.insert(tag);
      std::this_thread::sleep_for(milliseconds(100));
    }
    EXPECT_EQ(status, 201) << "replica on port " << r->port() << " did not follow: " << r->output();
    back.push_back(since(crashed_at));
  }
  std::this_thread::sleep_for(milliseconds(2000));
  load.stop();

  // On the new primary: everything acknowledged before the crash, and all
  // the rest counted as usual.
  std::map<std::string, int> count;
  for (const auto& r : rows(standby, "SELECT justification, count(*) FROM requests GROUP BY justification")) {
    if (r.size() == 2) count[r[0]] = std::stoi(r[1]);
  }
  for (const auto& [tag, id] : before.acked) EXPECT_EQ(count[tag], 1) << tag << " acknowledged before the crash";
  std::map<std::string, std::string> state;
  for (const auto& r : rows(standby, "SELECT id, state FROM requests")) {
    if (r.size() == 2) state[r[0]] = r[1];
  }
  for (const auto& id : before.approved) EXPECT_EQ(state[id], "approved") << id << " approved before the crash";
  ASSERT_NO_FATAL_FAILURE(check_ledger(standby, ledger));
  auto client = b.client();
  ASSERT_NE(client, nullptr);
  expect_chain_verifies(*client, admin);
  std::printf(
      "[ figures ] promoted %.2f s after the crash; replicas served again after %.2f s and %.2f s; "
      "acknowledged before the crash %zu (approved %zu), in all %zu; unknown %zu\n",
      promoted_after, back[0], back.size() > 1 ? back[1] : -1.0, before.acked.size(), before.approved.size(),
      ledger.acked.size(), ledger.unknown.size());
}

TEST(ReplicaFaults, TwoReplicasAppendingFastKeepOneChain) {
  const char* env = std::getenv("HOIST_FAULT_APPEND_SECONDS");
  const int seconds = env != nullptr ? std::max(1, std::atoi(env)) : 10;
  Replicas replicas(load_toml());
  HoistdProcess* a = replicas.add();
  ASSERT_NE(a, nullptr);
  HoistdProcess* b = replicas.add();
  ASSERT_NE(b, nullptr);
  auto token = a->admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  ASSERT_NO_FATAL_FAILURE(put_policy(*a, admin, "1h"));
  const auto agents = enrol_agents(*a, 4);
  ASSERT_EQ(agents.size(), 4U);
  const auto head = rows(replicas.cluster(), "SELECT count(*) FROM audit_events");
  ASSERT_EQ(head.size(), 1U);
  const long long events_before = std::stoll(head[0][0]);

  // Each round is a request.created and a request.approved event; two
  // threads on each replica, no pause.
  Ledger ledger;
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    HoistdProcess* r = t % 2 == 0 ? a : b;
    auto client = client_of(r->url(), a->ca_fingerprint());
    ASSERT_NE(client, nullptr);
    threads.emplace_back([&, t, client = std::move(client)]() mutable {
      for (int i = 0; !stopping; ++i) {
        const std::string id = submit_one(*client, agents[static_cast<std::size_t>(t)], "user" + std::to_string(i % 10),
                                          "append-" + std::to_string(t) + "-" + std::to_string(i), ledger, false);
        if (id.empty()) continue;
        const auto approved = hoist::testing::send_request(*client, "POST", "/api/v1/requests/" + id + "/approve",
                                                           R"({"comment":"append"})", admin);
        const std::lock_guard lock(ledger.m);
        if (approved.status == 200) {
          ledger.approved.insert(id);
        } else {
          ledger.approval_unknown.insert(id);
        }
      }
    });
  }
  const auto started = steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stopping = true;
  for (auto& t : threads) t.join();
  const double took = since(started);

  ASSERT_NO_FATAL_FAILURE(check_ledger(replicas.cluster(), ledger));
  const auto after = rows(replicas.cluster(), "SELECT count(*) FROM audit_events");
  ASSERT_EQ(after.size(), 1U);
  const long long appended = std::stoll(after[0][0]) - events_before;
  std::size_t acked = 0;
  {
    const std::lock_guard lock(ledger.m);
    acked = ledger.acked.size();
    EXPECT_TRUE(ledger.unknown.empty()) << ledger.unknown.size() << " submissions had no clear answer";
    EXPECT_TRUE(ledger.refused.empty()) << ledger.refused.size() << " submissions refused, e.g. "
                                        << (ledger.errors.empty() ? "" : ledger.errors[0]);
    EXPECT_TRUE(ledger.approval_unknown.empty()) << ledger.approval_unknown.size() << " approvals failed";
    EXPECT_GE(appended, static_cast<long long>(acked + ledger.approved.size()))
        << "each acknowledged submission and approval is on the trail";
  }
  EXPECT_GT(acked, 0U);
  auto client = b->client();
  ASSERT_NE(client, nullptr);
  expect_chain_verifies(*client, admin);
  std::printf("[ figures ] %lld audit events appended in %.1f s by two replicas: %.0f appends/s (%zu submissions)\n",
              appended, took, static_cast<double>(appended) / took, acked);
}

}  // namespace
}  // namespace hoist::replicas
