// libFuzzer target: hoistd's configuration parser (server/config.h). Any
// input must give either a configuration or an InvalidArgument error with a
// message, never a crash, a hang or an exception. A configuration it accepts
// must hold only values inside the documented bounds (docs/hoistd.md), and
// must survive a round trip: written back as TOML and parsed again over the
// defaults, it gives the same configuration.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "core/duration.h"
#include "server/config.h"

namespace {

using hoist::server::Config;

constexpr std::string_view kFile = "fuzz.toml";

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "config_fuzz: invariant broken: %s\n", what);
    __builtin_trap();
  }
}

// A TOML basic string. The parser only yields valid UTF-8, so only quotes,
// backslashes and control characters need escapes.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      out += fmt::format("\\u{:04X}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    out += (out.size() > 1 ? ", " : "") + quoted(item);
  }
  return out + "]";
}

// Every key the parser reads, with the values in `c`.
std::string to_toml(const Config& c) {
  const auto& l = c.http.limits;
  std::string out;
  out += fmt::format("[server]\nlisten = {}\nport = {}\nhandler_threads = {}\ndata_dir = {}\n", quoted(c.http.address),
                     c.http.port, c.http.handler_threads, quoted(c.data_dir));
  out += fmt::format("[tls]\ndns_names = {}\nip_addresses = {}\n", quoted_list(c.tls_dns_names),
                     quoted_list(c.tls_ip_addresses));
  if (c.tls_cert_file) out += "cert_file = " + quoted(*c.tls_cert_file) + "\n";
  if (c.tls_key_file) out += "key_file = " + quoted(*c.tls_key_file) + "\n";
  if (c.tls_ca_file) out += "ca_file = " + quoted(*c.tls_ca_file) + "\n";
  out += fmt::format("[database]\nbackend = \"sqlite\"\npath = {}\n", quoted(c.database));
  out += fmt::format(
      "[limits]\nmax_body_bytes = {}\nmax_header_bytes = {}\nrequest_timeout_s = {}\nidle_timeout_s = {}\n"
      "handshake_timeout_s = {}\nmax_connections = {}\ndrain_timeout_s = {}\n",
      l.max_body_bytes, l.max_header_bytes, l.request_timeout.count(), l.idle_timeout.count(),
      l.handshake_timeout.count(), l.max_connections, l.drain_timeout.count());
  out += fmt::format("[log]\nlevel = {}\n", quoted(hoist::log::to_string(c.log_level)));
  out += fmt::format("[sessions]\nlifetime = \"{}s\"\n", c.session_lifetime.count());
  out += fmt::format("[requests]\nsweep_interval = \"{}s\"\n", c.sweep_interval.count());
  return out;
}

bool same(const Config& a, const Config& b) {
  const auto& la = a.http.limits;
  const auto& lb = b.http.limits;
  return a.data_dir == b.data_dir && a.database == b.database && a.http.address == b.http.address &&
         a.http.port == b.http.port && a.http.handler_threads == b.http.handler_threads &&
         a.http.cert_chain_file == b.http.cert_chain_file && a.http.key_file == b.http.key_file &&
         a.http.handle_signals == b.http.handle_signals && la.max_body_bytes == lb.max_body_bytes &&
         la.max_header_bytes == lb.max_header_bytes && la.handshake_timeout == lb.handshake_timeout &&
         la.request_timeout == lb.request_timeout && la.idle_timeout == lb.idle_timeout &&
         la.max_connections == lb.max_connections && la.long_poll_recheck == lb.long_poll_recheck &&
         la.drain_timeout == lb.drain_timeout && a.tls_dns_names == b.tls_dns_names &&
         a.tls_ip_addresses == b.tls_ip_addresses && a.tls_cert_file == b.tls_cert_file &&
         a.tls_key_file == b.tls_key_file && a.tls_ca_file == b.tls_ca_file && a.log_level == b.log_level &&
         a.session_lifetime == b.session_lifetime && a.sweep_interval == b.sweep_interval;
}

bool within(std::int64_t v, std::int64_t lo, std::int64_t hi) {
  return v >= lo && v <= hi;
}

// The bounds docs/hoistd.md and config.cpp promise.
void check_bounds(const Config& c) {
  const auto& l = c.http.limits;
  const Config defaults;
  check(within(c.http.handler_threads, 1, 256), "server.handler_threads in 1..256");
  check(within(static_cast<std::int64_t>(l.max_body_bytes), 1024, std::int64_t{64} << 20),
        "limits.max_body_bytes in 1 KiB..64 MiB");
  check(within(static_cast<std::int64_t>(l.max_header_bytes), 1024, std::int64_t{1} << 20),
        "limits.max_header_bytes in 1 KiB..1 MiB");
  check(within(l.request_timeout.count(), 1, 3600), "limits.request_timeout_s in 1..3600");
  check(within(l.idle_timeout.count(), 1, 3600), "limits.idle_timeout_s in 1..3600");
  check(within(l.handshake_timeout.count(), 1, 600), "limits.handshake_timeout_s in 1..600");
  check(within(static_cast<std::int64_t>(l.max_connections), 1, 1000000), "limits.max_connections in 1..1000000");
  check(within(l.drain_timeout.count(), 0, 3600), "limits.drain_timeout_s in 0..3600");
  check(l.long_poll_recheck == defaults.http.limits.long_poll_recheck, "long_poll_recheck is not configurable");
  check(c.http.handle_signals && c.http.cert_chain_file.empty() && c.http.key_file.empty(),
        "the file sets no server internals");
  check(within(c.session_lifetime.count(), 1, hoist::kMaxDuration.count()), "sessions.lifetime is a duration");
  check(within(c.sweep_interval.count(), 1, hoist::kMaxDuration.count()), "requests.sweep_interval is a duration");
  check(!c.tls_cert_file || !c.tls_cert_file->empty(), "tls.cert_file is unset or non-empty");
  check(!c.tls_key_file || !c.tls_key_file->empty(), "tls.key_file is unset or non-empty");
  check(!c.tls_ca_file || !c.tls_ca_file->empty(), "tls.ca_file is unset or non-empty");
}

void check_error(const hoist::Error& e) {
  check(e.code == hoist::ErrorCode::kInvalidArgument, "errors are InvalidArgument");
  check(!e.message.empty(), "errors have a message");
  // Every message names the file, except the range checks, which name the
  // key ("server.port must be between 0 and 65535").
  check(e.message.starts_with(kFile) || e.message.find(" must be between ") != std::string::npos,
        "errors name the file or the key");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Config parsed;
  const auto st = hoist::server::parse_config(text, kFile, parsed);
  if (!st) {
    check_error(st.error());
    return 0;
  }
  check_bounds(parsed);

  const std::string written = to_toml(parsed);
  Config reparsed;
  const auto again = hoist::server::parse_config(written, kFile, reparsed);
  if (!again) {
    std::fprintf(stderr, "config_fuzz: %s\n--- written ---\n%s\n", again.error().message.c_str(), written.c_str());
  }
  check(again.ok(), "an accepted configuration, written back, parses");
  check(same(parsed, reparsed), "an accepted configuration survives a round trip");

  // Reading the same file over the configuration it produced changes nothing.
  Config twice = parsed;
  check(hoist::server::parse_config(text, kFile, twice).ok(), "parsing is deterministic");
  check(same(parsed, twice), "parsing over its own result changes nothing");
  return 0;
}
