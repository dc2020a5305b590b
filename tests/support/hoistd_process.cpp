#include "support/hoistd_process.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#ifndef HOIST_HOISTD_PATH
#error "HOIST_HOISTD_PATH must name the hoistd binary (tests/support/CMakeLists.txt sets it)"
#endif

namespace hoist::testing {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr milliseconds kPollInterval{10};
constexpr std::size_t kContextBytes = 6000;

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string tail(const std::string& text, std::size_t bytes) {
  return text.size() <= bytes ? text : "[...]\n" + text.substr(text.size() - bytes);
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Starts `binary` with `args` and `env`, stdin from /dev/null, stdout and
// stderr appended to `log_path`. The child gets SIGKILL when the calling
// thread exits. Returns the pid, or -1 with `error` set.
pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const std::vector<std::string>& env,
            const std::string& log_path, std::string& error) {
  // Everything the child needs is prepared before fork(): between fork()
  // and execve() a multi-threaded process may only make async-signal-safe
  // calls.
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));  // NOLINT
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));  // NOLINT
  envp.push_back(nullptr);

  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) {
    error = "cannot open " + log_path + ": " + std::strerror(errno);
    return -1;
  }
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    error = std::string("cannot open /dev/null: ") + std::strerror(errno);
    ::close(log_fd);
    return -1;
  }
  const long open_max = ::sysconf(_SC_OPEN_MAX);
  const int max_fd = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;
  const pid_t parent = ::getpid();
  sigset_t no_signals;
  sigemptyset(&no_signals);

  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) _exit(127);
    if (::dup2(null_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) {
      _exit(127);
    }
    // No descriptor of the test program (client sockets, other hoistds'
    // logs) leaks into hoistd.
    if (::close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < max_fd; ++fd) ::close(fd);
    }
    ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::signal(s, SIG_DFL);
    ::execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  const int fork_errno = errno;
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    error = std::string("fork: ") + std::strerror(fork_errno);
    return -1;
  }
  return pid;
}

// Waits up to `timeout` for `pid` to exit; its decoded status, or nullopt.
std::optional<int> wait_for(pid_t pid, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_wait_status(status);
    if (r < 0 && errno != EINTR) return -1;  // not our child any more: nothing to wait for
    if (steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(5));
  }
}

// The environment of the test program with `extra` set in it, without
// HOIST_ADMIN_PASSWORD (unless in `extra`) and without what would make
// hoistd talk to a systemd the test runs under (sd_notify READY/STOPPING,
// journald logging).
std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    bool dropped = name == "HOIST_ADMIN_PASSWORD" || name == "NOTIFY_SOCKET" || name == "JOURNAL_STREAM";
    for (const auto& [extra_name, value] : extra) dropped = dropped || name == extra_name;
    if (!dropped) env.emplace_back(entry);
  }
  for (const auto& [name, value] : extra) env.push_back(name + "=" + value);
  return env;
}

std::string json_text(const json::value& v) {
  return json::serialize(v);
}

}  // namespace

// --- replies ----------------------------------------------------------------

std::string HttpReply::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

const json::value* HttpReply::at(std::string_view pointer) const {
  boost::system::error_code ec;
  return json.find_pointer(json::string_view(pointer.data(), pointer.size()), ec);
}

std::string HttpReply::str(std::string_view pointer) const {
  const auto* v = at(pointer);
  if (v == nullptr) return "<missing>";
  if (!v->is_string()) return "<not a string>";
  return std::string(v->get_string());
}

std::int64_t HttpReply::num(std::string_view pointer) const {
  const auto* v = at(pointer);
  if (v == nullptr) return -1;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64());
  return -1;
}

bool HttpReply::boolean(std::string_view pointer) const {
  const auto* v = at(pointer);
  return v != nullptr && v->is_bool() && v->get_bool();
}

const json::array& HttpReply::array(std::string_view pointer) const {
  static const json::array kEmpty;
  const auto* v = at(pointer);
  return v != nullptr && v->is_array() ? v->get_array() : kEmpty;
}

std::ostream& operator<<(std::ostream& os, const HttpReply& reply) {
  if (reply.status == 0) {
    os << "no response: " << reply.error;
  } else {
    os << "HTTP " << reply.status;
    for (const auto& h : reply.headers) {
      os << "\n  " << h.name << ": " << (h.name == "set-cookie" ? "<cookie>" : h.value);
    }
    os << "\n  " << reply.body.substr(0, 2000);
  }
  if (!reply.context.empty()) os << "\n--- hoistd output ---\n" << reply.context;
  return os;
}

HttpReply send_request(net::HttpsClient& client, std::string_view method, std::string_view target,
                       std::string_view body, const Headers& headers) {
  HttpReply reply;
  auto response = client.request(method, target, body, headers);
  if (!response) {
    reply.error = std::string(to_string(response.error().code)) + ": " + response.error().message;
    return reply;
  }
  reply.status = response->status;
  reply.headers = std::move(response->headers);
  reply.body = std::move(response->body);
  boost::system::error_code ec;
  auto parsed = json::parse(reply.body, ec);
  if (!ec) reply.json = std::move(parsed);
  return reply;
}

