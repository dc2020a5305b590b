// Several real hoistd replicas on one PostgreSQL (replica_harness.h): a
// decision on one reaches an agent's long poll held on another, a policy
// changed on one is what the other serves at once, background work runs
// on one replica and moves when it dies, the audit trail stays one chain,
// and a replica with keys of its own refuses to start.
#include <signal.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "e2e/e2e_test_support.h"
#include "replica_harness.h"

namespace hoist::replicas {
namespace {

using namespace hoist::e2e;  // NOLINT(google-build-using-namespace): the e2e helpers
using hoist::testing::operator+;

// The policy `name` (a manual rule whose requests wait `expiry`) on `label`.
void put_policy(HoistdProcess& hoistd, const Headers& admin, const std::string& expiry, const std::string& label) {
  const auto put =
      hoistd.call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", manual_policy(expiry)}}, admin);
  ASSERT_EQ(put.status, 201) << put;
  const auto assigned = hoistd.call_json("PUT", "/api/v1/policies/fleet/labels",
                                         json::object{{"labels", json::array{label.c_str()}}}, admin);
  ASSERT_EQ(assigned.status, 200) << assigned;
}

TEST(E2eReplicas, ADecisionOnOneReachesALongPollOnAnother) {
  Replicas replicas;
  HoistdProcess* a = replicas.add();
  ASSERT_NE(a, nullptr);
  HoistdProcess* b = replicas.add();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->ca_fingerprint(), b->ca_fingerprint()) << "agents pin one CA for every replica";

  auto token = a->admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  // One database: what A made, B knows.
  EXPECT_EQ(b->call("GET", "/api/v1/whoami", "", admin).status, 200);
  ASSERT_NO_FATAL_FAILURE(put_policy(*a, admin, "1h", "web"));
  auto agent = b->enrol({"web"}, "web-01");
  ASSERT_TRUE(agent) << agent.error().message;

