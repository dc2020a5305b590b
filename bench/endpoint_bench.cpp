// Endpoint benchmarks: the real sudo of this machine run by a user made
// for the run, through hoist_sudo.so and a real hoist-agent enrolled at a
// real hoistd (not tests; scripts/bench.sh runs it as its "endpoint" part).
// Needs root.
//
//   endpoint_bench [--parts "sudo approve [hold]"] [--runs 500] [--block 50]
//                  [--warmup 20] [--samples 50] [--user NAME]
//                  [--hoistd PATH] [--agent PATH] [--plugin PATH]
//
// It never changes the host's sudo configuration. The whole program runs
// in one private mount namespace (unshare(CLONE_NEWNS), then every mount
// made private, so nothing propagates back), where /etc/sudo.conf,
// /etc/sudoers, /etc/sudoers.d, /run/sudo and /var/lib/sudo are bind
// mounts of files and directories in a private temporary directory (mode
// 0700). The bench user is made with useradd and removed with userdel
// when the program ends, also on failure or SIGINT/SIGTERM/SIGHUP. hoistd
// and hoist-agent run from the temporary directory (hoistd on 127.0.0.1, a
// port the system picks) and are stopped at the end. Every sudo has a
// deadline: the driver kills it (SIGKILL) and fails when it passes.
//
// 1. "sudo": N sequential `sudo -n /usr/bin/true` as the bench user,
//    (a) with a sudo.conf that loads hoist_sudo.so (the agent's policy has
//    an allow rule for /usr/bin/true), (f) the floor: a sudo.conf that
//    loads floor_plugin.so, a policy plugin that allows at once and does
//    nothing else (what sudo itself costs), (b) with a sudo.conf without a
//    Plugin line, i.e. stock sudoers, and a test /etc/sudoers (root 0440:
//    `Defaults !lecture`, root's rule, `USER ALL=(root) NOPASSWD:
//    /usr/bin/true`; /etc/sudoers.d an empty directory). The driver, root,
//    forks; the child makes a new session (no terminal), takes the user's
//    groups, gid and uid and a small clean environment, and execs
//    /usr/bin/sudo; the time is from before fork() to the reaped exit.
//    Blocks of `block` runs of each, in an order that goes through all six
//    in turn, so machine noise hits all three alike; `warmup` runs of
//    each first, not counted. Per sudo: p50, p99, mean, max; the ratios
//    Hoist / sudoers and floor / sudoers of the means and of the p50s.
//    Target: Hoist <= 0.85x sudoers (issue 18; the floor is about 0.7x).
// 2. "approve": the real sudo with the plugin on a pseudo-terminal
//    (forkpty, as the bench user) runs `/usr/bin/touch DIR/started-I`,
//    which a request rule sends to an approver. The driver answers the
//    justification and duration prompts, waits for "Waiting for approval"
//    and for the request to be pending at hoistd (GET
//    /api/v1/requests?state=pending), then notes t0 and approves it
//    (POST /api/v1/requests/ID/approve, an admin API token, a kept-alive
//    connection). The command's start is the creation of its file, seen
//    by a thread blocked in poll() on an inotify watch of DIR (the same
//    process, the same steady clock). `samples` times (each command line
//    is new: a grant covers only its own). Baseline in the same run: the
//    approve call's HTTP round trip (t0 to its response). p50/p90/p99/max.
//    Target: p99 <= 100 ms on loopback.
//
// Lines starting with "summary:" are what scripts/bench.sh repeats in its
// final summary.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <sched.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "bench_support.h"
#include "net/client/https_client.h"
#include "net/json_text.h"

#ifndef HOIST_HOISTD_PATH
#define HOIST_HOISTD_PATH ""
#endif
#ifndef HOIST_AGENT_PATH
#define HOIST_AGENT_PATH ""
#endif
#ifndef HOIST_SUDO_SO
#define HOIST_SUDO_SO ""
#endif
#ifndef HOIST_FLOOR_SO
#define HOIST_FLOOR_SO ""
#endif

namespace {

namespace bench = hoist::bench;
using hoist::net::Header;
using hoist::net::HttpResponse;
using hoist::net::HttpsClient;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr const char* kSudo = "/usr/bin/sudo";
constexpr const char* kTrue = "/usr/bin/true";
constexpr const char* kTouch = "/usr/bin/touch";

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& message) {
  throw Failure(message);
}

// SIGINT, SIGTERM and SIGHUP are blocked in every thread and taken by a
// watcher thread, which sets g_stop: the loops then fail, and the
// destructors stop the daemons, unmount and remove the bench user.
std::atomic<bool> g_stop{false};
sigset_t g_signals;
void check_stop() {
  if (g_stop.load()) fail("interrupted");
}

// In a child between fork() and exec: async-signal-safe calls only.
void child_defaults() {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
}

