// hoist-agent's commands: enrol (once, as root), run (the daemon) and
// status. main.cpp parses flags; this does the work.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"

namespace hoist::agent {

inline constexpr std::string_view kAgentVersion = "0.1.0";

struct EnrolOptions {
  std::string state_dir = "/var/lib/hoist-agent";
  // hoistd's URLs, https://host:port, each one or several separated by
  // commas (net::parse_server_list): the replicas, tried in this order.
  std::vector<std::string> servers;
  std::string token;     // hoist_enrol_...
  std::string ca_pin;    // SHA-256 of the server's CA
  std::string hostname;  // "" = gethostname()
  bool force = false;    // replace an existing enrolment
};
// Pins the CA, enrols with the token, stores the identity. Prints nothing.
Status enrol_endpoint(const EnrolOptions& options);

// Replaces the endpoint's hoistd URLs (same rules as enrol's --server),
// keeping its credential and pin. The agent must not be running (the state
// is locked); it uses the new list when it starts.
Status set_servers(const std::string& state_dir, const std::vector<std::string>& servers);

struct RunOptions {
  std::string state_dir = "/var/lib/hoist-agent";
  std::string socket_path = "/run/hoist/agent.sock";
  std::string spool_dir;                   // the plugin's break-glass spool; "" = <state_dir>/spool
  std::chrono::seconds sync_interval{60};  // heartbeat and policy check
  std::chrono::seconds push_wait{50};      // each long poll
  bool handle_signals = true;
  std::string ready_file;  // written once the socket listens (tests)
  // The agent's counters for node_exporter's textfile collector, rewritten
  // every metrics_interval and at stop (agent_metrics.h); "" = none.
  std::string metrics_file;
  std::chrono::seconds metrics_interval{15};
};
// Serves until SIGTERM/SIGINT. Fails at start when the state cannot be
// opened, the endpoint is not enrolled, or the socket cannot be bound.
Status run_agent(const RunOptions& options);

// One screen about the agent's state (no secrets).
Result<std::string> agent_status(const std::string& state_dir);

}  // namespace hoist::agent