  std::uint64_t cursor = 0;
  for (int round = 0; round < 3; ++round) {
    const auto created = b->call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
    ASSERT_EQ(created.status, 201) << created;
    const std::string id = created.str("/request/id");
    // Everything queued so far, acknowledged by the next poll's `after`.
    const auto queued = b->call("GET", "/api/v1/agent/push?after=" + std::to_string(cursor), "", agent->headers());
    ASSERT_EQ(queued.status, 200) << queued;
    cursor = static_cast<std::uint64_t>(queued.num("/cursor"));

    BackgroundPoll poll(*b, *agent, cursor, 25);
    ASSERT_TRUE(poll.started());
    const auto decided_at = steady_clock::now();
    const auto approved =
        a->call_json("POST", "/api/v1/requests/" + id + "/approve", json::object{{"comment", "ok"}}, admin);
    ASSERT_EQ(approved.status, 200) << approved;
    const auto push = poll.reply(milliseconds(20000));
    ASSERT_TRUE(push) << "the long poll on B was not answered";
    ASSERT_EQ(push->status, 200) << *push;
    const auto messages = request_pushes(*push, id);
    ASSERT_EQ(messages.size(), 1U) << *push;
    EXPECT_EQ(messages[0].at("state"), "approved");
    // Far below the 30 s re-poll: the wake-up came from A through PostgreSQL.
    EXPECT_LT(std::chrono::duration<double>(poll.answered_at() - decided_at).count(), 2.0);
    cursor = static_cast<std::uint64_t>(push->num("/cursor"));
  }
  const auto verified_a = a->call("GET", "/api/v1/audit/verify", "", admin);
  ASSERT_EQ(verified_a.status, 200) << verified_a;
  EXPECT_TRUE(verified_a.boolean("/ok")) << verified_a;
}

TEST(E2eReplicas, APolicyChangedOnOneIsServedByTheOtherAtOnce) {
  Replicas replicas;
  HoistdProcess* a = replicas.add();
  ASSERT_NE(a, nullptr);
  HoistdProcess* b = replicas.add();
  ASSERT_NE(b, nullptr);
  auto token = a->admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  ASSERT_NO_FATAL_FAILURE(put_policy(*a, admin, "1h", "web"));
  auto agent = a->enrol({"web"}, "web-02");
  ASSERT_TRUE(agent) << agent.error().message;
  // B learns the endpoint and the ETag (its memo now holds them).
  const auto first = b->call("GET", "/api/v1/agent/policy", "", agent->headers());
  ASSERT_EQ(first.status, 200) << first;
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(b->call("GET", "/api/v1/agent/policy", "", agent->headers() + Headers{{"If-None-Match", etag}}).status,
            304);

  // A deletes the policy: B must not answer 304 from its memo.
  const auto deleted = a->call("DELETE", "/api/v1/policies/fleet", "", admin);
  ASSERT_EQ(deleted.status, 200) << deleted;
  const auto deadline = steady_clock::now() + milliseconds(1000);
  int status = 0;
  while (steady_clock::now() < deadline) {
    status = b->call("GET", "/api/v1/agent/policy", "", agent->headers() + Headers{{"If-None-Match", etag}}).status;
    if (status != 304) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(status, 200) << "B still served the deleted policy's ETag a second after A deleted it";

  // A request submitted on B is decided by the policy as it is now: denied.
  const auto created = b->call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  EXPECT_NE(created.str("/decision"), "request") << created;
}

TEST(E2eReplicas, AReplicaWithKeysOfItsOwnRefusesToStart) {
  Replicas replicas;
  ASSERT_NE(replicas.add(), nullptr);
  HoistdOptions o;
  o.config_toml = postgres_toml(replicas.cluster(), "hoist");
  HoistdProcess stranger(o);  // no copy: it makes a CA and keys of its own
  ASSERT_FALSE(stranger.start());
  const auto status = stranger.wait_exit(milliseconds(5000));
  EXPECT_EQ(status.value_or(-1), 78) << stranger.output();
  EXPECT_NE(stranger.output().find("is not the one the other replicas"), std::string::npos) << stranger.output();
}

TEST(E2eReplicas, ExpiryRunsOnOneReplicaAndMovesWhenItIsKilled) {
  Replicas replicas("[requests]\nsweep_interval = \"1s\"\n");
  HoistdProcess* a = replicas.add();
  ASSERT_NE(a, nullptr);
  HoistdProcess* b = replicas.add();
  ASSERT_NE(b, nullptr);
  auto token = a->admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);
  ASSERT_NO_FATAL_FAILURE(put_policy(*a, admin, "2s", "web"));
  auto agent = b->enrol({"web"}, "web-03");
  ASSERT_TRUE(agent) << agent.error().message;

  // request.expired events on the trail: what the sweep records (a
  // request's state reads "expired" once its deadline passed, swept or not).
  const auto expired_events = [&] {
    const auto audit = b->call("GET", "/api/v1/audit?action=request.expired&limit=100", "", admin);
    return audit.status == 200 ? audit.array("/events").size() : std::size_t{0};
  };

  // Both run; one of them expires the request, once.
  const auto first = b->call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(first.status, 201) << first;
  const auto first_at = steady_clock::now();
  while (expired_events() < 1 && steady_clock::now() - first_at < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(expired_events(), 1U);

  // The holder of the expiry lease (A, the first to start) dies; B takes
  // the lease within 30 s and expires the next request.
  a->signal(SIGKILL);
  (void)a->wait_exit(milliseconds(5000));
  const auto killed_at = steady_clock::now();
  const auto second = b->call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(second.status, 201) << second;
  while (expired_events() < 2 && steady_clock::now() - killed_at < std::chrono::seconds(40)) {
    std::this_thread::sleep_for(milliseconds(250));
  }
  EXPECT_EQ(expired_events(), 2U) << "each request expired once, the second by B";
  const auto moved_after = std::chrono::duration<double>(steady_clock::now() - killed_at).count();
  EXPECT_LT(moved_after, 30.0);
  EXPECT_NE(b->output().find("\"lease\":\"expiry\""), std::string::npos) << b->output();
  const auto verified = b->call("GET", "/api/v1/audit/verify", "", admin);
  EXPECT_TRUE(verified.boolean("/ok")) << verified;
}

// [database] password_file: read only when no one else may read it, sent
// to the database (a role that needs a password), never in the url; or
// PGPASSWORD in hoistd's environment.
TEST(E2eReplicas, ThePasswordComesFromAPrivateFileOrTheEnvironment) {
  Replicas replicas;
  auto& cluster = replicas.cluster();
  ASSERT_TRUE(cluster.psql("CREATE ROLE hoistpw LOGIN PASSWORD 'correct horse 1'"));
  ASSERT_TRUE(cluster.psql("CREATE DATABASE pwdb OWNER hoistpw"));
  // That role must give its password, whatever the other lines say.
  const std::string hba = cluster.data_dir() + "/pg_hba.conf";
  std::string lines;
  {
    std::ifstream in(hba);
    std::stringstream all;
    all << in.rdbuf();
    lines = all.str();
  }
  {
    std::ofstream out(hba, std::ios::trunc);
    out << "host all hoistpw 127.0.0.1/32 scram-sha-256\n" << lines;
  }
  ASSERT_TRUE(cluster.psql("SELECT pg_reload_conf()"));

  HoistdOptions o;
  o.config_toml = "[database]\nbackend = \"postgres\"\nurl = \"host=127.0.0.1 port=" + std::to_string(cluster.port()) +
                  " user=hoistpw dbname=pwdb\"\npassword_file = \"" + cluster.dir() + "/db-password\"\n";
  HoistdProcess hoistd(o);
  const std::string file = cluster.dir() + "/db-password";
  const auto write_password = [&](const std::string& text, mode_t mode) {
    std::ofstream(file, std::ios::trunc) << text;
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
  };

  // Readable by others: refused before anything is sent.
  write_password("correct horse 1\n", 0644);
  ASSERT_FALSE(hoistd.start());
  EXPECT_EQ(hoistd.wait_exit(milliseconds(5000)).value_or(-1), 78) << hoistd.output();
  EXPECT_NE(hoistd.output().find("may be read by others"), std::string::npos) << hoistd.output();

  // The wrong password: the database says no.
  write_password("wrong\n", 0600);
  ASSERT_FALSE(hoistd.start());
  EXPECT_EQ(hoistd.wait_exit(milliseconds(5000)).value_or(-1), 69) << hoistd.output();
  EXPECT_NE(hoistd.output().find("password authentication failed"), std::string::npos) << hoistd.output();

  // The right one, private: hoistd runs on that role.
  write_password("correct horse 1\n", 0600);
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  EXPECT_EQ(hoistd.call("GET", "/api/v1/health").status, 200);
  EXPECT_EQ(hoistd.output().find("correct horse 1"), std::string::npos) << "the password is never printed";
  std::string who;
  ASSERT_TRUE(cluster.psql("SELECT DISTINCT usename FROM pg_stat_activity WHERE application_name LIKE 'hoistd%'", &who,
                           "pwdb"));
  EXPECT_EQ(who, "hoistpw\n");

  // Or from the environment (PGPASSWORD in the unit's Environment= or
  // EnvironmentFile=), which libpq reads: no password_file at all. A
  // database of its own: a new data directory has keys of its own.
  EXPECT_EQ(hoistd.stop(), 0);
  ASSERT_TRUE(cluster.psql("CREATE DATABASE pwdb2 OWNER hoistpw"));
  HoistdOptions env_options;
  env_options.config_toml =
      "[database]\nbackend = \"postgres\"\nurl = \"host=127.0.0.1 port=" + std::to_string(cluster.port()) +
      " user=hoistpw dbname=pwdb2\"\n";
  env_options.extra_env = {{"PGPASSWORD", "wrong"}};
  HoistdProcess from_env(env_options);
  ASSERT_FALSE(from_env.start());
  EXPECT_EQ(from_env.wait_exit(milliseconds(5000)).value_or(-1), 69) << from_env.output();
  EXPECT_NE(from_env.output().find("password authentication failed"), std::string::npos) << from_env.output();
  env_options.extra_env = {{"PGPASSWORD", "correct horse 1"}};
  HoistdProcess from_env_right(env_options);
  ASSERT_TRUE(from_env_right.start()) << from_env_right.start_error();
  EXPECT_EQ(from_env_right.call("GET", "/api/v1/health").status, 200);
  EXPECT_EQ(from_env_right.output().find("correct horse 1"), std::string::npos) << "the password is never printed";
}

// Failed logins are counted in the database (store/logins.h): password
// guesses spread over two replicas are limited as on one server (five
// free failures, the sixth admitted, then the lock), whichever replica
// the next guess reaches, and for any user from that address.
TEST(E2eReplicas, PasswordGuessesSplitAcrossReplicasAreLimitedAsOnOne) {
  Replicas replicas;
  HoistdProcess* a = replicas.add();
  ASSERT_NE(a, nullptr);
  HoistdProcess* b = replicas.add();
  ASSERT_NE(b, nullptr);
  const auto guess = [](HoistdProcess& r, const std::string& user, const std::string& password) {
    return r.call_json("POST", "/api/v1/login", json::object{{"user", user.c_str()}, {"password", password.c_str()}});
  };
  for (int i = 0; i < 6; ++i) {
    HoistdProcess& r = (i % 2 == 0) ? *a : *b;
    const auto wrong = guess(r, "admin", "guess " + std::to_string(i));
    EXPECT_EQ(wrong.status, 401) << "guess " << i << " on " << (i % 2 == 0 ? "A" : "B") << ": " << wrong;
  }
  // Each replica saw three: a per-replica count would still let them through.
  for (HoistdProcess* r : {a, b}) {
    const auto locked = guess(*r, "admin", "guess 7");
    EXPECT_EQ(locked.status, 429) << locked;
    EXPECT_FALSE(locked.header("retry-after").empty()) << locked;
  }
  EXPECT_EQ(guess(*b, "admin", std::string(hoist::testing::kHoistdAdminPassword)).status, 429)
      << "locked means locked, even for the right password";
  EXPECT_EQ(guess(*a, "someone-else", "x").status, 429) << "the address is locked too";
  // The lock ends (1 s after the 6th failure), on both, and the right password works.
  std::this_thread::sleep_for(milliseconds(1500));
  const auto right = guess(*b, "admin", std::string(hoist::testing::kHoistdAdminPassword));
  EXPECT_EQ(right.status, 200) << right;
  std::string rows;
  ASSERT_TRUE(replicas.cluster().psql("SELECT count(*) FROM login_failures", &rows, "hoist"));
  EXPECT_EQ(rows, "1\n") << "the user's count went with the success; the address's stays";
}

// The counts cannot be read: no login is checked (503, never a password
// checked uncounted), and the answer does not name the database.
TEST(E2eReplicas, LoginsAreRefusedWhileTheirCountsCannotBeRead) {
  Replicas replicas("query_timeout_s = 3\nconnect_timeout_s = 2\n");
  HoistdProcess* a = replicas.add();
  ASSERT_NE(a, nullptr);
  replicas.cluster().stop();
  const auto login = a->call_json(
      "POST", "/api/v1/login",
      json::object{{"user", "admin"}, {"password", std::string(hoist::testing::kHoistdAdminPassword).c_str()}});
  EXPECT_EQ(login.status, 503) << login;
  EXPECT_EQ(login.body.find(std::to_string(replicas.cluster().port())), std::string::npos) << login.body;
  ASSERT_TRUE(replicas.cluster().start());
  const auto back = a->call_json(
      "POST", "/api/v1/login",
      json::object{{"user", "admin"}, {"password", std::string(hoist::testing::kHoistdAdminPassword).c_str()}});
  EXPECT_EQ(back.status, 200) << back;
}

// Two replicas started at once on a new database, with different
// --admin-user: "no users yet" is checked inside the write that makes the
// first admin, so exactly one is made; the other says another replica made
// it. (HOIST_E2E_HOISTD_BEFORE: run the same test on another hoistd binary.)
TEST(E2eReplicas, ReplicasStartedTogetherWithDifferentAdminsMakeOne) {
  Replicas replicas;
  HoistdProcess* keys = replicas.add();  // the shared keys, made on another database
  ASSERT_NE(keys, nullptr);
  const char* binary = std::getenv("HOIST_E2E_HOISTD_BEFORE");  // NOLINT(concurrency-mt-unsafe): before any thread
  for (int round = 0; round < 3; ++round) {
    const std::string db = "race" + std::to_string(round);
    ASSERT_TRUE(replicas.cluster().create_database(db)) << replicas.cluster().error();
    std::vector<std::unique_ptr<HoistdProcess>> procs;
    for (const char* name : {"alice", "bob"}) {
      HoistdOptions o;
      o.config_toml = postgres_toml(replicas.cluster(), db);
      o.admin_user = name;
      if (binary != nullptr) o.binary = binary;
      procs.push_back(std::make_unique<HoistdProcess>(o));
      ASSERT_TRUE(copy_shared_keys(*keys, *procs.back()));
    }
    // Each started from a thread that lives on: a fixture's hoistd dies
    // with the thread that started it.
    std::atomic<int> started{0};
    std::atomic<bool> done{false};
    std::vector<int> ok(procs.size(), 0);
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < procs.size(); ++i) {
      threads.emplace_back([&, i] {
        ok[i] = procs[i]->start() ? 1 : 0;
        ++started;
        while (!done) std::this_thread::sleep_for(milliseconds(20));
      });
    }
    while (started < static_cast<int>(procs.size())) std::this_thread::sleep_for(milliseconds(20));
    std::string users;
    const bool read = replicas.cluster().psql("SELECT name FROM users ORDER BY name", &users, db);
    int elsewhere = 0;
    for (const auto& p : procs) {
      if (p->output().find("First admin:     made by another replica") != std::string::npos) ++elsewhere;
    }
    done = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, std::vector<int>({1, 1})) << procs[0]->start_error() << procs[1]->start_error();
    ASSERT_TRUE(read);
    EXPECT_TRUE(users == "alice\n" || users == "bob\n") << "round " << round << ": users " << users;
    EXPECT_EQ(elsewhere, 1) << "round " << round;
  }
}

}  // namespace
}  // namespace hoist::replicas