// argv or envp for execve, built before fork().
class CArgs {
 public:
  explicit CArgs(std::vector<std::string> strings) : strings_(std::move(strings)) {
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  CArgs(const CArgs&) = delete;
  CArgs& operator=(const CArgs&) = delete;
  [[nodiscard]] char* const* get() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) fail("cannot write " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) fail("cannot chmod " + path);
}

void make_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 || ::chmod(path.c_str(), mode) != 0) {
    fail(fmt::format("cannot make {}: {}", path, std::strerror(errno)));
  }
}

// How `pid` ended (a waitpid status), or nullopt when `timeout` passed
// first; it is then killed and reaped.
// `usage`, when given, gets the CPU time of the reaped process and of the
// children it waited for.
std::optional<int> wait_for(pid_t pid, milliseconds timeout, rusage* usage = nullptr) {
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    fail(fmt::format("pidfd_open: {}", std::strerror(errno)));
  }
  pollfd p{pidfd, POLLIN, 0};
  const auto until = Clock::now() + timeout;
  int r = 0;
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
    r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left, 0)));
    if (r >= 0 || errno != EINTR) break;
  }
  ::close(pidfd);
  int status = 0;
  if (r <= 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::nullopt;
  }
  if (::wait4(pid, &status, 0, usage) != pid) fail("waitpid failed");
  return status;
}

double cpu_ms(const rusage& u) {
  const auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

// The CPU time a running process has used so far, all its threads (user
// and system, from /proc/PID/stat), in milliseconds; 0 when unreadable.
double process_cpu_ms(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());  // utime, stime
  }
  return ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
  return fmt::format("status {}", status);
}

// Starts a program with stdin from /dev/null and stdout and stderr
// appended to `log`; it gets SIGKILL if this program dies.
pid_t spawn(const CArgs& argv, const CArgs& env, const std::string& log) {
  const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || in < 0) fail("cannot open " + log);
  const pid_t pid = ::fork();
  if (pid == 0) {
    child_defaults();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execve(argv.get()[0], argv.get(), env.get());
    ::_exit(127);
  }
  ::close(out);
  ::close(in);
  if (pid < 0) fail("fork failed");
  return pid;
}

const std::vector<std::string> kPlainEnv = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                            "LANG=C"};

// Runs a program to completion (killed after `timeout`); its exit status.
int run(std::vector<std::string> args, const std::string& log, milliseconds timeout = 60s) {
  const CArgs argv(std::move(args));
  const CArgs env(kPlainEnv);
  const auto status = wait_for(spawn(argv, env, log), timeout);
  if (!status) fail(fmt::format("{} did not finish within {} s", argv.get()[0], timeout.count() / 1000));
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + (WIFSIGNALED(*status) ? WTERMSIG(*status) : 0);
}

// A private directory (0700) removed at the end.
class WorkDir {
 public:
  WorkDir() {
    const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): before any thread
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/hoist-endpoint.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp failed");
    path_ = pattern;
  }
  ~WorkDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A daemon child: SIGTERM at the end, SIGKILL 10 s later.
class Daemon {
 public:
  Daemon() = default;
  ~Daemon() { (void)stop(); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  void start(std::vector<std::string> args, std::vector<std::string> env, const std::string& log) {
    const CArgs argv(std::move(args));
    const CArgs envp(std::move(env));
    pid_ = spawn(argv, envp, log);
  }
  [[nodiscard]] bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  [[nodiscard]] pid_t pid() const { return pid_; }
  // The exit status, -1 when not running.
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    const auto status = wait_for(pid_, 10s);
    pid_ = -1;
    if (!status) return -1;
    return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + (WIFSIGNALED(*status) ? WTERMSIG(*status) : 0);
  }

 private:
  pid_t pid_ = -1;
};

// The user the sudo runs are made as, removed by userdel at the end.
class BenchUser {
 public:
  BenchUser(std::string name, const std::string& log) : name_(std::move(name)), log_(log) {
    if (::getpwnam(name_.c_str()) != nullptr) fail("the user " + name_ + " exists already (give another --user)");
    if (run({"/usr/sbin/useradd", "--no-create-home", "--shell", "/bin/sh", name_}, log_) != 0) {
      fail("useradd " + name_ + " failed: " + slurp(log_));
    }
    created_ = true;
    const passwd* pw = ::getpwnam(name_.c_str());
    if (pw == nullptr) fail("the new user " + name_ + " is not found");
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    home_ = pw->pw_dir;
    int n = 64;
    groups_.resize(static_cast<std::size_t>(n));
    if (::getgrouplist(name_.c_str(), gid_, groups_.data(), &n) < 0) fail("getgrouplist failed");
    groups_.resize(static_cast<std::size_t>(n));
  }
  ~BenchUser() {
    if (!created_) return;
    try {
      if (run({"/usr/sbin/userdel", name_}, log_) != 0) {
        std::fprintf(stderr, "endpoint_bench: userdel %s failed; remove the user by hand\n", name_.c_str());
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "endpoint_bench: userdel %s: %s\n", name_.c_str(), e.what());
    }
  }
  BenchUser(const BenchUser&) = delete;
  BenchUser& operator=(const BenchUser&) = delete;

