// A PostgreSQL cluster of the test's own: initdb in a temporary directory,
// the server (Debian's postgresql-15 binaries) run as a child of the test
// on 127.0.0.1 and a free port, with its socket in that directory, stopped
// and removed at the end. Nothing uses a PostgreSQL the machine happens to
// run. PostgreSQL refuses to run as root: as root (CI) the child becomes
// the `postgres` user first; as anyone else it runs as that user. The
// server gets the parent-death signal, so a test that crashes takes its
// cluster with it. Header-only; links libpq (PQping).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace hoist::testing {

inline constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

class PgCluster {
 public:
  struct Options {
    // Off for unit tests (speed); on for durability tests and benchmarks.
    bool fsync = false;
    // Lines added to postgresql.conf before the first start.
    std::vector<std::string> conf;
    // TLS: the server's certificate and key (PEM); empty: no TLS.
    std::string tls_cert_pem;
    std::string tls_key_pem;
  };

  PgCluster() : PgCluster(Options()) {}
  explicit PgCluster(Options options) : options_(std::move(options)) {}
  ~PgCluster() {
    kill_server(SIGQUIT);
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // initdb (once) and start the server; false with error() on failure.
  bool start() {
    if (dir_.empty() && !init()) return false;
    if (pid_ > 0) return true;
    // The first start looks for a free port; a restart keeps its port
    // (clients reconnect to it) and waits for the old one to be released.
    const bool first = port_ == 0;
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (first) port_ = free_port();
      if (launch()) return true;
      if (!first) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // A fast shutdown (SIGINT: active sessions are ended), waited for.
  void stop() { kill_server(SIGINT); }
  // The postmaster killed with SIGKILL, as a crash; its backends end when
  // they notice. start() again runs crash recovery on the same port.
  void crash() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    // Its backends end on their own once they see the postmaster gone;
    // start() retries until they have.
  }

  // Makes this (not yet started) cluster a streaming standby of the
  // running `primary`: pg_basebackup -R (primary_conninfo and
  // standby.signal written), its own socket directory, then start(). The
  // primary's initdb allows replication from 127.0.0.1 (trust).
  bool start_as_standby_of(const PgCluster& primary) {
    if (!dir_.empty() || !primary.running()) return fail("a standby is made once, of a running primary");
    if (!make_dir()) return false;
    std::string out;
    if (!run({std::string(kPgBin) + "/pg_basebackup", "-h", "127.0.0.1", "-p", std::to_string(primary.port()), "-U",
              "hoist", "-D", data_dir(), "-R", "-X", "stream", "-c", "fast", "--no-sync"},
             &out)) {
      return fail("pg_basebackup failed: " + out);
    }
    std::ofstream conf(data_dir() + "/postgresql.conf", std::ios::app);
    conf << "unix_socket_directories = '" << dir_ << "'\n";
    for (const auto& line : options_.conf) conf << line << "\n";
    conf.close();
    if (!conf) return fail("cannot write the standby's postgresql.conf");
    return start();
  }

  // Ends recovery on a standby (SELECT pg_promote(), which waits until it
  // accepts writes); false with error() otherwise.
  bool promote() {
    std::string out;
    if (!psql("SELECT pg_promote(true, 30)", &out)) return false;
    if (out.find('t') == std::string::npos) return fail("pg_promote did not finish: " + out);
    return true;
  }

  // A machine's crash: the postmaster stopped, then it and every one of
  // its children (the backends, the WAL sender) killed with SIGKILL, so no
  // backend finishes a commit after the "crash".
  void crash_everything() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGSTOP);
    std::ifstream children("/proc/" + std::to_string(pid_) + "/task/" + std::to_string(pid_) + "/children");
    pid_t child = 0;
    while (children >> child) ::kill(child, SIGKILL);
    crash();
  }

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string data_dir() const { return dir_ + "/data"; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }

  // keyword=value conninfo for the superuser `hoist` and `db`.
  [[nodiscard]] std::string conninfo(const std::string& db = "postgres") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=hoist dbname=" + db;
  }

  // Runs psql -c `sql` against `db`; its output in *out. False on failure.
  bool psql(const std::string& sql, std::string* out = nullptr, const std::string& db = "postgres") {
    std::string text;
    const bool ok = run({std::string(kPgBin) + "/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
                         "127.0.0.1", "-p", std::to_string(port_), "-U", "hoist", "-d", db, "-c", sql},
                        &text, false);
    if (out != nullptr) *out = text;
    if (!ok) error_ = "psql failed: " + text;
    return ok;
  }

  // A new empty database named `name` (letters, digits, '_').
  bool create_database(const std::string& name) { return psql("CREATE DATABASE " + name); }
  bool drop_database(const std::string& name) { return psql("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); }

  // Runs argv; as root, as the postgres user. Output (stdout and stderr)
  // in *out. True when it exits 0.
  bool run(const std::vector<std::string>& argv, std::string* out, bool as_server_user = true) {
    const std::string log = dir_.empty() ? std::string("/dev/null") : dir_ + "/run.out";
    const pid_t child = spawn(argv, log, as_server_user, false);
    if (child < 0) return false;
    int status = 0;
    ::waitpid(child, &status, 0);
    if (out != nullptr) *out = read(log);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  bool make_dir() {
    std::string tmpl = "/tmp/hoist-pg-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) return fail("mkdtemp failed");
    dir_ = tmpl;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (pw == nullptr) return fail("there is no postgres user (install postgresql-15)");
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) return fail("chown of the cluster directory failed");
    }
    return true;
  }

  bool init() {
    if (!make_dir()) return false;
    std::string out;
    if (!run({std::string(kPgBin) + "/initdb", "-D", data_dir(), "-A", "trust", "-U", "hoist", "-E", "UTF8",
              "--locale=C", "--no-sync", "--no-instructions"},
             &out)) {
      return fail("initdb failed: " + out);
    }
    std::ofstream conf(data_dir() + "/postgresql.conf", std::ios::app);
    conf << "listen_addresses = '127.0.0.1'\n"
         << "unix_socket_directories = '" << dir_ << "'\n"
         << "fsync = " << (options_.fsync ? "on" : "off") << "\n"
         << "full_page_writes = " << (options_.fsync ? "on" : "off") << "\n"
         << "max_connections = 300\n"
         << "shared_buffers = 32MB\n"
         << "log_min_messages = warning\n";
    for (const auto& line : options_.conf) conf << line << "\n";
    if (!options_.tls_cert_pem.empty()) {
      // The server reads its key only when it is its own and private.
      for (const auto& [name, pem] : {std::pair{std::string("server.crt"), options_.tls_cert_pem},
                                      std::pair{std::string("server.key"), options_.tls_key_pem}}) {
        const std::string path = data_dir() + "/" + name;
        std::ofstream file(path, std::ios::trunc);
        file << pem;
        file.close();
        if (::chmod(path.c_str(), 0600) != 0 || (::geteuid() == 0 && ::chown(path.c_str(), uid_, gid_) != 0)) {
          return fail("cannot write " + path);
        }
      }
      conf << "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
    }
    return static_cast<bool>(conf) || fail("cannot write postgresql.conf");
  }

  bool launch() {
    pid_ = spawn({std::string(kPgBin) + "/postgres", "-D", data_dir(), "-p", std::to_string(port_)},
                 dir_ + "/server.log", true, true);
    if (pid_ < 0) return false;
    const std::string conn = "host=127.0.0.1 port=" + std::to_string(port_) + " user=hoist dbname=postgres";
    for (int i = 0; i < 300; ++i) {
      if (PQping(conn.c_str()) == PQPING_OK) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return fail("postgres exited: " + read(dir_ + "/server.log"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill_server(SIGQUIT);
    return fail("postgres did not answer within 6 s: " + read(dir_ + "/server.log"));
  }

  void kill_server(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // fork + exec with output to `log`; the child drops to the server's user
  // when we are root, and (for the server) dies with this process.
  pid_t spawn(const std::vector<std::string>& argv, const std::string& log, bool as_server_user, bool tie_to_parent) {
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) {
      fail("fork failed");
      return -1;
    }
    if (child == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (null >= 0) ::dup2(null, 0);
      if (as_server_user && ::geteuid() == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) ::_exit(126);
      }
      if (tie_to_parent) {
        ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
        if (::getppid() != parent) ::_exit(127);
      }
      if (!dir_.empty() && ::chdir(dir_.c_str()) != 0) ::_exit(126);
      std::vector<char*> c_argv;
      c_argv.reserve(argv.size() + 1);
      for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
      c_argv.push_back(nullptr);
      ::execv(c_argv[0], c_argv.data());
      ::_exit(127);
    }
    return child;
  }

  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  Options options_;
  std::string dir_;
  std::string error_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace hoist::testing
