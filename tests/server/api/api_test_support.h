// In-process tests of the REST API: a fixture that builds an Api over a
// fresh SQLite store in a temporary directory, a ManualClock and the
// system's time zones, and calls Api::handle() with hand-built requests (no
// sockets; tests over real HTTPS live elsewhere).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "log/logger.h"
#include "platform/system_time_zones.h"
#include "server/api/api.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace hoist::api::testing {

namespace json = boost::json;
using Headers = std::vector<net::Header>;

inline constexpr std::string_view kPassword = "correct horse battery staple";
inline constexpr std::string_view kRemote = "192.0.2.10";
// A pseudo-header call() turns into the request's remote_address (the peer
// address the server would take from the socket) instead of sending it.
inline constexpr std::string_view kRemoteHeader = "x-test-remote-address";
// A Monday morning, so nothing depends on when the tests run.
inline const std::chrono::system_clock::time_point kStart =
    std::chrono::sys_days{std::chrono::year{2026} / std::chrono::March / 2} + std::chrono::hours{10};

using TempDir = hoist::testing::PrivateDir;

struct Reply {
  int status = 0;
  json::value body;  // null unless the body is JSON
  net::HttpResponse raw;

  [[nodiscard]] std::string header(std::string_view name) const;
  // The value at a JSON pointer ("/request/state"), or nullptr.
  [[nodiscard]] const json::value* at(std::string_view pointer) const;
  // The string at a JSON pointer, or "<missing>" / "<not a string>".
  [[nodiscard]] std::string str(std::string_view pointer) const;
  [[nodiscard]] std::int64_t num(std::string_view pointer) const;          // -1 when missing
  [[nodiscard]] const json::array& array(std::string_view pointer) const;  // empty when missing
  [[nodiscard]] std::string error_code() const { return str("/error/code"); }
  [[nodiscard]] std::string error_message() const { return str("/error/message"); }
};
// gtest prints the whole reply when an assertion on it fails.
std::ostream& operator<<(std::ostream& os, const Reply& reply);

struct Session {
  std::string cookie;  // "hoist_session=..."
  std::string csrf;
  [[nodiscard]] Headers headers(bool with_csrf = true) const;
};

// The admin-code master key every test server is given.
inline std::vector<std::uint8_t> codes_master_key() {
  return std::vector<std::uint8_t>(32, 0x42);
}

struct Agent {
  std::string id;
  std::string credential;
  std::string hostname;
  [[nodiscard]] Headers headers() const;
};

Headers bearer(const std::string& token);
Headers operator+(Headers a, const Headers& b);

// What an agent sends for one command (POST /api/v1/agent/requests).
struct Submission {
  std::string user = "alice";
  std::vector<std::string> groups = {"staff"};
  std::string justification = "ticket 4711";
  std::optional<std::int64_t> duration_s;
  std::string path = "/usr/bin/apt-get";
  std::vector<std::string> argv = {"apt-get", "install", "curl"};
  bool trusted_path = true;

  [[nodiscard]] json::object to_json() const;
  [[nodiscard]] std::string text() const;
};

// Parses RFC 4180 CSV (quoted fields, doubled quotes, CRLF rows).
std::vector<std::vector<std::string>> parse_csv(std::string_view text);

// The policy the lifecycle tests use: a deny rule, a manual, an autonomous
// (with an auto-approval entry for developers up to 1h) and a self-approval
// request rule; unmatched commands are denied; pending requests expire
// after 1h.
extern const std::string kFleetPolicy;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Destroys the Api and the store and opens both again on the same file,
  // as after a restart of hoistd.
  void restart();

  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             const Headers& headers = {});
  Reply call_json(const std::string& method, const std::string& target, const json::value& body,
                  const Headers& headers = {});

  // Creates a console user through the library call hoistd uses at setup.
  void create_user(const std::string& name, store::Role role);
  Reply try_login(const std::string& user, std::string_view password, std::string_view remote = kRemote);
  // Logs in (the test fails when it does not work).
  Session login(const std::string& user, std::string_view password = kPassword);
  // An API token of a user with `role` (created on first use, one per role
  // and fixture), already used once so its hourly "token.used" audit event
  // is behind it.
  const std::string& token_for(store::Role role);
  Headers as(store::Role role) { return bearer(token_for(role)); }
  // A new user with `role` named `name` and an API token of theirs.
  std::string token_of_new_user(const std::string& name, store::Role role);
  // Enrols an endpoint with a fresh one-use enrolment token with `labels`.
  Agent enrol(const std::vector<std::string>& labels, const std::string& hostname = "web-01");

  // PUT /api/v1/policies/{name} as admin; then assigns it to labels when given.
  Reply put_policy(const std::string& name, const std::string& text, const std::vector<std::string>& labels = {});
  Reply submit(const Agent& agent, const Submission& s);

  // The agent's queued push messages (GET /api/v1/agent/push?after=0).
  json::array push_messages(const Agent& agent);
  // The audit events for `target` (GET /api/v1/audit?target=...), as admin.
  json::array audit_for(const std::string& target);
  std::vector<std::string> audit_actions_for(const std::string& target);
  std::uint64_t audit_head_seq();
  std::size_t stored_request_count();

  std::string db_path() const { return dir_.path() + "/hoist.db"; }
  std::string now_text() const;

  TempDir dir_;
  ManualClock clock_{kStart};
  platform::SystemTimeZones zones_;
  std::unique_ptr<log::Logger> log_ = log::make_null_logger();
  std::atomic<int> wakes_{0};
  int memory_answers_ = 0;          // calls answered by Api::answer_from_memory
  std::vector<std::string> woken_;  // the endpoint of each wake ("" = all)
  std::atomic<int> console_wakes_{0};
  // The console's files open() gives the Api (null: none).
  std::shared_ptr<const server::ConsoleFiles> console_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Api> api_;
  std::map<store::Role, std::string> tokens_;
  // The admin-code master key open() gives the Api (empty: no codes).
  std::vector<std::uint8_t> master_key_ = codes_master_key();
  // The metrics open() gives the Api (null: none), and the metrics token's
  // hash (empty: no GET /metrics).
  server::ServerMetrics* metrics_ = nullptr;
  std::string metrics_token_hash_;

 private:
  void open();
};

}  // namespace hoist::api::testing