  // In a forked child: the user's groups, gid and uid. False on failure.
  [[nodiscard]] bool become() const {
    return ::setgroups(groups_.size(), groups_.data()) == 0 && ::setgid(gid_) == 0 && ::setuid(uid_) == 0 &&
           ::getuid() == uid_ && ::geteuid() == uid_;
  }
  // A login-like environment of the user (sudo's env_reset keeps none of
  // the rest anyway).
  [[nodiscard]] std::vector<std::string> environment(bool terminal) const {
    std::vector<std::string> env = {"PATH=/usr/local/bin:/usr/bin:/bin",
                                    "HOME=" + home_,
                                    "USER=" + name_,
                                    "LOGNAME=" + name_,
                                    "SHELL=/bin/sh",
                                    "LANG=C"};
    if (terminal) env.emplace_back("TERM=dumb");
    return env;
  }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string log_;
  bool created_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string home_;
  std::vector<gid_t> groups_;
};

// Bind mounts in this process's private mount namespace, undone at the end.
class Mounts {
 public:
  Mounts() = default;
  ~Mounts() {
    for (auto it = targets_.rbegin(); it != targets_.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
  }
  Mounts(const Mounts&) = delete;
  Mounts& operator=(const Mounts&) = delete;
  void bind(const std::string& source, const std::string& target) {
    if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      fail(fmt::format("mount --bind {} {}: {}", source, target, std::strerror(errno)));
    }
    targets_.push_back(target);
  }
  void unbind(const std::string& target) {
    const auto it = std::find(targets_.begin(), targets_.end(), target);
    if (it == targets_.end()) return;
    if (::umount2(target.c_str(), 0) != 0) fail(fmt::format("umount {}: {}", target, std::strerror(errno)));
    targets_.erase(it);
  }

 private:
  std::vector<std::string> targets_;
};

// The admin's side of hoistd's API over one kept-alive connection.
class Api {
 public:
  Api(const std::string& url, const std::string& ca_file) {
    hoist::net::ClientOptions options;
    options.url = url;
    options.ca_file = ca_file;
    auto client = HttpsClient::create(options);
    if (!client) fail(client.error().message);
    client_ = std::move(*client);
  }
  HttpResponse call(std::string_view method, std::string_view target, std::string_view body, int expected,
                    const std::vector<Header>& headers) {
    auto r = client_->request(method, target, body, headers);
    if (!r) fail(fmt::format("{} {}: {}", method, target, r.error().message));
    if (r->status != expected) {
      fail(
          fmt::format("{} {}: HTTP {} (expected {}): {}", method, target, r->status, expected, r->body.substr(0, 500)));
    }
    return std::move(*r);
  }
  HttpResponse call(std::string_view method, std::string_view target, std::string_view body, int expected) {
    return call(method, target, body, expected, auth_);
  }
  void login(const std::string& password) {
    const auto r = call("POST", "/api/v1/login",
                        fmt::format(R"({{"user":"admin","password":{}}})", hoist::net::json_string(password)), 200, {});
    const auto cookie = std::string(r.header("set-cookie").value_or(""));
    const auto csrf = bench::json_string_at(r.body, "/csrf_token");
    if (cookie.empty() || !csrf) fail("the login reply has no session cookie or CSRF token");
    const auto token = call("POST", "/api/v1/tokens", R"({"label":"endpoint-bench"})", 201,
                            {{"cookie", cookie.substr(0, cookie.find(';'))}, {"x-csrf-token", *csrf}});
    const auto api_token = bench::json_string_at(token.body, "/token");
    if (!api_token) fail("no API token in the reply");
    auth_ = {{"authorization", "Bearer " + *api_token}};
  }

 private:
  std::unique_ptr<HttpsClient> client_;
  std::vector<Header> auth_;
};

// The policy of the bench endpoint.
constexpr std::string_view kPolicy = R"(version = 1

[settings]
default_action = "deny"

[[rule]]
name = "true"
action = "allow"
path = "/usr/bin/true"

[[rule]]
name = "touch"
action = "request"
path = "/usr/bin/touch"
approval = "manual"
)";

struct Stats {
  std::size_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};
