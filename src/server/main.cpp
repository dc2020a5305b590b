// hoistd: the control plane. Builds every dependency once here and passes
// it in: config, logger, store, TLS material, API, HTTPS server, the expiry
// sweep, the outbox's sender and retention. See docs/hoistd.md.
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <atomic>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <tuple>

#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <fmt/format.h>

#include "core/sha256.h"
#include "core/timestamp.h"
#include "net/json_text.h"
#include "platform/read_file.h"
#include "platform/system_time_zones.h"
#include "server/api/api.h"
#include "server/auth/password.h"
#include "server/auth/sealed_box.h"
#include "server/auth/secrets.h"
#include "server/backup/backup.h"
#include "server/backup/pg_backup.h"
#include "server/config.h"
#include "server/http/https_server.h"
#include "server/lease_keeper.h"
#include "server/metrics/server_metrics.h"
#include "server/notify/ca_file.h"
#include "server/notify/email.h"
#include "server/notify/message.h"
#include "server/notify/outbox_sender.h"
#include "server/notify/retention.h"
#include "server/notify/senders.h"
#include "server/siem/siem_sinks.h"
#include "server/siem/siem_stream.h"
#include "server/tls/private_dir.h"
#include "server/tls/server_tls.h"
#include "store/pg_store.h"
#include "store/sqlite_store.h"
#include "store/sqlite_to_postgres.h"

namespace {

// Counts an API request while it is handled.
class InHand {
 public:
  explicit InHand(std::atomic<int>& n) : n_(n) { n_.fetch_add(1, std::memory_order_relaxed); }
  ~InHand() { n_.fetch_sub(1, std::memory_order_relaxed); }
  InHand(const InHand&) = delete;
  InHand& operator=(const InHand&) = delete;

 private:
  std::atomic<int>& n_;
};

using hoist::log::Logger;
using hoist::server::Config;

constexpr int kExitOk = 0;
constexpr int kExitUsage = 64;
constexpr int kExitDataError = 65;   // EX_DATAERR: a backup that does not check
constexpr int kExitNoInput = 66;     // EX_NOINPUT: no data directory, database or key
constexpr int kExitCantCreate = 73;  // EX_CANTCREAT: the target exists and is not empty
constexpr int kExitNoPerm = 77;      // EX_NOPERM
constexpr int kExitConfig = 78;      // EX_CONFIG
constexpr int kExitUnavailable = 69;
constexpr int kExitInternal = 70;
constexpr const char* kVersion = "0.1.0";
constexpr const char* kDefaultConfig = "/etc/hoist/hoistd.toml";

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    const auto end = comma == std::string::npos ? text.size() : comma;
    if (end > start) {
      out.push_back(text.substr(start, end - start));
    }
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

// The receivers of the [[siem]] streams, by name (docs/siem.md).
hoist::Result<std::vector<std::pair<std::string, std::unique_ptr<hoist::siem::Sink>>>> make_siem_sinks(
    const hoist::server::Config& config) {
  std::vector<std::pair<std::string, std::unique_ptr<hoist::siem::Sink>>> out;
  for (const auto& c : config.siem) {
    hoist::Result<std::unique_ptr<hoist::siem::Sink>> sink = hoist::internal_error("unknown kind " + c.kind);
    if (c.kind == "file") {
      sink = hoist::siem::make_file_sink(c.path);
    } else if (c.kind == "syslog") {
      hoist::siem::SyslogTarget t;
      const auto colon = c.address.rfind(':');
      t.host = c.address.substr(0, colon);
      if (t.host.size() > 2 && t.host.front() == '[' && t.host.back() == ']')
        t.host = t.host.substr(1, t.host.size() - 2);
      const std::string port = c.address.substr(colon + 1);
      if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(port) < 1 || std::stoi(port) > 65535) {
        return hoist::invalid_argument(fmt::format("[[siem]] {}: bad port in address {}", c.name, c.address));
      }
      t.port = static_cast<std::uint16_t>(std::stoi(port));
      t.tls = c.tls;
      t.ca_file = c.ca_file;
      t.server_name = c.server_name;
      t.format.sd_id = c.sd_id;
      char host[256] = {};
      if (::gethostname(host, sizeof host - 1) == 0) t.format.hostname = host;
      sink = hoist::siem::make_syslog_sink(std::move(t));
    } else if (c.kind == "hec") {
      auto token = hoist::platform::read_small_file(c.token_file, 4096);
      if (!token)
        return hoist::Error{token.error().code, fmt::format("[[siem]] {}: {}", c.name, token.error().message)};
      std::string t = *token;
      while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
      hoist::siem::HecTarget target;
      target.url = c.url;
      target.ca_file = c.ca_file;
      target.token = std::move(t);
      sink = hoist::siem::make_hec_sink(std::move(target));
    }
    if (!sink) return hoist::Error{sink.error().code, fmt::format("[[siem]] {}: {}", c.name, sink.error().message)};
    out.emplace_back(c.name, std::move(*sink));
  }
  return out;
}

// Runs `task` at once, then again after the wait it returns, on a thread
// of its own until destroyed. A long task asks pause() between its steps,
// which waits and says whether to go on (false once stopping).
class Periodic {
 public:
  using Task = std::function<std::chrono::milliseconds(Periodic&)>;
  explicit Periodic(Task task)
      : thread_([this, task = std::move(task)] {
          for (;;) {
            const auto wait = task(*this);
            if (!pause(wait)) return;
          }
        }) {}
  ~Periodic() {
    {
      const std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  bool pause(std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, wait, [this] { return stop_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: it starts once the rest is built
};

// The sweep: api.expire_due() (on the replica holding the expiry lease)
// and api.report_throttled() (on every replica: its counts are its own)
// every `interval`.
std::chrono::milliseconds sweep(hoist::api::Api& api, Logger& log, std::chrono::seconds interval, bool expire) {
  auto n = expire ? api.expire_due() : hoist::Result<std::size_t>(std::size_t{0});
  if (!n) {
    log.error("sweep.failed", {{"error", n.error().message}});
  } else if (*n > 0) {
    log.info("sweep.expired", {{"count", static_cast<std::uint64_t>(*n)}});
  }
  if (auto t = api.report_throttled(); !t) {
    log.error("sweep.throttled_not_recorded", {{"error", t.error().message}});
  }
  return interval;
}

// The outbox's retention (notify/retention.h), on a thread of its own so a
// long run never holds up the expiry sweep. Between batches it waits a
// little, so the request path's writes take the store in between.
std::chrono::milliseconds prune_outbox(Periodic& self, hoist::store::Store& store, const hoist::api::Clock& clock,
                                       Logger& log, hoist::server::ServerMetrics& metrics,
                                       const hoist::notify::RetentionOptions& options) {
  constexpr std::chrono::milliseconds kBetweenBatches{20};
  constexpr std::chrono::milliseconds kSoonAgain{1000};
  const auto pruned =
      hoist::notify::prune_outbox(store, clock.now_ms(), options, [&self] { return self.pause(kBetweenBatches); });
  metrics.observe_outbox_pruned(pruned.deliveries, pruned.message_refs);
  if (pruned.deliveries > 0 || pruned.message_refs > 0) {
    log.info("notify.pruned", {{"deliveries", static_cast<std::uint64_t>(pruned.deliveries)},
                               {"message_refs", static_cast<std::uint64_t>(pruned.message_refs)},
                               {"before", hoist::notify::format_event_time(pruned.before)},
                               {"more", pruned.more ? "yes" : "no"}});
  }
  if (pruned.failed) {
    log.error("notify.prune_failed", {{"error", pruned.failed->message}});
    return options.interval;
  }
  return pruned.more ? kSoonAgain : options.interval;
}

// Every connection is a descriptor, but shells and systemd start services
// with a soft RLIMIT_NOFILE of 1024, below the default max_connections.
// Raise the soft limit to the hard one (nginx's worker_rlimit_nofile does the
// same by hand; hoistd only uses epoll, never select), and say so when even
// that is too low: connections past the limit fail at accept.
void raise_open_files_limit(Logger& log, std::size_t max_connections) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return;
  }
  if (lim.rlim_cur < lim.rlim_max && lim.rlim_max != RLIM_INFINITY) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      log.info("limits.open_files_raised", {{"from", static_cast<std::uint64_t>(lim.rlim_cur)},
                                            {"to", static_cast<std::uint64_t>(raised.rlim_cur)}});
      lim = raised;
    }
  }
  constexpr rlim_t kSpare = 64;  // the database, logs, TLS files, the listening socket
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < max_connections + kSpare) {
    log.warn("limits.open_files_low", {{"limit", static_cast<std::uint64_t>(lim.rlim_cur)},
                                       {"max_connections", static_cast<std::uint64_t>(max_connections)}});
  }
}

