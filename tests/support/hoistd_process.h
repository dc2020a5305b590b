// The real hoistd executable as a test fixture: started as a child process
// on a private data directory (SQLite) and a free loopback port, talked to
// over real HTTPS with the project's client (hoist_https_client), pinned to
// the CA fingerprint hoistd writes in its ready file.
//
//   hoist::testing::HoistdProcess hoistd;
//   ASSERT_TRUE(hoistd.start()) << hoistd.start_error();
//   auto token = hoistd.admin_token();            // Result<std::string>
//   auto reply = hoistd.call("GET", "/api/v1/whoami", "", hoist::testing::bearer(*token));
//   EXPECT_EQ(reply.status, 200) << reply;        // prints the body and hoistd's output
//   EXPECT_EQ(hoistd.stop(), 0);                  // SIGTERM, then the exit status
//
// Every wait has a deadline (HoistdOptions); a hoistd that does not stop in
// time is killed with SIGKILL, and the destructor kills and reaps whatever
// is still running, so no test leaves a hoistd behind. The child also gets
// SIGKILL when the thread that started it exits (PR_SET_PDEATHSIG), which
// covers a test program that crashes: call start() from the test's main
// thread (gtest runs tests there), not from a short-lived helper thread.
//
// hoistd's stdout and stderr (banner and JSON log lines) go to log_path();
// output() returns them, for failure messages.
//
// The binary is HOIST_HOISTD_PATH (a compile definition of the
// hoist_test_hoistd library, $<TARGET_FILE:hoistd>) unless
// HoistdOptions::binary says otherwise.
//
// Not thread-safe, except that client() may be called from any thread to
// get a client of one's own (an HttpsClient serves one request at a time;
// a long poll in a second thread needs its own).
#pragma once

#include <sys/types.h>

#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "net/client/https_client.h"
#include "net/http_message.h"
#include "support/temp_dir.h"

namespace hoist::testing {

using Headers = std::vector<net::Header>;

// The first admin's password the fixture gives hoistd unless told otherwise.
inline constexpr std::string_view kHoistdAdminPassword = "e2e correct horse battery staple";

struct HoistdOptions {
  std::string binary;                                              // "" = HOIST_HOISTD_PATH
  std::string admin_user = "admin";                                // --admin-user
  std::string admin_password = std::string(kHoistdAdminPassword);  // HOIST_ADMIN_PASSWORD; "" = hoistd makes one up
  // Written to <dir>/hoistd.toml and always passed with --config, so a
  // /etc/hoist/hoistd.toml on the test machine is never read.
  std::string config_toml;
  std::vector<std::string> extra_args;  // after the standard flags
  std::vector<std::pair<std::string, std::string>> extra_env;
  std::chrono::milliseconds start_timeout{20000};  // until the ready file appears
  std::chrono::milliseconds stop_timeout{10000};   // after the signal, before SIGKILL
  std::chrono::seconds request_timeout{20};        // of the clients client() makes
  // --port: 0 picks a free one. A restart that must keep its address (an
  // enrolled agent knows hoistd by it) sets this to port() before start().
  std::uint16_t port = 0;
};

// One HTTP exchange: the response, or why there was none.
struct HttpReply {
  int status = 0;     // 0: no response; `error` says why
  std::string error;  // the client's error message when status is 0
  Headers headers;
  std::string body;
  boost::json::value json;  // null unless the body is JSON
  std::string context;      // appended by operator<< (hoistd's output when the reply came from call())

  [[nodiscard]] std::string header(std::string_view name) const;  // "" when absent
  // The value at a JSON pointer ("/request/state"), or nullptr.
  [[nodiscard]] const boost::json::value* at(std::string_view pointer) const;
  // The string at a JSON pointer, or "<missing>" / "<not a string>".
  [[nodiscard]] std::string str(std::string_view pointer) const;
  [[nodiscard]] std::int64_t num(std::string_view pointer) const;  // -1 when missing or not a whole number
  [[nodiscard]] bool boolean(std::string_view pointer) const;      // false when missing or not a bool
  [[nodiscard]] const boost::json::array& array(std::string_view pointer) const;  // empty when missing
};
// gtest prints the whole reply (and the context) when an assertion on it fails.
std::ostream& operator<<(std::ostream& os, const HttpReply& reply);

// Sends one request with `client`; never throws.
HttpReply send_request(net::HttpsClient& client, std::string_view method, std::string_view target,
                       std::string_view body = {}, const Headers& headers = {});

Headers bearer(const std::string& token);
Headers operator+(Headers a, const Headers& b);

// An enrolled endpoint: what hoist-agent keeps after enrolment.
struct AgentCredential {
  std::string id;
  std::string credential;  // hoist_agent_<id>_<secret>
  std::string hostname;
  std::vector<std::string> labels;
  [[nodiscard]] Headers headers() const { return bearer(credential); }
};

// How a client trusts hoistd.
enum class Trust {
  kPin,     // the CA fingerprint from the ready file
  kCaFile,  // the CA certificate file from the ready file
  kBoth,
};

// What a finished hoistd run printed and how it ended.
struct ExitResult {
  int status = -1;     // exit code, 128 + signal when killed by one, -1 when it could not be run
  std::string output;  // stdout and stderr together
};

class HoistdProcess {
 public:
  explicit HoistdProcess(HoistdOptions options = {});
  ~HoistdProcess();  // SIGKILL and reap if still running
  HoistdProcess(const HoistdProcess&) = delete;
  HoistdProcess& operator=(const HoistdProcess&) = delete;

