#include "server/backup/pg_backup.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <thread>

#include "pg/conn.h"
#include "platform/unique_fd.h"
#include "server/backup/pg_tools.h"
#include "store/pg_backend.h"
#include "store/store.h"

namespace hoist::backup {

namespace {

using platform::UniqueFd;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxStderr = std::size_t{64} * 1024;
// As backup.cpp's move_push_sequence_ahead: an agent whose push cursor went
// past the backup must still get the restored hoistd's messages.
constexpr std::int64_t kPushSeqJump = std::int64_t{1} << 32;
// The session that exports the snapshot waits inside its transaction while
// pg_dump runs: its idle limit (pg::Conn sets it from the round trip) must
// outlast the dump.
constexpr std::chrono::milliseconds kDumpDeadline = std::chrono::hours(6);

std::string errno_text(int err) {
  return std::system_category().message(err);
}

class RealRunner final : public ProcessRunner {
 public:
  Result<ChildResult> run(const ChildSpec& spec) override {
    if (spec.argv.empty() || spec.argv[0].empty() || spec.argv[0][0] != '/') {
      return invalid_argument("a child is run by its absolute path only");
    }
    // Everything the child needs is made before fork: after it, only
    // async-signal-safe calls.
    std::vector<char*> argv;
    for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    std::array<int, 2> out_pipe{-1, -1};
    std::array<int, 2> err_pipe{-1, -1};
    const bool capture = spec.stdout_fd < 0;
    if ((capture && ::pipe2(out_pipe.data(), O_CLOEXEC) != 0) || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
      return unavailable("pipe: " + errno_text(errno));
    }
    UniqueFd out_r(out_pipe[0]);
    UniqueFd out_w(out_pipe[1]);
    UniqueFd err_r(err_pipe[0]);
    UniqueFd err_w(err_pipe[1]);
    UniqueFd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const int in_fd = spec.stdin_fd >= 0 ? spec.stdin_fd : null_in.get();
    const int stdout_fd = capture ? out_w.get() : spec.stdout_fd;
    const pid_t pid = ::fork();
    if (pid < 0) return unavailable("fork: " + errno_text(errno));
    if (pid == 0) {
      if (::dup2(in_fd, 0) < 0 || ::dup2(stdout_fd, 1) < 0 || ::dup2(err_w.get(), 2) < 0) ::_exit(126);
      ::umask(077);
      // Every other descriptor of hoistd's is O_CLOEXEC.
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    out_w.reset();
    err_w.reset();
    ChildResult result;
    const auto deadline = Clock::now() + spec.timeout;
    bool too_much = false;
    bool timed_out = false;
    std::array<char, 65536> buf{};
    while (out_r.valid() || err_r.valid()) {
      std::array<pollfd, 2> fds{pollfd{out_r.valid() ? out_r.get() : -1, POLLIN, 0},
                                pollfd{err_r.valid() ? err_r.get() : -1, POLLIN, 0}};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        timed_out = true;
        break;
      }
      const int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left, 1000)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        UniqueFd& fd = i == 0 ? out_r : err_r;
        std::string& into = i == 0 ? result.out : result.err;
        const ssize_t got = ::read(fd.get(), buf.data(), buf.size());
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          fd.reset();
          continue;
        }
        const std::size_t cap = i == 0 ? spec.max_output : kMaxStderr;
        if (into.size() + static_cast<std::size_t>(got) > cap) {
          if (i == 0) too_much = true;
          into.append(buf.data(), cap - std::min(cap, into.size()));
        } else {
          into.append(buf.data(), static_cast<std::size_t>(got));
        }
      }
      if (too_much) break;
    }
    int status = 0;
    if (timed_out || too_much) {
      ::kill(pid, SIGKILL);
    } else {
      // The pipes closed; wait for the exit within the deadline too.
      while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() >= deadline) {
          timed_out = true;
          ::kill(pid, SIGKILL);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (!timed_out) {
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return result;
      }
    }
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (too_much) return unavailable(fmt::format("{} wrote more than {} bytes", spec.argv[0], spec.max_output));
    return unavailable(fmt::format("{} did not finish within {} s and was killed", spec.argv[0],
                                   std::chrono::duration_cast<std::chrono::seconds>(spec.timeout).count()));
  }
};