// True when stdout may go to the journal: systemd sets JOURNAL_STREAM for
// a service whose output it logs (and its children inherit it); a terminal
// is never the journal.
bool stdout_is_the_journal() {
  if (::isatty(STDOUT_FILENO) != 0) return false;
  const char* stream = std::getenv("JOURNAL_STREAM");
  return stream != nullptr && *stream != '\0';
}

// `text` into `path`, mode 0600, replacing a regular file there (never
// following a link); false when it cannot be written whole.
bool write_private_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool ok = ::fchmod(fd, 0600) == 0 &&
                  ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

// This computer's names for hoistd's own certificate ([tls] add_hostname):
// the host name, and the canonical name the resolver gives for it when
// that is a full name (/etc/hosts' "127.0.1.1 hoist.example.com hoist" on
// Debian). Lower case; names that are not valid DNS names are left out by
// the caller.
std::vector<std::string> this_computers_names() {
  std::vector<std::string> names;
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') return names;
  const auto lower = [](std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  };
  names.push_back(lower(host.data()));
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME;
  hints.ai_family = AF_UNSPEC;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.data(), nullptr, &hints, &found) == 0 && found != nullptr) {
    if (found->ai_canonname != nullptr) {
      std::string full = lower(found->ai_canonname);
      if (full.find('.') != std::string::npos && full != names.front()) names.push_back(std::move(full));
    }
    ::freeaddrinfo(found);
  }
  return names;
}

// A key of 32 random bytes in DATA_DIR/<dir>/<file>, made on first start,
// private to hoistd (private_dir.h). Every replica sharing a database needs
// the same file. The master key of offline admin codes is codes/master.key;
// the key that seals notification channels' secrets, notify/secrets.key.
// With several replicas (a shared store), every one must hold the same
// keys: the first to start records each key's fingerprint in the
// database, and a replica whose key differs refuses to start, saying
// which file to copy. The fingerprint is a hash of the key (or, for the
// CA, the pin agents check), never the key.
hoist::Status check_shared_key(hoist::store::Replicas& replicas, const std::string& name,
                               const std::string& fingerprint, const std::string& file) {
  if (!replicas.shared()) return {};
  auto recorded = replicas.claim_key_fingerprint(name, fingerprint);
  if (!recorded) return recorded.error();
  if (*recorded != fingerprint) {
    return hoist::conflict(fmt::format(
        "{} is not the one the other replicas sharing this database use (this one's fingerprint {}, the "
        "database's {}): copy {} from a replica that runs, then start this one again (docs/high-availability.md, "
        "\"Shared keys\")",
        file, fingerprint.substr(0, 16), recorded->substr(0, 16), file));
  }
  return {};
}

std::string key_fingerprint(const std::vector<std::uint8_t>& key) {
  std::string text = "hoist shared key check\n";
  text.append(key.begin(), key.end());
  return hoist::sha256(text).hex();
}

// [database] password_file: its first line. The file must be a regular
// file that only its owner (root or hoistd's user) can read: the password
// opens the whole database.
hoist::Result<std::string> read_password_file(const std::string& path) {
  // Checked and read through one descriptor: a path swapped between a
  // check and a second open (a symlink, a FIFO) is never read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return hoist::unavailable(fmt::format("database.password_file {}: {}", path, std::strerror(errno)));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return hoist::invalid_argument(fmt::format("database.password_file {} is not a regular file", path));
  }
  if ((st.st_mode & 077) != 0) {
    return hoist::invalid_argument(fmt::format(
        "database.password_file {} may be read by others (mode {:o}): chmod 600 it", path, st.st_mode & 0777));
  }
  if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
    return hoist::invalid_argument(
        fmt::format("database.password_file {} belongs to uid {}, neither root nor hoistd's user", path, st.st_uid));
  }
  constexpr std::size_t kMax = 4096;
  std::string text;
  std::array<char, 1024> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return hoist::unavailable(fmt::format("database.password_file {}: {}", path, std::strerror(errno)));
    }
    if (n == 0) break;
    text.append(buf.data(), static_cast<std::size_t>(n));
    if (text.size() > kMax) {
      return hoist::invalid_argument(fmt::format("database.password_file {} is larger than {} bytes", path, kMax));
    }
  }
  std::string password = text.substr(0, text.find('\n'));
  OPENSSL_cleanse(text.data(), text.size());
  OPENSSL_cleanse(buf.data(), buf.size());
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return hoist::invalid_argument(fmt::format("database.password_file {} is empty", path));
  return password;
}

// [database] url, password_file and the timeouts as the PostgreSQL
// store's options (the pool's size is the caller's).
hoist::Result<hoist::store::PostgresOptions> postgres_options(const Config& config) {
  hoist::store::PostgresOptions options;
  options.conninfo = config.pg.url;
  if (!config.pg.password_file.empty()) {
    auto password = read_password_file(config.pg.password_file);
    if (!password) return password.error();
    options.password = std::move(*password);
  }
  options.connect_timeout_s = config.pg.connect_timeout_s;
  options.round_trip_timeout = std::chrono::seconds(config.pg.query_timeout_s);
  return options;
}

