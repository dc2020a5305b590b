#include "server/config.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <optional>
#include <set>

#include "core/duration.h"
#include "core/toml_guard.h"
#include "net/proxy_protocol.h"
#include "platform/read_file.h"

namespace hoist::server {

namespace {

class Reader {
 public:
  Reader(const toml::table& root, std::string_view file) : root_(root), file_(file) {}

  // Checks that `table` (a name at the top level) has only `keys`.
  Status known_keys(const toml::table& table, std::string_view where, const std::set<std::string>& keys) {
    for (const auto& [key, node] : table) {
      if (keys.count(std::string(key.str())) == 0) {
        std::string expected;
        for (const auto& k : keys) {
          expected += expected.empty() ? k : ", " + k;
        }
        return error(node,
                     fmt::format("unknown key \"{}{}\"; {} takes: {}", where.empty() ? "" : std::string(where) + ".",
                                 key.str(), where.empty() ? "the file" : fmt::format("[{}]", where), expected));
      }
    }
    return {};
  }

  template <class T>
  Status get(const toml::table& table, std::string_view where, std::string_view key, T& out) {
    const auto* node = table.get(key);
    if (node == nullptr) {
      return {};
    }
    if constexpr (std::is_same_v<T, std::string>) {
      if (const auto* v = node->as_string()) {
        out = v->get();
        return {};
      }
      return error(*node, fmt::format("{}.{} must be a string", where, key));
    } else if constexpr (std::is_same_v<T, bool>) {
      if (const auto* v = node->as_boolean()) {
        out = v->get();
        return {};
      }
      return error(*node, fmt::format("{}.{} must be true or false", where, key));
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      const auto* array = node->as_array();
      if (array == nullptr) {
        return error(*node, fmt::format("{}.{} must be a list of strings", where, key));
      }
      out.clear();
      for (const auto& item : *array) {
        const auto* v = item.as_string();
        if (v == nullptr) {
          return error(item, fmt::format("{}.{} must be a list of strings", where, key));
        }
        out.push_back(v->get());
      }
      return {};
    } else {
      if (const auto* v = node->as_integer()) {
        out = v->get();
        return {};
      }
      return error(*node, fmt::format("{}.{} must be a whole number", where, key));
    }
  }

  // An error about table.key, at the key's place when it is there.
  Status at(const toml::table& table, std::string_view key, std::string message) const {
    if (const auto* node = table.get(key)) {
      return error(*node, std::move(message));
    }
    return invalid_argument(fmt::format("{}: {}", file_, message));
  }

  Status error(const toml::node& node, std::string message) const {
    const auto& src = node.source();
    return invalid_argument(fmt::format("{}:{}:{}: {}", file_, src.begin.line, src.begin.column, message));
  }