std::string first_line(const std::string& text) {
  std::string t = text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t.empty() ? std::string("(no message)") : t;
}

// The installed postgresql-client-N under `root`, each holding `tool`.
std::vector<pg_tools::Installed> installed_tools(const std::string& root, std::string_view tool) {
  std::vector<pg_tools::Installed> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos || name.size() > 4) continue;
    const std::string bin = entry.path().string() + "/bin";
    if (::access((bin + "/" + std::string(tool)).c_str(), X_OK) != 0) continue;
    out.push_back({std::stoi(name), bin});
  }
  return out;
}

// The bin directory whose `tool` reads a server of `server_major` (0: the
// newest installed), its version confirmed by running it.
Result<std::string> tool_dir(const std::string& root, std::string_view tool, int server_major, ProcessRunner& runner) {
  auto installed = installed_tools(root, tool);
  if (server_major == 0) {
    for (const auto& i : installed) server_major = std::max(server_major, i.major);
    if (server_major == 0) {
      return unavailable(fmt::format("no {} is installed under {}/N/bin: install postgresql-client", tool, root));
    }
  }
  auto dir = pg_tools::choose_bin_dir(installed, server_major, tool);
  if (!dir.ok()) return dir.error();
  ChildSpec spec;
  spec.argv = pg_tools::version_argv(*dir, tool);
  spec.env = pg_tools::child_environment({});
  spec.timeout = std::chrono::seconds(30);
  auto ran = runner.run(spec);
  if (!ran.ok()) return ran.error();
  if (ran->exit_code != 0)
    return unavailable(fmt::format("{}/{} --version failed: {}", *dir, tool, first_line(ran->err)));
  auto major = pg_tools::parse_tool_major(ran->out);
  if (!major.ok()) return major.error();
  if (*major < server_major) {
    return unavailable(
        fmt::format("{}/{} is version {}, older than the PostgreSQL server ({}): install "
                    "postgresql-client-{}",
                    *dir, tool, *major, server_major, server_major));
  }
  return dir;
}