// The store [database] names: the SQLite file, or the PostgreSQL database
// several replicas share. *where says which, for the log.
hoist::Result<std::unique_ptr<hoist::store::Store>> open_configured_store(
    const Config& config, const std::function<void(int, int)>& on_migrated, std::string* where) {
  if (!config.postgres) {
    *where = config.database.empty() ? config.data_dir + "/hoist.db" : config.database;
    hoist::store::SqliteOptions options;
    options.on_migrated = on_migrated;
    return hoist::store::open_sqlite_store(*where, options);
  }
  *where = config.pg.url;
  auto configured = postgres_options(config);
  if (!configured) return configured.error();
  hoist::store::PostgresOptions options = std::move(*configured);
  // Every thread that reaches the database at once: the handlers, the
  // notification workers, the jobs and the change listener.
  options.pool_size = config.pg.pool_size > 0
                          ? static_cast<std::size_t>(config.pg.pool_size)
                          : static_cast<std::size_t>(config.http.handler_threads + config.notify.workers + 6);
  options.on_migrated = on_migrated;
  return hoist::store::open_postgres_store(options);
}

hoist::Result<std::vector<std::uint8_t>> load_private_key(const std::string& data_dir, const std::string& sub,
                                                          const std::string& file) {
  auto dir = hoist::tls::PrivateDir::open_or_create(data_dir + "/" + sub);
  if (!dir) return dir.error();
  auto existing = dir->read(file, hoist::tls::FileKind::kPrivateKey);
  if (!existing) return existing.error();
  if (*existing) {
    if ((*existing)->size() != 32) {
      return hoist::invalid_argument(fmt::format("{} must hold exactly 32 bytes", dir->path_of(file)));
    }
    return std::vector<std::uint8_t>((*existing)->begin(), (*existing)->end());
  }
  std::vector<std::uint8_t> key(32);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    return hoist::internal_error(fmt::format("no randomness for {} (OpenSSL)", dir->path_of(file)));
  }
  if (auto st = dir->replace(file, std::string(key.begin(), key.end()), 0600); !st) return st.error();
  if (auto st = dir->sync(); !st) return st.error();
  return key;
}

// SIGHUP (HttpsServer runs this on a handler thread, one at a time): the
// certificate, its chain and key again, checked as at start
// (tls/server_tls.h), served to new connections from now on. Whatever is
// wrong (a missing, unreadable or too open file, a key that does not fit,
// a certificate expired, not yet valid, or not chaining to tls_ca_file)
// keeps the certificate served as it was: the reason is logged
// (tls.reload_failed) and counted (hoist_tls_reloads_total{result="failed"}).
// systemd hears RELOADING=1 before and READY=1 after (Type=notify with
// ExecReload=kill -HUP $MAINPID).
class TlsReloader {
 public:
  TlsReloader(hoist::tls::TlsOptions options, std::string pin, hoist::TimePoint not_after, Logger& log,
              hoist::metrics::Registry& registry)
      : options_(std::move(options)),
        pin_(std::move(pin)),
        log_(log),
        reloads_(registry.counter("hoist_tls_reloads_total",
                                  "Reloads of hoistd's TLS certificate and key (SIGHUP), by result (ok, failed).",
                                  {"result"})),
        expiry_(registry.gauge("hoist_tls_certificate_expiry_seconds",
                               "When the certificate served to new connections expires (Unix time).")) {
    expiry_.get().set(static_cast<double>(not_after.time_since_epoch().count()));
    reloads_.with({"ok"});
    reloads_.with({"failed"});
  }

  void reload(hoist::server::HttpsServer& server) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    sd_notifyf(0, "RELOADING=1\nSTATUS=Reloading the TLS certificate\nMONOTONIC_USEC=%llu",
               static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                   static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL);
    options_.now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    options_.may_create_ca = false;  // a reload never makes a new CA
    auto tls = hoist::tls::ensure_server_tls(options_);
    hoist::Status loaded =
        tls ? server.reload_tls(tls->served_chain_pem, tls->key_pem->str()) : hoist::Status(tls.error());
    if (!loaded) {
      reloads_.with({"failed"}).inc();
      log_.error("tls.reload_failed",
                 {{"error", loaded.error().message}, {"kept", "the certificate served until now"}});
      sd_notify(0, "READY=1\nSTATUS=Serving (the last TLS reload failed; see the log)");
      return;
    }
    reloads_.with({"ok"}).inc();
    expiry_.get().set(static_cast<double>(tls->not_after.time_since_epoch().count()));
    if (tls->renewed_server_cert) {
      log_.info("tls.server_certificate_issued", {{"reason", tls->renewal_reason}});
    }
    if (tls->pin_fingerprint != pin_) {
      // Agents and CLIs pinning the old fingerprint are refused from now on.
      log_.warn("tls.pin_changed", {{"from", pin_}, {"to", tls->pin_fingerprint}});
      pin_ = tls->pin_fingerprint;
    }
    log_.info("tls.reloaded", {{"certificate", tls->cert_chain_pem_path},
                               {"expires", hoist::format_timestamp(tls->not_after)},
                               {"pin", tls->pin_fingerprint}});
    sd_notify(0, "READY=1\nSTATUS=Serving");
  }

 private:
  hoist::tls::TlsOptions options_;
  std::string pin_;
  Logger& log_;
  hoist::metrics::CounterFamily& reloads_;
  hoist::metrics::GaugeFamily& expiry_;
};

