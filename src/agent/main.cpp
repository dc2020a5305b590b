// hoist-agent: enrol this computer, run the daemon, or show its state.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "agent/daemon.h"
#include "agent/doctor.h"
#include "agent/doctor_probe.h"
#include "agent/plugin_install.h"
#include "agent/state/sqlite_agent_state.h"

namespace {

constexpr int kExitUsage = 64;
constexpr int kExitFailure = 69;

int fail(const hoist::Error& e) {
  std::fprintf(stderr, "hoist-agent: %s\n", e.message.c_str());
  return e.code == hoist::ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure;
}

// After an enrolment, on a computer where systemd runs the package's
// hoist-agent.service: (re)start it, so that the agent serves with the new
// enrolment without another command. Only for the default state directory
// (the unit's); the unit's own condition (agent.db) now holds. Fixed argv,
// no shell; bounded by timeout(1). Returns the line to print.
std::string start_unit_after_enrol(const std::string& state_dir) {
  struct stat st {};
  const bool systemd = ::lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
  const bool unit = ::access("/lib/systemd/system/hoist-agent.service", F_OK) == 0 ||
                    ::access("/etc/systemd/system/hoist-agent.service", F_OK) == 0;
  if (state_dir != hoist::agent::kDefaultStateDir || !systemd || !unit) {
    return "enrolled; start the agent with: hoist-agent run (or systemctl start hoist-agent)";
  }
  const char* argv[] = {"/usr/bin/timeout", "60", "/usr/bin/systemctl", "restart", "hoist-agent.service", nullptr};
  pid_t pid = 0;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) {
    return "enrolled; start the agent with: systemctl start hoist-agent";
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "enrolled; hoist-agent.service (re)started";
  return "enrolled, but systemctl restart hoist-agent failed (see journalctl -u hoist-agent)";
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{"hoist-agent: the Hoist daemon on each endpoint (see docs/agent.md)"};
    app.require_subcommand(1);
    hoist::agent::EnrolOptions enrol;
    auto* enroll = app.add_subcommand("enroll", "Enrol this computer with hoistd (pins its CA)");
    enroll
        ->add_option("--server", enrol.servers,
                     "hoistd's URL, https://HOST[:PORT]; for several replicas, repeat it or separate URLs with commas "
                     "(at most 16, tried in order)")
        ->required();
    enroll->add_option("--token", enrol.token, "an enrolment token from the console or `hoist enrol-token create`")
        ->required();
    enroll->add_option("--ca-pin", enrol.ca_pin, "the SHA-256 fingerprint of hoistd's CA, as hoistd printed it")
        ->required();
    enroll->add_option("--hostname", enrol.hostname, "the name to enrol under (default: this computer's)");
    enroll->add_option("--state-dir", enrol.state_dir, "where the agent keeps its state")->capture_default_str();
    enroll->add_flag("--force", enrol.force, "replace an existing enrolment");
    bool no_start = false;
    enroll->add_flag("--no-start", no_start,
                     "do not (re)start hoist-agent.service afterwards (it is, where systemd runs the package's unit)");

    hoist::agent::RunOptions run;
    auto* run_cmd = app.add_subcommand("run", "Run the daemon in the foreground (systemd runs it so)");
    run_cmd->add_option("--state-dir", run.state_dir, "where the agent keeps its state")->capture_default_str();
    run_cmd->add_option("--socket", run.socket_path, "the Unix socket sudo's plugin connects to")
        ->capture_default_str();
    run_cmd->add_option("--spool-dir", run.spool_dir, "the plugin's break-glass spool (default: STATE_DIR/spool)");
    run_cmd->add_option("--ready-file", run.ready_file, "write a JSON line here once serving (tests)");
    run_cmd->add_option("--metrics-file", run.metrics_file,
                        "write the agent's counters here for node_exporter's textfile collector, a name ending in "
                        ".prom (default: none; docs/metrics.md)");
    std::int64_t metrics_interval_s = run.metrics_interval.count();
    run_cmd->add_option("--metrics-interval", metrics_interval_s, "seconds between writes of --metrics-file")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();

    std::string servers_dir = "/var/lib/hoist-agent";
    std::vector<std::string> new_servers;
    auto* set_servers_cmd = app.add_subcommand(
        "set-servers", "Replace the hoistd URLs this endpoint uses, without enrolling again (stop the agent first)");
    set_servers_cmd
        ->add_option("url", new_servers,
                     "hoistd's URLs, https://HOST[:PORT], in the order to try them (or separated by commas)")
        ->required();
    set_servers_cmd->add_option("--state-dir", servers_dir, "where the agent keeps its state")->capture_default_str();

    std::string status_dir = "/var/lib/hoist-agent";
    auto* status = app.add_subcommand("status", "Show the enrolment, policy, queued events and grants");
    status->add_option("--state-dir", status_dir, "where the agent keeps its state")->capture_default_str();

    hoist::agent::InstallPluginOptions install;
    auto* install_cmd = app.add_subcommand(
        "install-plugin", "Make sudo use hoist_sudo.so: edit /etc/sudo.conf atomically, after testing it");
    install_cmd->add_option("--plugin", install.plugin_path, "hoist_sudo.so (root's, not group/world writable)")
        ->capture_default_str();
    install_cmd->add_option("--agent-socket", install.agent_socket, "the plugin's agent_socket= option")
        ->capture_default_str();
    install_cmd->add_option("--break-glass-file", install.break_glass_file,
                            "the plugin's break_glass_file= option (default: none)");
    install_cmd->add_option("--plugin-option", install.extra_options,
                            "a further plugin option KEY=VALUE (repeatable; see docs/sudo-plugin.md)");
    install_cmd->add_option("--state-dir", install.state_dir, "where the agent keeps its state (must be enrolled)")
        ->capture_default_str();
    install_cmd->add_option("--sudo-conf", install.sudo_conf, "the file to change")->capture_default_str();
    install_cmd->add_option("--backup", install.backup,
                            "where the previous file goes (default: SUDO_CONF.hoist-backup)");

    hoist::agent::UninstallPluginOptions uninstall;
    auto* uninstall_cmd = app.add_subcommand(
        "uninstall-plugin", "Make sudo use sudoers again: remove Hoist's line from /etc/sudo.conf, after testing it");
    uninstall_cmd->add_option("--sudo-conf", uninstall.sudo_conf, "the file to change")->capture_default_str();
    uninstall_cmd->add_option("--backup", uninstall.backup, "the backup install-plugin made (only reported)");

    hoist::agent::DoctorOptions doctor;
    bool doctor_json = false;
    auto* doctor_cmd =
        app.add_subcommand("doctor",
                           "Check this endpoint: sudo.conf's plugin line, the agent, enrolment, the clock, the policy, "
                           "break-glass and the packages; say what to fix");
    doctor_cmd->add_option("--sudo-conf", doctor.sudo_conf, "the sudo.conf to check")->capture_default_str();
    doctor_cmd->add_option("--state-dir", doctor.state_dir, "where the agent keeps its state")->capture_default_str();
    doctor_cmd->add_option("--socket", doctor.socket, "the socket the agent serves (its run --socket)")
        ->capture_default_str();
    std::int64_t policy_max_age_h = doctor.policy_max_age.count() / 3600;
    doctor_cmd
        ->add_option("--policy-max-age", policy_max_age_h,
                     "hours after which a policy that hoistd could not confirm as current is a warning")
        ->check(CLI::Range(1, 24 * 366))
        ->capture_default_str();
    doctor_cmd->add_flag("--strict", doctor.strict, "warnings count for the exit status too");
    doctor_cmd->add_flag("--json", doctor_json, "one JSON object: the findings and the exit status");
    doctor_cmd->footer(
        "Exit status: 0 nothing to fix; otherwise the lowest class with a problem (with --strict, a warning): "
        "1 plugin (sudo.conf's line, hoist_sudo.so, its options), 2 agent (its socket, it answering), "
        "3 enrolment (enrolled, hoistd reached and accepting this endpoint), 4 clock or policy, "
        "5 break-glass, 6 packages (sudo's version, hoist-agent and hoist_sudo.so from one release); "
        "64 usage, 77 not root, 70 internal error. Notes never count. See docs/agent.md.");

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : kExitUsage;
    }

