// hoistd backup, check-backup and restore on PostgreSQL, attacked (issue
// 21, item 6; docs/backup.md, "Who could abuse what"): the real hoistd on
// a PostgreSQL cluster of the test's own (support/pg_cluster.h).
//
// The attacker holds hoistd's database role for a while (a stolen
// password_file, a compromised replica) or can write a backup, and wants
// to keep a foothold through the recovery docs/hoistd.md prescribes (stop
// hoistd, restore a backup into a new database). A trigger on `users`
// that makes every user it writes an admin rides a pg_dump archive
// untouched: pg_restore runs whatever SQL the archive holds, and neither
// the audit chain nor the manifest says a word about it. Once restored it
// runs as hoistd's role on every write. The archive's entry labels
// (FUNCTION, TRIGGER) are the crafter's to choose: relabelled "SEQUENCE"
// and "DEFAULT" (same lengths, a byte patch), pg_restore --list shows
// nothing odd and pg_restore still creates them.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "agent/e2e_harness.h"
#include "core/sha256.h"
#include "support/pg_cluster.h"

namespace hoist::testing {
namespace {

int hoistd_cmd(const std::vector<std::string>& args, const std::string& out_file, std::string& out) {
  std::vector<std::string> argv = {HoistdProcess::default_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  ::unlink(out_file.c_str());
  const int status = run(argv, out_file);
  out = slurp(out_file);
  return status;
}

// Promotes every user written to admin: a foothold that survives a
// restore of a backup taken while it was planted.
constexpr std::string_view kPlant = R"sql(
SET ROLE hoistpw;
CREATE FUNCTION public.promote() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.role := 'admin'; RETURN NEW; END $$;
CREATE TRIGGER promote BEFORE INSERT OR UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.promote();
)sql";

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

// The custom format's strings: a sign byte, a 4-byte little-endian length,
// the bytes. Relabels every entry of kind `from` as `to` (same length).
std::size_t relabel(std::string& archive, std::string_view from, std::string_view to) {
  std::string prefix(5, '\0');
  prefix[1] = static_cast<char>(from.size());
  const std::string old_kind = prefix + std::string(from);
  const std::string new_kind = prefix + std::string(to);
  std::size_t n = 0;
  for (auto at = archive.find(old_kind); at != std::string::npos; at = archive.find(old_kind, at + 1)) {
    archive.replace(at, old_kind.size(), new_kind);
    ++n;
  }
  return n;
}

class PgBackupAttack : public AgentE2E {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.start()) << cluster_.error();
    ASSERT_TRUE(cluster_.psql("CREATE ROLE hoistpw LOGIN")) << cluster_.error();
    for (const char* db : {"hoist", "hoist_new"}) {
      ASSERT_TRUE(cluster_.psql(fmt::format("CREATE DATABASE {} OWNER hoistpw", db))) << cluster_.error();
    }
    hoistd_.options().config_toml = config_for("hoist");
    AgentE2E::SetUp();
  }

  std::string config_for(const std::string& db) const {
    const std::string conninfo = cluster_.conninfo();
    const auto at = conninfo.find("port=") + 5;
    const std::string port = conninfo.substr(at, conninfo.find(' ', at) - at);
    return fmt::format(
        "[database]\nbackend = \"postgres\"\nurl = \"host=127.0.0.1 port={} user=hoistpw dbname={}\"\npool_size = 4\n",
        port, db);
  }
  std::string write_config(const std::string& db) {
    const std::string path = hoistd_.dir() + "/" + db + ".toml";
    std::ofstream(path, std::ios::trunc) << config_for(db);
    return path;
  }
  std::string out_file() const { return hoistd_.dir() + "/cmd.out"; }
  std::string query(const std::string& sql, const std::string& db) {
    std::string out;
    EXPECT_TRUE(cluster_.psql(sql, &out, db)) << cluster_.error();
    return out;
  }
  // Whether a user written into `db` comes out an admin (the foothold).
  bool promotes(const std::string& db) {
    std::string out;
    if (!cluster_.psql("INSERT INTO users VALUES ('eve', 'auditor', 'x', 0, 0, 1); SELECT role FROM users WHERE "
                       "name = 'eve'; DELETE FROM users WHERE name = 'eve'",
                       &out, db)) {
      return false;
    }
    return out.find("admin") != std::string::npos;
  }

  PgCluster cluster_;
};

