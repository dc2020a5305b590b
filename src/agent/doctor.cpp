#include "agent/doctor.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>

#include "agent/daemon.h"
#include "agent/spool_dir.h"
#include "agent/sudo_conf.h"
#include "core/display_text.h"
#include "core/timestamp.h"
#include "plugin/break_glass_groups.h"
#include "plugin/sudo_args.h"

namespace hoist::agent {

namespace {

constexpr std::string_view kVersionLine = "Hoist policy plugin version ";

Finding ok(FindingClass c, std::string check, std::string message) {
  return Finding{c, Severity::kOk, std::move(check), std::move(message), ""};
}
Finding note(FindingClass c, std::string check, std::string message, std::string fix = "") {
  return Finding{c, Severity::kNote, std::move(check), std::move(message), std::move(fix)};
}
Finding warning(FindingClass c, std::string check, std::string message, std::string fix) {
  return Finding{c, Severity::kWarning, std::move(check), std::move(message), std::move(fix)};
}
Finding problem(FindingClass c, std::string check, std::string message, std::string fix) {
  return Finding{c, Severity::kProblem, std::move(check), std::move(message), std::move(fix)};
}

std::string p(std::string_view s) {
  return printable(s, 200);
}

std::string mode_text(std::uint32_t mode) {
  return fmt::format("{:04o}", mode & 07777);
}

const SudoConfPlugin* hoist_line(const DoctorFacts& f, SudoConf& storage) {
  if (!f.sudo_conf.text) return nullptr;
  auto conf = parse_sudo_conf(*f.sudo_conf.text);
  if (!conf) return nullptr;
  storage = std::move(*conf);
  return storage.loads_hoist() ? storage.policy() : nullptr;
}

// The plugin's options as hoist_sudo.so reads them, or its refusal.
Result<plugin::PluginOptions> plugin_options(const SudoConfPlugin& line) {
  const std::vector<std::string_view> views(line.options.begin(), line.options.end());
  return plugin::parse_plugin_options(views);
}

// Why a root-only file is not fit, as a problem's words; "" when it is.
std::string ownership_issue(const FileFacts& file) {
  if (file.uid != 0) return fmt::format("is owned by uid {}, not root", file.uid);
  if ((file.mode & 022) != 0) return fmt::format("is writable by group or others (mode {})", mode_text(file.mode));
  return "";
}

std::string abs_seconds(std::chrono::seconds s) {
  return format_duration(Seconds(s.count() < 0 ? -s.count() : s.count()));
}

}  // namespace

// --- gathering --------------------------------------------------------------

DoctorFacts gather(const DoctorOptions& options, DoctorProbe& probe) {
  DoctorFacts f;
  f.options = options;
  f.now = probe.now();
  f.sudo_conf = probe.sudo_conf(options.sudo_conf);
  SudoConf conf;
  std::optional<plugin::PluginOptions> plugin_opts;
  if (const auto* line = hoist_line(f, conf)) {
    // Where sudo itself would look (its `Path plugin_dir`).
    if (auto file = conf.plugin_file(*line)) {
      f.plugin = probe.plugin_file(*file);
    } else {
      PluginFileFacts none;
      none.path = line->path;
      none.file.error = "is named without a path, and sudo.conf's \"Path plugin_dir\" line has no directory";
      f.plugin = std::move(none);
    }
    if (auto parsed = plugin_options(*line)) plugin_opts = *parsed;
  }
  f.socket = probe.agent_socket(options.socket);
  if (plugin_opts && plugin_opts->agent_socket != options.socket) {
    f.plugin_socket = probe.agent_socket(plugin_opts->agent_socket);
  }
  f.state = probe.state(options.state_dir);
  if (f.state.enrolment && f.state.enrolment->credential_present) {
    f.server = probe.server(f.state.policy ? f.state.policy->etag : std::string());
  }
  if (plugin_opts && !plugin_opts->break_glass_file.empty()) {
    f.break_glass = probe.break_glass(plugin_opts->break_glass_file);
  }
  f.packages = probe.packages();
  return f;
}

// --- 1: sudo.conf and the plugin ---------------------------------------------

std::vector<Finding> check_sudo_conf(const DoctorFacts& f) {
  constexpr auto kClass = FindingClass::kPlugin;
  std::vector<Finding> out;
  const auto& sc = f.sudo_conf;
  const std::string path = p(sc.path);
  const std::string install =
      "run hoist-agent install-plugin (it tests the new sudo.conf before switching; the way "
      "back is hoist-agent uninstall-plugin)";
  if (!sc.file.exists && sc.file.error.empty()) {
    out.push_back(
        problem(kClass, "sudo.conf", fmt::format("{} does not exist: sudo uses sudoers, not Hoist", path), install));
    return out;
  }
  if (!sc.file.error.empty()) {
    out.push_back(problem(kClass, "sudo.conf", fmt::format("cannot look at {}: {}", path, p(sc.file.error)),
                          "check the path (--sudo-conf) and run doctor as root"));
    return out;
  }
  if (sc.file.symlink) {
    out.push_back(problem(kClass, "sudo.conf", fmt::format("{} is a symbolic link; doctor does not follow it", path),
                          fmt::format("replace the link by the file itself, or point --sudo-conf at the file")));
    return out;
  }
  if (!sc.file.regular) {
    out.push_back(problem(kClass, "sudo.conf", fmt::format("{} is not a regular file", path),
                          "replace it by a regular file (hoist-agent install-plugin writes one)"));
    return out;
  }
  if (auto issue = ownership_issue(sc.file); !issue.empty()) {
    out.push_back(problem(kClass, "sudo.conf",
                          fmt::format("{} {}: sudo ignores such a sudo.conf (and whoever can write it decides "
                                      "which policy plugin root runs)",
                                      path, issue),
                          fmt::format("chown root:root {}; chmod 0644 {}", path, path)));
    return out;
  }
  if (!sc.text) {
    out.push_back(problem(kClass, "sudo.conf", fmt::format("cannot read {}: {}", path, p(sc.read_error)),
                          "make it a readable file of at most 1 MiB"));
    return out;
  }
  auto conf = parse_sudo_conf(*sc.text);
  if (!conf) {
    out.push_back(problem(kClass, "sudo.conf",
                          fmt::format("{} cannot be read with certainty: {}", path, p(conf.error().message)),
                          "correct that line (sudo reads the file the same way), then run doctor again"));
    return out;
  }
  const auto* policy = conf->policy();
  if (policy == nullptr) {
    out.push_back(problem(kClass, "sudo.conf",
                          fmt::format("{} has no policy Plugin line: sudo uses sudoers, not Hoist", path), install));
    return out;
  }
  if (!conf->loads_hoist()) {
    out.push_back(problem(kClass, "sudo.conf",
                          fmt::format("{} line {} loads the policy plugin {} ({}), not Hoist's", path,
                                      policy->first_line, p(policy->symbol), p(policy->path)),
                          install));
    return out;
  }
  out.push_back(
      ok(kClass, "sudo.conf",
         fmt::format("{} line {} loads Hoist's policy plugin {}", path, policy->first_line, p(policy->path))));

  // The .so.
  if (f.plugin) {
    const auto& pf = *f.plugin;
    const std::string so = p(pf.path);
    if (!pf.file.exists) {
      out.push_back(problem(kClass, "plugin",
                            fmt::format("{} {}: sudo cannot load it, and every sudo fails", so,
                                        pf.file.error.empty() ? "does not exist" : p(pf.file.error)),
                            "install hoist_sudo.so there (the hoist-agent package does), or run hoist-agent "
                            "install-plugin --plugin PATH with where it is"));
    } else if (!pf.file.regular) {
      out.push_back(problem(kClass, "plugin", fmt::format("{} is not a regular file", so),
                            "install hoist_sudo.so there, or point the Plugin line at it"));
    } else if (auto issue = ownership_issue(pf.file); !issue.empty()) {
      out.push_back(
          problem(kClass, "plugin",
                  fmt::format("{} {}: sudo refuses to load it, and whoever can write it can become root", so, issue),
                  fmt::format("chown root:root {}; chmod 0644 {}", so, so)));
    } else if (!pf.file.directory_chain_trusted) {
      out.push_back(problem(kClass, "plugin",
                            fmt::format("a directory above {} is not root's or is writable by others: whoever can "
                                        "write it can swap the plugin and become root",
                                        so),
                            "move hoist_sudo.so under a root-owned path such as /usr/lib/hoist (chmod go-w on every "
                            "directory above it)"));
    } else {
      out.push_back(ok(kClass, "plugin", fmt::format("{} is root's and not writable by others", so)));
    }
  }

  auto options = plugin_options(*policy);
  if (!options) {
    out.push_back(problem(kClass, "plugin options",
                          fmt::format("hoist_sudo.so refuses the options on line {}: {}; it then denies every "
                                      "command but root's",
                                      policy->first_line, p(options.error().message)),
                          "correct them (docs/sudo-plugin.md lists each option), or write the line again with "
                          "hoist-agent install-plugin"));
    return out;
  }
  if (options->agent_socket != f.options.socket) {
    out.push_back(problem(kClass, "plugin options",
                          fmt::format("the plugin asks the agent at {} (agent_socket=), but the agent serves {}",
                                      p(options->agent_socket), p(f.options.socket)),
                          fmt::format("run hoist-agent install-plugin --agent-socket {} (or, if the agent really "
                                      "serves {}, give doctor --socket {})",
                                      p(f.options.socket), p(options->agent_socket), p(options->agent_socket))));
  } else {
    out.push_back(
        ok(kClass, "plugin options", fmt::format("valid; agent_socket={} is the agent's", p(options->agent_socket))));
  }
  return out;
}

// --- 2: the agent's socket ----------------------------------------------------

namespace {

Finding socket_finding(const SocketFacts& s, const std::optional<SocketFacts>& other) {
  constexpr auto kClass = FindingClass::kAgent;
  const std::string path = p(s.path);
  const std::string start = "start it: systemctl start hoist-agent (journalctl -u hoist-agent -b says why it stopped)";
  if (!s.file.exists) {
    if (!s.file.error.empty()) {
      return problem(kClass, "agent", fmt::format("cannot look at {}: {}", path, p(s.file.error)),
                     "check the path (--socket) and run doctor as root");
    }
    std::string msg = s.parent_exists
                          ? fmt::format("no socket at {}: hoist-agent is not running (or serves another path)", path)
                          : fmt::format(
                                "no socket at {} (its directory does not exist either): hoist-agent is not "
                                "running",
                                path);
    if (other && other->probe == SocketProbe::kAnswered) {
      return problem(kClass, "agent",
                     fmt::format("no socket at {}, but an agent answers at {} (the plugin's agent_socket): a wrong "
                                 "path, not a stopped agent",
                                 path, p(other->path)),
                     fmt::format("give doctor --socket {} if the agent is meant to serve there, else run "
                                 "hoist-agent run --socket {} (the unit's default)",
                                 p(other->path), path));
    }
    return problem(kClass, "agent", msg, start);
  }
  if (s.file.symlink) {
    return problem(kClass, "agent",
                   fmt::format("{} is a symbolic link; the agent makes a socket, never a link, so something else put "
                               "it there (doctor does not follow it)",
                               path),
                   fmt::format("remove it (rm {}) and restart the agent: systemctl restart hoist-agent", path));
  }
  if (!s.file.socket) {
    return problem(kClass, "agent",
                   fmt::format("{} is {}, not a socket: the agent cannot serve there", path,
                               s.file.directory ? "a directory" : "a file"),
                   fmt::format("move it away and restart the agent: systemctl restart hoist-agent"));
  }
  if (!s.file.directory_chain_trusted) {
    return problem(kClass, "agent",
                   fmt::format("{} is in a directory that is not root's or is writable by others: a user could "
                               "put their own socket there and answer sudo in the agent's place (doctor did not "
                               "connect)",
                               path),
                   "serve the socket from a root-owned directory that only root can write, such as /run/hoist "
                   "(the unit's RuntimeDirectory, 0755)");
  }
  switch (s.probe) {
    case SocketProbe::kRefused:
      return problem(
          kClass, "agent",
          fmt::format("a socket is at {} but nothing listens: hoist-agent stopped without removing it", path), start);
    case SocketProbe::kConnectFailed:
      return problem(kClass, "agent", fmt::format("cannot connect to {}: {}", path, p(s.detail)), start);
    case SocketProbe::kNoReply:
      return problem(
          kClass, "agent",
          fmt::format("the agent at {} accepted doctor's connection but did not answer: {}", path, p(s.detail)),
          "restart it: systemctl restart hoist-agent (and look at journalctl -u hoist-agent)");
    case SocketProbe::kGarbled:
      return problem(kClass, "agent",
                     fmt::format("something answers at {}, but not in the agent's protocol: {}", path, p(s.detail)),
                     "check which program serves the socket (ss -xlp) and restart hoist-agent");
    case SocketProbe::kErrorReply:
      return warning(kClass, "agent",
                     fmt::format("the agent at {} answers, but refused doctor's listing: {}", path, p(s.detail)),
                     "look at journalctl -u hoist-agent; an agent of another release speaks another protocol "
                     "version: install hoist-agent and hoist_sudo.so from the same release");
    case SocketProbe::kAnswered:
      if (s.peer_uid && *s.peer_uid != 0) {
        return problem(
            kClass, "agent",
            fmt::format("the process serving {} runs as uid {}, not root: it is not hoist-agent", path, *s.peer_uid),
            fmt::format("find and stop it (ss -xlp | grep {}; pid {}), then restart hoist-agent", path,
                        s.peer_pid.value_or(0)));
      }
      return ok(kClass, "agent", fmt::format("hoist-agent answers at {} (pid {})", path, s.peer_pid.value_or(0)));
    case SocketProbe::kNotTried: break;
  }
  return problem(kClass, "agent", fmt::format("{} was not tried", path), "run doctor again as root");
}

}  // namespace

std::vector<Finding> check_agent(const DoctorFacts& f) {
  std::vector<Finding> out{socket_finding(f.socket, f.plugin_socket)};
  // A refused peer is an attack whichever answer came: the uid decides.
  if (f.socket.probe != SocketProbe::kAnswered && f.socket.peer_uid && *f.socket.peer_uid != 0) {
    out.back() =
        problem(FindingClass::kAgent, "agent",
                fmt::format("the process serving {} runs as uid {}, not root: it is not hoist-agent", p(f.socket.path),
                            *f.socket.peer_uid),
                fmt::format("find and stop it (ss -xlp | grep {}), then restart hoist-agent", p(f.socket.path)));
  }
  return out;
}

// --- 3: enrolment and hoistd --------------------------------------------------

std::vector<Finding> check_enrolment(const DoctorFacts& f) {
  constexpr auto kClass = FindingClass::kEnrolment;
  std::vector<Finding> out;
  const std::string enroll =
      "enrol it: hoist-agent enroll --server https://HOISTD:8443 --token TOKEN --ca-pin FINGERPRINT (a token from "
      "the console or hoist enrol-token create), then systemctl restart hoist-agent";
  const auto& st = f.state;
  if (!st.error.empty()) {
    out.push_back(problem(kClass, "enrolment",
                          fmt::format("cannot read the agent's state: {}", printable(st.error, 400)),
                          "do what the message says (the state directory must be root's, 0700, its agent.db 0600)"));
    return out;
  }
  if (!st.exists || !st.enrolment) {
    out.push_back(problem(kClass, "enrolment",
                          fmt::format("this computer is not enrolled (no identity in {})", p(st.dir)), enroll));
    return out;
  }
  const auto& e = *st.enrolment;
  if (!e.credential_present || !e.pin_present) {
    out.push_back(
        problem(kClass, "enrolment",
                fmt::format("the enrolment in {} has no {}", p(st.dir), e.credential_present ? "CA pin" : "credential"),
                "enrol again with --force: hoist-agent enroll --force --server ... --token ... --ca-pin ..."));
    return out;
  }
  std::string all_servers = p(e.server_url);
  for (const auto& url : e.fallback_server_urls) all_servers += ", " + p(url);
  out.push_back(ok(kClass, "enrolment",
                   fmt::format("enrolled as {} ({}) with {} since {}", p(e.endpoint_id), p(e.hostname), all_servers,
                               format_timestamp(e.enrolled_at))));
  const auto& s = f.server;
  if (!s.tried) return out;
  if (!s.transport_error.empty()) {
    out.push_back(problem(kClass, "hoistd",
                          fmt::format("hoistd at {} cannot be reached: {}", all_servers, p(s.transport_error)),
                          "check that hoistd runs and that this computer reaches it (DNS, firewall, proxy); a "
                          "certificate that does not match the pinned CA means another server, or hoistd's CA was "
                          "replaced: enrol again. Meanwhile the agent serves from its last policy"));
    return out;
  }
  if (s.status == 401 || s.status == 403) {
    out.push_back(problem(kClass, "hoistd",
                          fmt::format("hoistd refused this endpoint's credential (HTTP {}: {}): it was revoked or the "
                                      "endpoint deleted",
                                      s.status, p(s.error)),
                          enroll));
    return out;
  }
  if (s.status < 200 || s.status > 299) {
    out.push_back(problem(kClass, "hoistd", fmt::format("hoistd answered HTTP {}: {}", s.status, p(s.error)),
                          "look at hoistd's log; run doctor again once it answers"));
    return out;
  }
  const auto rtt = std::chrono::duration_cast<std::chrono::milliseconds>(s.received - s.sent);
  const std::string where =
      e.fallback_server_urls.empty() || s.answered_by.empty() ? std::string() : " at " + p(s.answered_by);
  out.push_back(
      ok(kClass, "hoistd", fmt::format("hoistd{} accepts this endpoint (round trip {} ms)", where, rtt.count())));
  return out;
}

// --- 4: the clock and the policy ---------------------------------------------

std::vector<Finding> check_clock_and_policy(const DoctorFacts& f) {
  constexpr auto kClass = FindingClass::kClock;
  std::vector<Finding> out;
  const auto& s = f.server;
  const bool answered = s.tried && s.transport_error.empty() && s.status >= 200 && s.status <= 299;
  if (!answered) {
    if (f.state.enrolment)
      out.push_back(note(kClass, "clock", "not compared: hoistd did not answer (see hoistd above)"));
  } else if (!s.server_time) {
    out.push_back(note(kClass, "clock", "not compared: hoistd's answer carries no server_time"));
  } else {
    using std::chrono::milliseconds;
    const auto mid = s.sent + (s.received - s.sent) / 2;
    // server_time is cut to whole seconds: its middle is half a second on,
    // and it was taken somewhere within the round trip.
    const auto skew_ms = std::chrono::duration_cast<milliseconds>(
        mid - (std::chrono::time_point_cast<milliseconds>(*s.server_time) + milliseconds(500)));
    const auto uncertainty = milliseconds(500) + (s.received - s.sent) / 2;
    const auto magnitude = skew_ms < milliseconds(0) ? -skew_ms : skew_ms;
    const auto beyond = magnitude > uncertainty ? magnitude - uncertainty : milliseconds(0);
    const auto skew_s = std::chrono::round<std::chrono::seconds>(skew_ms);
    const std::string where = skew_ms > milliseconds(0) ? "ahead of" : "behind";
    const std::string fix =
        "let the clock follow NTP: timedatectl set-ntp true (systemd-timesyncd), or chrony; timedatectl "
        "timesync-status shows it working";
    if (beyond > kClockProblemSkew) {
      out.push_back(problem(kClass, "clock",
                            fmt::format("this computer's clock is {} {} hoistd's: grants would start and end at the "
                                        "wrong time and admin codes be refused",
                                        abs_seconds(skew_s), where),
                            fix));
    } else if (beyond > kClockWarnSkew) {
      out.push_back(warning(
          kClass, "clock",
          fmt::format("this computer's clock is {} {} hoistd's (grants end by this clock)", abs_seconds(skew_s), where),
          fix));
    } else {
      out.push_back(ok(kClass, "clock",
                       fmt::format("within {} s of hoistd's",
                                   std::chrono::ceil<std::chrono::seconds>(uncertainty + magnitude).count())));
    }
  }

  if (!f.state.enrolment) return out;
  const auto& policy = f.state.policy;
  const std::string assign =
      "assign a policy to one of this endpoint's labels (hoist policy assign NAME LABEL); the agent fetches it "
      "within a minute";
  if (!policy) {
    out.push_back(problem(kClass, "policy", "the agent has no policy yet: Hoist allows nothing through sudo", assign));
    return out;
  }
  if (policy->documents == 0) {
    out.push_back(problem(kClass, "policy",
                          fmt::format("hoistd gives this endpoint no policy (none is assigned to its labels; received "
                                      "{}): Hoist allows nothing through sudo",
                                      format_timestamp(policy->fetched_at)),
                          assign));
    return out;
  }
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(f.now - policy->fetched_at);
  const std::string received =
      fmt::format("{} document(s), received {}", policy->documents, format_timestamp(policy->fetched_at));
  if (answered && s.policy == PolicyAtServer::kCurrent) {
    out.push_back(ok(kClass, "policy", fmt::format("current: {}", received)));
  } else if (answered && s.policy == PolicyAtServer::kDifferent) {
    out.push_back(warning(kClass, "policy", fmt::format("hoistd has another policy than the agent's ({})", received),
                          "the agent checks every minute and on every push: if this lasts, see why in journalctl -u "
                          "hoist-agent (agent.policy_sync_failed: a policy this agent cannot compile stays "
                          "unused)"));
  } else if (age > f.options.policy_max_age) {
    out.push_back(warning(
        kClass, "policy",
        fmt::format("{}, {} ago, and not verified as current ({})", received, format_duration(Seconds(age.count())),
                    answered ? p(s.policy_error) : "hoistd did not answer"),
        "bring hoistd back within reach (see hoistd above); the agent keeps deciding with this "
        "policy meanwhile"));
  } else {
    out.push_back(note(kClass, "policy",
                       fmt::format("{}; not verified as current ({})", received,
                                   answered ? p(s.policy_error) : "hoistd did not answer")));
  }
  return out;
}

// --- 5: break-glass -----------------------------------------------------------

std::vector<Finding> check_break_glass(const DoctorFacts& f) {
  constexpr auto kClass = FindingClass::kBreakGlass;
  std::vector<Finding> out;
  SudoConf conf;
  const auto* line = hoist_line(f, conf);
  if (line == nullptr) return out;  // sudo.conf's finding says what to do first
  auto options = plugin_options(*line);
  if (!options) return out;
  // The agent reads break-glass uses from its state directory's spool.
  if (const std::string spool = spool_dir_of(f.options.state_dir); options->spool_dir != spool) {
    out.push_back(warning(kClass, "break-glass",
                          fmt::format("the plugin spools break-glass uses in {}, but the agent of {} reads {}: they "
                                      "never reach the audit trail",
                                      p(options->spool_dir), p(f.options.state_dir), p(spool)),
                          "write the line again with hoist-agent install-plugin (it sets spool_dir= from "
                          "--state-dir), or run the agent with --spool-dir set to the plugin's spool_dir"));
  }
  if (options->break_glass_file.empty() || !f.break_glass) {
    out.push_back(warning(kClass, "break-glass",
                          "no break-glass is configured: while hoist-agent is down nobody but root can elevate",
                          "list the groups that may elevate then, one per line, in a root-owned file that only root "
                          "can write (e.g. /etc/hoist/break-glass), and add it: hoist-agent install-plugin "
                          "--break-glass-file /etc/hoist/break-glass (docs/sudo-plugin.md, break-glass)"));
    return out;
  }
  const auto& b = *f.break_glass;
  const std::string path = p(b.path);
  const std::string nobody = "the plugin then gives break-glass to nobody";
  if (!b.file.exists) {
    out.push_back(
        problem(kClass, "break-glass",
                fmt::format("{} {}: {}", path, b.file.error.empty() ? "does not exist" : p(b.file.error), nobody),
                fmt::format("create it (root's, mode 0644) with one group per line, or remove "
                            "break_glass_file= from sudo.conf")));
    return out;
  }
  if (b.file.symlink) {
    out.push_back(problem(kClass, "break-glass",
                          fmt::format("{} is a symbolic link: the plugin never follows one ({}); doctor did not "
                                      "either",
                                      path, nobody),
                          fmt::format("replace the link by a root-owned file (mode 0644)")));
    return out;
  }
  if (!b.file.regular) {
    out.push_back(problem(kClass, "break-glass", fmt::format("{} is not a regular file: {}", path, nobody),
                          "make it a root-owned file (mode 0644) with one group per line"));
    return out;
  }
  if (auto issue = ownership_issue(b.file); !issue.empty()) {
    out.push_back(
        problem(kClass, "break-glass",
                fmt::format("{} {}: {} (whoever could write it could name their own group)", path, issue, nobody),
                fmt::format("chown root:root {}; chmod 0644 {}", path, path)));
    return out;
  }
  if (!b.file.directory_chain_trusted) {
    out.push_back(problem(kClass, "break-glass",
                          fmt::format("a directory above {} is not root's or is writable by others: {}", path, nobody),
                          "keep the file in a root-owned directory only root can write, such as /etc/hoist"));
    return out;
  }
  if (!b.text) {
    out.push_back(problem(kClass, "break-glass", fmt::format("cannot read {}: {}", path, p(b.read_error)),
                          "make it a readable file of at most 64 KiB"));
    return out;
  }
  auto groups = plugin::parse_break_glass(*b.text);
  if (!groups) {
    out.push_back(problem(kClass, "break-glass", fmt::format("{}: {}: {}", path, p(groups.error().message), nobody),
                          "one group name per line; '#' starts a comment line"));
    return out;
  }
  if (groups->empty()) {
    out.push_back(problem(kClass, "break-glass", fmt::format("{} lists no group: nobody gets break-glass", path),
                          "add the group(s) whose members may elevate while the agent is down, one per line"));
    return out;
  }
  std::size_t usable = 0;
  for (const auto& name : *groups) {
    const auto it = std::find_if(b.groups.begin(), b.groups.end(), [&](const GroupFacts& g) { return g.name == name; });
    if (it == b.groups.end() || !it->exists) {
      out.push_back(warning(kClass, "break-glass",
                            fmt::format("{} names the group {}, which does not exist", path, p(name)),
                            fmt::format("create it (groupadd {}) and add its members, or correct the name", p(name))));
    } else if (it->members == 0) {
      out.push_back(warning(kClass, "break-glass", fmt::format("the break-glass group {} has no members", p(name)),
                            fmt::format("add the administrators who may elevate while the agent is down (gpasswd -a "
                                        "USER {})",
                                        p(name))));
    } else {
      ++usable;
    }
  }
  if (usable == 0) {
    out.push_back(problem(kClass, "break-glass",
                          fmt::format("no group in {} has a member: nobody can elevate while the agent is down", path),
                          "add members to one of its groups, or name a group that has them"));
  } else {
    out.push_back(
        ok(kClass, "break-glass", fmt::format("{} names {} group(s), {} with members", path, groups->size(), usable)));
  }
  return out;
}

// --- 6: packages --------------------------------------------------------------

std::vector<Finding> check_packages(const DoctorFacts& f) {
  constexpr auto kClass = FindingClass::kPackages;
  std::vector<Finding> out;
  const auto& pk = f.packages;
  if (!pk.dpkg_available) {
    out.push_back(note(kClass, "packages", fmt::format("dpkg-query could not be asked: {}", p(pk.dpkg_error))));
  } else if (!pk.sudo_version) {
    out.push_back(warning(kClass, "sudo", "the sudo package is not installed (a sudo built by hand?)",
                          "install Debian's sudo: apt-get install sudo"));
  } else {
    const auto v = upstream_numbers(*pk.sudo_version);
    const auto tested = upstream_numbers(kTestedSudo);
    const std::string version = p(*pk.sudo_version);
    if (v.size() < 2 || v[0] != 1 || v[1] < 9) {
      out.push_back(problem(kClass, "sudo",
                            fmt::format("sudo {} is not supported: hoist_sudo.so needs sudo 1.9 (its plugin API "
                                        "with execfd)",
                                        version),
                            "upgrade sudo to Debian 12's (1.9.13) or later 1.9"));
    } else if (v < tested) {
      out.push_back(warning(kClass, "sudo",
                            fmt::format("sudo {} is older than {}, the release hoist_sudo.so is tested with: "
                                        "temporary admin sessions (intercept) may be refused",
                                        version, kTestedSudo),
                            "upgrade sudo (apt-get install sudo)"));
    } else {
      out.push_back(ok(kClass, "sudo", fmt::format("sudo {} (supported: 1.9 from {})", version, kTestedSudo)));
    }
  }
  // The agent and the plugin come from one release.
  if (f.plugin && f.plugin->file.exists && f.plugin->file.regular) {
    if (!f.plugin->version) {
      out.push_back(
          warning(kClass, "versions",
                  fmt::format("{} does not say which Hoist release it is (is it hoist_sudo.so?)", p(f.plugin->path)),
                  "install hoist_sudo.so from the hoist-agent package"));
    } else if (*f.plugin->version != kAgentVersion) {
      out.push_back(problem(kClass, "versions",
                            fmt::format("hoist_sudo.so is version {} but hoist-agent {}: they must come from one "
                                        "release",
                                        p(*f.plugin->version), kAgentVersion),
                            "install both from the same release (the hoist-agent package has both), then "
                            "systemctl restart hoist-agent"));
    } else {
      out.push_back(ok(kClass, "versions", fmt::format("hoist-agent and hoist_sudo.so are both {}", kAgentVersion)));
    }
  }
  if (pk.dpkg_available) {
    if (!pk.agent_version) {
      out.push_back(note(kClass, "hoist-agent",
                         fmt::format("not installed from a package (this is {})",
                                     pk.running_binary.empty() ? std::string("a build") : p(pk.running_binary))));
    } else {
      const auto installed = upstream_numbers(*pk.agent_version);
      if (installed != upstream_numbers(kAgentVersion)) {
        out.push_back(warning(kClass, "hoist-agent",
                              fmt::format("the hoist-agent package is {}, but this hoist-agent is {}",
                                          p(*pk.agent_version), kAgentVersion),
                              "run the installed /usr/sbin/hoist-agent (and restart the service after an upgrade: "
                              "systemctl restart hoist-agent)"));
      } else {
        out.push_back(ok(kClass, "hoist-agent", fmt::format("package {}", p(*pk.agent_version))));
      }
    }
  }
  return out;
}

// --- all ----------------------------------------------------------------------

std::vector<Finding> diagnose(const DoctorFacts& facts) {
  std::vector<Finding> out;
  for (auto* check : {&check_sudo_conf, &check_agent, &check_enrolment, &check_clock_and_policy, &check_break_glass,
                      &check_packages}) {
    auto part = check(facts);
    out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  return out;
}

int exit_code(const std::vector<Finding>& findings, bool strict) {
  int code = 0;
  for (const auto& f : findings) {
    const bool counts = f.severity == Severity::kProblem || (strict && f.severity == Severity::kWarning);
    if (!counts) continue;
    const int c = static_cast<int>(f.cls);
    if (code == 0 || c < code) code = c;
  }
  return code;
}

std::string_view to_string(FindingClass c) {
  switch (c) {
    case FindingClass::kPlugin: return "plugin";
    case FindingClass::kAgent: return "agent";
    case FindingClass::kEnrolment: return "enrolment";
    case FindingClass::kClock: return "clock";
    case FindingClass::kBreakGlass: return "break-glass";
    case FindingClass::kPackages: return "packages";
  }
  return "unknown";
}

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::kOk: return "ok";
    case Severity::kNote: return "note";
    case Severity::kWarning: return "warning";
    case Severity::kProblem: return "problem";
  }
  return "unknown";
}

