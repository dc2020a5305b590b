// hoistd migrate on the real binaries: hoistd run on SQLite (a policy, an
// enrolled agent, a request approved and one pending, an API token, a
// webhook channel with its deliveries),
// stopped, its database copied with `hoistd migrate` into a PostgreSQL
// cluster the test starts itself, then hoistd started on PostgreSQL with
// the same data directory (its CA and keys). The admin logs in with the
// same password, the token works, the requests, policy and push queue are
// the same, `hoist audit verify --expect-head` passes with the head taken
// on SQLite, and a new request is submitted and approved. A second
// migrate into the same database is refused and changes nothing.
#include <cstdlib>
#include <fstream>
#include <memory>

#include "e2e_test_support.h"
#include "support/pg_cluster.h"

namespace hoist::e2e {
namespace {

hoist::testing::PgCluster& cluster() {
  static std::unique_ptr<hoist::testing::PgCluster> c = [] {
    auto made = std::make_unique<hoist::testing::PgCluster>();
    if (!made->start()) ADD_FAILURE() << "cannot start a PostgreSQL cluster: " << made->error();
    return made;
  }();
  return *c;
}

// `hoist audit verify` with the server and token in the environment; its
// exit status and output.
hoist::testing::ExitResult cli_verify(const HoistdProcess& hoistd, const std::string& token,
                                      const std::string& expect_head) {
  ::setenv("HOME", hoistd.dir().c_str(), 1);               // NOLINT(concurrency-mt-unsafe)
  ::setenv("HOIST_SERVER", hoistd.url().c_str(), 1);       // NOLINT(concurrency-mt-unsafe)
  ::setenv("HOIST_TOKEN", token.c_str(), 1);               // NOLINT(concurrency-mt-unsafe)
  ::setenv("HOIST_CA_FILE", hoistd.ca_file().c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  std::vector<std::string> args{"audit", "verify"};
  if (!expect_head.empty()) {
    args.emplace_back("--expect-head");
    args.push_back(expect_head);
  }
  return HoistdProcess::run_once(args, milliseconds(20000), HOIST_CLI_PATH);
}

// "Head: SEQ:HASH" from hoist audit verify.
std::string head_of(const std::string& output) {
  const auto at = output.find("Head: ");
  if (at == std::string::npos) return "";
  const auto start = at + 6;
  return output.substr(start, output.find('\n', start) - start);
}

// A request as the API shows it, without what the clock changes.
json::value without_time_left(json::value request) {
  if (request.is_object()) request.as_object().erase("time_left_s");
  return request;
}

std::string rows_in_target(const std::string& db) {
  std::string out;
  EXPECT_TRUE(
      cluster().psql("SELECT (SELECT count(*) FROM audit_events) || ' ' || (SELECT count(*) FROM requests)", &out, db))
      << out;
  return out;
}

TEST(E2eMigrate, SqliteInstallationMovesToPostgres) {
  HoistdProcess hoistd;
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  auto admin_token = hoistd.admin_token();
  ASSERT_TRUE(admin_token) << admin_token.error().message;
  const Headers admin = bearer(*admin_token);
  const auto put = hoistd.call_json("PUT", "/api/v1/policies/fleet", json::object{{"text", manual_policy()}}, admin);
  ASSERT_EQ(put.status, 201) << put;
  const auto assigned =
      hoistd.call_json("PUT", "/api/v1/policies/fleet/labels", json::object{{"labels", json::array{"web"}}}, admin);
  ASSERT_EQ(assigned.status, 200) << assigned;
  // A channel whose secret is sealed with notify/secrets.key: its
  // deliveries are queued (and fail: nothing listens on port 9).
  const auto channel =
      hoistd.call_json("POST", "/api/v1/notify/channels",
                       json::object{{"kind", "webhook"},
                                    {"name", "hook"},
                                    {"events", json::array{"request.*"}},
                                    {"config", json::object{{"url", "https://127.0.0.1:9/hook"}, {"timeout_s", 1}}},
                                    {"secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}},
                       admin);
  ASSERT_EQ(channel.status, 201) << channel;
  const std::string channel_id = channel.str("/id");
  auto agent = hoistd.enrol({"web"});
  ASSERT_TRUE(agent) << agent.error().message;
  const auto first = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(first.status, 201) << first;
  const std::string approved_id = first.str("/request/id");
  const auto approve = hoistd.call("POST", "/api/v1/requests/" + approved_id + "/approve", "", admin);
  ASSERT_EQ(approve.status, 200) << approve;
  const auto second = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(second.status, 201) << second;
  const std::string pending_id = second.str("/request/id");

  const auto approved_before = hoistd.call("GET", "/api/v1/requests/" + approved_id, "", admin);
  const auto pending_before = hoistd.call("GET", "/api/v1/requests/" + pending_id, "", admin);
  const auto policy_before = hoistd.call("GET", "/api/v1/policies/fleet", "", admin);
  const auto channel_before = hoistd.call("GET", "/api/v1/notify/channels/" + channel_id, "", admin);
  ASSERT_EQ(channel_before.status, 200) << channel_before;
  const auto pushes_before = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  ASSERT_EQ(pushes_before.status, 200) << pushes_before;
  const auto verified_on_sqlite = cli_verify(hoistd, *admin_token, "");
  ASSERT_EQ(verified_on_sqlite.status, 0) << verified_on_sqlite.output;
  const std::string head = head_of(verified_on_sqlite.output);
  ASSERT_FALSE(head.empty()) << verified_on_sqlite.output;

  const std::string db = "hoist_migrate_e2e";
  ASSERT_TRUE(cluster().create_database(db)) << cluster().error();
  const std::string pg_toml = "[database]\nbackend = \"postgres\"\nurl = \"" + cluster().conninfo(db) + "\"\n";
  const std::string pg_config = hoistd.dir() + "/postgres.toml";
  {
    std::ofstream out(pg_config);
    out << pg_toml;
  }
  // Not while hoistd runs on the file.
  const auto busy =
      HoistdProcess::run_once({"migrate", "--config", pg_config, "--data-dir", hoistd.data_dir()}, milliseconds(60000));
  EXPECT_EQ(busy.status, 69) << busy.output;
  EXPECT_NE(busy.output.find("is open in process " + std::to_string(hoistd.pid())), std::string::npos) << busy.output;
  std::string tables;
  EXPECT_TRUE(
      cluster().psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'", &tables, db));
  EXPECT_EQ(tables, "0\n") << "the target was left untouched";
  ASSERT_EQ(hoistd.stop(), 0) << hoistd.output();
  const auto migrated =
      HoistdProcess::run_once({"migrate", "--config", pg_config, "--data-dir", hoistd.data_dir()}, milliseconds(60000));
  ASSERT_EQ(migrated.status, 0) << migrated.output;
  EXPECT_NE(migrated.output.find("head " + head + " (verified on PostgreSQL)"), std::string::npos) << migrated.output;
  EXPECT_NE(migrated.output.find("tables:       24"), std::string::npos) << migrated.output;
  EXPECT_NE(migrated.output.find("copied notify_deliveries"), std::string::npos) << migrated.output;
  EXPECT_NE(migrated.output.find("copied push_messages"), std::string::npos) << migrated.output;

  // Once only: the target now has rows.
  const std::string rows = rows_in_target(db);
  const auto again =
      HoistdProcess::run_once({"migrate", "--config", pg_config, "--data-dir", hoistd.data_dir()}, milliseconds(60000));
  EXPECT_EQ(again.status, 73) << again.output;
  EXPECT_NE(again.output.find("is not empty"), std::string::npos) << again.output;
  EXPECT_EQ(rows_in_target(db), rows);

  // hoistd on PostgreSQL, same data directory.
  hoistd.options().config_toml = pg_toml;
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  const auto login = hoistd.call_json(
      "POST", "/api/v1/login",
      json::object{{"user", "admin"}, {"password", std::string(hoist::testing::kHoistdAdminPassword)}});
  EXPECT_EQ(login.status, 200) << login;
  const auto approved_after = hoistd.call("GET", "/api/v1/requests/" + approved_id, "", admin);
  ASSERT_EQ(approved_after.status, 200) << approved_after;
  EXPECT_EQ(without_time_left(approved_after.json), without_time_left(approved_before.json));
  const auto pending_after = hoistd.call("GET", "/api/v1/requests/" + pending_id, "", admin);
  EXPECT_EQ(pending_after.json, pending_before.json);
  EXPECT_EQ(pending_after.str("/state"), "pending") << pending_after;
  const auto policy_after = hoistd.call("GET", "/api/v1/policies/fleet", "", admin);
  EXPECT_EQ(policy_after.json, policy_before.json);
  const auto channel_after = hoistd.call("GET", "/api/v1/notify/channels/" + channel_id, "", admin);
  EXPECT_EQ(channel_after.json, channel_before.json);
  const auto pushes_after = hoistd.call("GET", "/api/v1/agent/push?after=0", "", agent->headers());
  EXPECT_EQ(pushes_after.json, pushes_before.json);
  const auto verified_on_pg = cli_verify(hoistd, *admin_token, head);
  EXPECT_EQ(verified_on_pg.status, 0) << verified_on_pg.output;

  // And it goes on: the pending request decided, a new one submitted and
  // approved, the decision pushed with a seq past the copied ones.
  const auto decided = hoistd.call("POST", "/api/v1/requests/" + pending_id + "/approve", "", admin);
  EXPECT_EQ(decided.status, 200) << decided;
  const auto third = hoistd.call_json("POST", "/api/v1/agent/requests", apt_get_submission(), agent->headers());
  ASSERT_EQ(third.status, 201) << third;
  const std::string new_id = third.str("/request/id");
  const auto approved_new = hoistd.call("POST", "/api/v1/requests/" + new_id + "/approve", "", admin);
  EXPECT_EQ(approved_new.status, 200) << approved_new;
  const std::int64_t cursor_before = pushes_before.num("/cursor");
  ASSERT_GT(cursor_before, 0) << pushes_before;
  const auto pushed =
      hoistd.call("GET", "/api/v1/agent/push?after=" + std::to_string(cursor_before), "", agent->headers());
  const auto messages = request_pushes(pushed, new_id);
  ASSERT_FALSE(messages.empty()) << pushed;
  EXPECT_EQ(messages.back().at("state"), "approved");
  const auto still = cli_verify(hoistd, *admin_token, "");
  EXPECT_EQ(still.status, 0) << still.output;
  EXPECT_EQ(hoistd.stop(), 0) << hoistd.output();
}

TEST(E2eMigrate, RefusesWithoutAPostgresConfiguration) {
  HoistdProcess hoistd;
  ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
  ASSERT_EQ(hoistd.stop(), 0);
  const auto r =
      HoistdProcess::run_once({"migrate", "--config", hoistd.config_path(), "--data-dir", hoistd.data_dir()});
  EXPECT_EQ(r.status, 64) << r.output;
  EXPECT_NE(r.output.find("backend = \"postgres\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hoist::e2e