Stats stats(std::vector<double> v) {
  Stats s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const auto rank = [&](double q) {  // nearest rank, as bench::summarize
    const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size()) + 0.999999);
    return v[std::min(v.size() - 1, k == 0 ? 0 : k - 1)];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  s.max = v.back();
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return s;
}
double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Options {
  std::string parts = "sudo approve";
  int runs = 500;
  int block = 50;
  int warmup = 20;
  int samples = 50;
  std::string user;
  std::string hoistd = HOIST_HOISTD_PATH;
  std::string agent = HOIST_AGENT_PATH;
  std::string plugin = HOIST_SUDO_SO;
  std::string floor = HOIST_FLOOR_SO;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) fail("expected --name value, got " + key);
    const std::string value = argv[++i];
    const auto number = [&] {
      const int n = std::atoi(value.c_str());
      if (n <= 0) fail(key + " needs a positive number");
      return n;
    };
    if (key == "--parts") {
      o.parts = value;
    } else if (key == "--runs") {
      o.runs = number();
    } else if (key == "--block") {
      o.block = number();
    } else if (key == "--warmup") {
      o.warmup = number();
    } else if (key == "--samples") {
      o.samples = number();
    } else if (key == "--user") {
      o.user = value;
    } else if (key == "--hoistd") {
      o.hoistd = value;
    } else if (key == "--agent") {
      o.agent = value;
    } else if (key == "--plugin") {
      o.plugin = value;
    } else if (key == "--floor") {
      o.floor = value;
    } else {
      fail("unknown option " + key);
    }
  }
  return o;
}

class Bench {
 public:
  explicit Bench(Options options)
      : o_(std::move(options)),
        user_(o_.user.empty() ? fmt::format("hoist-bench-{}", ::getpid()) : o_.user, work_ / "useradd.log") {}

  void setup() {
    start_hoistd();
    enrol_and_start_agent();
    configure_sudo();
  }

  void sudo_part();
  void approve_part();
  void hold_part();

 private:
  void start_hoistd();
  void enrol_and_start_agent();
  void configure_sudo();
  void use_conf(const std::string& conf);
  std::string sudo_version_as_root();
  struct Run {
    double wall_ms = 0;
    double cpu_ms = 0;  // sudo's and the command's
  };
  Run timed_sudo_true(int devnull, int err);

  Options o_;
  WorkDir work_;
  BenchUser user_;
  Daemon hoistd_;
  Daemon agent_;
  Mounts mounts_;
  std::unique_ptr<Api> api_;
  std::string url_, ca_pin_;
  std::string hoist_conf_, floor_conf_, floor_pam_conf_, stock_conf_, current_conf_;
};

