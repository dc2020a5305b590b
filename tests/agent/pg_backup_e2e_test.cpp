// hoistd backup, check-backup and restore on PostgreSQL end to end (issue
// 21, item 6; docs/backup.md, "PostgreSQL"): the real hoistd on a
// PostgreSQL cluster of the test's own (support/pg_cluster.h), reached as
// a role with a password (scram-sha-256, from [database] password_file),
// with the real hoist-agent enrolled, an offline admin code issued and
// audit events on the trail. `hoistd backup` runs while writers keep
// writing; meanwhile every process's /proc/PID/cmdline and environ is
// scanned for the password while pg_dump is held on a table lock. The
// backup is checked, refused when a byte of the dump changes (even with the
// manifest fixed up), and restored with `hoistd restore` into a new, empty
// database and a new data directory, after being refused on the database
// hoistd still serves and on a non-empty one; a hoistd started on the
// restored pair at the same address serves the agent (its credential and
// CA pin hold, a push reaches it although its cursor had gone past the
// backup), the code issued before the backup fits, and `hoist audit verify
// --expect-head` passes with the backup's head.
#include <dirent.h>
#include <libpq-fe.h>

#include <atomic>
#include <boost/json.hpp>
#include <set>

#include <fmt/format.h>
#include "agent/e2e_harness.h"

#include "core/sha256.h"
#include "support/pg_cluster.h"

namespace hoist::testing {
namespace {

constexpr std::string_view kDenyIdPolicy = R"(version = 1

[settings]
default_action = "deny"
contact = "Call the help desk on 4711"
)";
// What no child's argv or environment may show.
constexpr std::string_view kPassword = "s3cret:pw\\of-the-db";

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

std::string read_proc(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Scans every process's cmdline and environ until stopped: whether the
// password was in any, and what pg_dump showed.
struct ProcScanner {
  std::atomic<bool> stop{false};
  std::atomic<bool> leaked{false};
  std::string leaked_where;
  std::atomic<int> pg_dump_seen{0};
  std::string pg_dump_cmdline;
  std::string pg_dump_environ;
  std::string passfile_dir_mode;
  std::string passfile_mode;

  void scan_once() {
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return;
    while (const dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
      const std::string pid = e->d_name;
      if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string cmdline = read_proc("/proc/" + pid + "/cmdline");
      const std::string environ = read_proc("/proc/" + pid + "/environ");
      for (const auto* text : {&cmdline, &environ}) {
        if (text->find(kPassword) != std::string::npos) {
          leaked = true;
          leaked_where = "/proc/" + pid + (text == &cmdline ? "/cmdline: " : "/environ: ") + cmdline;
        }
      }
      if (cmdline.find("/pg_dump") != std::string::npos && cmdline.find("--snapshot") != std::string::npos) {
        if (pg_dump_seen++ == 0) {
          pg_dump_cmdline = cmdline;
          pg_dump_environ = environ;
          std::replace(pg_dump_cmdline.begin(), pg_dump_cmdline.end(), '\0', ' ');
          std::replace(pg_dump_environ.begin(), pg_dump_environ.end(), '\0', ' ');
          const auto at = pg_dump_environ.find("PGPASSFILE=");
          if (at != std::string::npos) {
            const std::string file = pg_dump_environ.substr(at + 11, pg_dump_environ.find(' ', at) - at - 11);
            struct stat st {};
            if (::stat(file.c_str(), &st) == 0) passfile_mode = fmt::format("{:o}", st.st_mode & 07777);
            const std::string dir = std::filesystem::path(file).parent_path().string();
            if (::stat(dir.c_str(), &st) == 0) passfile_dir_mode = fmt::format("{:o}", st.st_mode & 07777);
          }
        }
      }
    }
    ::closedir(d);
  }
};

class PgBackupE2E : public AgentE2E {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.start()) << cluster_.error();
    // A role with a password, checked by scram-sha-256 (the cluster trusts
    // everyone else on loopback).
    ASSERT_TRUE(cluster_.psql(fmt::format("CREATE ROLE hoistpw LOGIN PASSWORD '{}'", kPassword))) << cluster_.error();
    for (const char* db : {"hoist", "hoist_new", "hoist_other"}) {
      ASSERT_TRUE(cluster_.psql(fmt::format("CREATE DATABASE {} OWNER hoistpw", db))) << cluster_.error();
    }
    const std::string hba = cluster_.data_dir() + "/pg_hba.conf";
    const std::string rules = "host all hoistpw 127.0.0.1/32 scram-sha-256\n" + slurp(hba);
    std::ofstream(hba, std::ios::trunc) << rules;
    ASSERT_TRUE(cluster_.psql("SELECT pg_reload_conf()")) << cluster_.error();
    password_file_ = hoistd_.dir() + "/db-password";
    std::ofstream(password_file_) << kPassword << "\n";
    ASSERT_EQ(::chmod(password_file_.c_str(), 0600), 0);
    hoistd_.options().config_toml = config_for("hoist");
    AgentE2E::SetUp();
  }