    if (*enroll) {
      if (auto st = hoist::agent::enrol_endpoint(enrol); !st) return fail(st.error());
      const std::string done = no_start
                                   ? "enrolled; start the agent with: hoist-agent run (or systemctl start hoist-agent)"
                                   : start_unit_after_enrol(enrol.state_dir);
      std::printf("%s\n", done.c_str());
      return 0;
    }
    if (*set_servers_cmd) {
      if (::geteuid() != 0) {
        std::fprintf(stderr,
                     "hoist-agent: set-servers must run as root (it changes where the agent sends its "
                     "credential)\n");
        return 77;
      }
      if (auto st = hoist::agent::set_servers(servers_dir, new_servers); !st) return fail(st.error());
      std::printf("servers set; start the agent again: systemctl start hoist-agent (or hoist-agent run)\n");
      return 0;
    }
    if (*run_cmd) {
      run.metrics_interval = std::chrono::seconds(metrics_interval_s);
      // Signals are taken by sigwait in run_agent: block them in every thread.
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGTERM);
      sigaddset(&set, SIGINT);
      pthread_sigmask(SIG_BLOCK, &set, nullptr);
      signal(SIGPIPE, SIG_IGN);
      if (auto st = hoist::agent::run_agent(run); !st) return fail(st.error());
      return 0;
    }
    if (*doctor_cmd) {
      // The state is root's (0700) and hoist_sudo.so runs as root: a check
      // as anyone else would report what it could not see.
      if (::geteuid() != 0) {
        std::fprintf(stderr, "hoist-agent: doctor must run as root (it reads the agent's private state)\n");
        return 77;
      }
      doctor.policy_max_age = std::chrono::hours(policy_max_age_h);
      signal(SIGPIPE, SIG_IGN);
      auto probe = hoist::agent::make_system_probe();
      const auto facts = hoist::agent::gather(doctor, *probe);
      const auto findings = hoist::agent::diagnose(facts);
      const std::string out = doctor_json ? hoist::agent::render_json(findings, doctor.strict)
                                          : hoist::agent::render_text(findings, doctor.strict);
      std::fputs(out.c_str(), stdout);
      return hoist::agent::exit_code(findings, doctor.strict);
    }
    if (*install_cmd || *uninstall_cmd) {
      auto report = *install_cmd ? hoist::agent::install_plugin(install) : hoist::agent::uninstall_plugin(uninstall);
      if (!report) return fail(report.error());
      std::fputs(report->c_str(), stdout);
      return 0;
    }
    auto text = hoist::agent::agent_status(status_dir);
    if (!text) return fail(text.error());
    std::fputs(text->c_str(), stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hoist-agent: internal error: %s\n", e.what());
    return 70;
  }
}
