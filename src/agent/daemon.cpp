#include "agent/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "agent/agent.h"
#include "agent/agent_metrics.h"
#include "agent/session_end.h"
#include "agent/socket_server.h"
#include "agent/spool_dir.h"
#include "agent/spool_import.h"
#include "agent/state/sqlite_agent_state.h"
#include "core/timestamp.h"
#include "log/logger.h"
#include "net/client/failover_client.h"
#include "net/client/https_client.h"
#include "net/client/server_list.h"
#include "net/tls/fingerprint.h"
#include "platform/dpkg_database.h"
#include "platform/system_time_zones.h"

namespace hoist::agent {

namespace {

namespace json = boost::json;

// "AB:CD:..." or hex, any case -> 64 lowercase hex digits.
// The pin as the state keeps it (64 lowercase hex digits), from what a
// person pastes: the fingerprint as hoistd prints it ("SHA256 AB:CD:..."),
// with or without the prefix and the colons (tls::normalize_fingerprint).
Result<std::string> normalized_pin(std::string_view pin) {
  const auto canonical = tls::normalize_fingerprint(pin);
  if (!canonical) {
    return invalid_argument(
        "the CA pin must be the SHA-256 fingerprint hoistd printed (\"SHA256 AB:CD:...\", or its 64 hex digits)");
  }
  std::string out;
  for (const char c : *canonical) {
    if (c == ':') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

static_assert(kMaxServerUrls == net::kMaxServers);

// A replica that accepts TCP and never answers costs this, once, before
// the next URL is tried (then it rests: net/client/server_list.h).
constexpr std::chrono::seconds kConnectTimeout{5};
// How long a URL that failed is left alone while another answers.
constexpr net::Backoff kServerBackoff{std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000)};

// Every client the agent makes: each of `servers`' URLs trusted by the one
// pin, moving to the next on a connection failure or a 503.
Result<std::unique_ptr<net::ApiClient>> client_for(const std::shared_ptr<net::ServerSet>& servers,
                                                   const std::string& pin, std::chrono::seconds request_timeout) {
  net::ClientOptions options;
  options.pin_fingerprint = pin;
  options.connect_timeout = kConnectTimeout;
  options.request_timeout = request_timeout;
  auto client = net::FailoverApiClient::create(servers, options);
  if (!client) return client.error();
  return std::unique_ptr<net::ApiClient>(std::move(*client));
}

TimePoint now_seconds() {
  return std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "localhost";
  return name;
}

}  // namespace

Status enrol_endpoint(const EnrolOptions& options) {
  auto pin = normalized_pin(options.ca_pin);
  if (!pin) return pin.error();
  auto urls = net::parse_server_list(options.servers);
  if (!urls) return invalid_argument(fmt::format("--server: {}", urls.error().message));
  auto state = open_sqlite_agent_state(options.state_dir);
  if (!state) return state.error();
  auto existing = (*state)->identity();
  if (!existing) return existing.error();
  if (*existing && !options.force) {
    return conflict(fmt::format("this computer is already enrolled as {} with {}; add --force to enrol it again",
                                (*existing)->endpoint_id, (*existing)->server_url));
  }
  auto servers = std::make_shared<net::ServerSet>(*urls, kServerBackoff);
  auto client = client_for(servers, *pin, std::chrono::seconds(30));
  if (!client) return client.error();
  const std::string hostname = options.hostname.empty() ? host_name() : options.hostname;
  auto enrolled = enrol(**client, options.token, hostname, std::string(kAgentVersion));
  if (!enrolled) return enrolled.error();
  Identity identity{urls->front(),
                    {urls->begin() + 1, urls->end()},
                    *pin,
                    enrolled->endpoint_id,
                    enrolled->credential,
                    hostname,
                    enrolled->labels,
                    std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now()),
                    {},
                    0};
  if (enrolled->codes_key) {
    identity.codes_key = enrolled->codes_key->key;
    identity.codes_key_generation = enrolled->codes_key->generation;
  }
  if (auto st = (*state)->set_identity(identity); !st) return st;
  (void)(*state)->set_server_answer(ServerAnswer{servers->answered(), now_seconds()});  // a hint only
  return {};
}

Status set_servers(const std::string& state_dir, const std::vector<std::string>& given) {
  auto urls = net::parse_server_list(given);
  if (!urls) return urls.error();
  auto state = open_sqlite_agent_state(state_dir);
  if (!state) return state.error();
  auto identity = (*state)->identity();
  if (!identity) return identity.error();
  if (!*identity) return not_found("this computer is not enrolled: run hoist-agent enroll first");
  Identity changed = **identity;
  changed.server_url = urls->front();
  changed.fallback_server_urls.assign(urls->begin() + 1, urls->end());
  return (*state)->set_identity(changed);
}

Result<std::string> agent_status(const std::string& state_dir) {
  // Read-only and without the lock: the agent is normally running.
  SqliteAgentStateOptions options;
  options.read_only = true;
  auto state = open_sqlite_agent_state(state_dir, options);
  if (!state && state.error().code == ErrorCode::kNotFound) {
    return std::string("not enrolled: run hoist-agent enroll --server URL --token T --ca-pin SHA256\n");
  }
  if (!state) return state.error();
  auto identity = (*state)->identity();
  if (!identity) return identity.error();
  if (!*identity) return std::string("not enrolled: run hoist-agent enroll --server URL --token T --ca-pin SHA256\n");
  std::string out = fmt::format("endpoint {} ({}) of {}\nlabels: {}\n", (*identity)->endpoint_id, (*identity)->hostname,
                                (*identity)->server_url, fmt::join((*identity)->labels, ", "));
  out += fmt::format("servers: {}\n", fmt::join(server_urls(**identity), ", "));
  if (auto answer = (*state)->server_answer(); answer && *answer && !(*answer)->url.empty()) {
    out += fmt::format("answered last: {} (since {})\n", (*answer)->url, format_timestamp((*answer)->since));
  }
  out += (*identity)->codes_key.empty()
             ? std::string("admin codes: no key (hoistd has no code master key, or was not reached)\n")
             : fmt::format("admin codes: key generation {}\n", (*identity)->codes_key_generation);
  if (auto policy = (*state)->policy(); policy && *policy) {
    out += fmt::format("policy: {} document(s), fetched {}\n", (*policy)->documents.size(),
                       format_timestamp((*policy)->fetched_at));
  } else {
    out += "policy: none yet\n";
  }
  if (auto pending = (*state)->pending_count(); pending)
    out += fmt::format("events waiting for upload: {}\n", *pending);
  if (auto count = (*state)->quarantined_count(); count && *count > 0) {
    out += fmt::format("events quarantined (hoistd refused them for good; each was reported): {}\n", *count);
    if (auto newest = (*state)->quarantined(5); newest) {
      for (const auto& q : *newest) {
        out += fmt::format("  {} {} at {}: {}\n", q.event.id, q.event.kind, format_timestamp(q.quarantined_at),
                           q.reason.substr(0, 200));
      }
    }
  }
  const auto now = std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
  if (auto grants = (*state)->grants(); grants) {
    for (const auto& g : *grants) {
      if (!g.active_at(now)) continue;
      out += fmt::format("grant {} for {}: {} until {}\n", g.id, g.user,
                         g.kind == GrantKind::kSession ? "temporary admin session" : g.scope.command_path,
                         format_timestamp(g.deadline));
    }
  }
  return out;
}

Status run_agent(const RunOptions& options) {
  auto log = log::make_default_logger(log::LogLevel::kInfo);
  auto state = open_sqlite_agent_state(options.state_dir);
  if (!state) return state.error();
  auto identity = (*state)->identity();
  if (!identity) return identity.error();
  if (!*identity) {
    return not_found("this computer is not enrolled: run hoist-agent enroll first");
  }
  const Identity id = **identity;
  // Every URL the endpoint knows, shared by the three clients: what one
  // learns (a replica is down, another answers) the others use at once.
  AgentState& state_ref = **state;
  auto servers =
      std::make_shared<net::ServerSet>(server_urls(id), kServerBackoff, [&log, &state_ref](const std::string& url) {
        log->info("agent.server_answered", {{"url", url}});
        (void)state_ref.set_server_answer(ServerAnswer{url, now_seconds()});
      });
  // After a restart, the URL that answered last goes first (when it is
  // still in the list): an agent that had failed over does not wait on the
  // first URL's connect timeout again, nor move the load back to it.
  if (auto last = state_ref.server_answer(); last && *last && servers->start_with((*last)->url)) {
    log->info("agent.server_resumed", {{"url", (*last)->url}});
  }
  // Three connections to hoistd, so that none waits for another: the push
  // long poll, the outbox upload, and everything else (heartbeat, policy,
  // requests).
  auto main_client = client_for(servers, id.ca_pin_sha256, std::chrono::seconds(30));
  if (!main_client) return main_client.error();
  auto push_client = client_for(servers, id.ca_pin_sha256, options.push_wait + std::chrono::seconds(20));
  if (!push_client) return push_client.error();
  auto upload_client = client_for(servers, id.ca_pin_sha256, std::chrono::seconds(30));
  if (!upload_client) return upload_client.error();
  auto server = serialized(make_server_api(std::move(*main_client), id.credential));
  auto push_server = make_server_api(std::move(*push_client), id.credential);
  auto upload_server = make_server_api(std::move(*upload_client), id.credential);

  platform::SystemTimeZones zones;
  platform::DpkgDatabase packages;
  platform::DigestCache digests;
  const platform::ExecutableInspector inspector(&packages, &digests);
  const std::vector<std::string> sudo_binaries = SocketServerOptions{}.sudo_binaries;
  AgentMetrics metrics(**state);
  Agent agent(
      AgentDeps{**state, *server, zones, inspector, [] { return std::chrono::system_clock::now(); }, account_of,
                id.hostname, id.labels,
                [sudo_binaries, &log](const std::vector<SessionRun>& runs, const std::string& notice) {
                  log->info("agent.session_processes_stopped", {{"runs", static_cast<std::int64_t>(runs.size())}});
                  end_session_runs(runs, sudo_binaries, notice);
                },
                run_as_of, upload_server.get(), static_cast<std::uint32_t>(::geteuid()),
                [&metrics] { metrics.events_queued(); }});
  if (auto st = agent.load(); !st) {
    log->warn("agent.policy_unusable", {{"error", st.error().message}});
  }
  if (auto st = agent.sync_policy(); !st) {
    log->warn("agent.policy_sync_failed", {{"error", st.error().message}});
  }
  if (auto st = agent.sync_codes_key(); !st) {
    log->info("agent.codes_key_unchanged", {{"error", st.error().message}});
  }

  const auto socket_dir = options.socket_path.substr(0, options.socket_path.rfind('/'));
  if (!socket_dir.empty()) ::mkdir(socket_dir.c_str(), 0755);
  SocketServerOptions socket_options;
  socket_options.path = options.socket_path;
  auto socket =
      SocketServer::create(socket_options, [&agent, &metrics](const Caller& caller, const ipc::Fields& f, int fd) {
        auto turn = agent.handle(caller, f, fd);
        metrics.count_exchange(f, turn.reply);
        return turn;
      });
  if (!socket) return socket.error();

  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable wake;
  const auto pause = [&](std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    wake.wait_for(lock, d, [&] { return stopping.load(); });
  };

  std::thread push_thread([&] {
    auto cursor = (*state)->push_cursor();
    std::uint64_t after = cursor ? *cursor : 0;
    auto backoff = std::chrono::milliseconds(500);
    while (!stopping) {
      auto page = push_server->poll_push(after, options.push_wait);
      if (page) {
        if (auto st = agent.apply_push(*page); st) {
          after = page->cursor;
          backoff = std::chrono::milliseconds(500);
          continue;
        } else {
          log->warn("agent.push_apply_failed", {{"error", st.error().message}});
        }
      } else if (!stopping) {
        log->warn("agent.push_failed", {{"error", page.error().message}});
      }
      pause(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30'000));
    }
  });

  // The outbox: the break-glass spool, then uploads, backing off while
  // hoistd fails. Nothing here waits for the heartbeat or the policy.
  std::thread uploader([&] {
    auto backoff = std::chrono::milliseconds(1000);
    const std::string spool = options.spool_dir.empty() ? spool_dir_of(options.state_dir) : options.spool_dir;
    const std::function<EventTime()> event_clock = [] {
      return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    };
    std::string last_spool_problem;
    while (!stopping) {
      const auto round = import_spool(spool, **state, event_clock);
      for (const auto& rejected : round.rejected) log->error("agent.spool_file_rejected", {{"file", rejected}});
      if (round.problem && *round.problem != last_spool_problem)
        log->error("agent.spool_problem", {{"error", *round.problem}});
      last_spool_problem = round.problem.value_or("");
      auto uploaded = agent.upload_events();
      if (!uploaded) {
        log->warn("agent.upload_failed", {{"error", uploaded.error().message}});
        pause(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(60'000));
        continue;
      }
      backoff = std::chrono::milliseconds(1000);
      metrics.events_uploaded(uploaded->acknowledged);
      metrics.events_quarantined(uploaded->quarantined.size());
      for (const auto& q : uploaded->quarantined) {
        log->error("agent.event_quarantined", {{"event", q.event.id}, {"kind", q.event.kind}, {"reason", q.reason}});
      }
      if (uploaded->moved() == 0) pause(std::chrono::milliseconds(1000));
    }
  });

  // Heartbeat, policy, the admin-code key and housekeeping, every
  // sync_interval, whatever the uploads do.
  std::thread syncer([&] {
    while (!stopping) {
      pause(std::chrono::duration_cast<std::chrono::milliseconds>(options.sync_interval));
      if (stopping) break;
      if (auto st = server->heartbeat(std::string(kAgentVersion)); !st) {
        log->warn("agent.heartbeat_failed", {{"error", st.error().message}});
      }
      if (auto st = agent.sync_policy(); !st) {
        log->warn("agent.policy_sync_failed", {{"error", st.error().message}});
      }
      (void)agent.sync_codes_key();  // a rotation missed while offline
      (void)agent.tidy();
    }
  });

  std::thread socket_thread([&] { (*socket)->run(); });

  // The textfile for node_exporter, when asked for: at once, every
  // metrics_interval, and once more at stop.
  std::thread metrics_writer;
  std::string last_metrics_problem;
  const auto write_metrics = [&] {
    auto st = write_textfile(options.metrics_file, metrics.render());
    const std::string problem = st ? std::string() : st.error().message;
    if (problem != last_metrics_problem && !problem.empty()) {
      log->warn("agent.metrics_file_failed", {{"error", problem}});
    }
    last_metrics_problem = problem;
  };
  if (!options.metrics_file.empty()) {
    metrics_writer = std::thread([&] {
      while (!stopping) {
        write_metrics();
        pause(std::chrono::duration_cast<std::chrono::milliseconds>(options.metrics_interval));
      }
    });
  }

  if (!options.ready_file.empty()) {
    std::ofstream ready(options.ready_file);
    ready << fmt::format("{{\"socket\":\"{}\",\"endpoint\":\"{}\"}}\n", options.socket_path, id.endpoint_id);
  }
  log->info("agent.running", {{"socket", options.socket_path}, {"endpoint", id.endpoint_id}});

  if (options.handle_signals) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int signal = 0;
    sigwait(&set, &signal);
    log->info("agent.signal", {{"signal", signal}});
  }
  stopping = true;
  wake.notify_all();
  push_server->interrupt();  // the long poll ends now, not at its wait
  server->interrupt();
  upload_server->interrupt();
  (*socket)->stop();
  socket_thread.join();
  uploader.join();
  syncer.join();
  push_thread.join();  // at most one long poll later
  // Denials held back by a user's budget are in the outbox before it stops.
  if (auto st = agent.flush_denials(); !st) log->error("agent.denials_not_recorded", {{"error", st.error().message}});
  if (metrics_writer.joinable()) {
    metrics_writer.join();
    write_metrics();  // the final counts
  }
  log->info("agent.stopped");
  return {};
}

}  // namespace hoist::agent