  // Starts hoistd with
  //   --config <dir>/hoistd.toml --data-dir <dir>/data --port <options.port, 0>
  //   --ready-file <dir>/ready.json --admin-user <admin_user> <extra_args...>
  // and HOIST_ADMIN_PASSWORD in its environment, then waits for the ready
  // file. False when hoistd exits first or start_timeout passes (it is then
  // killed); start_error() says why, with hoistd's output. The data
  // directory is kept between starts, so a second start() after stop() is a
  // restart on the same database and TLS material.
  [[nodiscard]] bool start();
  [[nodiscard]] const std::string& start_error() const { return start_error_; }

  // stop(SIGTERM) and start() again on the same data directory.
  [[nodiscard]] bool restart();

  // Sends `signal` and waits up to stop_timeout for hoistd to exit; then
  // SIGKILL (and a test failure). The exit status as in ExitResult::status
  // (that of the last run when hoistd had already exited; -1 when it never
  // started).
  //
  // Clients that hold an idle keep-alive connection to hoistd delay its
  // exit: its drain waits up to 2 s for each one's TLS close_notify. The
  // fixture closes its own; destroy yours before stopping.
  int stop(int signal = SIGTERM);
  // Sends `signal` (after closing the fixture's own connection) and
  // returns at once.
  void signal(int signal);
  // The exit status once hoistd has exited, or nullopt if it is still
  // running after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  [[nodiscard]] bool running();
  [[nodiscard]] pid_t pid() const { return pid_; }

  // From the ready file of the latest start.
  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::string& ca_fingerprint() const { return ca_fingerprint_; }
  [[nodiscard]] const std::string& ca_file() const { return ca_file_; }

  [[nodiscard]] const std::string& dir() const { return dir_.path(); }  // private, 0700, removed at the end
  [[nodiscard]] std::string data_dir() const { return dir_ / "data"; }
  [[nodiscard]] std::string config_path() const { return dir_ / "hoistd.toml"; }
  [[nodiscard]] std::string log_path() const { return dir_ / "hoistd.log"; }
  // Everything hoistd printed so far, over every start.
  [[nodiscard]] std::string output() const;
  [[nodiscard]] const HoistdOptions& options() const { return options_; }
  [[nodiscard]] HoistdOptions& options() { return options_; }  // takes effect at the next start()

  // A new client of the running hoistd (nullptr, with a test failure, when
  // it cannot be made). Thread-safe.
  [[nodiscard]] std::unique_ptr<net::HttpsClient> client(Trust trust = Trust::kPin) const;

  // One request over the fixture's own kept-alive client (made again at
  // each start). The reply's context is hoistd's output.
  HttpReply call(std::string_view method, std::string_view target, std::string_view body = {},
                 const Headers& headers = {});
  HttpReply call_json(std::string_view method, std::string_view target, const boost::json::value& body,
                      const Headers& headers = {});

  // An API token of the first admin: POST /api/v1/login, then
  // POST /api/v1/tokens with the session cookie and X-CSRF-Token. Made once
  // and remembered (tokens survive restarts).
  Result<std::string> admin_token();
  // Enrols an endpoint: POST /api/v1/enrolment-tokens (as admin) for a
  // one-use token with `labels`, then POST /api/v1/agent/enrol with it.
  Result<AgentCredential> enrol(const std::vector<std::string>& labels, const std::string& hostname = "e2e-host");

  // Runs hoistd with exactly `args` (none of the standard flags), waits up
  // to `timeout` for it to exit (then kills it), and returns how it ended,
  // e.g. run_once({"--check-config", "--config", file}). HOIST_ADMIN_PASSWORD
  // is removed from its environment.
  static ExitResult run_once(const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
                             const std::string& binary = "");

  // The hoistd binary this fixture runs by default.
  static std::string default_binary();

 private:
  bool read_ready_file();
  void kill_and_reap();

  HoistdOptions options_;
  PrivateDir dir_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::string start_error_;
  std::string url_;
  std::uint16_t port_ = 0;
  std::string ca_fingerprint_;
  std::string ca_file_;
  std::unique_ptr<net::HttpsClient> client_;
  std::string admin_token_;
};

}  // namespace hoist::testing
