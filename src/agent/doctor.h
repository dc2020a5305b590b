// `hoist-agent doctor`: on an endpoint, what stands between sudo and a
// working Hoist, and what to do about it. The facts are gathered behind one
// interface (DoctorProbe; doctor_probe.h has the real one), and every check
// is a pure function of them, so each finding and its exit code are tested
// with fakes.
//
// Findings fall in classes, each with its exit code (the lowest class with
// a problem decides; warnings only with `strict`):
//   1 plugin      sudo.conf's policy line, hoist_sudo.so, its options
//   2 agent       the agent's socket, and the agent answering on it
//   3 enrolment   enrolled, to which hoistd, and hoistd accepting it
//   4 clock       the clock against hoistd's, and the policy's freshness
//   5 break-glass the file break_glass_file names, its groups
//   6 packages    sudo's version, hoist-agent's and hoist_sudo.so's
//
// MUST: nothing read from a file, a socket or hoistd reaches the terminal
// unsanitised (control characters are replaced; every text is cut short),
// and the endpoint's credential is never part of a finding.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace hoist::agent {

// --- facts ----------------------------------------------------------------

// A file as lstat() (or stat(), where links are followed) saw it.
struct FileFacts {
  bool exists = false;
  std::string error;  // why it could not be looked at ("" = it could, or it does not exist)
  bool symlink = false;
  bool regular = false;
  bool directory = false;
  bool socket = false;
  std::uint32_t uid = 0;
  std::uint32_t mode = 0;                // st_mode & 07777
  bool directory_chain_trusted = false;  // its directory and every one above: root's, not writable by others
};

struct SudoConfFacts {
  std::string path;
  FileFacts file;                   // lstat
  std::optional<std::string> text;  // read when it is a regular file (at most kMaxSudoConfBytes)
  std::string read_error;
};

struct PluginFileFacts {
  std::string path;                    // as resolved for sudo (relative: under sudo's plugin directory)
  FileFacts file;                      // stat (sudo follows links), chain checked for the path and its real path
  std::optional<std::string> version;  // "Hoist policy plugin version X" found in the file
};

enum class SocketProbe {
  kNotTried,       // not a socket, a link, or in an untrusted directory
  kRefused,        // ECONNREFUSED: a socket nobody listens on
  kConnectFailed,  // another connect() failure (`detail`)
  kAnswered,       // the agent answered doctor's `list` with a listing
  kErrorReply,     // the agent answered with an `error` frame (`detail`)
  kNoReply,        // connected, but no reply in time, or the connection was closed
  kGarbled,        // a reply that is not the agent protocol's (`detail`)
};

struct SocketFacts {
  std::string path;
  FileFacts file;  // lstat
  bool parent_exists = false;
  SocketProbe probe = SocketProbe::kNotTried;
  std::optional<std::uint32_t> peer_uid;  // SO_PEERCRED of whoever serves it
  std::optional<std::int32_t> peer_pid;
  std::string detail;
};

struct EnrolmentFacts {
  std::string server_url;
  std::string endpoint_id;
  std::string hostname;
  TimePoint enrolled_at{};
  bool credential_present = false;
  bool pin_present = false;
  std::vector<std::string> fallback_server_urls;  // the other replicas, in order
};

struct StoredPolicyFacts {
  std::string etag;
  TimePoint fetched_at{};
  std::size_t documents = 0;
};

struct StateFacts {
  std::string dir;
  bool exists = false;  // the directory and its database
  std::string error;    // it could not be opened ("" = it could, or it does not exist)
  std::optional<EnrolmentFacts> enrolment;
  std::optional<StoredPolicyFacts> policy;
};

enum class PolicyAtServer { kNotAsked, kCurrent, kDifferent, kError };

struct ServerFacts {
  bool tried = false;
  std::string transport_error;  // no HTTP reply at all (unreachable, TLS, the pin)
  int status = 0;               // the heartbeat's HTTP status
  std::string error;            // the server's error words, for a non-2xx
  std::optional<TimePoint> server_time;
  std::chrono::sys_time<std::chrono::milliseconds> sent{};
  std::chrono::sys_time<std::chrono::milliseconds> received{};
  PolicyAtServer policy = PolicyAtServer::kNotAsked;
  std::string policy_error;
  std::string answered_by;  // the URL that answered (one of several replicas)
};

struct GroupFacts {
  std::string name;
  bool exists = false;
  std::size_t members = 0;  // listed members and users whose primary group it is
};

struct BreakGlassFacts {
  std::string path;
  FileFacts file;                   // lstat (the plugin opens it with O_NOFOLLOW)
  std::optional<std::string> text;  // read only when the file and its directories pass
  std::string read_error;
  std::vector<GroupFacts> groups;
};

