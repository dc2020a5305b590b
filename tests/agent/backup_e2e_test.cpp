// hoistd backup, check-backup and restore end to end (issue 20, item 5;
// docs/backup.md): the real hoistd with the real hoist-agent enrolled, an
// offline admin code issued and audit events on the trail; `hoistd backup`
// while hoistd serves and writers keep writing; the backup restored with
// `hoistd restore` into a new data directory and a new hoistd started on
// it at the same address: the agent, with its state unchanged, still syncs
// (its credential and CA pin hold, and a push reaches it although its
// cursor had gone past the backup), the code issued before the backup
// still fits and is marked used, the trail verifies and goes on from the
// backup's head (the API and `hoist audit verify --expect-head`), and the
// database passes PRAGMA integrity_check. Then what
// an attacker or an accident would try: another user, a full disk.
#include <sqlite3.h>
#include <sys/mount.h>

#include <atomic>
#include <boost/json.hpp>

#include "agent/e2e_harness.h"

namespace hoist::testing {
namespace {

constexpr std::string_view kDenyIdPolicy = R"(version = 1

[settings]
default_action = "deny"
contact = "Call the help desk on 4711"
)";

// Runs `hoistd ARGS...`; the exit status, and the output in `out`.
int hoistd_cmd(const std::vector<std::string>& args, const std::string& out_file, std::string& out) {
  std::vector<std::string> argv = {HoistdProcess::default_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ::unlink(out_file.c_str());
  const int status = run(argv, out_file);
  out = slurp(out_file);
  return status;
}

std::string current_user() {
  const passwd* pw = ::getpwuid(::getuid());
  return pw != nullptr ? pw->pw_name : "root";
}

std::string integrity_of(const std::string& db_path) {
  sqlite3* db = nullptr;
  std::string out = "cannot open";
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return out;
}

class BackupE2E : public AgentE2E {
 protected:
  std::string endpoint_id() {
    const auto r = hoistd_.call("GET", "/api/v1/endpoints", "", admin_);
    const auto endpoints = r.array("/endpoints");
    EXPECT_EQ(endpoints.size(), 1U) << r;
    return endpoints.empty() ? std::string() : std::string(endpoints.front().at("id").as_string());
  }
  Result<ipc::CodeGrantMessage> redeem(const std::string& code) {
    const auto ctx = context("", {});
    auto reply = ask(ipc::to_fields(ipc::CodeRedeemMessage{ctx.user, ctx.uid, "", "", code, ""}));
    if (!reply) return reply.error();
    if (auto e = ipc::error_from(*reply)) return Error{e->code, e->message};
    return ipc::code_grant_from(*reply);
  }
  // Whether the agent's answer for `id` becomes `want` within `timeout`.
  bool id_becomes(Action want, milliseconds timeout) {
    return eventually(
        [&] {
          auto d = check("/usr/bin/id", {"id"});
          return d && d->action == want;
        },
        timeout);
  }
  std::string out_file() const { return hoistd_.dir() + "/cmd.out"; }
};

TEST_F(BackupE2E, ABackupTakenWhileServingRestoresIntoANewDataDirectory) {
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  const std::string endpoint = endpoint_id();
  ASSERT_TRUE(id_becomes(Action::kAllow, milliseconds(10000)));

  // An offline code handed out before the backup, and a few events.
  const auto issued = hoistd_.call_json(
      "POST", "/api/v1/codes",
      json::object{
          {"endpoint", endpoint}, {"user", current_user()}, {"duration_s", 600}, {"days", 2}, {"reason", "T-1"}},
      admin_);
  ASSERT_EQ(issued.status, 201) << issued;
  const std::string code = issued.str("/code");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(check("/usr/bin/id", {"id"}));

  // Writers go on through the backup: enrolment tokens over the API, one
  // audit event each.
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> during{0};
  std::atomic<bool> backing_up{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&] {
      auto client = hoistd_.client();
      if (!client) {
        ++failures;
        return;
      }
      const std::string body = json::serialize(json::object{{"labels", json::array{"spare"}}});
      auto headers = admin_;
      headers.push_back({"Content-Type", "application/json"});
      while (!stop) {
        const auto r = send_request(*client, "POST", "/api/v1/enrolment-tokens", body, headers);
        if (r.status != 201) {
          ++failures;
        } else if (backing_up) {
          ++during;
        }
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(300));
  const std::string backup = hoistd_.dir() + "/backup";
  std::string out;
  backing_up = true;
  const auto started = steady_clock::now();
  const int status = hoistd_cmd({"backup", backup, "--config", hoistd_.config_path(), "--data-dir", hoistd_.data_dir()},
                                out_file(), out);
  const auto took = steady_clock::now() - started;
  backing_up = false;
  std::this_thread::sleep_for(milliseconds(200));
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(failures, 0);
  EXPECT_GT(during, 0) << "no write was answered while the backup ran";
  std::cerr << "backup: " << std::chrono::duration_cast<milliseconds>(took).count() << " ms, " << during
            << " writes answered meanwhile\n";
  EXPECT_NE(out.find("Backup written to"), std::string::npos) << out;

  // The manifest's head is an event of the live trail, as it was then.
  const auto manifest = json::parse(slurp(backup + "/manifest.json")).as_object();
  const auto& db = manifest.at("database").as_object();
  const std::int64_t head_seq = db.at("audit_head_seq").as_int64();
  ASSERT_GT(head_seq, 5);
  EXPECT_EQ(db.at("audit_events").as_int64(), head_seq);
  const auto at_head =
      hoistd_.call("GET", "/api/v1/audit?after=" + std::to_string(head_seq - 1) + "&limit=1", "", admin_);
  ASSERT_EQ(at_head.array("/events").size(), 1U) << at_head;
  EXPECT_EQ(at_head.array("/events")[0].at("hash"), db.at("audit_head_hash")) << at_head;
  struct stat st {};
  ASSERT_EQ(::stat(backup.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  ASSERT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 0) << out;

  // After the backup: a policy change pushed to the agent, which takes
  // its push cursor past anything in the backup.
  auto put = hoistd_.call_json("PUT", "/api/v1/policies/base",
                               json::object{{"text", std::string(kDenyIdPolicy)}, {"expected_version", 1}}, admin_);
  ASSERT_EQ(put.status, 200) << put;
  ASSERT_TRUE(id_becomes(Action::kDeny, milliseconds(15000))) << "the agent did not take the new policy";

  // The server is lost; a new one is restored from the backup at the same
  // address, the agent left as it is.
  const std::uint16_t port = hoistd_.port();
  const std::string fingerprint = hoistd_.ca_fingerprint();
  ASSERT_EQ(hoistd_.stop(), 0);
  HoistdProcess restored;
  ASSERT_EQ(hoistd_cmd({"restore", backup, "--config", hoistd_.config_path(), "--data-dir", restored.data_dir()},
                       out_file(), out),
            0)
      << out;
  EXPECT_EQ(integrity_of(restored.data_dir() + "/hoist.db"), "ok");
  ASSERT_EQ(::stat(restored.data_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  ASSERT_EQ(::stat((restored.data_dir() + "/codes/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  restored.options().port = port;
  ASSERT_TRUE(restored.start()) << restored.start_error();
  EXPECT_EQ(restored.ca_fingerprint(), fingerprint);
  auto token = restored.admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);

  // The agent syncs with it: the policy as it was at the backup, then a
  // change pushed by the restored hoistd.
  ASSERT_TRUE(id_becomes(Action::kAllow, milliseconds(60000))) << "the agent did not sync with the restored hoistd";
  put = restored.call_json("PUT", "/api/v1/policies/base",
                           json::object{{"text", std::string(kDenyIdPolicy)}, {"expected_version", 1}}, admin);
  ASSERT_EQ(put.status, 200) << put;
  EXPECT_TRUE(id_becomes(Action::kDeny, milliseconds(15000)))
      << "the restored hoistd's push did not reach the agent, whose cursor is past the backup's";

  // The code issued before the backup fits, and its use is recorded on it.
  auto grant = redeem(code);
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_TRUE(grant->session);
  EXPECT_TRUE(eventually(
      [&] {
        const auto list = restored.call("GET", "/api/v1/codes?endpoint=" + endpoint, "", admin);
        return list.array("/codes").size() == 1U && list.array("/codes").front().at("state") == "used";
      },
      milliseconds(30000)))
      << restored.call("GET", "/api/v1/codes?endpoint=" + endpoint, "", admin);

  // The trail verifies, from the backup's head on.
  const auto verified = restored.call("GET", "/api/v1/audit/verify", "", admin);
  ASSERT_EQ(verified.status, 200) << verified;
  EXPECT_TRUE(verified.boolean("/ok")) << verified;
  EXPECT_GT(verified.num("/events_checked"), head_seq) << verified;
  const auto kept = restored.call("GET", "/api/v1/audit?after=" + std::to_string(head_seq - 1) + "&limit=1", "", admin);
  ASSERT_EQ(kept.array("/events").size(), 1U) << kept;
  EXPECT_EQ(kept.array("/events")[0].at("hash"), db.at("audit_head_hash")) << kept;
  // And the CLI, which recomputes every hash itself, agrees through the
  // backup's head (and refuses a head that is not there).
  const std::string head = std::to_string(head_seq) + ":" + std::string(db.at("audit_head_hash").as_string());
  const std::vector<std::string> env = {"/usr/bin/env", "HOIST_SERVER=" + restored.url(), "HOIST_TOKEN=" + *token,
                                        "HOIST_CA_FINGERPRINT=" + restored.ca_fingerprint()};
  auto cli = env;
  cli.insert(cli.end(), {HOIST_CLI_PATH, "audit", "verify", "--expect-head", head});
  ::unlink(out_file().c_str());
  EXPECT_EQ(run(cli, out_file()), 0) << slurp(out_file());
  cli = env;
  cli.insert(cli.end(), {HOIST_CLI_PATH, "audit", "verify", "--expect-head",
                         std::to_string(head_seq) + ":" + std::string(64, '0')});
  ::unlink(out_file().c_str());
  EXPECT_EQ(run(cli, out_file()), 65) << slurp(out_file());
  stop_agent();
  ASSERT_EQ(restored.stop(), 0);
}

// Someone who is neither root nor the data directory's owner gets nothing,
// and no directory is made.
TEST_F(BackupE2E, OnlyRootOrTheOwnerMayTakeABackup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to run as another user";
  const std::string open_dir = "/tmp/hoist-backup-e2e-" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(open_dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(open_dir.c_str(), 01777), 0);
  // A configuration they can read (the fixture's is in root's directory).
  std::ofstream(open_dir + "/hoistd.toml") << "";
  ASSERT_EQ(::chmod((open_dir + "/hoistd.toml").c_str(), 0644), 0);
  ::unlink(out_file().c_str());
  const int as_nobody = run(
      {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", HoistdProcess::default_binary(),
       "backup", open_dir + "/b", "--config", open_dir + "/hoistd.toml", "--data-dir", hoistd_.data_dir()},
      out_file());
  const std::string out = slurp(out_file());
  EXPECT_EQ(as_nobody, 77) << out;
  EXPECT_NE(out.find("run hoistd backup as root or as the data directory's owner"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(open_dir + "/b"));
  std::filesystem::remove_all(open_dir);
}

// A disk that fills up mid-backup: exit 69, the message says so, and
// nothing that looks like a backup is left.
TEST_F(BackupE2E, AFullDiskLeavesNoHalfBackup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a private mount namespace";
  // Enough rows that the database outgrows the small disk.
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(
        hoistd_.call_json("POST", "/api/v1/enrolment-tokens", json::object{{"labels", json::array{"spare"}}}, admin_)
            .status,
        201);
  }
  const std::string small = hoistd_.dir() + "/small";
  ASSERT_EQ(::mkdir(small.c_str(), 0700), 0);
  const std::string script = "mount -t tmpfs -o size=96k tmpfs " + small + " && " + HoistdProcess::default_binary() +
                             " backup " + small + "/b --config " + hoistd_.config_path() + " --data-dir " +
                             hoistd_.data_dir() + "; echo exit=$?; ls -A " + small + "; echo listed";
  std::string out;
  ::unlink(out_file().c_str());
  ASSERT_EQ(run({"/usr/bin/timeout", "60", "/usr/bin/unshare", "-m", "/bin/sh", "-c", script}, out_file()), 0);
  out = slurp(out_file());
  EXPECT_NE(out.find("exit=69"), std::string::npos) << out;
  EXPECT_NE(out.find("the disk is full"), std::string::npos) << out;
  // ls printed nothing between the exit line and "listed": b was removed.
  const auto exit_at = out.find("exit=69\n");
  ASSERT_NE(exit_at, std::string::npos) << out;
  EXPECT_EQ(out.substr(exit_at + 8), "listed\n") << out;
}

}  // namespace
}  // namespace hoist::testing