  std::string config_for(const std::string& db) const {
    return fmt::format(
        "[database]\nbackend = \"postgres\"\nurl = \"host=127.0.0.1 port={} user=hoistpw dbname={}\"\n"
        "password_file = \"{}\"\npool_size = 4\n",
        port_of(cluster_.conninfo()), db, hoistd_.dir() + "/db-password");
  }
  static std::string port_of(const std::string& conninfo) {
    const auto at = conninfo.find("port=") + 5;
    return conninfo.substr(at, conninfo.find(' ', at) - at);
  }
  // A configuration file for hoistd backup/restore naming `db`.
  std::string write_config(const std::string& db) {
    const std::string path = hoistd_.dir() + "/" + db + ".toml";
    std::ofstream(path, std::ios::trunc) << config_for(db);
    return path;
  }

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
  bool id_becomes(Action want, milliseconds timeout) {
    return eventually(
        [&] {
          auto d = check("/usr/bin/id", {"id"});
          return d && d->action == want;
        },
        timeout);
  }
  std::string out_file() const { return hoistd_.dir() + "/cmd.out"; }

  PgCluster cluster_;
  std::string password_file_;
};

TEST_F(PgBackupE2E, ABackupTakenWhileServingRestoresIntoAnEmptyDatabase) {
  ASSERT_EQ(enroll(), 0) << slurp(log_);
  start_agent();
  const std::string endpoint = endpoint_id();
  ASSERT_TRUE(id_becomes(Action::kAllow, milliseconds(10000)));
  const auto issued = hoistd_.call_json(
      "POST", "/api/v1/codes",
      json::object{
          {"endpoint", endpoint}, {"user", current_user()}, {"duration_s", 600}, {"days", 2}, {"reason", "T-1"}},
      admin_);
  ASSERT_EQ(issued.status, 201) << issued;
  const std::string code = issued.str("/code");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(check("/usr/bin/id", {"id"}));

  // Writers go on through the backup.
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
  // pg_dump is held on a lock of a table hoistd does not write here, so
  // that it is certainly seen running by the scan.
  PGconn* holder = PQconnectdb(cluster_.conninfo("hoist").c_str());
  ASSERT_EQ(PQstatus(holder), CONNECTION_OK) << PQerrorMessage(holder);
  PQclear(PQexec(holder, "BEGIN; LOCK TABLE stream_cursors IN ACCESS EXCLUSIVE MODE"));
  ProcScanner scanner;
  std::thread scan([&] {
    while (!scanner.stop) scanner.scan_once();
  });
  std::thread release([&] {
    eventually([&] { return scanner.pg_dump_seen > 3; }, milliseconds(15000));
    PQclear(PQexec(holder, "COMMIT"));
  });

  std::this_thread::sleep_for(milliseconds(300));
  const std::string backup = hoistd_.dir() + "/backup";
  const std::string config = write_config("hoist");
  std::string out;
  backing_up = true;
  const auto started = steady_clock::now();
  const int status =
      hoistd_cmd({"backup", backup, "--config", config, "--data-dir", hoistd_.data_dir()}, out_file(), out);
  const auto took = steady_clock::now() - started;
  backing_up = false;
  release.join();
  scanner.stop = true;
  scan.join();
  PQfinish(holder);
  std::this_thread::sleep_for(milliseconds(200));
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(failures, 0);
  EXPECT_GT(during, 0) << "no write was answered while the backup ran";
  std::cerr << "backup: " << std::chrono::duration_cast<milliseconds>(took).count() << " ms (pg_dump held ~"
            << "on a lock), " << during << " writes answered meanwhile\n"
            << out;

  // The password was never in a child's argv or environment; pg_dump ran
  // (and was seen), with its PGPASSFILE private.
  EXPECT_GT(scanner.pg_dump_seen, 0) << "the scan never saw pg_dump";
  EXPECT_FALSE(scanner.leaked) << scanner.leaked_where;
  EXPECT_NE(scanner.pg_dump_environ.find("PGPASSFILE=/tmp/hoistd-pgpass-"), std::string::npos)
      << scanner.pg_dump_environ;
  EXPECT_EQ(scanner.pg_dump_environ.find("PGPASSWORD"), std::string::npos) << scanner.pg_dump_environ;
  EXPECT_EQ(scanner.passfile_mode, "600");
  EXPECT_EQ(scanner.passfile_dir_mode, "700");
  EXPECT_EQ(scanner.pg_dump_cmdline.find("/usr/lib/postgresql/"), 0U) << scanner.pg_dump_cmdline;
  // ... and removed after.
  for (const auto& e : std::filesystem::directory_iterator("/tmp")) {
    EXPECT_EQ(e.path().filename().string().rfind("hoistd-pgpass-", 0), std::string::npos) << e.path();
  }

  // The manifest names PostgreSQL, and its head is an event of the live
  // trail as it was then.
  const auto manifest = json::parse(slurp(backup + "/manifest.json")).as_object();
  EXPECT_EQ(manifest.at("backend"), "postgres");
  const auto& db = manifest.at("database").as_object();
  EXPECT_EQ(db.at("path"), "hoist.dump");
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
  ASSERT_EQ(::stat((backup + "/data/hoist.dump").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U) << "the dump is readable by others";
  ASSERT_EQ(::stat((backup + "/data/codes/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 0) << out;
  EXPECT_NE(out.find("pg_restore --list"), std::string::npos) << out;

  // After the backup: five policy changes pushed to the agent, the last
  // denying id, which take its push cursor five messages past anything in
  // the backup (more than the restored hoistd pushes below).
  HttpReply put;
  for (int v = 1; v <= 5; ++v) {
    put = hoistd_.call_json(
        "PUT", "/api/v1/policies/base",
        json::object{{"text", std::string(v % 2 == 1 ? kDenyIdPolicy : kPolicy)}, {"expected_version", v}}, admin_);
    ASSERT_EQ(put.status, 200) << put;
  }
  ASSERT_TRUE(id_becomes(Action::kDeny, milliseconds(15000))) << "the agent did not take the new policy";

  // Refused while hoistd serves the database (its leases are live), and
  // on a database that holds anything; neither is changed.
  HoistdProcess restored;
  ASSERT_EQ(hoistd_cmd({"restore", backup, "--config", config, "--data-dir", restored.data_dir()}, out_file(), out), 73)
      << out;
  EXPECT_NE(out.find("a hoistd serves this PostgreSQL database"), std::string::npos) << out;
  ASSERT_TRUE(cluster_.psql("CREATE TABLE unrelated (x int)", nullptr, "hoist_other"));
  ASSERT_EQ(hoistd_cmd({"restore", backup, "--config", write_config("hoist_other"), "--data-dir", restored.data_dir()},
                       out_file(), out),
            73)
      << out;
  EXPECT_NE(out.find("is not empty"), std::string::npos) << out;
  EXPECT_TRUE(!std::filesystem::exists(restored.data_dir()) || std::filesystem::is_empty(restored.data_dir()))
      << "a refused restore left a data directory";
  std::string tables;
  ASSERT_TRUE(cluster_.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &tables, "hoist_other"));
  EXPECT_EQ(tables, "1\n");

  // The server is lost; restored into a new database and data directory,
  // a new hoistd on them at the same address, the agent left as it is.
  // (The restore runs before the old hoistd stops, which it does not
  // touch, so that the agent's back-off stays short and the test quick.)
  const std::uint16_t port = hoistd_.port();
  const std::string fingerprint = hoistd_.ca_fingerprint();
  const auto restore_started = steady_clock::now();
  ASSERT_EQ(hoistd_cmd({"restore", backup, "--config", write_config("hoist_new"), "--data-dir", restored.data_dir()},
                       out_file(), out),
            0)
      << out;
  std::cerr << "restore: " << std::chrono::duration_cast<milliseconds>(steady_clock::now() - restore_started).count()
            << " ms\n"
            << out;
  ASSERT_EQ(::stat(restored.data_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
  EXPECT_FALSE(std::filesystem::exists(restored.data_dir() + "/hoist.dump")) << "the dump was copied as a file";
  ASSERT_EQ(::stat((restored.data_dir() + "/codes/master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(hoistd_.stop(), 0);
  restored.options().port = port;
  restored.options().config_toml = config_for("hoist_new");
  ASSERT_TRUE(restored.start()) << restored.start_error();
  EXPECT_EQ(restored.ca_fingerprint(), fingerprint);
  auto token = restored.admin_token();
  ASSERT_TRUE(token) << token.error().message;
  const Headers admin = bearer(*token);

  // The restored hoistd's pushes reach the agent, whose push cursor went
  // past the backup's (the counter moved ahead): a policy that allows id
  // again arrives well before the agent's minute-long policy check.
  // (Two versions, so that the last one is newer than the agent's.)
  for (int v = 1; v <= 2; ++v) {
    put = restored.call_json(
        "PUT", "/api/v1/policies/base",
        json::object{{"text", std::string(v == 1 ? kDenyIdPolicy : kPolicy)}, {"expected_version", v}}, admin);
    ASSERT_EQ(put.status, 200) << put;
  }
  EXPECT_TRUE(id_becomes(Action::kAllow, milliseconds(20000)))
      << "the restored hoistd's push did not reach the agent, whose cursor is past the backup's";

  auto grant = redeem(code);
  ASSERT_TRUE(grant) << grant.error().message;
  EXPECT_TRUE(grant->session);

  const auto kept = restored.call("GET", "/api/v1/audit?after=" + std::to_string(head_seq - 1) + "&limit=1", "", admin);
  ASSERT_EQ(kept.array("/events").size(), 1U) << kept;
  EXPECT_EQ(kept.array("/events")[0].at("hash"), db.at("audit_head_hash")) << kept;
  const std::string head = std::to_string(head_seq) + ":" + std::string(db.at("audit_head_hash").as_string());
  const std::vector<std::string> env = {"/usr/bin/env", "HOIST_SERVER=" + restored.url(), "HOIST_TOKEN=" + *token,
                                        "HOIST_CA_FINGERPRINT=" + restored.ca_fingerprint()};
  auto cli = env;
  cli.insert(cli.end(), {HOIST_CLI_PATH, "audit", "verify", "--expect-head", head});
  ::unlink(out_file().c_str());
  EXPECT_EQ(run(cli, out_file()), 0) << slurp(out_file());
  stop_agent();
  ASSERT_EQ(restored.stop(), 0);
}

// Sets the manifest's size and SHA-256 of `path` to the file's, as someone
// who can write the backup would.
void fix_up_manifest(const std::string& backup, const std::string& path) {
  auto manifest = json::parse(slurp(backup + "/manifest.json")).as_object();
  const std::string bytes = slurp(backup + "/data/" + path);
  for (auto& e : manifest.at("entries").as_array()) {
    if (e.at("path").as_string() == path) {
      e.as_object()["size"] = bytes.size();
      e.as_object()["sha256"] = sha256(bytes).hex();
    }
  }
  std::ofstream(backup + "/manifest.json", std::ios::trunc) << json::serialize(manifest);
}

TEST_F(PgBackupE2E, WhatAnAttackerOrAnAccidentWouldTryIsRefused) {
  const std::string config = write_config("hoist");
  std::string out;
  // A backup directory that exists and is not empty, or is a symlink.
  const std::string full = hoistd_.dir() + "/full";
  ASSERT_EQ(::mkdir(full.c_str(), 0700), 0);
  std::ofstream(full + "/x") << "x";
  EXPECT_EQ(hoistd_cmd({"backup", full, "--config", config, "--data-dir", hoistd_.data_dir()}, out_file(), out), 73)
      << out;
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  const std::string target = hoistd_.dir() + "/elsewhere";
  ASSERT_EQ(::mkdir(target.c_str(), 0755), 0);
  const std::string link = hoistd_.dir() + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(hoistd_cmd({"backup", link, "--config", config, "--data-dir", hoistd_.data_dir()}, out_file(), out), 73)
      << out;
  EXPECT_TRUE(std::filesystem::is_empty(target)) << "the backup followed the symlink";

  // A good backup, then its dump changed by one byte: refused by the
  // manifest's SHA-256.
  const std::string backup = hoistd_.dir() + "/backup";
  ASSERT_EQ(hoistd_cmd({"backup", backup, "--config", config, "--data-dir", hoistd_.data_dir()}, out_file(), out), 0)
      << out;
  ASSERT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 0) << out;
  const std::string dump = backup + "/data/hoist.dump";
  const std::string original = slurp(dump);
  ASSERT_GT(original.size(), 1000U);
  std::string bytes = original;
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x55);
  {
    std::ofstream tampered(dump, std::ios::trunc | std::ios::binary);
    tampered << bytes;
  }
  EXPECT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 65) << out;
  EXPECT_NE(out.find("does not match its SHA-256"), std::string::npos) << out;

  // A forged trail: an audit event's actor rewritten in the database.
  // hoistd backup refuses to take it (the chain does not verify in the
  // snapshot) and leaves nothing.
  ASSERT_EQ(hoistd_.stop(), 0);  // CREATE DATABASE ... TEMPLATE needs the template unused
  ASSERT_TRUE(cluster_.psql("CREATE DATABASE forged TEMPLATE hoist OWNER hoistpw")) << cluster_.error();
  ASSERT_TRUE(cluster_.psql("UPDATE audit_events SET actor = 'nobody' WHERE seq = 2", nullptr, "forged"));
  const std::string forged = hoistd_.dir() + "/forged";
  EXPECT_EQ(hoistd_cmd({"backup", forged, "--config", write_config("forged"), "--data-dir", hoistd_.data_dir()},
                       out_file(), out),
            65)
      << out;
  EXPECT_NE(out.find("does not verify"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(forged)) << "a backup that does not check was left";

  // The forged database's dump put into the good backup, the manifest
  // fixed up (as whoever can write the backup would): check-backup reads
  // the trail out of the dump and refuses it; restore likewise, and
  // writes nothing, neither the data directory nor the database.
  ::unlink(dump.c_str());
  ::unlink(out_file().c_str());
  ASSERT_EQ(run({std::string(kPgBin) + "/pg_dump", "--format=custom", "--file=" + dump,
                 "--dbname=" + cluster_.conninfo("forged")},
                out_file()),
            0)
      << slurp(out_file());
  ASSERT_EQ(::chmod(dump.c_str(), 0600), 0);
  fix_up_manifest(backup, "hoist.dump");
  EXPECT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 65) << out;
  EXPECT_NE(out.find("the audit trail in the dump does not verify at event 2"), std::string::npos) << out;
  const std::string restored_dir = hoistd_.dir() + "/restored";
  EXPECT_EQ(hoistd_cmd({"restore", backup, "--config", write_config("hoist_new"), "--data-dir", restored_dir},
                       out_file(), out),
            65)
      << out;
  EXPECT_FALSE(std::filesystem::exists(restored_dir));
  std::string tables;
  ASSERT_TRUE(cluster_.psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &tables, "hoist_new"));
  EXPECT_EQ(tables, "0\n");
}

}  // namespace
}  // namespace hoist::testing