struct PackageFacts {
  bool dpkg_available = false;
  std::string dpkg_error;
  std::optional<std::string> sudo_version;   // installed package versions
  std::optional<std::string> agent_version;  // the hoist-agent package
  std::string running_binary;                // this program's path
};

// What doctor was asked to look at.
struct DoctorOptions {
  std::string sudo_conf = "/etc/sudo.conf";
  std::string state_dir = "/var/lib/hoist-agent";
  std::string socket = "/run/hoist/agent.sock";  // the socket the agent serves (its --socket)
  std::chrono::seconds policy_max_age{24 * 3600};
  bool strict = false;  // warnings count for the exit code too
};

struct DoctorFacts {
  DoctorOptions options;
  SudoConfFacts sudo_conf;
  std::optional<PluginFileFacts> plugin;     // when sudo.conf has Hoist's line
  SocketFacts socket;                        // options.socket
  std::optional<SocketFacts> plugin_socket;  // the plugin's agent_socket, when another path
  StateFacts state;
  ServerFacts server;
  std::optional<BreakGlassFacts> break_glass;  // when the plugin names a file
  PackageFacts packages;
  TimePoint now{};
};

// Gathers the facts; every method reports what it could not learn in the
// facts themselves and never fails.
class DoctorProbe {
 public:
  virtual ~DoctorProbe() = default;
  DoctorProbe() = default;
  DoctorProbe(const DoctorProbe&) = delete;
  DoctorProbe& operator=(const DoctorProbe&) = delete;

  virtual SudoConfFacts sudo_conf(const std::string& path) = 0;
  virtual PluginFileFacts plugin_file(const std::string& path) = 0;
  virtual SocketFacts agent_socket(const std::string& path) = 0;
  virtual StateFacts state(const std::string& dir) = 0;
  // A heartbeat (hoistd's time, the credential accepted) and the policy's
  // ETag, with the enrolment state() read last.
  virtual ServerFacts server(const std::string& policy_etag) = 0;
  virtual BreakGlassFacts break_glass(const std::string& path) = 0;
  virtual PackageFacts packages() = 0;
  virtual TimePoint now() = 0;
};

// Asks the probe in order (the plugin's path and options come from
// sudo.conf, the server from the state).
DoctorFacts gather(const DoctorOptions& options, DoctorProbe& probe);

// --- findings -------------------------------------------------------------

enum class FindingClass { kPlugin = 1, kAgent = 2, kEnrolment = 3, kClock = 4, kBreakGlass = 5, kPackages = 6 };
std::string_view to_string(FindingClass c);

enum class Severity { kOk, kNote, kWarning, kProblem };
std::string_view to_string(Severity s);

struct Finding {
  FindingClass cls = FindingClass::kPlugin;
  Severity severity = Severity::kOk;
  std::string check;    // "sudo.conf", "agent", "clock", ...
  std::string message;  // what was found
  std::string fix;      // what to do; "" for ok
};

// Thresholds of the clock check: |skew| beyond the first warns, beyond the
// second is a problem (grants, codes and the audit trail's order depend on
// both clocks agreeing), after the round trip's uncertainty is taken off.
inline constexpr std::chrono::seconds kClockWarnSkew{30};
inline constexpr std::chrono::seconds kClockProblemSkew{120};
// The sudo release hoist_sudo.so is tested with (Debian 12's).
inline constexpr std::string_view kTestedSudo = "1.9.13";

std::vector<Finding> check_sudo_conf(const DoctorFacts& facts);
std::vector<Finding> check_agent(const DoctorFacts& facts);
std::vector<Finding> check_enrolment(const DoctorFacts& facts);
std::vector<Finding> check_clock_and_policy(const DoctorFacts& facts);
std::vector<Finding> check_break_glass(const DoctorFacts& facts);
std::vector<Finding> check_packages(const DoctorFacts& facts);

// Every check, in the order of the classes.
std::vector<Finding> diagnose(const DoctorFacts& facts);

// 0 when no finding counts; otherwise the lowest class of those that do
// (problems, and warnings when `strict`).
int exit_code(const std::vector<Finding>& findings, bool strict);

std::string render_text(const std::vector<Finding>& findings, bool strict);
std::string render_json(const std::vector<Finding>& findings, bool strict);

// --- pure helpers (exposed for tests) -------------------------------------

// `text` without control characters (each replaced by '?'), at most `max`
// bytes (then "...").
std::string printable(std::string_view text, std::size_t max = 300);

// "Hoist policy plugin version X" in a file's bytes: X, or nullopt.
std::optional<std::string> plugin_version_in(std::string_view bytes);

// A Debian version's upstream part as numbers: "1.9.13p3-1+deb12u4" ->
// {1, 9, 13}; "0.1.0-1" -> {0, 1, 0}. Empty when it does not start with a
// number.
std::vector<int> upstream_numbers(std::string_view debian_version);

}  // namespace hoist::agent
