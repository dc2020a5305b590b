// hoistd's configuration: a TOML file (every key optional, unknown keys are
// errors) overridden by command-line flags. docs/hoistd.md lists the keys.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/outbox.h"
#include "core/result.h"
#include "log/logger.h"
#include "server/app/submission_throttle.h"
#include "server/app/upload_throttle.h"
#include "server/http/https_server.h"

namespace hoist::server {

// [notify]: the notification outbox's sender (docs/notifications.md).
struct NotifyConfig {
  // The console's address as people reach it, for the links in messages
  // ("" : messages carry no link).
  std::string public_url;
  outbox::RetrySchedule schedule;
  std::chrono::milliseconds poll_interval{1000};
  int workers = 4;
  // Delivered and dead deliveries, and chat message references, older than
  // this are deleted (never a delivery still owed): 1 day to 366 days.
  static constexpr std::chrono::seconds kDefaultRetention{30 * 24 * 3600};
  std::chrono::seconds retention = kDefaultRetention;
};

// One stream of the audit trail to a SIEM (docs/siem.md): `[[siem]]`.
struct SiemConfig {
  std::string name;  // unique; the stream's cursor in the store
  std::string kind;  // "file", "syslog", "hec"
  std::string path;  // file: the JSON-lines file
  // syslog: HOST:PORT, over TLS unless tls = false; the receiver verified
  // against ca_file, by server_name ("" = HOST).
  std::string address;
  bool tls = true;
  std::string ca_file;
  std::string server_name;
  std::string sd_id = "hoist@32473";
  // hec: https://HOST[:PORT] (the collector's path is path_hec), the token
  // read from token_file (never from this file, never logged).
  std::string url;
  std::string token_file;
};

// [database] backend = "postgres": several replicas on one PostgreSQL
// (docs/storage.md, docs/high-availability.md).
struct PostgresConfig {
  // A libpq URL or keywords (several hosts and target_session_attrs for a
  // failover, sslmode=verify-full for TLS); never a password.
  std::string url;
  // A file holding the password (its first line), readable by hoistd and
  // no one else; "" = libpq's own (PGPASSWORD, ~/.pgpass, a certificate).
  std::string password_file;
  // Connections per replica; 0 = enough for every thread that reaches the
  // database (handler threads, notification workers, the jobs).
  int pool_size = 0;
  int connect_timeout_s = 10;
  // The longest a statement or commit may take before the call fails (503)
  // and the connection is dropped.
  int query_timeout_s = 30;
};

struct Config {
  std::string data_dir = "/var/lib/hoistd";
  bool postgres = false;  // [database] backend: "sqlite" (false) or "postgres"
  std::string database;   // SQLite file; "" = <data_dir>/hoist.db
  PostgresConfig pg;
  std::string console_dir;  // the web console's built files (console/dist); "" = no console
  HttpsServerOptions http;
  // TLS: own CA in <data_dir>/tls unless cert_file and key_file are given.
  std::vector<std::string> tls_dns_names;
  // [tls] add_hostname: hoistd's own certificate also names this computer
  // (its host name and, when the resolver knows one, its full name), so
  // agents reach it by name without a dns_names line.
  bool tls_add_hostname = true;
  std::vector<std::string> tls_ip_addresses;
  std::optional<std::string> tls_cert_file;
  std::optional<std::string> tls_key_file;
  std::optional<std::string> tls_ca_file;
  log::LogLevel log_level = log::LogLevel::kInfo;
  std::chrono::seconds session_lifetime{8 * 3600};
  // Approving, denying or issuing an offline admin code through a console
  // session logged in longer ago asks for the password again
  // (docs/console.md, "Step-up").
  std::chrono::seconds step_up_after{15 * 60};
  std::chrono::seconds sweep_interval{15};
  // [requests] endpoint_burst, endpoint_every, user_burst, user_every: how
  // many submissions an endpoint, and one user of an endpoint, may send
  // at once and then how often (docs/hoistd.md).
  app::SubmissionLimits submissions;
  // [limits] agent_events_burst, agent_events_every: how many events one
  // endpoint may upload at once and then how often (docs/hoistd.md).
  BucketLimit agent_events = app::UploadThrottle::Options{}.limit;
  // [metrics] token_hash: the hash of the metrics token's secret, as
  // `hoistd --new-metrics-token` prints it (64 hex digits); "" = no GET
  // /metrics (docs/metrics.md).
  std::string metrics_token_hash;
  std::vector<SiemConfig> siem;
  NotifyConfig notify;
};

// Reads the TOML file over the defaults in `config`. InvalidArgument, with
// file:line and the key, for bad TOML, unknown keys and wrong types;
// NotFound when the file does not exist.
Status load_config_file(const std::string& path, Config& config);

// The same from text (tests, fuzzing).
Status parse_config(std::string_view text, std::string_view file_name, Config& config);

}  // namespace hoist::server