void Bench::start_hoistd() {
  std::random_device rd;
  std::string password;
  for (int i = 0; i < 32; ++i) password += "abcdefghijkmnopqrstuvwxyz23456789"[rd() % 33];
  // The samples are one bench user's requests on one endpoint, one after
  // another as fast as they are approved: more than the default limits on
  // submissions let a person send (docs/hoistd.md, [requests]), which the
  // figures are not about.
  write_file(work_ / "hoistd.toml",
             "[requests]\nendpoint_burst = 1000000\nendpoint_every = \"1ms\"\nuser_burst = 1000000\nuser_every = "
             "\"1ms\"\n",
             0600);
  hoistd_.start({o_.hoistd, "--config", work_ / "hoistd.toml", "--data-dir", work_ / "hoistd", "--port", "0",
                 "--ready-file", work_ / "ready.json", "--admin-user", "admin"},
                {kPlainEnv[0], kPlainEnv[1], "HOIST_ADMIN_PASSWORD=" + password}, work_ / "hoistd.log");
  const auto until = Clock::now() + 20s;
  while (slurp(work_ / "ready.json").empty()) {
    check_stop();
    if (!hoistd_.running()) fail("hoistd exited at start: " + slurp(work_ / "hoistd.log"));
    if (Clock::now() > until) fail("hoistd was not ready within 20 s");
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(50ms);  // the ready file is written whole, but be sure
  auto ready = bench::read_ready_file(work_ / "ready.json");
  if (!ready) fail(ready.error().message);
  url_ = ready->url;
  ca_pin_ = bench::json_string_at(slurp(work_ / "ready.json"), "/ca_fingerprint").value_or("");
  if (ca_pin_.empty()) fail("hoistd's ready file has no ca_fingerprint");
  api_ = std::make_unique<Api>(ready->url, ready->ca_file);
  api_->login(password);
  (void)api_->call("PUT", "/api/v1/policies/endpoint-bench",
                   fmt::format(R"({{"text":{}}})", hoist::net::json_string(kPolicy)), 201);
  (void)api_->call("PUT", "/api/v1/policies/endpoint-bench/labels", R"({"labels":["endpoint-bench"]})", 200);
}

void Bench::enrol_and_start_agent() {
  const auto token = api_->call("POST", "/api/v1/enrolment-tokens", R"({"labels":["endpoint-bench"],"uses":1})", 201);
  const auto enrol_token = bench::json_string_at(token.body, "/token");
  if (!enrol_token) fail("no enrolment token in the reply");
  if (run({o_.agent, "enroll", "--state-dir", work_ / "agent", "--server", url_, "--token", *enrol_token, "--ca-pin",
           ca_pin_, "--hostname", "endpoint-bench"},
          work_ / "agent.log") != 0) {
    fail("hoist-agent enroll failed: " + slurp(work_ / "agent.log"));
  }
  agent_.start({o_.agent, "run", "--state-dir", work_ / "agent", "--socket", work_ / "agent.sock", "--ready-file",
                work_ / "agent-ready.json"},
               kPlainEnv, work_ / "agent.log");
  const auto until = Clock::now() + 20s;
  while (slurp(work_ / "agent-ready.json").empty()) {
    check_stop();
    if (!agent_.running()) fail("hoist-agent exited at start: " + slurp(work_ / "agent.log"));
    if (Clock::now() > until) fail("hoist-agent was not ready within 20 s: " + slurp(work_ / "agent.log"));
    std::this_thread::sleep_for(50ms);
  }
}

// The namespace's sudo files: both sudo.conf variants, the test sudoers,
// empty /etc/sudoers.d, and private /run/sudo and /var/lib/sudo (where
// sudoers keeps time stamps and lecture marks).
void Bench::configure_sudo() {
  hoist_conf_ = work_ / "sudo-hoist.conf";
  stock_conf_ = work_ / "sudo-stock.conf";
  floor_conf_ = work_ / "sudo-floor.conf";
  floor_pam_conf_ = work_ / "sudo-floor-pam.conf";
  write_file(hoist_conf_,
             fmt::format("Plugin hoist_policy {} agent_socket={} timestamp_dir={} spool_dir={}\n", o_.plugin,
                         work_ / "agent.sock", work_ / "ts", work_ / "spool"),
             0644);
  write_file(stock_conf_, "# No Plugin line: sudo loads sudoers.\n", 0644);
  write_file(floor_conf_, fmt::format("Plugin hoist_floor_policy {}\n", o_.floor), 0644);
  write_file(floor_pam_conf_, fmt::format("Plugin hoist_floor_policy {} pam=sudo\n", o_.floor), 0644);
  write_file(
      work_ / "sudoers",
      fmt::format("Defaults !lecture\nroot ALL=(ALL:ALL) ALL\n{} ALL=(root) NOPASSWD: {}\n", user_.name(), kTrue),
      0440);
  make_dir(work_ / "sudoers.d", 0755);
  make_dir(work_ / "run-sudo", 0711);
  make_dir(work_ / "var-lib-sudo", 0755);
  make_dir(work_ / "var-lib-sudo/lectured", 0700);
  make_dir(work_ / "marks", 0755);
  mounts_.bind(work_ / "sudoers", "/etc/sudoers");
  mounts_.bind(work_ / "sudoers.d", "/etc/sudoers.d");
  if (std::filesystem::is_directory("/run/sudo")) mounts_.bind(work_ / "run-sudo", "/run/sudo");
  if (std::filesystem::is_directory("/var/lib/sudo")) mounts_.bind(work_ / "var-lib-sudo", "/var/lib/sudo");

  // Each sudo.conf loads what it should (`sudo -V` as root names the
  // policy plugin).
  use_conf(hoist_conf_);
  if (const auto v = sudo_version_as_root(); v.find("Hoist policy plugin") == std::string::npos) {
    fail("with the Hoist sudo.conf, sudo -V does not name the Hoist plugin:\n" + v);
  }
  use_conf(stock_conf_);
  if (const auto v = sudo_version_as_root(); v.find("Sudoers policy plugin") == std::string::npos) {
    fail("with the stock sudo.conf, sudo -V does not name sudoers:\n" + v);
  }
  use_conf(floor_conf_);
  if (const auto v = sudo_version_as_root(); v.find("Sudoers policy plugin") != std::string::npos) {
    fail("with the floor sudo.conf, sudo -V names sudoers:\n" + v);
  }
}

void Bench::use_conf(const std::string& conf) {
  if (current_conf_ == conf) return;
  if (!current_conf_.empty()) mounts_.unbind("/etc/sudo.conf");
  mounts_.bind(conf, "/etc/sudo.conf");
  current_conf_ = conf;
}

std::string Bench::sudo_version_as_root() {
  const std::string log = work_ / "sudo-V.out";
  ::unlink(log.c_str());
  const int status = run({"/usr/bin/timeout", "20", kSudo, "-V"}, log);
  if (status != 0) fail(fmt::format("sudo -V exited with {}: {}", status, slurp(log)));
  return slurp(log);
}

// One `sudo -n /usr/bin/true` as the bench user, timed from before fork()
// to the reaped exit, with the CPU time sudo and the command used.
Bench::Run Bench::timed_sudo_true(int devnull, int err) {
  static const CArgs argv({"sudo", "-n", kTrue});
  static const CArgs env(user_.environment(false));
  const auto t0 = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    child_defaults();
    ::setsid();  // no controlling terminal, as from a script or cron
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(err, 2);
    if (::chdir("/") != 0 || !user_.become()) ::_exit(126);
    ::execve(kSudo, argv.get(), env.get());
    ::_exit(127);
  }
  if (pid < 0) fail("fork failed");
  rusage usage{};
  const auto status = wait_for(pid, 20s, &usage);
  const double ms = ms_between(t0, Clock::now());
  if (!status) fail("sudo -n /usr/bin/true did not finish within 20 s; killed");
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    fail(fmt::format("sudo -n /usr/bin/true as {} with {} ended with {}: {}", user_.name(), current_conf_,
                     describe(*status), slurp(work_ / "sudo-true.err")));
  }
  return Run{ms, cpu_ms(usage)};
}