int serve(Config config, const std::string& admin_user, std::optional<std::string> admin_password,
          const std::optional<std::string>& enrolment_labels, const std::string& ready_file) {
  auto log = hoist::log::make_default_logger(config.log_level);
  // libcurl's global set-up (email channels), while hoistd has one thread.
  // Without it hoistd still runs: an email channel's deliveries say why.
  if (auto st = hoist::notify::init_email_transport(); !st) {
    log->warn("notify.email_unavailable", {{"error", st.error().message}});
  }
  raise_open_files_limit(*log, config.http.limits.max_connections);
  std::error_code fs_ec;
  std::filesystem::create_directories(config.data_dir, fs_ec);
  if (fs_ec) {
    std::fprintf(stderr, "hoistd: cannot create the data directory %s: %s\n", config.data_dir.c_str(),
                 fs_ec.message().c_str());
    return kExitUnavailable;
  }
  ::chmod(config.data_dir.c_str(), 0700);
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());

  hoist::tls::TlsOptions tls_options;
  tls_options.dir = config.data_dir + "/tls";
  tls_options.dns_names = config.tls_dns_names;
  if (config.tls_add_hostname && !config.tls_cert_file) {
    for (auto& name : this_computers_names()) {
      const bool valid = hoist::tls::make_subject_names({name}, {}).ok();
      if (valid &&
          std::find(tls_options.dns_names.begin(), tls_options.dns_names.end(), name) == tls_options.dns_names.end()) {
        tls_options.dns_names.push_back(std::move(name));
      }
    }
  }
  tls_options.ip_addresses = config.tls_ip_addresses;
  tls_options.cert_file = config.tls_cert_file;
  tls_options.key_file = config.tls_key_file;
  tls_options.ca_file = config.tls_ca_file;
  tls_options.now = now;
  auto tls = hoist::tls::ensure_server_tls(tls_options);
  if (!tls) {
    std::fprintf(stderr, "hoistd: TLS: %s\n", tls.error().message.c_str());
    return kExitConfig;
  }
  if (tls->renewed_server_cert) {
    log->info("tls.server_certificate_issued", {{"reason", tls->renewal_reason}});
  }

  std::string db_path;
  std::string migrated_line;
  const auto on_migrated = [&](int from, int to) {
    log->info("database.migrated", {{"from", static_cast<std::int64_t>(from)}, {"to", static_cast<std::int64_t>(to)}});
    if (from > 0) migrated_line = fmt::format("Database:        upgraded from schema version {} to {}", from, to);
  };
  auto store = open_configured_store(config, on_migrated, &db_path);
  if (!store) {
    // The store's message names the file or the server.
    std::fprintf(stderr, "hoistd: database: %s\n", store.error().message.c_str());
    const auto code = store.error().code;
    return code == hoist::ErrorCode::kConflict || code == hoist::ErrorCode::kInvalidArgument ? kExitConfig
                                                                                             : kExitUnavailable;
  }

  auto siem_sinks = make_siem_sinks(config);
  if (!siem_sinks) {
    std::fprintf(stderr, "hoistd: siem: %s\n", siem_sinks.error().message.c_str());
    return kExitConfig;
  }

  hoist::platform::SystemTimeZones zones;
  hoist::api::SystemClock clock;
  std::function<void(const std::string&)> wake;  // bound once the server exists
  hoist::api::ApiOptions api_options;
  api_options.session_lifetime = config.session_lifetime;
  api_options.step_up_after = config.step_up_after;
  api_options.server_version = kVersion;
  auto codes_key = load_private_key(config.data_dir, "codes", "master.key");
  if (!codes_key) {
    std::fprintf(stderr, "hoistd: admin codes: %s\n", codes_key.error().message.c_str());
    return kExitConfig;
  }
  api_options.codes_master_key = std::move(*codes_key);
  auto secrets_key = load_private_key(config.data_dir, "notify", "secrets.key");
  if (!secrets_key) {
    std::fprintf(stderr, "hoistd: notification secrets: %s\n", secrets_key.error().message.c_str());
    return kExitConfig;
  }
  for (const auto& [name, fingerprint, file] :
       {std::tuple{std::string("ca"), tls->pin_fingerprint,
                   tls->ca_cert_path.empty() ? std::string("[tls] ca_file") : tls->ca_cert_path},
        std::tuple{std::string("codes/master.key"), key_fingerprint(api_options.codes_master_key),
                   config.data_dir + "/codes/master.key"},
        std::tuple{std::string("notify/secrets.key"), key_fingerprint(*secrets_key),
                   config.data_dir + "/notify/secrets.key"}}) {
    if (auto st = check_shared_key((*store)->replicas(), name, fingerprint, file); !st) {
      std::fprintf(stderr, "hoistd: shared keys: %s\n", st.error().message.c_str());
      return st.error().code == hoist::ErrorCode::kConflict ? kExitConfig : kExitUnavailable;
    }
  }
  auto box = hoist::auth::SealedBox::with_key(std::move(*secrets_key));
  if (!box) {
    std::fprintf(stderr, "hoistd: notification secrets: %s\n", box.error().message.c_str());
    return kExitConfig;
  }
  api_options.secrets_box = std::make_shared<const hoist::auth::SealedBox>(std::move(*box));
  api_options.metrics_token_hash = config.metrics_token_hash;
  api_options.submissions.limits = config.submissions;
  api_options.uploads.limit = config.agent_events;
  // Declared before the server and the API: long polls hold its gauges.
  hoist::server::ServerMetrics metrics;
  metrics.watch_store(**store);
  // Work that runs on one replica at a time (docs/high-availability.md):
  // with SQLite, this process holds every lease.
  std::vector<std::string> lease_names = {"expiry", "outbox", "retention"};
  for (const auto& c : config.siem) lease_names.push_back("siem:" + c.name);
  hoist::server::LeaseKeeper leases((*store)->replicas(), hoist::server::LeaseKeeper::make_holder(), lease_names, *log,
                                    hoist::server::LeaseKeeper::Options{});
  if (!config.console_dir.empty()) {
    auto console = hoist::server::ConsoleFiles::load(config.console_dir);
    if (!console) {
      std::fprintf(stderr, "hoistd: console: %s\n", console.error().message.c_str());
      return kExitConfig;
    }
    log->info("console.loaded", {{"dir", config.console_dir}, {"files", static_cast<std::uint64_t>(console->size())}});
    api_options.console = std::make_shared<const hoist::server::ConsoleFiles>(std::move(*console));
  }
  // The outbox's sender: started once hoistd serves, woken after every write.
  const auto secrets_box = api_options.secrets_box;
  std::atomic<int> in_hand{0};  // API requests being handled: the outbox lets them go first
  // A ca_file that cannot be used has one message for every reason in
  // what admins and auditors read (notify/ca_file.h); the reason is logged.
  const auto make_sender = [&log](const hoist::store::ChannelRecord& channel, const std::string& secrets) {
    auto made = hoist::notify::make_sender(channel, secrets);
    if (!made) {
      if (auto problem = hoist::notify::ca_file_problem(channel.config)) {
        log->warn("notify.ca_file_unusable", {{"channel", channel.id}, {"problem", *problem}});
      }
    }
    return made;
  };
  hoist::notify::OutboxSender outbox(
      **store, *log, make_sender,
      [secrets_box](const hoist::store::ChannelRecord& channel) -> hoist::Result<std::string> {
        if (channel.secrets.empty()) return std::string();
        return secrets_box->open(channel.secrets, channel.id);
      },
      [&clock] { return clock.now_ms(); },
      hoist::notify::OutboxOptions{config.notify.schedule, config.notify.poll_interval, config.notify.workers, 100,
                                   config.notify.public_url, std::chrono::milliseconds{5},
                                   [&in_hand] { return in_hand.load(std::memory_order_relaxed) > 0; },
                                   std::chrono::milliseconds{20}, std::chrono::milliseconds{2000}, 0.5,
                                   [&leases] { return leases.held("outbox"); }});
  // A wake-up here is told to the other replicas too (a no-op on SQLite).
  auto& replicas = (*store)->replicas();
  hoist::api::Api api({**store, clock, *log, zones,
                       [&wake, &replicas](const std::string& endpoint_id) {
                         if (wake) wake(endpoint_id);
                         replicas.publish("push", endpoint_id);
                       },
                       [&wake, &outbox, &replicas] {
                         outbox.wake();
                         if (wake) wake(std::string(hoist::api::kConsoleStreamKey));
                         replicas.publish("console", "");
                       },
                       &metrics},
                      api_options);

  // The audit trail must verify before anything is added to it. When it does
  // not, hoistd serves reads (so the damage can be looked at) and records
  // nothing: every write fails, and the health route says why.
  const auto verify_started = std::chrono::steady_clock::now();
  auto chain = api.verify_audit_trail();
  if (!chain) {
    std::fprintf(stderr, "hoistd: database %s: cannot read the audit trail: %s\n", db_path.c_str(),
                 chain.error().message.c_str());
    return kExitUnavailable;
  }
  const auto verify_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - verify_started).count();
  std::string audit_line;
  if (chain->ok) {
    log->info("audit.verified", {{"events", chain->events_checked}, {"ms", static_cast<std::int64_t>(verify_ms)}});
  } else {
    const auto first_bad = chain->first_bad_seq.value_or(0);
    log->error("audit.chain_broken", {{"first_bad_seq", first_bad}, {"problem", chain->problem}});
    audit_line = fmt::format(
        "AUDIT TRAIL DOES NOT VERIFY at event {}: {}\n"
        "                 hoistd serves reads only and records nothing until it is repaired (docs/hoistd.md)",
        first_bad, chain->problem);
  }

  // First start: the first admin.
  auto users = (*store)->users();
  if (!users) {
    std::fprintf(stderr, "hoistd: database: %s\n", users.error().message.c_str());
    return kExitUnavailable;
  }
  std::string first_admin_line;
  if (users->empty()) {
    const bool generated = !admin_password;
    const std::string password = generated ? hoist::auth::generate_password() : *admin_password;
    // "No users yet" checked again inside the write that makes the admin:
    // replicas started together (with any --admin-user) make one.
    auto made = api.create_first_user(admin_user, hoist::store::Role::kAdmin, password, "system");
    const bool made_elsewhere =
        !made && made.error().code == hoist::ErrorCode::kConflict && (*store)->replicas().shared();
    if (!made && !made_elsewhere) {
      std::fprintf(stderr, "hoistd: cannot create the first admin %s: %s\n", admin_user.c_str(),
                   made.error().message.c_str());
      return kExitConfig;
    }
    if (made_elsewhere) {
      first_admin_line = "First admin:     made by another replica (its banner or DATA_DIR/first-admin-password)";
    } else if (!generated) {
      first_admin_line = fmt::format("First admin:     {} (password as given)", admin_user);
    } else {
      // Also in DATA_DIR/first-admin-password (0600, hoistd's), for
      // `hoist login --password-stdin <FILE`; and never into the journal,
      // which group adm reads: under systemd the banner names the file.
      const std::string file = config.data_dir + "/first-admin-password";
      const bool kept = write_private_file(file, password + "\n");
      if (kept && stdout_is_the_journal()) {
        first_admin_line = fmt::format(
            "First admin:     {} (its password is in {}, readable by root: log in, change it, delete the file)",
            admin_user, file);
      } else {
        first_admin_line = fmt::format("First admin:     {} / {}   (shown once; change it)", admin_user, password);
      }
    }
  }
  admin_password.reset();

  // --enrolment-token makes a token only while the database has none: a
  // service started with the flag must not put a fresh live token in its
  // log (the journal) at every restart. More: hoist enrol-token create.
  std::string enrolment_line;
  if (enrolment_labels && !chain->ok) {
    enrolment_line = "Enrolment token: not made (the audit trail does not verify)";
  } else if (enrolment_labels) {
    auto existing = (*store)->enrollment_tokens();
    if (!existing) {
      std::fprintf(stderr, "hoistd: database: %s\n", existing.error().message.c_str());
      return kExitUnavailable;
    }
    if (!existing->empty()) {
      enrolment_line =
          "Enrolment token: not made (--enrolment-token makes one on the first start only; make more with hoist "
          "enrol-token create)";
    } else {
      auto token = api.create_enrollment_token(split_list(*enrolment_labels), 1, std::chrono::hours(24), "system");
      if (!token) {
        std::fprintf(stderr, "hoistd: enrolment token: %s\n", token.error().message.c_str());
        return kExitConfig;
      }
      enrolment_line = fmt::format("Enrolment token: {}   (labels: {}; 1 use; 24h; shown once)", *token,
                                   enrolment_labels->empty() ? "none" : *enrolment_labels);
    }
  }

  // A restart extends nothing: expire what fell due while we were down.
  if (auto n = api.expire_due(); !n) {
    log->error("sweep.failed", {{"error", n.error().message}});
  }

  if (tls->ca_cert_path.empty()) {
    // Pinned by the leaf itself: every renewal changes the pin.
    log->warn("tls.pinned_by_leaf",
              {{"why",
                "tls_cert_file without tls_ca_file: agents and the CLI must pin the certificate itself, "
                "and each renewal changes its fingerprint; set tls_ca_file to the CA that issues it"}});
  }
  config.http.cert_chain_file = tls->cert_chain_pem_path;
  config.http.key_file = tls->key_path;
  config.http.cert_chain_pem = tls->served_chain_pem;
  config.http.key_pem = tls->key_pem->str();
  TlsReloader reloader(tls_options, tls->pin_fingerprint, tls->not_after, *log, metrics.registry());
  hoist::server::HttpsServer* reload_target = nullptr;  // set once the server exists, before it runs
  config.http.on_reload = [&reloader, &reload_target] {
    if (reload_target != nullptr) reloader.reload(*reload_target);
  };
  auto server = hoist::server::HttpsServer::create(
      config.http,
      [&api, &in_hand](const hoist::net::HttpRequest& r) {
        const InHand counted(in_hand);
        return api.handle(r);
      },
      *log, [&api](const hoist::net::HttpRequest& r) { return api.answer_from_memory(r); },
      [&api](const hoist::net::HttpRequest& head) { return api.admit(head); },
      [&metrics](const hoist::net::ExchangeReport& report) { metrics.observe_http(report); });
  if (!server) {
    std::fprintf(stderr, "hoistd: %s\n", server.error().message.c_str());
    return server.error().code == hoist::ErrorCode::kUnavailable ? kExitUnavailable : kExitConfig;
  }
  OPENSSL_cleanse(config.http.key_pem.data(), config.http.key_pem.size());
  config.http.key_pem.clear();
  reload_target = server->get();
  metrics.registry().gauge_callback(
      "hoist_http_connections_open", "HTTPS connections open now (handshakes, requests, keep-alive and long polls).",
      [srv = server->get()] { return std::optional<double>(static_cast<double>(srv->open_connections())); });
  wake = [srv = server->get()](const std::string& endpoint_id) {
    if (endpoint_id.empty()) {
      srv->wake();
    } else {
      srv->wake(endpoint_id);
    }
  };
  // The other replicas' changes wake the same waiters and drop the same
  // memos as this one's own (a no-op on SQLite). A change can be lost, so
  // every waiter polls too; after a reconnect, everything is woken.
  replicas.listen(
      [&wake, &outbox, &api](std::string_view channel, std::string_view payload) {
        if (channel == "push") {
          if (wake) wake(std::string(payload));
        } else if (channel == "console") {
          outbox.wake();
          if (wake) wake(std::string(hoist::api::kConsoleStreamKey));
        } else if (channel == "policy") {
          api.forget_changed_elsewhere(channel, payload);
          if (wake) wake("");
        } else if (channel == "endpoint") {
          api.forget_changed_elsewhere(channel, payload);
        }
      },
      [&wake, &outbox, &api, &log] {
        log->info("replica.listening");
        api.forget_changed_elsewhere("", "");
        outbox.wake();
        if (wake) {
          wake("");
          wake(std::string(hoist::api::kConsoleStreamKey));
        }
      });

  const std::string host =
      config.http.address.find(':') != std::string::npos ? "[" + config.http.address + "]" : config.http.address;
  const std::string url = fmt::format("https://{}:{}", host, (*server)->port());
  std::string banner = fmt::format("hoistd {} listening on {}\nCA fingerprint:  SHA256 {}\nCA certificate:  {}\n",
                                   kVersion, url, tls->pin_fingerprint,
                                   tls->ca_cert_path.empty() ? std::string("(admin-supplied)") : tls->ca_cert_path);
  if (!migrated_line.empty()) banner += migrated_line + "\n";
  if (!audit_line.empty()) banner += audit_line + "\n";
  if (!first_admin_line.empty()) banner += first_admin_line + "\n";
  if (!enrolment_line.empty()) banner += enrolment_line + "\n";
  std::fputs(banner.c_str(), stdout);
  std::fflush(stdout);
  if (!ready_file.empty()) {
    const std::string tmp = ready_file + ".tmp";
    std::ofstream out(tmp, std::ios::trunc);
    out << "{\"url\":" << hoist::net::json_string(url) << ",\"port\":" << (*server)->port()
        << ",\"ca_fingerprint\":" << hoist::net::json_string(tls->pin_fingerprint)
        << ",\"ca_file\":" << hoist::net::json_string(tls->ca_cert_path) << "}\n";
    out.close();
    std::filesystem::rename(tmp, ready_file, fs_ec);
  }
  log->info("hoistd.started", {{"version", kVersion}, {"url", url}, {"database", db_path}});
  sd_notify(0, "READY=1");
  {
    Periodic sweeper([&](Periodic&) { return sweep(api, *log, config.sweep_interval, leases.held("expiry")); });
    // A trail that does not verify is kept as it is for the inquiry: the
    // outbox's rows too (who was told what, and when).
    hoist::notify::RetentionOptions retention;
    retention.retention = config.notify.retention;
    std::optional<Periodic> pruner;
    if (chain->ok) {
      pruner.emplace([&](Periodic& self) {
        if (!leases.held("retention")) return std::chrono::milliseconds(std::chrono::seconds(5));
        return prune_outbox(self, **store, clock, *log, metrics, retention);
      });
    } else {
      log->warn("notify.retention_paused", {{"reason", "the audit trail does not verify"}});
    }
    std::vector<std::unique_ptr<hoist::siem::StreamRunner>> streams;
    for (auto& sink : *siem_sinks) {
      hoist::siem::StreamOptions options;
      options.name = sink.first;
      options.may_send = [&leases, lease = "siem:" + sink.first] { return leases.held(lease); };
      streams.push_back(std::make_unique<hoist::siem::StreamRunner>(
          std::make_unique<hoist::siem::AuditStream>(**store, std::move(sink.second), options,
                                                     [&clock] { return clock.now_s(); }),
          *log));
      log->info("siem.streaming", {{"stream", sink.first}});
    }
    // systemd's watchdog (WatchdogSec= in hoistd.service): WATCHDOG=1 at
    // half the interval, only while the event loop runs a posted task and
    // the database answers; a hung hoistd misses it and systemd restarts it.
    std::optional<Periodic> watchdog;
    std::uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec >= 2000) {
      const auto every = std::chrono::milliseconds(watchdog_usec / 2000);
      watchdog.emplace([&, every](Periodic&) {
        const bool loop = (*server)->responsive(every);
        const bool database = loop && (*store)->schema_version().ok();
        if (loop && database) {
          sd_notify(0, "WATCHDOG=1");
        } else {
          log->warn("hoistd.watchdog_missed", {{"event_loop", loop ? "ok" : "stuck"},
                                               {"database", database ? "ok" : (loop ? "failed" : "not checked")}});
        }
        return every;
      });
    }
    outbox.start();
    (*server)->run();
    sd_notify(0, "STOPPING=1");
    // What the throttle refused since its last report goes on the trail
    // before hoistd stops (the counts live only in memory).
    if (auto t = api.report_throttled(true); !t) {
      log->error("hoistd.throttled_not_recorded", {{"error", t.error().message}});
    }
    replicas.stop();
    outbox.stop();
  }
  replicas.stop();
  wake = nullptr;
  log->info("hoistd.stopped");
  return kExitOk;
}