std::string render_text(const std::vector<Finding>& findings, bool strict) {
  std::string out;
  std::size_t problems = 0;
  std::size_t warnings = 0;
  for (const auto& f : findings) {
    problems += f.severity == Severity::kProblem ? 1 : 0;
    warnings += f.severity == Severity::kWarning ? 1 : 0;
    out += fmt::format("{:<8} {}: {}\n", f.severity == Severity::kProblem ? "PROBLEM" : to_string(f.severity), f.check,
                       f.message);
    if (!f.fix.empty()) out += fmt::format("{:<8} fix: {}\n", "", f.fix);
  }
  const int code = exit_code(findings, strict);
  if (code == 0) {
    out += warnings == 0 ? "all ok\n" : fmt::format("no problem, {} warning(s)\n", warnings);
  } else {
    out += fmt::format("{} problem(s), {} warning(s); exit status {} ({})\n", problems, warnings, code,
                       to_string(static_cast<FindingClass>(code)));
  }
  return out;
}

std::string render_json(const std::vector<Finding>& findings, bool strict) {
  boost::json::array items;
  for (const auto& f : findings) {
    items.push_back(boost::json::object{{"class", to_string(f.cls)},
                                        {"code", static_cast<int>(f.cls)},
                                        {"severity", to_string(f.severity)},
                                        {"check", f.check},
                                        {"message", f.message},
                                        {"fix", f.fix}});
  }
  return boost::json::serialize(
             boost::json::object{{"findings", std::move(items)}, {"exit_code", exit_code(findings, strict)}}) +
         "\n";
}