void Bench::sudo_part() {
  const int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  const int err = ::open((work_ / "sudo-true.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (devnull < 0 || err < 0) fail("cannot open /dev/null or the error file");
  struct Kind {
    const char* name;
    const std::string* conf;
    std::vector<double> wall;
    // CPU time: sudo and the command (summed per run), and hoist-agent and
    // hoistd (read before and after each block).
    double sudo_cpu = 0, agent_cpu = 0, hoistd_cpu = 0;
  };
  std::array<Kind, 4> kinds{{{"Hoist (hoist_sudo.so + hoist-agent)", &hoist_conf_, {}},
                             {"floor: a policy plugin that does nothing", &floor_conf_, {}},
                             {"floor + sudo's PAM session", &floor_pam_conf_, {}},
                             {"baseline: stock sudoers, NOPASSWD rule", &stock_conf_, {}}}};
  for (const auto& kind : kinds) {
    use_conf(*kind.conf);
    for (int i = 0; i < o_.warmup; ++i) {
      check_stop();
      (void)timed_sudo_true(devnull, err);
    }
  }
  // Block b runs the kinds in the order b, b+1, ... (mod 4), reversed every
  // other round: each kind goes first, last, before and after each other
  // kind alike, so machine noise hits all of them.
  const int blocks = (o_.runs + o_.block - 1) / o_.block;
  const auto start = Clock::now();
  for (int b = 0; b < blocks; ++b) {
    const int n = std::min(o_.block, o_.runs - b * o_.block);
    for (std::size_t j = 0; j < kinds.size(); ++j) {
      const std::size_t step = (b / 4) % 2 == 0 ? j : kinds.size() - 1 - j;
      auto& kind = kinds[(static_cast<std::size_t>(b) + step) % kinds.size()];
      use_conf(*kind.conf);
      const double agent0 = process_cpu_ms(agent_.pid());
      const double hoistd0 = process_cpu_ms(hoistd_.pid());
      for (int i = 0; i < n; ++i) {
        check_stop();
        const Run r = timed_sudo_true(devnull, err);
        kind.wall.push_back(r.wall_ms);
        kind.sudo_cpu += r.cpu_ms;
      }
      kind.agent_cpu += process_cpu_ms(agent_.pid()) - agent0;
      kind.hoistd_cpu += process_cpu_ms(hoistd_.pid()) - hoistd0;
    }
  }
  const double total_s = ms_between(start, Clock::now()) / 1000.0;
  ::close(devnull);
  ::close(err);
  if (const auto e = slurp(work_ / "sudo-true.err"); !e.empty()) {
    std::printf("sudo wrote to stderr during the runs:\n%s\n", e.substr(0, 2000).c_str());
  }

  std::array<Stats, 4> st;
  for (std::size_t k = 0; k < kinds.size(); ++k) st[k] = stats(kinds[k].wall);
  const Stats& h = st[0];
  const Stats& f = st[1];
  const Stats& fp = st[2];
  const Stats& s = st[3];
  std::printf(
      "\n`sudo -n /usr/bin/true` as %s, %zu runs each, blocks of %d in rotating order, %d warm-up runs each "
      "(%.1f s)\n",
      user_.name().c_str(), h.n, o_.block, o_.warmup, total_s);
  for (std::size_t k = 0; k < kinds.size(); ++k) {
    std::printf("  %-44s p50 %7.3f ms  p99 %7.3f ms  mean %7.3f ms  max %7.3f ms\n", kinds[k].name, st[k].p50,
                st[k].p99, st[k].mean, st[k].max);
  }
  for (std::size_t k = 0; k + 1 < kinds.size(); ++k) {
    std::printf("  %-44s / sudoers: mean %.2fx, p50 %.2fx, p99 %.2fx\n", kinds[k].name, st[k].mean / s.mean,
                st[k].p50 / s.p50, st[k].p99 / s.p99);
  }
  std::printf("  Hoist above the floor with PAM: mean %+.3f ms, p50 %+.3f ms\n", h.mean - fp.mean, h.p50 - fp.p50);
  // Where the time went: CPU per sudo (hoist-agent's and hoistd's are read
  // in clock ticks, so good to about 10 ms / runs); the rest of the wall
  // time is waiting (the disk, the scheduler).
  std::printf("  CPU per sudo (ms)                           sudo+command  hoist-agent   hoistd  wall mean - CPU\n");
  for (std::size_t k = 0; k < kinds.size(); ++k) {
    const double n = static_cast<double>(kinds[k].wall.size());
    const double cpu = (kinds[k].sudo_cpu + kinds[k].agent_cpu + kinds[k].hoistd_cpu) / n;
    std::printf("    %-42s %12.3f %12.3f %8.3f %16.3f\n", kinds[k].name, kinds[k].sudo_cpu / n, kinds[k].agent_cpu / n,
                kinds[k].hoistd_cpu / n, st[k].mean - cpu);
  }
  std::printf(
      "summary: sudo -n /usr/bin/true through Hoist: p50 %.2f ms, p99 %.2f ms, mean %.2f ms; floor plugin: p50 %.2f "
      "ms, mean %.2f ms; floor + PAM session: p50 %.2f ms, mean %.2f ms; stock sudoers NOPASSWD: p50 %.2f ms, p99 "
      "%.2f ms, mean %.2f ms\n",
      h.p50, h.p99, h.mean, f.p50, f.mean, fp.p50, fp.mean, s.p50, s.p99, s.mean);
  const bool met = h.mean / s.mean <= 0.85 && h.p50 / s.p50 <= 0.85;
  std::printf(
      "summary:   Hoist / sudoers: mean %.2fx, p50 %.2fx; floor / sudoers: mean %.2fx, p50 %.2fx; floor+PAM / "
      "sudoers: mean %.2fx, p50 %.2fx (%zu runs each)   (target <= 0.85: %s)\n",
      h.mean / s.mean, h.p50 / s.p50, f.mean / s.mean, f.p50 / s.p50, fp.mean / s.mean, fp.p50 / s.p50, h.n,
      met ? "met" : "MISSED");
}

// For profiling by hand: the set-up stays up, Hoist's sudo.conf in
// place, until SIGINT or SIGTERM; the printed nsenter line enters its
// mount namespace (e.g. to run `strace -f -tt -u USER sudo -n
// /usr/bin/true`, or perf, beside the running hoist-agent).
void Bench::hold_part() {
  use_conf(hoist_conf_);
  std::printf("holding: nsenter -t %d -m   (user %s; sudo.conf: hoist %s, floor %s, stock %s; agent log %s)\n",
              ::getpid(), user_.name().c_str(), hoist_conf_.c_str(), floor_conf_.c_str(), stock_conf_.c_str(),
              (work_ / "agent.log").c_str());
  std::fflush(stdout);
  while (!g_stop.load()) std::this_thread::sleep_for(200ms);
}

// sudo on a pseudo-terminal, as the bench user.
class TtySudo {
 public:
  TtySudo(const BenchUser& user, const std::vector<std::string>& command) {
    const CArgs argv(command);
    const CArgs env(user.environment(true));
    pid_ = ::forkpty(&master_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      child_defaults();
      if (::chdir("/") != 0 || !user.become()) ::_exit(126);
      ::execve(kSudo, argv.get(), env.get());
      ::_exit(127);
    }
    if (pid_ < 0) fail("forkpty failed");
  }
  ~TtySudo() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  TtySudo(const TtySudo&) = delete;
  TtySudo& operator=(const TtySudo&) = delete;

  void expect(std::string_view text, milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (output_.find(text, seen_) == std::string::npos) {
      check_stop();
      const auto left = std::chrono::duration_cast<milliseconds>(until - Clock::now()).count();
      if (left <= 0) fail(fmt::format("sudo did not show \"{}\"; it showed:\n{}", text, output_));
      read_some(static_cast<int>(std::min<std::int64_t>(left, 200)));
    }
    seen_ = output_.find(text, seen_) + text.size();
  }
  // sudo sets the terminal up (flushing typed-ahead input) after it shows
  // a prompt: type later, as a person does.
  void type(std::string_view text) {
    std::this_thread::sleep_for(300ms);
    if (::write(master_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) fail("write to the pty");
  }
  // sudo's exit status (waitpid form); fails after `timeout`.
  int wait_exit(milliseconds timeout) {
    const auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      read_some(20);
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        while (read_some(10)) {
        }
        return status;
      }
    }
    fail("sudo did not exit; it showed:\n" + output_);
  }
  [[nodiscard]] const std::string& output() const { return output_; }

 private:
  bool read_some(int timeout_ms) {
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = ::read(master_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int master_ = -1;
  pid_t pid_ = -1;
  std::string output_;
  std::size_t seen_ = 0;
};

void Bench::approve_part() {
  use_conf(hoist_conf_);
  const std::string marks = work_ / "marks";
  const int ino = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (ino < 0 || ::inotify_add_watch(ino, marks.c_str(), IN_CREATE) < 0) fail("inotify failed");
  std::vector<double> latency, round_trip;
  int before_reply = 0;
  const auto start = Clock::now();
  for (int i = 0; i < o_.samples; ++i) {
    check_stop();
    const std::string name = fmt::format("started-{}", i);
    TtySudo sudo(user_, {"sudo", kTouch, marks + "/" + name});
    sudo.expect("Why do you need it?", 20s);
    sudo.type("endpoint benchmark\n");
    sudo.expect("For how long?", 10s);
    sudo.type("\n");
    sudo.expect("Waiting for approval", 10s);
    std::string id;
    const auto until = Clock::now() + 10s;
    while (id.empty()) {
      check_stop();
      const auto r = api_->call("GET", "/api/v1/requests?state=pending", "", 200);
      id = bench::json_string_at(r.body, "/requests/0/id").value_or("");
      if (!id.empty() && bench::json_string_at(r.body, "/requests/1/id")) fail("more than one request is pending");
      if (id.empty() && Clock::now() > until) fail("the request is not pending at hoistd: " + r.body);
      if (id.empty()) std::this_thread::sleep_for(10ms);
    }
    // Drain stale events; then a thread notes when the command's file appears.
    char events[4096];
    while (::read(ino, events, sizeof events) > 0) {
    }
    std::optional<Clock::time_point> started;
    std::thread watcher([&] {
      pollfd p{ino, POLLIN, 0};
      if (::poll(&p, 1, 15000) > 0) started = Clock::now();
    });
    const auto t0 = Clock::now();
    std::optional<std::string> approve_error;
    Clock::time_point replied;
    try {
      (void)api_->call("POST", "/api/v1/requests/" + id + "/approve", R"({"comment":"endpoint benchmark"})", 200);
      replied = Clock::now();
    } catch (const Failure& e) {
      approve_error = e.what();
    }
    watcher.join();
    if (approve_error) fail(*approve_error);
    if (!started) fail("the approved command did not start within 15 s; sudo showed:\n" + sudo.output());
    const ssize_t n = ::read(ino, events, sizeof events);
    if (n <= 0 || std::string_view(events, static_cast<std::size_t>(n)).find(name) == std::string_view::npos) {
      fail("an unexpected file appeared in " + marks);
    }
    latency.push_back(ms_between(t0, *started));
    round_trip.push_back(ms_between(t0, replied));
    if (*started < replied) ++before_reply;
    const int status = sudo.wait_exit(10s);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fail(fmt::format("sudo touch ended with {}:\n{}", describe(status), sudo.output()));
    }
    if ((i + 1) % 10 == 0) {
      std::printf("  %d/%d approved: this one %.1f ms\n", i + 1, o_.samples, latency.back());
      std::fflush(stdout);
    }
  }
  ::close(ino);
  const double total_s = ms_between(start, Clock::now()) / 1000.0;
  const auto l = stats(latency);
  const auto r = stats(round_trip);
  std::printf("\nApprove to command start: sudo on a terminal as %s, %zu requests (%.1f s in all)\n",
              user_.name().c_str(), l.n, total_s);
  const auto line = [](const char* what, const Stats& x) {
    std::printf("  %-44s p50 %7.2f ms  p90 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, x.p50, x.p90, x.p99, x.max);
  };
  line("approve call sent -> command started", l);
  line("baseline: the approve call's round trip", r);
  std::printf("  the command started before the approve call's reply arrived in %d of %zu\n", before_reply, l.n);
  std::printf(
      "summary: approve -> command start on the endpoint: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms "
      "(%zu samples)   (target p99 <= 100 ms: %s)\n",
      l.p50, l.p90, l.p99, l.max, l.n, l.p99 <= 100.0 ? "met" : "MISSED");
  std::printf("summary:   baseline: the approve call's HTTP round trip p50 %.1f ms, p99 %.1f ms (p50 %.1fx of it)\n",
              r.p50, r.p99, l.p50 / r.p50);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const Failure& e) {
    std::fprintf(stderr, "endpoint_bench: %s\n", e.what());
    return 2;
  }
  if (::geteuid() != 0) {
    std::fprintf(stderr, "endpoint_bench: needs root (useradd, a mount namespace, hoist-agent as root)\n");
    return 77;
  }
  for (const auto* path : {&options.hoistd, &options.agent, &options.plugin}) {
    if (path->empty() || ::access(path->c_str(), R_OK) != 0) {
      std::fprintf(stderr, "endpoint_bench: %s is missing (--hoistd, --agent, --plugin)\n", path->c_str());
      return 2;
    }
  }
  // Before any thread: signals go to the watcher; this process gets its
  // own mount namespace, with nothing propagating back to the host's.
  sigemptyset(&g_signals);
  sigaddset(&g_signals, SIGINT);
  sigaddset(&g_signals, SIGTERM);
  sigaddset(&g_signals, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &g_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  if (::unshare(CLONE_NEWNS) != 0 || ::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    std::fprintf(stderr, "endpoint_bench: cannot make a private mount namespace: %s\n", std::strerror(errno));
    return 1;
  }
  std::thread([] {
    int sig = 0;
    while (::sigwait(&g_signals, &sig) == 0) {
      g_stop.store(true);
    }
  }).detach();

  const bool sudo_part = options.parts.find("sudo") != std::string::npos;
  const bool approve_part = options.parts.find("approve") != std::string::npos;
  const bool hold_part = options.parts.find("hold") != std::string::npos;
  try {
    Bench bench(options);
    bench.setup();
    if (sudo_part) bench.sudo_part();
    if (approve_part) bench.approve_part();
    if (hold_part) bench.hold_part();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "endpoint_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