// backup, check-backup and restore (docs/backup.md): the exit code of each
// error category.
int backup_exit_code(const hoist::Error& e) {
  switch (e.code) {
    case hoist::ErrorCode::kNotFound: return kExitNoInput;
    case hoist::ErrorCode::kPermissionDenied: return kExitNoPerm;
    case hoist::ErrorCode::kConflict: return kExitCantCreate;
    case hoist::ErrorCode::kInvalidArgument: return kExitDataError;
    case hoist::ErrorCode::kInternal: return kExitInternal;
    default: return kExitUnavailable;
  }
}

int known_schema_version() {
  return static_cast<int>(hoist::store::sqlite_migrations().size());
}

std::string describe(const hoist::backup::Manifest& m) {
  std::size_t files = 0;
  std::uint64_t bytes = 0;
  for (const auto& e : m.entries) {
    if (!e.directory) {
      ++files;
      bytes += e.size;
    }
  }
  const auto& db = m.database;
  return fmt::format(
      "  taken:        {} by hoistd {} of {}\n"
      "  files:        {} ({} bytes), {} skipped\n"
      "  database:     {} at schema version {}\n"
      "  audit trail:  {} events, head {}\n",
      m.created, m.hoistd_version, m.source_data_dir, files, bytes, m.skipped.size(), db.path, db.schema_version,
      db.audit_events,
      db.audit_head_hash.empty()
          ? std::string("(empty)")
          : fmt::format("{}:{} (for hoist audit verify --expect-head)", db.audit_head_seq, db.audit_head_hash));
}