TEST_F(PgBackupAttack, CodePlantedInTheDatabaseDoesNotRideABackupIntoARestore) {
  std::string out;
  // A good backup first (the one the attacker's dump goes into).
  const std::string backup = hoistd_.dir() + "/backup";
  ASSERT_EQ(hoistd_cmd({"backup", backup, "--config", write_config("hoist"), "--data-dir", hoistd_.data_dir()},
                       out_file(), out),
            0)
      << out;
  ASSERT_EQ(hoistd_.stop(), 0);  // CREATE DATABASE ... TEMPLATE needs the template unused

  // The foothold, planted with hoistd's role; the trail still verifies.
  ASSERT_TRUE(cluster_.psql("CREATE DATABASE planted TEMPLATE hoist OWNER hoistpw")) << cluster_.error();
  ASSERT_TRUE(cluster_.psql(std::string(kPlant), nullptr, "planted")) << cluster_.error();
  ASSERT_TRUE(promotes("planted")) << "the plant does not work: the test proves nothing";

  // 1. hoistd backup of the planted database refuses to take it.
  const std::string taken = hoistd_.dir() + "/taken";
  EXPECT_EQ(hoistd_cmd({"backup", taken, "--config", write_config("planted"), "--data-dir", hoistd_.data_dir()},
                       out_file(), out),
            65)
      << out;
  EXPECT_NE(out.find("trigger promote on users, function promote()"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(taken)) << "a backup carrying the plant was left";

  // 2. The planted database's dump put into the good backup, the manifest
  // fixed up: check-backup and restore refuse it, nothing restored.
  const std::string dump = backup + "/data/hoist.dump";
  ::unlink(dump.c_str());
  ::unlink(out_file().c_str());
  ASSERT_EQ(run({std::string(kPgBin) + "/pg_dump", "--format=custom", "--file=" + dump,
                 "--dbname=" + cluster_.conninfo("planted")},
                out_file()),
            0)
      << slurp(out_file());
  ASSERT_EQ(::chmod(dump.c_str(), 0600), 0);
  fix_up_manifest(backup, "hoist.dump");
  EXPECT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 65) << out;
  EXPECT_NE(out.find("FUNCTION public promote()"), std::string::npos) << out;
  const std::string restored = hoistd_.dir() + "/restored";
  EXPECT_NE(
      hoistd_cmd({"restore", backup, "--config", write_config("hoist_new"), "--data-dir", restored}, out_file(), out),
      0)
      << out;
  EXPECT_FALSE(std::filesystem::exists(restored));
  EXPECT_EQ(query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "hoist_new"), "0\n");
  EXPECT_EQ(query("SELECT count(*) FROM pg_proc WHERE proname = 'promote'", "hoist_new"), "0\n");
  EXPECT_FALSE(promotes("hoist_new")) << "the restored database makes every user written an admin";

  // 3. The same dump, its FUNCTION and TRIGGER relabelled SEQUENCE and
  // DEFAULT: pg_restore --list shows nothing odd, so check-backup passes;
  // restore finds them in the restored catalog, refuses and drops the
  // tables (and with them the trigger). The function stays: the message
  // says to drop the database.
  std::string bytes = slurp(dump);
  ASSERT_GE(relabel(bytes, "FUNCTION", "SEQUENCE"), 1U);  // hoistd's own functions too
  ASSERT_EQ(relabel(bytes, "TRIGGER", "DEFAULT"), 1U);
  {
    std::ofstream patched(dump, std::ios::trunc | std::ios::binary);
    patched << bytes;
  }
  fix_up_manifest(backup, "hoist.dump");
  ASSERT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 0) << out;
  EXPECT_EQ(
      hoistd_cmd({"restore", backup, "--config", write_config("hoist_new"), "--data-dir", restored}, out_file(), out),
      65)
      << out;
  EXPECT_NE(out.find("trigger promote on users, function promote()"), std::string::npos) << out;
  EXPECT_NE(out.find("dropdb"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(restored));
  EXPECT_EQ(query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "hoist_new"), "0\n");
  EXPECT_EQ(query("SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal", "hoist_new"), "0\n");
}

// hoistd's own function that counts failed logins, rewritten to let
// every guess through (guesses over the replicas unlimited), is not one a
// backup takes or a restore brings back, though its name is hoistd's.
TEST_F(PgBackupAttack, HoistdsOwnFunctionChangedIsNotBackedUpNorRestored) {
  std::string out;
  const std::string backup = hoistd_.dir() + "/backup";
  ASSERT_EQ(hoistd_cmd({"backup", backup, "--config", write_config("hoist"), "--data-dir", hoistd_.data_dir()},
                       out_file(), out),
            0)
      << out;
  ASSERT_EQ(hoistd_.stop(), 0);
  ASSERT_TRUE(cluster_.psql("CREATE DATABASE planted TEMPLATE hoist OWNER hoistpw")) << cluster_.error();
  ASSERT_TRUE(
      cluster_.psql("SET ROLE hoistpw; CREATE OR REPLACE FUNCTION hoist_begin_login(user_key TEXT, "
                    "address_key TEXT, free_failures BIGINT, base_s BIGINT, max_s BIGINT, forget_s BIGINT) "
                    "RETURNS BIGINT LANGUAGE plpgsql AS $$ BEGIN RETURN 0; END $$",
                    nullptr, "planted"))
      << cluster_.error();

  const std::string taken = hoistd_.dir() + "/taken";
  EXPECT_EQ(hoistd_cmd({"backup", taken, "--config", write_config("planted"), "--data-dir", hoistd_.data_dir()},
                       out_file(), out),
            65)
      << out;
  EXPECT_NE(out.find("function hoist_begin_login(text,text,bigint,bigint,bigint,bigint) (changed from hoistd's own)"),
            std::string::npos)
      << out;
  EXPECT_FALSE(std::filesystem::exists(taken));

  // Its dump in a backup, the manifest fixed up: the listing names only
  // hoistd's function, so check-backup passes; restore reads the body in
  // the restored catalog and refuses.
  const std::string dump = backup + "/data/hoist.dump";
  ::unlink(dump.c_str());
  ::unlink(out_file().c_str());
  ASSERT_EQ(run({std::string(kPgBin) + "/pg_dump", "--format=custom", "--file=" + dump,
                 "--dbname=" + cluster_.conninfo("planted")},
                out_file()),
            0)
      << slurp(out_file());
  ASSERT_EQ(::chmod(dump.c_str(), 0600), 0);
  fix_up_manifest(backup, "hoist.dump");
  ASSERT_EQ(hoistd_cmd({"check-backup", backup}, out_file(), out), 0) << out;
  const std::string restored = hoistd_.dir() + "/restored";
  EXPECT_EQ(
      hoistd_cmd({"restore", backup, "--config", write_config("hoist_new"), "--data-dir", restored}, out_file(), out),
      65)
      << out;
  EXPECT_NE(out.find("(changed from hoistd's own)"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(restored));
  EXPECT_EQ(query("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "hoist_new"), "0\n");
}

}  // namespace
}  // namespace hoist::testing