  const toml::table& root_;
  std::string file_;
};

// A duration as parse_duration reads it, or a whole number of
// milliseconds ("250ms", for tests' short schedules).
Result<std::chrono::milliseconds> parse_millis(std::string_view text) {
  if (text.size() > 2 && text.ends_with("ms")) {
    const auto digits = text.substr(0, text.size() - 2);
    if (digits.size() <= 9 && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::chrono::milliseconds{std::stoll(std::string(digits))};
    }
    return invalid_argument(fmt::format("\"{}\" is not a number of milliseconds", text));
  }
  auto d = parse_duration(text);
  if (!d) return d.error();
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

std::optional<std::string> out_of_range(std::int64_t v, std::int64_t lo, std::int64_t hi, std::string_view what) {
  if (v < lo || v > hi) {
    return fmt::format("{} must be between {} and {}", what, lo, hi);
  }
  return std::nullopt;
}

}  // namespace

Status parse_config(std::string_view text, std::string_view file_name, Config& config) {
  // toml++ 3.3.0 has undefined behaviour on some non-ASCII input: the same
  // guard as for policies (core/toml_guard.h).
  const auto toml_error = [&](const toml::parse_error& e, std::string_view source) {
    const auto line = static_cast<int>(e.source().begin.line);
    auto column = static_cast<int>(e.source().begin.column);
    std::string message(e.description());
    if (const auto off = byte_offset(source, line, column)) {
      if (static_cast<unsigned char>(text[*off]) >= 0x80) {
        message = kTomlNonAsciiMessage;
      }
      column = utf8_column(text, *off);
    }
    return invalid_argument(fmt::format("{}:{}:{}: {}", file_name, line, column, message));
  };
  try {
    (void)toml::parse(ascii_stand_in(text), file_name);
  } catch (const toml::parse_error& e) {
    return toml_error(e, ascii_stand_in(text));
  }
  if (const auto at = non_ascii_outside_strings(text)) {
    return invalid_argument(fmt::format("{}:{}:{}: {}", file_name, at->first, at->second, kTomlNonAsciiMessage));
  }
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    return toml_error(e, {});
  }
  Reader r(root, file_name);
  if (const auto* store = root.get("store")) {
    // The name other tools (and Hoist's own design notes) give it.
    return r.error(*store,
                   "there is no [store] section: the database is set in [database] (path for SQLite; backend = "
                   "\"postgres\", url, password_file, pool_size for PostgreSQL; see hoistd.toml(5))");
  }
  if (auto st = r.known_keys(root, "",
                             {"server", "tls", "database", "limits", "log", "sessions", "requests", "console",
                              "metrics", "notify", "siem"});
      !st) {
    return st;
  }
  const auto section = [&](std::string_view name) -> const toml::table* {
    const auto* node = root.get(name);
    return node == nullptr ? nullptr : node->as_table();
  };
  for (const auto& [key, node] : root) {
    if (key.str() == "siem") continue;  // [[siem]]: a list of tables, read below
    if (!node.is_table()) {
      return r.error(node, fmt::format("{} must be a table ([{}])", key.str(), key.str()));
    }
  }
  if (const auto* t = section("server")) {
    if (auto st = r.known_keys(*t, "server",
                               {"listen", "port", "handler_threads", "data_dir", "console_dir", "proxy_protocol_from"});
        !st) {
      return st;
    }
    std::int64_t port = config.http.port;
    std::int64_t threads = config.http.handler_threads;
    if (auto st = r.get(*t, "server", "listen", config.http.address); !st) return st;
    if (auto st = r.get(*t, "server", "port", port); !st) return st;
    if (auto st = r.get(*t, "server", "handler_threads", threads); !st) return st;
    if (auto st = r.get(*t, "server", "data_dir", config.data_dir); !st) return st;
    if (auto st = r.get(*t, "server", "console_dir", config.console_dir); !st) return st;
    if (const auto* node = t->get("proxy_protocol_from")) {
      std::vector<std::string> peers;
      if (auto st = r.get(*t, "server", "proxy_protocol_from", peers); !st) return st;
      config.http.proxy_protocol_from.clear();
      for (std::size_t i = 0; i < peers.size(); ++i) {
        auto prefix = net::parse_address_prefix(peers[i]);
        if (!prefix) {
          return r.error(*node->as_array()->get(i),
                         fmt::format("server.proxy_protocol_from: {}", prefix.error().message));
        }
        config.http.proxy_protocol_from.push_back(*prefix);
      }
    }
    if (auto bad = out_of_range(port, 0, 65535, "server.port")) return r.at(*t, "port", *bad);
    if (auto bad = out_of_range(threads, 1, 256, "server.handler_threads")) {
      return r.at(*t, "handler_threads", *bad);
    }
    config.http.port = static_cast<std::uint16_t>(port);
    config.http.handler_threads = static_cast<int>(threads);
  }
  if (const auto* t = section("tls")) {
    if (auto st =
            r.known_keys(*t, "tls", {"dns_names", "add_hostname", "ip_addresses", "cert_file", "key_file", "ca_file"});
        !st) {
      return st;
    }
    if (auto st = r.get(*t, "tls", "dns_names", config.tls_dns_names); !st) return st;
    if (auto st = r.get(*t, "tls", "add_hostname", config.tls_add_hostname); !st) return st;
    if (auto st = r.get(*t, "tls", "ip_addresses", config.tls_ip_addresses); !st) return st;
    for (auto [key, field] : {std::pair{"cert_file", &config.tls_cert_file},
                              std::pair{"key_file", &config.tls_key_file}, std::pair{"ca_file", &config.tls_ca_file}}) {
      std::string value;
      if (auto st = r.get(*t, "tls", key, value); !st) return st;
      if (!value.empty()) *field = value;
    }
  }
  if (const auto* t = section("database")) {
    if (auto st = r.known_keys(
            *t, "database",
            {"backend", "path", "url", "password_file", "pool_size", "connect_timeout_s", "query_timeout_s"});
        !st) {
      return st;
    }
    std::string backend = "sqlite";
    if (auto st = r.get(*t, "database", "backend", backend); !st) return st;
    if (backend != "sqlite" && backend != "postgres") {
      return r.at(*t, "backend",
                  fmt::format("database.backend \"{}\" is not known; use \"sqlite\" (one server) or \"postgres\" "
                              "(several replicas)",
                              backend));
    }
    config.postgres = backend == "postgres";
    if (auto st = r.get(*t, "database", "path", config.database); !st) return st;
    if (auto st = r.get(*t, "database", "url", config.pg.url); !st) return st;
    if (auto st = r.get(*t, "database", "password_file", config.pg.password_file); !st) return st;
    std::int64_t pool = config.pg.pool_size;
    std::int64_t connect = config.pg.connect_timeout_s;
    std::int64_t query = config.pg.query_timeout_s;
    if (auto st = r.get(*t, "database", "pool_size", pool); !st) return st;
    if (auto st = r.get(*t, "database", "connect_timeout_s", connect); !st) return st;
    if (auto st = r.get(*t, "database", "query_timeout_s", query); !st) return st;
    if (auto bad = out_of_range(pool, 0, 1000, "database.pool_size")) return r.at(*t, "pool_size", *bad);
    if (auto bad = out_of_range(connect, 1, 300, "database.connect_timeout_s")) {
      return r.at(*t, "connect_timeout_s", *bad);
    }
    if (auto bad = out_of_range(query, 1, 3600, "database.query_timeout_s")) return r.at(*t, "query_timeout_s", *bad);
    config.pg.pool_size = static_cast<int>(pool);
    config.pg.connect_timeout_s = static_cast<int>(connect);
    config.pg.query_timeout_s = static_cast<int>(query);
    const bool pg_keys = t->contains("url") || t->contains("password_file") || t->contains("pool_size") ||
                         t->contains("connect_timeout_s") || t->contains("query_timeout_s");
    if (config.postgres && config.pg.url.empty()) {
      return r.at(*t, "backend",
                  "database.backend \"postgres\" needs database.url, the database's libpq address "
                  "(postgresql://HOST:PORT/DB?sslmode=verify-full or keywords)");
    }
    if (config.postgres && t->contains("path")) {
      return r.at(*t, "path", "database.path names a SQLite file; with backend \"postgres\" use database.url");
    }
    if (!config.postgres && pg_keys) {
      return r.at(*t, "backend",
                  "database.url, password_file, pool_size and the timeouts are for backend \"postgres\"; set "
                  "database.backend = \"postgres\" or remove them");
    }
  }
  if (const auto* t = section("limits")) {
    if (auto st = r.known_keys(*t, "limits",
                               {"max_body_bytes", "max_header_bytes", "request_timeout_s", "idle_timeout_s",
                                "handshake_timeout_s", "max_connections", "max_connections_per_address",
                                "drain_timeout_s", "agent_events_burst", "agent_events_every"});
        !st) {
      return st;
    }
    auto& l = config.http.limits;
    struct Item {
      const char* key;
      std::int64_t lo, hi;
      std::int64_t value;
    };
    Item items[] = {
        {"max_body_bytes", 1024, 64LL << 20, static_cast<std::int64_t>(l.max_body_bytes)},
        {"max_header_bytes", 1024, 1 << 20, static_cast<std::int64_t>(l.max_header_bytes)},
        {"request_timeout_s", 1, 3600, l.request_timeout.count()},
        {"idle_timeout_s", 1, 3600, l.idle_timeout.count()},
        {"handshake_timeout_s", 1, 600, l.handshake_timeout.count()},
        {"max_connections", 1, 1000000, static_cast<std::int64_t>(l.max_connections)},
        {"drain_timeout_s", 0, 3600, l.drain_timeout.count()},
        {"max_connections_per_address", 1, 1000000, static_cast<std::int64_t>(l.max_connections_per_address)}};
    for (auto& item : items) {
      if (auto st = r.get(*t, "limits", item.key, item.value); !st) return st;
      if (auto bad = out_of_range(item.value, item.lo, item.hi, std::string("limits.") + item.key)) {
        return r.at(*t, item.key, *bad);
      }
    }
    l.max_body_bytes = static_cast<std::size_t>(items[0].value);
    l.max_header_bytes = static_cast<std::size_t>(items[1].value);
    l.request_timeout = std::chrono::seconds(items[2].value);
    l.idle_timeout = std::chrono::seconds(items[3].value);
    l.handshake_timeout = std::chrono::seconds(items[4].value);
    l.max_connections = static_cast<std::size_t>(items[5].value);
    l.drain_timeout = std::chrono::seconds(items[6].value);
    l.max_connections_per_address = static_cast<std::size_t>(items[7].value);
    std::int64_t burst = config.agent_events.burst;
    if (auto st = r.get(*t, "limits", "agent_events_burst", burst); !st) return st;
    if (auto bad = out_of_range(burst, 1, kMaxBucketBurst, "limits.agent_events_burst")) {
      return r.at(*t, "agent_events_burst", *bad);
    }
    config.agent_events.burst = burst;
    std::string every;
    if (auto st = r.get(*t, "limits", "agent_events_every", every); !st) return st;
    if (!every.empty()) {
      auto ms = parse_millis(every);
      if (!ms) return r.at(*t, "agent_events_every", fmt::format("limits.agent_events_every: {}", ms.error().message));
      if (*ms < std::chrono::milliseconds{1} || *ms > kMaxBucketInterval) {
        return r.at(*t, "agent_events_every", "limits.agent_events_every must be between 1ms and 1h");
      }
      config.agent_events.interval = *ms;
    }
  }
  if (const auto* t = section("log")) {
    if (auto st = r.known_keys(*t, "log", {"level"}); !st) return st;
    std::string level = std::string(to_string(config.log_level));
    if (auto st = r.get(*t, "log", "level", level); !st) return st;
    bool found = false;
    for (auto l : {log::LogLevel::kDebug, log::LogLevel::kInfo, log::LogLevel::kWarning, log::LogLevel::kError}) {
      if (to_string(l) == level) {
        config.log_level = l;
        found = true;
      }
    }
    if (!found) {
      return r.at(*t, "level", "log.level must be debug, info, warning or error");
    }
  }
  if (const auto* t = section("metrics")) {
    if (auto st = r.known_keys(*t, "metrics", {"token_hash"}); !st) return st;
    std::string hash;
    if (auto st = r.get(*t, "metrics", "token_hash", hash); !st) return st;
    // Only the hash is ever in the file; the token itself is the scraper's.
    if (hash.size() != 64 || !std::all_of(hash.begin(), hash.end(),
                                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
      return r.at(*t, "token_hash",
                  "metrics.token_hash must be the 64 lowercase hex digits `hoistd --new-metrics-token` printed "
                  "(the hash, never the token)");
    }
    config.metrics_token_hash = hash;
  }
  const auto duration_key = [&](std::string_view table, std::string_view key, std::chrono::seconds& out) -> Status {
    const auto* t = section(table);
    if (t == nullptr) {
      return {};
    }
    if (auto st = r.known_keys(*t, table, {std::string(key)}); !st) return st;
    std::string value;
    if (auto st = r.get(*t, table, key, value); !st) return st;
    if (value.empty()) {
      return {};
    }
    auto d = parse_duration(value);
    if (!d) {
      return r.at(*t, key, fmt::format("{}.{}: {}", table, key, d.error().message));
    }
    out = *d;
    return {};
  };
  if (const auto* t = section("notify")) {
    if (auto st = r.known_keys(
            *t, "notify",
            {"public_url", "retry_delays", "max_age", "poll_interval", "workers", "jitter_percent", "retention"});
        !st) {
      return st;
    }
    auto& n = config.notify;
    if (auto st = r.get(*t, "notify", "public_url", n.public_url); !st) return st;
    if (!n.public_url.empty() && !n.public_url.starts_with("https://") && !n.public_url.starts_with("http://")) {
      return r.at(*t, "public_url", "notify.public_url must be the console's address, https://HOST[:PORT]");
    }
    std::vector<std::string> delays;
    if (auto st = r.get(*t, "notify", "retry_delays", delays); !st) return st;
    if (t->contains("retry_delays")) {
      n.schedule.delays = {std::chrono::milliseconds{0}};  // the first attempt goes at once
      for (const auto& d : delays) {
        auto ms = parse_millis(d);
        if (!ms) return r.at(*t, "retry_delays", fmt::format("notify.retry_delays: {}", ms.error().message));
        n.schedule.delays.push_back(*ms);
      }
      if (delays.empty()) return r.at(*t, "retry_delays", "notify.retry_delays needs at least one delay");
    }
    for (auto [key, field] :
         {std::pair{"max_age", &n.schedule.max_age}, std::pair{"poll_interval", &n.poll_interval}}) {
      std::string value;
      if (auto st = r.get(*t, "notify", key, value); !st) return st;
      if (value.empty()) continue;
      auto ms = parse_millis(value);
      if (!ms) return r.at(*t, key, fmt::format("notify.{}: {}", key, ms.error().message));
      *field = *ms;
    }
    if (n.poll_interval < std::chrono::milliseconds{10} || n.poll_interval > std::chrono::minutes{10}) {
      return r.at(*t, "poll_interval", "notify.poll_interval must be between 10ms and 10m");
    }
    std::int64_t workers = n.workers;
    std::int64_t jitter = static_cast<std::int64_t>(n.schedule.jitter * 100);
    if (auto st = r.get(*t, "notify", "workers", workers); !st) return st;
    if (auto st = r.get(*t, "notify", "jitter_percent", jitter); !st) return st;
    if (auto bad = out_of_range(workers, 1, 64, "notify.workers")) return r.at(*t, "workers", *bad);
    if (auto bad = out_of_range(jitter, 0, 50, "notify.jitter_percent")) return r.at(*t, "jitter_percent", *bad);
    n.workers = static_cast<int>(workers);
    n.schedule.jitter = static_cast<double>(jitter) / 100.0;
    if (auto st = n.schedule.validate(); !st) return r.at(*t, "retry_delays", "notify: " + st.error().message);
    std::string retention;
    if (auto st = r.get(*t, "notify", "retention", retention); !st) return st;
    if (t->contains("retention")) {
      auto d = parse_duration(retention);
      if (!d) return r.at(*t, "retention", fmt::format("notify.retention: {}", d.error().message));
      if (*d < std::chrono::hours{24}) {
        return r.at(*t, "retention",
                    "notify.retention must be at least 1d: a dead letter stays long enough to be seen and re-driven");
      }
      n.retention = *d;
    }
  }
  if (auto st = duration_key("sessions", "lifetime", config.session_lifetime); !st) return st;
  if (const auto* t = section("requests")) {
    if (auto st = r.known_keys(*t, "requests",
                               {"sweep_interval", "endpoint_burst", "endpoint_every", "user_burst", "user_every"});
        !st) {
      return st;
    }
    std::string sweep;
    if (auto st = r.get(*t, "requests", "sweep_interval", sweep); !st) return st;
    if (!sweep.empty()) {
      auto d = parse_duration(sweep);
      if (!d) return r.at(*t, "sweep_interval", fmt::format("requests.sweep_interval: {}", d.error().message));
      config.sweep_interval = *d;
    }
    for (auto [who, limit] :
         {std::pair{"endpoint", &config.submissions.per_endpoint}, std::pair{"user", &config.submissions.per_user}}) {
      const std::string burst_key = std::string(who) + "_burst";
      const std::string every_key = std::string(who) + "_every";
      std::int64_t burst = limit->burst;
      if (auto st = r.get(*t, "requests", burst_key, burst); !st) return st;
      if (auto bad = out_of_range(burst, 1, kMaxBucketBurst, "requests." + burst_key)) return r.at(*t, burst_key, *bad);
      limit->burst = burst;
      std::string every;
      if (auto st = r.get(*t, "requests", every_key, every); !st) return st;
      if (every.empty()) continue;
      auto ms = parse_millis(every);
      if (!ms) return r.at(*t, every_key, fmt::format("requests.{}: {}", every_key, ms.error().message));
      if (*ms < std::chrono::milliseconds{1} || *ms > kMaxBucketInterval) {
        return r.at(*t, every_key, fmt::format("requests.{} must be between 1ms and 1h", every_key));
      }
      limit->interval = *ms;
    }
  }
  if (auto st = duration_key("console", "step_up_after", config.step_up_after); !st) return st;
  if (const auto* node = root.get("siem")) {
    const auto* array = node->as_array();
    if (array == nullptr) return r.error(*node, "siem must be a list of tables: [[siem]]");
    std::set<std::string> names;
    for (const auto& item : *array) {
      const auto* t = item.as_table();
      if (t == nullptr) return r.error(item, "each [[siem]] must be a table");
      if (auto st = r.known_keys(
              *t, "siem",
              {"name", "kind", "path", "address", "tls", "ca_file", "server_name", "sd_id", "url", "token_file"});
          !st) {
        return st;
      }
      SiemConfig c;
      for (auto [key, field] : {std::pair{"name", &c.name}, std::pair{"kind", &c.kind}, std::pair{"path", &c.path},
                                std::pair{"address", &c.address}, std::pair{"ca_file", &c.ca_file},
                                std::pair{"server_name", &c.server_name}, std::pair{"sd_id", &c.sd_id},
                                std::pair{"url", &c.url}, std::pair{"token_file", &c.token_file}}) {
        if (auto st = r.get(*t, "siem", key, *field); !st) return st;
      }
      if (const auto* tls = t->get("tls")) {
        const auto* b = tls->as_boolean();
        if (b == nullptr) return r.error(*tls, "siem.tls must be true or false");
        c.tls = b->get();
      }
      const bool name_ok =
          !c.name.empty() && c.name.size() <= 64 && std::all_of(c.name.begin(), c.name.end(), [](char ch) {
            return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
          });
      if (!name_ok) return r.at(*t, "name", "siem.name must be 1-64 of a-z, 0-9, - and _");
      if (!names.insert(c.name).second) return r.at(*t, "name", fmt::format("siem.name \"{}\" is used twice", c.name));
      if (c.kind == "file") {
        if (c.path.empty() || c.path.front() != '/') return r.at(*t, "path", "a file stream needs an absolute path");
      } else if (c.kind == "syslog") {
        const auto colon = c.address.rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == c.address.size()) {
          return r.at(*t, "address", "a syslog stream needs address = \"HOST:PORT\"");
        }
        if (c.tls && c.ca_file.empty()) {
          return r.at(*t, "ca_file", "syslog over TLS needs ca_file, to verify the receiver (or tls = false)");
        }
      } else if (c.kind == "hec") {
        if (!c.url.starts_with("https://")) return r.at(*t, "url", "an event collector needs url = \"https://...\"");
        if (c.token_file.empty()) return r.at(*t, "token_file", "an event collector needs token_file");
      } else {
        return r.at(*t, "kind", "siem.kind must be \"file\", \"syslog\" or \"hec\"");
      }
      config.siem.push_back(std::move(c));
    }
  }
  return {};
}

Status load_config_file(const std::string& path, Config& config) {
  auto text = platform::read_small_file(path, 1 << 20);
  if (!text) {
    return text.error();
  }
  return parse_config(*text, path, config);
}

}  // namespace hoist::server