// On PostgreSQL the database goes through pg_dump and pg_restore
// (server/backup/pg_backup.h), the data directory's keys as for SQLite.
hoist::backup::CheckOptions check_options(hoist::backup::ProcessRunner& runner) {
  hoist::backup::CheckOptions options;
  options.known_sqlite_schema_version = known_schema_version();
  options.known_postgres_schema_version = static_cast<int>(hoist::store::postgres_migrations().size());
  options.inspect_dump = hoist::backup::pg_inspector(hoist::backup::PgBackupOptions{}.tools_root, runner);
  return options;
}

hoist::Result<hoist::backup::PgBackupOptions> pg_backup_options(const Config& config, const char* command) {
  auto database = postgres_options(config);
  if (!database) return database.error();
  hoist::backup::PgBackupOptions options;
  options.database = std::move(*database);
  options.progress = [command](const std::string& line) { std::printf("  %s: %s\n", command, line.c_str()); };
  return options;
}

int run_backup(const Config& config, const std::string& dir) {
  const auto runner = hoist::backup::real_process_runner();
  hoist::backup::Source source;
  source.data_dir = config.data_dir;
  source.database = config.database;
  source.own_tls = !config.tls_cert_file.has_value();
  hoist::backup::BackupOptions options;
  options.hoistd_version = kVersion;
  options.known_schema_version = known_schema_version();
  options.now = std::chrono::system_clock::now();
  options.warn = [](const std::string& w) { std::fprintf(stderr, "hoistd backup: warning: %s\n", w.c_str()); };
  if (config.postgres) {
    auto pg = pg_backup_options(config, "backup");
    if (!pg) {
      std::fprintf(stderr, "hoistd backup: %s\n", pg.error().message.c_str());
      return kExitConfig;
    }
    source.database = config.pg.url;
    options.known_schema_version = static_cast<int>(hoist::store::postgres_migrations().size());
    options.dump_database = hoist::backup::pg_dumper(*pg, *runner);
  }
  auto m = hoist::backup::take_backup(source, dir, options);
  if (!m) {
    std::fprintf(stderr, "hoistd backup: %s\n", m.error().message.c_str());
    return backup_exit_code(m.error());
  }
  std::printf("Backup written to %s\n%s", dir.c_str(), describe(*m).c_str());
  return kExitOk;
}