// --- helpers ------------------------------------------------------------------

std::string printable(std::string_view text, std::size_t max) {
  // Controls, C1 controls and the code points that reorder or hide text
  // escaped (core/display_text.h): this reaches root's terminal.
  std::string out = visible_text(valid_utf8(text, max * 4 + 16));
  if (out.size() > max) out = valid_utf8(out, max) + "...";
  return out;
}

std::optional<std::string> plugin_version_in(std::string_view bytes) {
  const auto at = bytes.find(kVersionLine);
  if (at == std::string_view::npos) return std::nullopt;
  std::string version;
  for (std::size_t i = at + kVersionLine.size(); i < bytes.size() && version.size() < 32; ++i) {
    const char ch = bytes[i];
    const bool allowed = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         ch == '.' || ch == '+' || ch == '~' || ch == '-';
    if (!allowed) break;
    version += ch;
  }
  if (version.empty()) return std::nullopt;
  return version;
}

std::vector<int> upstream_numbers(std::string_view v) {
  if (const auto colon = v.find(':'); colon != std::string_view::npos) v.remove_prefix(colon + 1);  // epoch
  std::vector<int> out;
  std::size_t i = 0;
  while (i < v.size() && out.size() < 4) {
    if (v[i] < '0' || v[i] > '9') break;
    int n = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9' && n < 100000) n = n * 10 + (v[i++] - '0');
    out.push_back(n);
    if (i >= v.size() || v[i] != '.') break;
    ++i;
  }
  return out;
}

}  // namespace hoist::agent