// The password for a child, in a PGPASSFILE of its own: 0600 in a 0700
// directory of mkdtemp's, both removed when this goes.
class PassFile {
 public:
  static Result<std::unique_ptr<PassFile>> make(const std::string& password) {
    std::unique_ptr<PassFile> f(new PassFile());
    if (password.empty()) return f;
    auto line = pg_tools::pgpass_line(password);
    if (!line.ok()) return line.error();
    std::string tmpl = "/tmp/hoistd-pgpass-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      return unavailable("cannot create a private directory: " + errno_text(errno));
    f->dir_ = tmpl;
    f->path_ = tmpl + "/pgpass";
    UniqueFd fd(::open(f->path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return unavailable("cannot create " + f->path_ + ": " + errno_text(errno));
    if (::fchmod(fd.get(), 0600) != 0 ||
        ::write(fd.get(), line->data(), line->size()) != static_cast<ssize_t>(line->size())) {
      return unavailable("cannot write " + f->path_ + ": " + errno_text(errno));
    }
    return f;
  }
  ~PassFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  PassFile(const PassFile&) = delete;
  PassFile& operator=(const PassFile&) = delete;
  [[nodiscard]] std::optional<std::string> path() const {
    return path_.empty() ? std::nullopt : std::optional<std::string>(path_);
  }

 private:
  PassFile() = default;
  std::string dir_;
  std::string path_;
};

std::vector<std::string> env_for(const PassFile& pass, const store::PostgresOptions& db) {
  pg_tools::ChildEnv env;
  env.pgpassfile = pass.path();
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts a child
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') env.home = home;
  env.connect_timeout_s = db.connect_timeout_s;
  return pg_tools::child_environment(env);
}

Result<std::unique_ptr<pg::Conn>> connect(const store::PostgresOptions& db, const std::string& who) {
  if (auto st = pg::check_conninfo(db.conninfo); !st.ok()) return st.error();
  pg::ConnOptions o;
  o.conninfo = db.conninfo;
  o.password = db.password;
  o.noun = "PostgreSQL database";
  o.application_name = who;
  o.connect_timeout_s = db.connect_timeout_s;
  o.round_trip_timeout = kDumpDeadline;
  return pg::Conn::open(o);
}

Result<int> server_major(pg::Conn& conn) {
  auto rows = conn.query("SELECT current_setting('server_version_num')::int", "read the server's version");
  if (!rows.ok()) return rows.error();
  return static_cast<int>(rows->row(0).int_at(0) / 10000);
}

// The schema version and the audit chain, verified page by page, as the
// open transaction sees them.
Result<DatabaseFacts> facts_in(pg::Conn& conn) {
  DatabaseFacts facts;
  facts.path = std::string(pg_tools::kDumpName);
  auto version = conn.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", "read the schema version");
  if (!version.ok()) return version.error();
  facts.schema_version = static_cast<int>(version->row(0).int_at(0));
  std::optional<ChainHead> head;
  for (;;) {
    // The store's own query and decoding (pg_audit.cpp).
    auto rows = conn.query(
        "SELECT seq, time_ms, actor, action, target, host, details, prev_hash, hash FROM audit_events WHERE seq > $1 "
        "ORDER BY seq LIMIT 1000",
        "read the audit trail", static_cast<std::int64_t>(head ? head->seq : 0));
    if (!rows.ok()) return rows.error();
    if (rows->empty()) break;
    std::vector<AuditEvent> page;
    for (int i = 0; i < rows->size(); ++i) {
      const auto r = rows->row(i);
      AuditEvent e;
      e.seq = static_cast<std::uint64_t>(r.int_at(0));
      e.time = AuditTime{std::chrono::milliseconds{r.int_at(1)}};
      e.actor = r.text_at(2);
      e.action = r.text_at(3);
      e.target = r.text_at(4);
      e.host = r.text_at(5);
      e.details = r.text_at(6);
      if (auto h = Sha256::from_hex(r.text_at(7)); h.ok()) e.prev_hash = *h;
      if (auto h = Sha256::from_hex(r.text_at(8)); h.ok()) e.hash = *h;
      page.push_back(std::move(e));
    }
    const auto verified = verify_chain(page, head);
    if (!verified.ok) {
      return invalid_argument(fmt::format("the audit trail in PostgreSQL does not verify at event {}: {}",
                                          verified.first_bad_seq.value_or(0), verified.problem));
    }
    facts.audit_events += verified.events_checked;
    head = ChainHead{page.back().seq, page.back().hash};
  }
  if (head) {
    facts.audit_head_seq = head->seq;
    facts.audit_head_hash = head->hash.hex();
  }
  return facts;
}

Result<UniqueFd> open_dump(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return unavailable("cannot open the dump: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) return invalid_argument("the dump is not a regular file");
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return unavailable("cannot read the dump: " + errno_text(errno));
  }
  return fd;
}

// The functions hoistd's migrations make (pg_tools::own_functions).
Result<std::vector<pg_tools::OwnFunction>> own_functions() {
  return pg_tools::own_functions(store::postgres_migrations());
}

// pg_restore --list, then the COPY text of audit_events and
// schema_migrations: what the dump holds, checked.
Result<DatabaseFacts> inspect(const std::string& tools_root, ProcessRunner& runner, int dump_fd) {
  auto dir = tool_dir(tools_root, "pg_restore", 0, runner);
  if (!dir.ok()) return dir.error();
  ChildSpec spec;
  spec.env = pg_tools::child_environment({});
  spec.stdin_fd = dump_fd;
  spec.argv = pg_tools::list_argv(*dir);
  if (::lseek(dump_fd, 0, SEEK_SET) != 0) return unavailable("cannot read the dump: " + errno_text(errno));
  auto listed = runner.run(spec);
  if (!listed.ok()) return listed.error();
  if (listed->exit_code != 0) {
    return invalid_argument(fmt::format("pg_restore --list cannot read the dump: {}", first_line(listed->err)));
  }
  auto own = own_functions();
  if (!own.ok()) return own.error();
  if (auto st = pg_tools::check_listing(listed->out, *own); !st.ok()) return st.error();
  spec.argv = pg_tools::data_argv(*dir);
  if (::lseek(dump_fd, 0, SEEK_SET) != 0) return unavailable("cannot read the dump: " + errno_text(errno));
  auto data = runner.run(spec);
  if (!data.ok()) return data.error();
  if (data->exit_code != 0) {
    return invalid_argument(fmt::format("pg_restore cannot read the dump's audit trail: {}", first_line(data->err)));
  }
  auto contents = pg_tools::parse_dump_data(data->out);
  if (!contents.ok()) return contents.error();
  return pg_tools::facts_of(*contents);
}

Status exec_sql(pg::Conn& conn, const std::string& sql, std::string_view what) {
  return conn.exec(sql, what);
}

// The tables of the database's schemas (not PostgreSQL's own).
Result<std::vector<std::string>> user_tables(pg::Conn& conn) {
  auto rows = conn.query(
      "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables WHERE schemaname NOT IN "
      "('pg_catalog', 'information_schema') ORDER BY 1",
      "list the tables");
  if (!rows.ok()) return rows.error();
  std::vector<std::string> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(rows->row(i).text_at(0));
  return out;
}

// Refuses a database that holds any table, as hoistd migrate refuses one
// with rows; a live lease names the hoistd that serves it.
Status refuse_unless_empty(pg::Conn& conn) {
  auto tables = user_tables(conn);
  if (!tables.ok()) return tables.error();
  if (tables->empty()) return {};
  if (std::find(tables->begin(), tables->end(), "public.leases") != tables->end()) {
    auto live = conn.query("SELECT name, holder FROM leases WHERE expires_at > clock_timestamp() ORDER BY name LIMIT 1",
                           "read the leases");
    if (live.ok() && !live->empty()) {
      return conflict(fmt::format(
          "a hoistd serves this PostgreSQL database (it holds the lease {} as {}): stop every hoistd replica, and "
          "restore into a new, empty database (createdb) named in [database] url; nothing was written",
          live->row(0).text_at(0), live->row(0).text_at(1)));
    }
  }
  return conflict(fmt::format(
      "the PostgreSQL database is not empty (it holds {} tables, {} among them): hoistd restore writes into an "
      "empty database only and never merges; nothing was written. Create a new database (createdb) and name it in "
      "[database] url",
      tables->size(), tables->front()));
}

// What a restore must not bring besides hoistd's tables: code or ways to
// code in the database (functions and procedures other than hoistd's own
// as its migrations wrote them, triggers, event triggers, rules, policies,
// operators, views, extensions, schemas), read from the catalog rather than from the
// archive's labels (which whoever crafts a dump chooses). "" when none.
Result<std::string> foreign_objects(pg::Conn& conn) {
  constexpr std::string_view kOurs =
      "NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE "
      "'pg\\_temp%'";
  const std::string sql = fmt::format(
      "SELECT string_agg(what, ', ') FROM (SELECT what FROM ("
      "SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass::text AS what FROM pg_trigger t WHERE NOT "
      "t.tgisinternal "
      "UNION ALL SELECT 'rule ' || r.rulename || ' on ' || r.ev_class::regclass::text FROM pg_rewrite r JOIN pg_class "
      "c "
      "ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname {0} "
      "UNION ALL SELECT 'policy ' || p.polname || ' on ' || p.polrelid::regclass::text FROM pg_policy p "
      "UNION ALL SELECT 'operator ' || o.oid::regoperator::text FROM pg_operator o JOIN pg_namespace n ON n.oid = "
      "o.oprnamespace WHERE n.nspname {0} "
      "UNION ALL SELECT 'relation ' || c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = "
      "c.relnamespace WHERE c.relkind NOT IN ('r', 'i', 'S', 't') AND n.nspname {0} "
      "UNION ALL SELECT 'extension ' || e.extname FROM pg_extension e WHERE e.extname <> 'plpgsql' "
      "UNION ALL SELECT 'event trigger ' || v.evtname FROM pg_event_trigger v "
      "UNION ALL SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE n.nspname <> 'public' AND n.nspname {0}"
      ") o ORDER BY what LIMIT 5) q",
      kOurs);
  auto rows = conn.query(sql, "look for code in the database");
  if (!rows.ok()) return rows.error();
  std::string found = rows->empty() ? std::string() : rows->row(0).text_at(0);
  // Functions: hoistd's own only, as its migrations wrote them.
  auto own = own_functions();
  if (!own.ok()) return own.error();
  auto functions = conn.query(fmt::format("SELECT p.oid::regprocedure::text, l.lanname, p.prosrc, p.prosecdef, "
                                          "p.proconfig IS NOT NULL FROM pg_proc p JOIN pg_namespace n ON n.oid = "
                                          "p.pronamespace JOIN pg_language l ON l.oid = p.prolang WHERE n.nspname {0} "
                                          "ORDER BY 1",
                                          kOurs),
                              "look for functions in the database");
  if (!functions.ok()) return functions.error();
  for (int i = 0; i < functions->size(); ++i) {
    const auto r = functions->row(i);
    const pg_tools::FoundFunction f{r.text_at(0), r.text_at(1), r.text_at(2), r.text_at(3) == "t", r.text_at(4) == "t"};
    if (pg_tools::is_own_function(f, *own)) continue;
    if (std::count(found.begin(), found.end(), ',') >= 8) break;
    found += (found.empty() ? "function " : ", function ") + f.signature +
             (own->end() != std::find_if(own->begin(), own->end(),
                                         [&](const pg_tools::OwnFunction& o) { return o.signature == f.signature; })
                  ? " (changed from hoistd's own)"
                  : "");
  }
  return found;
}

// After a failure past pg_restore: the tables it made dropped again (the
// database held none before).
void drop_restored(pg::Conn& conn) {
  auto tables = user_tables(conn);
  if (!tables.ok() || tables->empty()) return;
  std::string names;
  for (const auto& t : *tables) names += (names.empty() ? "" : ", ") + t;
  (void)exec_sql(conn, "BEGIN; DROP TABLE IF EXISTS " + names + " CASCADE; COMMIT", "drop the restored tables");
  if (conn.usable() && conn.in_transaction()) (void)conn.exec("ROLLBACK", "roll back");
}

}  // namespace

std::unique_ptr<ProcessRunner> real_process_runner() {
  return std::make_unique<RealRunner>();
}

std::function<Result<DatabaseFacts>(int, const std::string&)> pg_dumper(const PgBackupOptions& options,
                                                                        ProcessRunner& runner) {
  return [options, &runner](int dirfd, const std::string& name) -> Result<DatabaseFacts> {
    const auto say = [&](const std::string& line) {
      if (options.progress) options.progress(line);
    };
    auto conn = connect(options.database, "hoistd backup");
    if (!conn.ok()) return conn.error();
    auto major = server_major(**conn);
    if (!major.ok()) return major.error();
    auto dir = tool_dir(options.tools_root, "pg_dump", *major, runner);
    if (!dir.ok()) return dir.error();
    auto pass = PassFile::make(options.database.password);
    if (!pass.ok()) return pass.error();
    UniqueFd out(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.valid()) {
      const int err = errno;
      if (err == ENOSPC || err == EDQUOT) return unavailable("cannot create the dump: the disk is full");
      return unavailable("cannot create the dump: " + errno_text(err));
    }

    // One snapshot for pg_dump and for the checks.
    if (auto st = (*conn)->exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin the backup's snapshot");
        !st.ok()) {
      return st.error();
    }
    auto snapshot = (*conn)->query("SELECT pg_export_snapshot()", "export the snapshot");
    if (!snapshot.ok()) return snapshot.error();
    ChildSpec spec;
    spec.argv = pg_tools::dump_argv(*dir, options.database.conninfo, snapshot->row(0).text_at(0));
    spec.env = env_for(**pass, options.database);
    spec.stdout_fd = out.get();
    spec.timeout = kDumpDeadline;
    const auto started = Clock::now();
    Result<ChildResult> dumped = unavailable("pg_dump did not run");
    std::thread child([&] { dumped = runner.run(spec); });
    auto in_snapshot = facts_in(**conn);
    // Nor is code someone planted in the database carried into a backup
    // (the same check as a restore's, in the same snapshot).
    if (in_snapshot.ok()) {
      auto foreign = foreign_objects(**conn);
      if (!foreign.ok()) {
        in_snapshot = foreign.error();
      } else if (!foreign->empty()) {
        in_snapshot = invalid_argument(fmt::format(
            "the PostgreSQL database holds what hoistd's schema never makes, code that would run as hoistd's role: "
            "{}. Someone with hoistd's database role planted it, or changed hoistd's own: nothing was backed up",
            *foreign));
      }
    }
    child.join();
    (void)(*conn)->exec("COMMIT", "end the backup's snapshot");
    if (!dumped.ok()) return dumped.error();
    if (dumped->exit_code != 0) {
      return unavailable(fmt::format("pg_dump failed: {}", first_line(dumped->err)));
    }
    if (!in_snapshot.ok()) return in_snapshot.error();
    if (::fsync(out.get()) != 0) {
      const int err = errno;
      if (err == ENOSPC || err == EDQUOT) return unavailable("cannot write the dump: the disk is full");
      return unavailable("cannot write the dump to disk: " + errno_text(err));
    }
    say(fmt::format("pg_dump ({}) took {} ms", *dir,
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()));

    // The dump counts once it reads back to the head the snapshot saw.
    auto dump_fd = open_dump(fmt::format("/proc/self/fd/{}/{}", dirfd, name));
    if (!dump_fd.ok()) return dump_fd.error();
    auto in_dump = inspect(options.tools_root, runner, dump_fd->get());
    if (!in_dump.ok()) return in_dump.error();
    if (*in_dump != *in_snapshot) {
      return internal_error(fmt::format(
          "the dump holds {} audit events to seq {} at schema {}, but its snapshot held {} to seq {} at schema {}",
          in_dump->audit_events, in_dump->audit_head_seq, in_dump->schema_version, in_snapshot->audit_events,
          in_snapshot->audit_head_seq, in_snapshot->schema_version));
    }
    return in_dump;
  };
}

std::function<Result<DatabaseFacts>(const std::string&)> pg_inspector(const std::string& tools_root,
                                                                      ProcessRunner& runner) {
  return [tools_root, &runner](const std::string& path) -> Result<DatabaseFacts> {
    auto fd = open_dump(path);
    if (!fd.ok()) return fd.error();
    return inspect(tools_root, runner, fd->get());
  };
}

std::function<Status(const Manifest&, const std::string&)> pg_restorer(const PgBackupOptions& options,
                                                                       ProcessRunner& runner) {
  return [options, &runner](const Manifest& m, const std::string& dump_path) -> Status {
    const auto say = [&](const std::string& line) {
      if (options.progress) options.progress(line);
    };
    auto conn = connect(options.database, "hoistd restore");
    if (!conn.ok()) return conn.error();
    // Held while pg_restore runs: a hoistd starting meanwhile waits to
    // migrate, then finds the restored schema.
    const std::string lock = fmt::format("SELECT pg_advisory_lock({})", store::pg_backend::kMigrateLock);
    if (auto st = (*conn)->exec(lock, "take the migration lock"); !st.ok()) return st.error();
    if (auto st = refuse_unless_empty(**conn); !st.ok()) return st;
    auto major = server_major(**conn);
    if (!major.ok()) return major.error();
    auto dir = tool_dir(options.tools_root, "pg_restore", *major, runner);
    if (!dir.ok()) return dir.error();
    auto pass = PassFile::make(options.database.password);
    if (!pass.ok()) return pass.error();
    auto dump = open_dump(dump_path);
    if (!dump.ok()) return dump.error();
    ChildSpec spec;
    spec.argv = pg_tools::restore_argv(*dir, options.database.conninfo);
    spec.env = env_for(**pass, options.database);
    spec.stdin_fd = dump->get();
    spec.timeout = kDumpDeadline;
    const auto started = Clock::now();
    auto restored = runner.run(spec);
    if (!restored.ok()) return restored.error();
    if (restored->exit_code != 0) {
      return unavailable(
          fmt::format("pg_restore failed (the database was left as it was): {}", first_line(restored->err)));
    }
    say(fmt::format("pg_restore ({}) took {} ms", *dir,
                    std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()));
    // Before the migration lock goes (a hoistd starting meanwhile waits on
    // it) and before the store opens: nothing writes through whatever
    // triggers a crafted dump made.
    const auto no_code = [&]() -> Status {
      auto foreign = foreign_objects(**conn);
      if (!foreign.ok()) return foreign.error();
      if (!foreign->empty()) {
        return invalid_argument(fmt::format(
            "the restored database holds what a backup of hoistd's never holds, code that would run as hoistd's "
            "role: {}. The dump was not made by hoistd backup from hoistd's schema, or its database held code "
            "someone planted: drop this database (dropdb) and restore an older backup",
            *foreign));
      }
      return {};
    }();
    if (!no_code.ok()) {
      drop_restored(**conn);
      return Error{no_code.error().code,
                   fmt::format("{} (the restored tables were dropped again)", no_code.error().message)};
    }
    (void)(*conn)->exec(fmt::format("SELECT pg_advisory_unlock({})", store::pg_backend::kMigrateLock),
                        "give up the migration lock");

    const auto checked = [&]() -> Status {
      store::PostgresOptions store_options = options.database;
      store_options.pool_size = 2;
      store_options.application_name = "hoistd restore";
      auto opened = store::open_postgres_store(store_options);
      if (!opened.ok()) return opened.error();
      std::optional<ChainHead> head;
      if (!m.database.audit_head_hash.empty()) {
        auto hash = Sha256::from_hex(m.database.audit_head_hash);
        if (!hash.ok()) return invalid_argument("the manifest's audit head is not a hash");
        head = ChainHead{m.database.audit_head_seq, *hash};
      }
      auto verified = store::verify_stored_chain(**opened, head);
      if (!verified.ok()) return verified.error();
      if (!verified->ok || verified->events_checked != m.database.audit_events) {
        return invalid_argument(fmt::format(
            "the restored audit trail does not verify to the backup's head {} ({} events checked of {}): {}",
            m.database.audit_head_seq, verified->events_checked, m.database.audit_events, verified->problem));
      }
      auto moved = (*conn)->query(
          "SELECT setval(s, nextval(s) + $1) FROM (SELECT pg_get_serial_sequence('push_messages', 'seq')::regclass "
          "AS s) q",
          "move the push queue's counter ahead", kPushSeqJump);
      if (!moved.ok()) return moved.error();
      return {};
    }();
    if (!checked.ok()) {
      drop_restored(**conn);
      return Error{checked.error().code,
                   fmt::format("{} (the restored tables were dropped again)", checked.error().message)};
    }
    return {};
  };
}

}  // namespace hoist::backup