Headers bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

Headers operator+(Headers a, const Headers& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --- the process ------------------------------------------------------------

std::string HoistdProcess::default_binary() {
  return HOIST_HOISTD_PATH;
}

HoistdProcess::HoistdProcess(HoistdOptions options) : options_(std::move(options)) {}

HoistdProcess::~HoistdProcess() {
  client_.reset();
  kill_and_reap();
}

void HoistdProcess::kill_and_reap() {
  if (pid_ <= 0 || exit_status_) return;
  ::kill(pid_, SIGKILL);
  // SIGKILL cannot be caught; the wait only covers the kernel's reaping.
  exit_status_ = wait_for(pid_, milliseconds(10000)).value_or(-1);
}

bool HoistdProcess::start() {
  start_error_.clear();
  if (running()) {
    start_error_ = "hoistd is already running (pid " + std::to_string(pid_) + ")";
    return false;
  }
  client_.reset();
  url_.clear();
  port_ = 0;
  const std::string ready = dir_ / "ready.json";
  std::error_code ec;
  std::filesystem::remove(ready, ec);
  {
    std::ofstream config(config_path(), std::ios::trunc);
    config << options_.config_toml;
  }
  std::vector<std::string> args{
      "--config",     config_path(), "--data-dir",   data_dir(),         "--port", std::to_string(options_.port),
      "--ready-file", ready,         "--admin-user", options_.admin_user};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  auto env = options_.extra_env;
  if (!options_.admin_password.empty()) env.emplace_back("HOIST_ADMIN_PASSWORD", options_.admin_password);
  {
    std::ofstream log(log_path(), std::ios::app);
    log << "--- test fixture: starting hoistd ---\n";
  }
  const std::string binary = options_.binary.empty() ? default_binary() : options_.binary;
  std::string error;
  exit_status_.reset();
  pid_ = spawn(binary, args, child_environment(env), log_path(), error);
  if (pid_ < 0) {
    start_error_ = "cannot start " + binary + ": " + error;
    return false;
  }
  const auto deadline = steady_clock::now() + options_.start_timeout;
  for (;;) {
    if (std::filesystem::exists(ready, ec)) {
      if (read_ready_file()) return true;
      break;  // start_error_ says why
    }
    if (auto status = wait_for(pid_, milliseconds(0))) {
      exit_status_ = status;
      start_error_ = "hoistd exited with status " + std::to_string(*status) + " before it was ready";
      break;
    }
    if (steady_clock::now() >= deadline) {
      start_error_ = "hoistd was not ready after " + std::to_string(options_.start_timeout.count()) + " ms";
      break;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  kill_and_reap();
  start_error_ += "\n--- hoistd output ---\n" + tail(output(), kContextBytes);
  return false;
}

bool HoistdProcess::read_ready_file() {
  // hoistd writes it to a temporary name and renames it: complete once seen.
  const std::string text = read_whole_file(dir_ / "ready.json");
  boost::system::error_code ec;
  const auto parsed = json::parse(text, ec);
  const json::object* o = ec ? nullptr : parsed.if_object();
  const json::value* url = o != nullptr ? o->if_contains("url") : nullptr;
  const json::value* port = o != nullptr ? o->if_contains("port") : nullptr;
  const json::value* fp = o != nullptr ? o->if_contains("ca_fingerprint") : nullptr;
  const json::value* ca = o != nullptr ? o->if_contains("ca_file") : nullptr;
  if (url == nullptr || !url->is_string() || port == nullptr || !port->is_number() || fp == nullptr ||
      !fp->is_string() || ca == nullptr || !ca->is_string()) {
    start_error_ = "the ready file is not {url, port, ca_fingerprint, ca_file}: " + text;
    return false;
  }
  url_ = std::string(url->get_string());
  port_ = static_cast<std::uint16_t>(port->to_number<std::int64_t>());
  ca_fingerprint_ = std::string(fp->get_string());
  ca_file_ = std::string(ca->get_string());
  return true;
}

bool HoistdProcess::restart() {
  const int status = stop();
  if (status != 0) {
    start_error_ = "hoistd exited with status " + std::to_string(status) + " on SIGTERM before the restart";
    return false;
  }
  return start();
}

void HoistdProcess::signal(int sig) {
  // The fixture's idle keep-alive connection is closed first: hoistd's
  // drain would otherwise wait (2 s) for its TLS close_notify.
  client_.reset();
  if (pid_ > 0 && !exit_status_) ::kill(pid_, sig);
}

std::optional<int> HoistdProcess::wait_exit(milliseconds timeout) {
  if (pid_ <= 0) return -1;
  if (!exit_status_) exit_status_ = wait_for(pid_, timeout);
  return exit_status_;
}

bool HoistdProcess::running() {
  return pid_ > 0 && !wait_exit(milliseconds(0));
}

int HoistdProcess::stop(int sig) {
  if (pid_ <= 0) return -1;
  signal(sig);
  if (auto status = wait_exit(options_.stop_timeout)) return *status;
  ADD_FAILURE() << "hoistd did not exit within " << options_.stop_timeout.count() << " ms of signal " << sig
                << "; killing it\n--- hoistd output ---\n"
                << tail(output(), kContextBytes);
  kill_and_reap();
  return exit_status_.value_or(-1);
}

std::string HoistdProcess::output() const {
  return read_whole_file(log_path());
}

std::unique_ptr<net::HttpsClient> HoistdProcess::client(Trust trust) const {
  net::ClientOptions options;
  options.url = url_;
  if (trust != Trust::kCaFile) options.pin_fingerprint = ca_fingerprint_;
  if (trust != Trust::kPin) options.ca_file = ca_file_;
  options.connect_timeout = std::chrono::seconds(5);
  options.request_timeout = options_.request_timeout;
  auto made = net::HttpsClient::create(std::move(options));
  if (!made) {
    ADD_FAILURE() << "cannot make a client of " << url_ << ": " << made.error().message;
    return nullptr;
  }
  return std::move(*made);
}

HttpReply HoistdProcess::call(std::string_view method, std::string_view target, std::string_view body,
                              const Headers& headers) {
  if (!client_) client_ = client();
  HttpReply reply;
  if (!client_) {
    reply.error = "no client (is hoistd started?)";
  } else {
    reply = send_request(*client_, method, target, body, headers);
  }
  reply.context = tail(output(), kContextBytes);
  return reply;
}

HttpReply HoistdProcess::call_json(std::string_view method, std::string_view target, const json::value& body,
                                   const Headers& headers) {
  return call(method, target, json_text(body), headers);
}

Result<std::string> HoistdProcess::admin_token() {
  if (!admin_token_.empty()) return admin_token_;
  std::string password = options_.admin_password;
  if (password.empty()) {
    // hoistd made one up and printed it once: "First admin:     NAME / PASSWORD   (shown once; ...)".
    const std::string out = output();
    const std::string marker = "First admin:     " + options_.admin_user + " / ";
    const auto at = out.find(marker);
    if (at == std::string::npos) return internal_error("the first admin's password is not in hoistd's output");
    const auto start = at + marker.size();
    password = out.substr(start, out.find(' ', start) - start);
  }
  const auto login =
      call_json("POST", "/api/v1/login", json::object{{"user", options_.admin_user}, {"password", password}});
  if (login.status != 200) {
    std::ostringstream os;
    os << "login as " << options_.admin_user << " failed: " << login;
    return internal_error(os.str());
  }
  const std::string cookie = login.header("set-cookie");
  const Headers session{{"cookie", cookie.substr(0, cookie.find(';'))}, {"x-csrf-token", login.str("/csrf_token")}};
  const auto token = call_json("POST", "/api/v1/tokens", json::object{{"label", "e2e test fixture"}}, session);
  if (token.status != 201 || token.str("/token").rfind("hoist_api_", 0) != 0) {
    std::ostringstream os;
    os << "POST /api/v1/tokens failed: " << token;
    return internal_error(os.str());
  }
  admin_token_ = token.str("/token");
  return admin_token_;
}

Result<AgentCredential> HoistdProcess::enrol(const std::vector<std::string>& labels, const std::string& hostname) {
  auto admin = admin_token();
  if (!admin) return admin.error();
  json::array label_list;
  for (const auto& l : labels) label_list.emplace_back(l);
  const auto token =
      call_json("POST", "/api/v1/enrolment-tokens", json::object{{"labels", label_list}}, bearer(*admin));
  if (token.status != 201) {
    std::ostringstream os;
    os << "POST /api/v1/enrolment-tokens failed: " << token;
    return internal_error(os.str());
  }
  const auto enrolled =
      call_json("POST", "/api/v1/agent/enrol",
                json::object{{"token", token.str("/token")}, {"hostname", hostname}, {"agent_version", "0.1.0"}});
  if (enrolled.status != 201) {
    std::ostringstream os;
    os << "POST /api/v1/agent/enrol failed: " << enrolled;
    return internal_error(os.str());
  }
  return AgentCredential{enrolled.str("/id"), enrolled.str("/credential"), hostname, labels};
}

ExitResult HoistdProcess::run_once(const std::vector<std::string>& args, milliseconds timeout,
                                   const std::string& binary) {
  const PrivateDir dir;
  const std::string log = dir / "output.log";
  std::string error;
  ExitResult result;
  const pid_t pid = spawn(binary.empty() ? default_binary() : binary, args, child_environment({}), log, error);
  if (pid < 0) {
    result.output = error;
    return result;
  }
  auto status = wait_for(pid, timeout);
  if (!status) {
    ::kill(pid, SIGKILL);
    status = wait_for(pid, milliseconds(10000));
    ADD_FAILURE() << "hoistd did not exit within " << timeout.count() << " ms; killed";
  }
  result.status = status.value_or(-1);
  result.output = read_whole_file(log);
  return result;
}

}  // namespace hoist::testing