int run_check_backup(const std::string& dir) {
  const auto runner = hoist::backup::real_process_runner();
  auto m = hoist::backup::check_backup(dir, check_options(*runner));
  if (!m) {
    std::fprintf(stderr, "hoistd check-backup: %s: %s\n", dir.c_str(), m.error().message.c_str());
    return backup_exit_code(m.error());
  }
  std::printf(
      "%s: the backup checks (every file's SHA-256, %s, its audit chain)\n%s", dir.c_str(),
      m->backend == hoist::backup::kBackendPostgres ? "pg_restore --list of the dump" : "the database's integrity",
      describe(*m).c_str());
  return kExitOk;
}

int run_restore(const Config& config, const std::string& dir, const std::optional<std::string>& owner) {
  if (!config.postgres && !config.database.empty() && config.database != config.data_dir + "/hoist.db") {
    std::fprintf(stderr,
                 "hoistd restore: the configuration puts the database at %s, outside the data directory: restore by "
                 "hand (docs/backup.md)\n",
                 config.database.c_str());
    return kExitUsage;
  }
  hoist::backup::RestoreTarget target;
  target.data_dir = config.data_dir;
  if (owner) {
    const passwd* pw = ::getpwnam(owner->c_str());
    if (pw == nullptr) {
      std::fprintf(stderr, "hoistd restore: --owner %s: no such user\n", owner->c_str());
      return kExitUsage;
    }
    target.owner = std::pair<uid_t, gid_t>{pw->pw_uid, pw->pw_gid};
  }
  if (target.owner && ::geteuid() != 0) {
    std::fprintf(stderr, "hoistd restore: --owner needs root\n");
    return kExitNoPerm;
  }
  const auto runner = hoist::backup::real_process_runner();
  auto options = check_options(*runner);
  if (config.postgres) {
    auto pg = pg_backup_options(config, "restore");
    if (!pg) {
      std::fprintf(stderr, "hoistd restore: %s\n", pg.error().message.c_str());
      return kExitConfig;
    }
    options.restore_dump = hoist::backup::pg_restorer(*pg, *runner);
  }
  auto m = hoist::backup::restore_backup(dir, target, options);
  if (!m) {
    std::fprintf(stderr, "hoistd restore: %s\n", m.error().message.c_str());
    return backup_exit_code(m.error());
  }
  std::printf(
      "Restored %s into %s%s\n%s"
      "The push queue's counter was moved ahead (docs/backup.md). Start hoistd on it; then `hoist audit verify "
      "--expect-head %llu:%s` must pass.\n",
      dir.c_str(), config.data_dir.c_str(),
      config.postgres ? fmt::format(" and the PostgreSQL database {}", config.pg.url).c_str() : "",
      describe(*m).c_str(), static_cast<unsigned long long>(m->database.audit_head_seq),
      m->database.audit_head_hash.c_str());
  return kExitOk;
}

// hoistd migrate (docs/storage.md, "Moving from SQLite to PostgreSQL"):
// the SQLite database copied into the empty PostgreSQL database that the
// configuration names, then verified there.
int run_migrate(const Config& config, const std::optional<std::string>& from) {
  if (!config.postgres) {
    std::fprintf(stderr,
                 "hoistd migrate: the configuration's [database] backend is \"sqlite\": give the configuration that "
                 "names the PostgreSQL target (backend = \"postgres\", url, password_file) with --config\n");
    return kExitUsage;
  }
  const std::string source = from ? *from : config.data_dir + "/hoist.db";
  auto options = postgres_options(config);
  if (!options) {
    std::fprintf(stderr, "hoistd migrate: %s\n", options.error().message.c_str());
    return kExitConfig;
  }
  std::printf("Copying %s into %s (hoistd must not run on either)\n", source.c_str(), config.pg.url.c_str());
  std::fflush(stdout);
  auto report = hoist::store::migrate_sqlite_to_postgres(source, *options, [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
  });
  if (!report) {
    std::fprintf(stderr, "hoistd migrate: %s\n", report.error().message.c_str());
    return backup_exit_code(report.error());
  }
  std::string tables;
  for (const auto& [name, rows] : report->tables) tables += fmt::format("    {:<24} {}\n", name, rows);
  const auto& head = report->audit_head;
  std::printf(
      "Migrated %s (SQLite schema %d) into %s (PostgreSQL schema %d)\n"
      "  tables:       %zu, %llu rows\n%s"
      "  audit trail:  %llu events, head %s\n"
      "Start hoistd with this configuration and the same data directory (its CA and keys); then `hoist audit "
      "verify --expect-head %s` must pass. Keep %s until you no longer need to go back.\n",
      source.c_str(), report->sqlite_schema_version, config.pg.url.c_str(), report->postgres_schema_version,
      report->tables.size(), static_cast<unsigned long long>(report->rows), tables.c_str(),
      static_cast<unsigned long long>(report->audit_events),
      head ? fmt::format("{}:{} (verified on PostgreSQL)", head->seq, head->hash.hex()).c_str() : "(empty)",
      head ? fmt::format("{}:{}", head->seq, head->hash.hex()).c_str() : "SEQ:HASH", source.c_str());
  return kExitOk;
}

int run_main(int argc, char** argv) {
  CLI::App app{"hoistd: the Hoist control plane (REST API over HTTPS, approvals, audit trail)"};
  app.set_version_flag("--version", std::string("hoistd ") + kVersion);
  std::string config_file;
  std::optional<std::string> data_dir;
  std::optional<std::string> console_dir;
  std::optional<std::string> listen;
  std::optional<int> port;
  std::optional<std::string> log_level;
  std::string admin_user = "admin";
  std::optional<std::string> admin_password;
  std::optional<std::string> enrolment_labels;
  std::string ready_file;
  bool check_config = false;
  bool new_metrics_token = false;
  app.add_option("-c,--config", config_file,
                 fmt::format("TOML configuration file (default {} if it exists)", kDefaultConfig));
  app.add_option("--data-dir", data_dir, "Directory for the database and TLS material (default /var/lib/hoistd)");
  app.add_option("--console-dir", console_dir, "The web console's built files (console/dist); default: none");
  app.add_option("--listen", listen, "Address to listen on (default 127.0.0.1)");
  app.add_option("--port", port, "Port to listen on; 0 picks a free one (default 8443)")->check(CLI::Range(0, 65535));
  app.add_option("--log-level", log_level, "debug, info, warning or error (default info)");
  app.add_option("--admin-user", admin_user, "Name of the first admin, created on first start (default admin)");
  app.add_option("--admin-password", admin_password,
                 "First admin's password (default: generated and printed once; prefer HOIST_ADMIN_PASSWORD, as "
                 "flags are visible to other local users)");
  app.add_option("--enrolment-token", enrolment_labels,
                 "On the first start (no enrolment token yet), create and print a one-use enrolment token for "
                 "endpoints with these comma-separated labels; later starts print none");
  app.add_option("--ready-file", ready_file, "Write {url, port, ca_fingerprint, ca_file} as JSON here when listening");
  app.add_flag("--check-config", check_config, "Check the configuration and exit");
  app.add_flag("--new-metrics-token", new_metrics_token,
               "Print a new token for GET /metrics and the [metrics] token_hash line for hoistd.toml, and exit");
  // Subcommands; hoistd alone serves. --config and --data-dir (given
  // before or after the subcommand) say which data directory.
  std::string backup_dir;
  std::optional<std::string> restore_owner;
  auto* backup_cmd = app.add_subcommand(
      "backup",
      "Copy the data directory (the database through SQLite's online backup, or PostgreSQL's through pg_dump; keys "
      "and certificates with their modes) into DIR while hoistd runs, and exit (docs/backup.md)");
  backup_cmd->add_option("DIR", backup_dir, "A new directory, or an empty one of yours; it is made 0700")->required();
  backup_cmd->fallthrough();
  auto* check_cmd = app.add_subcommand(
      "check-backup", "Check a backup against its manifest, the database's integrity and its audit chain, and exit");
  check_cmd->add_option("DIR", backup_dir, "The backup")->required();
  check_cmd->fallthrough();
  auto* restore_cmd = app.add_subcommand(
      "restore",
      "Check the backup in DIR and restore it into the data directory (--data-dir or data_dir), which must not "
      "exist or be empty, and on PostgreSQL into the empty database [database] url names; hoistd must not run on "
      "either");
  restore_cmd->add_option("DIR", backup_dir, "The backup")->required();
  restore_cmd->add_option("--owner", restore_owner,
                          "As root: give every restored file to this user and its group (default: the owners the "
                          "backup recorded)");
  restore_cmd->fallthrough();
  std::optional<std::string> migrate_from;
  auto* migrate_cmd = app.add_subcommand(
      "migrate",
      "Copy the SQLite database into the empty PostgreSQL database the configuration names ([database] backend = "
      "\"postgres\"), verify the audit chain and every table there, and exit; hoistd must be stopped "
      "(docs/storage.md)");
  migrate_cmd->add_option("--from", migrate_from, "The SQLite database (default: DATA_DIR/hoist.db)");
  migrate_cmd->fallthrough();
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kExitUsage;
  }

  if (new_metrics_token) {
    // The token goes to the scraper only; hoistd's configuration holds its hash.
    const auto token = hoist::auth::make_secret_token(hoist::auth::kMetricsTokenKind);
    std::printf(
        "Metrics token (shown once; give it to the scraper, e.g. in the file Prometheus's credentials_file names):\n"
        "%s\n\nIn hoistd.toml (the hash only; the token is never stored):\n[metrics]\ntoken_hash = \"%s\"\n",
        token.text().c_str(), hoist::auth::hash_secret(token.secret).c_str());
    return kExitOk;
  }

  Config config;
  const bool explicit_config = !config_file.empty();
  if (!explicit_config && ::access(kDefaultConfig, F_OK) == 0) {
    config_file = kDefaultConfig;
  }
  if (!config_file.empty()) {
    if (auto st = hoist::server::load_config_file(config_file, config); !st) {
      std::fprintf(stderr, "hoistd: %s\n", st.error().message.c_str());
      return kExitConfig;
    }
  }
  if (data_dir) config.data_dir = *data_dir;
  if (console_dir) config.console_dir = *console_dir;
  if (listen) config.http.address = *listen;
  if (port) config.http.port = static_cast<std::uint16_t>(*port);
  if (log_level) {
    std::string text = "[log]\nlevel = " + hoist::net::json_string(*log_level) + "\n";
    if (auto st = hoist::server::parse_config(text, "--log-level", config); !st) {
      std::fprintf(stderr, "hoistd: %s\n", st.error().message.c_str());
      return kExitUsage;
    }
  }
  if (check_cmd->parsed()) return run_check_backup(backup_dir);
  if (backup_cmd->parsed()) return run_backup(config, backup_dir);
  if (restore_cmd->parsed()) return run_restore(config, backup_dir, restore_owner);
  if (migrate_cmd->parsed()) return run_migrate(config, migrate_from);
  if (!admin_password) {
    if (const char* env = std::getenv("HOIST_ADMIN_PASSWORD");
        env != nullptr && *env != '\0') {  // NOLINT(concurrency-mt-unsafe)
      admin_password = env;
    }
  }
  if (admin_password) {
    if (auto st = hoist::auth::check_new_password(*admin_password); !st) {
      std::fprintf(stderr, "hoistd: the first admin's password: %s\n", st.error().message.c_str());
      return kExitUsage;
    }
  }
  if (check_config) {
    std::printf("hoistd: configuration OK%s\n", config_file.empty() ? " (defaults)" : "");
    return kExitOk;
  }
  return serve(std::move(config), admin_user, std::move(admin_password), enrolment_labels, ready_file);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "hoistd: internal error: %s (this is a bug)\n", e.what());
  } catch (...) {
    (void)std::fputs("hoistd: internal error (this is a bug)\n", stderr);
  }
  return kExitInternal;
}
