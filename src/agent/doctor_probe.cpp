#include "agent/doctor_probe.h"

#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <set>

#include "agent/daemon.h"
#include "agent/state/sqlite_agent_state.h"
#include "agent/sudo_conf.h"
#include "core/timestamp.h"
#include "ipc/messages.h"
#include "net/client/failover_client.h"
#include "net/client/https_client.h"
#include "net/client/json_api.h"
#include "platform/executable.h"
#include "platform/unique_fd.h"
#include "plugin/break_glass_groups.h"

namespace hoist::agent {

namespace {

using platform::UniqueFd;

constexpr std::size_t kMaxBreakGlassBytes = std::size_t{64} * 1024;
constexpr std::size_t kMaxPluginBytes = std::size_t{64} << 20;
constexpr std::size_t kMaxDpkgBytes = std::size_t{64} * 1024;
constexpr std::size_t kMaxGroupEntries = 100'000;
constexpr int kAgentWaitMs = 5000;

std::string errno_text(int e) {
  return std::strerror(e);  // NOLINT(concurrency-mt-unsafe): doctor has one thread
}

std::string parent_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

FileFacts facts_of(const struct stat& st) {
  FileFacts f;
  f.exists = true;
  f.symlink = S_ISLNK(st.st_mode);
  f.regular = S_ISREG(st.st_mode);
  f.directory = S_ISDIR(st.st_mode);
  f.socket = S_ISSOCK(st.st_mode);
  f.uid = st.st_uid;
  f.mode = st.st_mode & 07777;
  return f;
}

// lstat (follow = false) or stat; the chain is the file's directory and up.
FileFacts look_at(const std::string& path, bool follow) {
  struct stat st {};
  const int rc = follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st);
  if (rc != 0) {
    FileFacts f;
    if (errno != ENOENT && errno != ENOTDIR) f.error = errno_text(errno);
    return f;
  }
  FileFacts f = facts_of(st);
  f.directory_chain_trusted = path.starts_with('/') && platform::directory_chain_trusted(parent_of(path));
  return f;
}

// A regular file's bytes, at most `max` (more is an error). The name is
// opened O_PATH (never O_NOFOLLOW-less when !follow), checked, and only
// then opened for reading through /proc/self/fd, so a FIFO or a device put
// there is never opened for reading.
Result<std::string> read_regular(const std::string& path, std::size_t max, bool follow) {
  UniqueFd handle(::open(path.c_str(), O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)));
  if (!handle.valid()) return unavailable(errno_text(errno));
  struct stat st {};
  if (::fstat(handle.get(), &st) != 0) return unavailable(errno_text(errno));
  if (!S_ISREG(st.st_mode)) return invalid_argument("not a regular file");
  if (static_cast<std::size_t>(st.st_size) > max) return invalid_argument(fmt::format("larger than {} bytes", max));
  const std::string self = fmt::format("/proc/self/fd/{}", handle.get());
  UniqueFd fd(::open(self.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return unavailable(errno_text(errno));
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable(errno_text(errno));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max) return invalid_argument(fmt::format("larger than {} bytes", max));
  }
  return text;
}

// --- the agent's socket -----------------------------------------------------

// Reads one frame other than `progress` within the deadline.
Result<ipc::Fields> read_reply(int fd, std::chrono::steady_clock::time_point until) {
  std::string buffer;
  char chunk[8192];
  for (;;) {
    if (auto decoded = ipc::decode_frame(buffer); !decoded) {
      return invalid_argument(decoded.error().message);
    } else if (*decoded) {
      buffer.erase(0, (*decoded)->bytes);
      auto type = ipc::message_type((*decoded)->fields);
      if (type && *type == ipc::MessageType::kProgress) continue;
      return std::move((*decoded)->fields);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return unavailable(fmt::format("no reply within {} s", kAgentWaitMs / 1000));
    pollfd pfd{fd, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return unavailable(fmt::format("no reply within {} s", kAgentWaitMs / 1000));
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return unavailable(errno_text(errno));
    if (n == 0) return unavailable("the connection was closed without a reply");
    buffer.append(chunk, static_cast<std::size_t>(n));
    if (buffer.size() > ipc::kMaxFrameBytes + 64) return invalid_argument("a reply larger than one frame");
  }
}

void probe_socket(SocketFacts& s) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (s.path.size() >= sizeof addr.sun_path) {
    s.probe = SocketProbe::kConnectFailed;
    s.detail = "the path is too long for a Unix socket";
    return;
  }
  std::memcpy(addr.sun_path, s.path.data(), s.path.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    s.probe = SocketProbe::kConnectFailed;
    s.detail = errno_text(errno);
    return;
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    s.probe = err == ECONNREFUSED ? SocketProbe::kRefused
              : err == EAGAIN     ? SocketProbe::kNoReply
                                  : SocketProbe::kConnectFailed;
    s.detail = err == EAGAIN ? "its backlog is full (the agent is not accepting connections)" : errno_text(err);
    return;
  }
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0) {
    s.peer_uid = peer.uid;
    s.peer_pid = peer.pid;
  }
  if (s.peer_uid && *s.peer_uid != 0) {
    s.probe = SocketProbe::kGarbled;  // never talk to a stranger: check_agent names the uid
    s.detail = "served by a process that is not root's";
    return;
  }
  // `list` is what `hoist status` asks: it reads the policy, runs and
  // records nothing.
  auto frame = ipc::encode_frame(ipc::to_fields(ipc::ListMessage{"root", 0, 0, ""}));
  if (!frame) {
    s.probe = SocketProbe::kConnectFailed;
    s.detail = frame.error().message;
    return;
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAgentWaitMs);
  for (std::size_t done = 0; done < frame->size();) {
    const ssize_t n = ::send(fd.get(), frame->data() + done, frame->size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd pfd{fd.get(), POLLOUT, 0};
      if (::poll(&pfd, 1, kAgentWaitMs) <= 0 || std::chrono::steady_clock::now() > until) {
        s.probe = SocketProbe::kNoReply;
        s.detail = "it does not take the request";
        return;
      }
      continue;
    }
    if (n <= 0) {
      s.probe = SocketProbe::kNoReply;
      s.detail = errno_text(errno);
      return;
    }
    done += static_cast<std::size_t>(n);
  }
  auto reply = read_reply(fd.get(), until);
  if (!reply) {
    s.probe = reply.error().code == ErrorCode::kUnavailable ? SocketProbe::kNoReply : SocketProbe::kGarbled;
    s.detail = reply.error().message;
    return;
  }
  auto type = ipc::message_type(*reply);
  if (!type) {
    s.probe = SocketProbe::kGarbled;
    s.detail = type.error().message;
    return;
  }
  if (*type == ipc::MessageType::kListing && ipc::listing_from(*reply)) {
    s.probe = SocketProbe::kAnswered;
    return;
  }
  if (*type == ipc::MessageType::kError) {
    if (auto e = ipc::error_from(*reply)) {
      s.probe = SocketProbe::kErrorReply;
      s.detail = e->message;
      return;
    }
  }
  s.probe = SocketProbe::kGarbled;
  s.detail = fmt::format("a \"{}\" frame", ipc::to_string(*type));
}

// --- dpkg -------------------------------------------------------------------

struct ToolOutput {
  int exit_code = -1;
  std::string out;
};

Result<ToolOutput> run_fixed(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return unavailable(errno_text(errno));
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execve's signature
  args.push_back(nullptr);
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char locale_env[] = "LC_ALL=C";
  char* env[] = {path_env, locale_env, nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) return unavailable(errno_text(errno));
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(write_end.get(), 1) < 0 || ::dup2(null_fd, 2) < 0) {
      ::_exit(125);
    }
    ::execve(args[0], args.data(), env);
    ::_exit(127);
  }
  write_end.reset();
  ToolOutput run;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (run.out.size() < kMaxDpkgBytes) run.out.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return unavailable(errno_text(errno));
  }
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

// --- groups -----------------------------------------------------------------

GroupFacts group_facts(const std::string& name, const std::set<std::uint32_t>& primary_gids) {
  GroupFacts g;
  g.name = name;
  group gr{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  int rc = 0;
  while ((rc = ::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found)) == ERANGE &&
         buf.size() < (std::size_t{1} << 22)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0 || found == nullptr) return g;
  g.exists = true;
  for (char** m = gr.gr_mem; m != nullptr && *m != nullptr; ++m) ++g.members;
  if (primary_gids.contains(static_cast<std::uint32_t>(gr.gr_gid))) ++g.members;
  return g;
}

// The primary groups of the first kMaxGroupEntries accounts.
std::set<std::uint32_t> primary_gids() {
  std::set<std::uint32_t> out;
  // NOLINTBEGIN(concurrency-mt-unsafe): doctor has one thread
  ::setpwent();
  std::size_t seen = 0;
  while (const passwd* pw = ::getpwent()) {
    out.insert(static_cast<std::uint32_t>(pw->pw_gid));
    if (++seen >= kMaxGroupEntries) break;
  }
  ::endpwent();
  // NOLINTEND(concurrency-mt-unsafe)
  return out;
}

// --- hoistd -----------------------------------------------------------------

using Millis = std::chrono::sys_time<std::chrono::milliseconds>;
Millis now_ms() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string server_words(const net::HttpResponse& reply) {
  return net::error_from_reply(reply).message;
}

class SystemProbe final : public DoctorProbe {
 public:
  SudoConfFacts sudo_conf(const std::string& path) override {
    SudoConfFacts f;
    f.path = path;
    f.file = look_at(path, false);
    if (f.file.exists && f.file.regular) {
      auto text = read_regular(path, kMaxSudoConfBytes, false);
      if (text) {
        f.text = std::move(*text);
      } else {
        f.read_error = text.error().message;
      }
    }
    return f;
  }

  PluginFileFacts plugin_file(const std::string& path) override {
    PluginFileFacts f;
    f.path = path;
    f.file = look_at(path, true);  // sudo follows links to its plugins
    if (!f.file.exists) return f;
    // Whoever can replace a directory entry above the file, or above a
    // link to it, can swap the .so.
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) {
      f.file.directory_chain_trusted = false;
      return f;
    }
    f.file.directory_chain_trusted =
        f.file.directory_chain_trusted && platform::directory_chain_trusted(parent_of(resolved));
    if (!f.file.regular || f.file.uid != 0 || (f.file.mode & 022) != 0 || !f.file.directory_chain_trusted) return f;
    if (auto bytes = read_regular(resolved, kMaxPluginBytes, false)) f.version = plugin_version_in(*bytes);
    return f;
  }

  SocketFacts agent_socket(const std::string& path) override {
    SocketFacts s;
    s.path = path;
    s.file = look_at(path, false);
    struct stat st {};
    s.parent_exists = ::stat(parent_of(path).c_str(), &st) == 0;
    if (s.file.exists && s.file.socket && !s.file.symlink && s.file.directory_chain_trusted) probe_socket(s);
    return s;
  }

  StateFacts state(const std::string& dir) override {
    StateFacts f;
    f.dir = dir;
    SqliteAgentStateOptions options;
    options.read_only = true;  // beside the running agent: no lock, nothing written
    auto state = open_sqlite_agent_state(dir, options);
    if (!state) {
      if (state.error().code != ErrorCode::kNotFound) f.error = state.error().message;
      return f;
    }
    f.exists = true;
    auto identity = (*state)->identity();
    if (!identity) {
      f.error = identity.error().message;
      return f;
    }
    if (*identity) {
      identity_ = **identity;
      EnrolmentFacts e;
      e.server_url = identity_->server_url;
      e.fallback_server_urls = identity_->fallback_server_urls;
      e.endpoint_id = identity_->endpoint_id;
      e.hostname = identity_->hostname;
      e.enrolled_at = identity_->enrolled_at;
      e.credential_present = !identity_->credential.empty();
      e.pin_present = !identity_->ca_pin_sha256.empty();
      f.enrolment = e;
    }
    if (auto policy = (*state)->policy(); policy && *policy) {
      f.policy = StoredPolicyFacts{(*policy)->etag, (*policy)->fetched_at, (*policy)->documents.size()};
    }
    return f;
  }

  ServerFacts server(const std::string& policy_etag) override {
    ServerFacts f;
    if (!identity_) return f;
    f.tried = true;
    net::ClientOptions options;
    options.pin_fingerprint = identity_->ca_pin_sha256;
    options.connect_timeout = std::chrono::seconds(5);
    options.request_timeout = std::chrono::seconds(10);
    options.max_response_bytes = std::size_t{4} << 20;
    // Every replica the agent knows, as the agent tries them.
    auto servers = std::make_shared<net::ServerSet>(server_urls(*identity_));
    auto made = net::FailoverApiClient::create(servers, options);
    if (!made) {
      f.transport_error = made.error().message;
      return f;
    }
    net::ApiClient& client = **made;
    const std::vector<net::Header> auth{{"authorization", "Bearer " + identity_->credential}};
    const std::string body = boost::json::serialize(boost::json::object{{"agent_version", std::string(kAgentVersion)}});
    // Connect first, so the round trip timed below is one exchange (and an
    // unreachable hoistd costs one timeout, not one per call).
    if (auto health = client.send("GET", "/api/v1/health", "", {}); !health) {
      f.transport_error = health.error().message;
      return f;
    }
    f.sent = now_ms();
    auto reply = client.send("POST", "/api/v1/agent/heartbeat", body, auth);
    f.received = now_ms();
    f.answered_by = servers->answered();
    if (!reply) {
      f.transport_error = reply.error().message;
      return f;
    }
    f.status = reply->status;
    if (reply->status < 200 || reply->status > 299) {
      f.error = server_words(*reply);
      return f;
    }
    boost::system::error_code ec;
    const auto json = boost::json::parse(reply->body, ec);
    if (!ec && json.is_object()) {
      if (const auto* t = json.as_object().if_contains("server_time"); t != nullptr && t->is_string()) {
        if (auto parsed = parse_timestamp(std::string_view(t->as_string()))) f.server_time = *parsed;
      }
    }
    std::vector<net::Header> headers = auth;
    if (!policy_etag.empty()) headers.push_back({"if-none-match", policy_etag});
    auto policy = client.send("GET", "/api/v1/agent/policy", "", headers);
    if (!policy) {
      f.policy = PolicyAtServer::kError;
      f.policy_error = policy.error().message;
    } else if (policy->status == 304) {
      f.policy = PolicyAtServer::kCurrent;
    } else if (policy->status == 200) {
      const auto etag = policy->header("etag");
      f.policy = etag && *etag == policy_etag ? PolicyAtServer::kCurrent : PolicyAtServer::kDifferent;
    } else {
      f.policy = PolicyAtServer::kError;
      f.policy_error = fmt::format("HTTP {}: {}", policy->status, server_words(*policy));
    }
    return f;
  }

  BreakGlassFacts break_glass(const std::string& path) override {
    BreakGlassFacts f;
    f.path = path;
    if (!path.starts_with('/')) {
      f.file.error = "not an absolute path";
      return f;
    }
    f.file = look_at(path, false);  // the plugin opens it O_NOFOLLOW
    if (!f.file.exists || f.file.symlink || !f.file.regular || f.file.uid != 0 || (f.file.mode & 022) != 0 ||
        !f.file.directory_chain_trusted) {
      return f;
    }
    auto text = read_regular(path, kMaxBreakGlassBytes, false);
    if (!text) {
      f.read_error = text.error().message;
      return f;
    }
    f.text = std::move(*text);
    if (auto groups = plugin::parse_break_glass(*f.text); groups && !groups->empty()) {
      const auto primaries = primary_gids();
      for (const auto& name : *groups) f.groups.push_back(group_facts(name, primaries));
    }
    return f;
  }

  PackageFacts packages() override {
    PackageFacts f;
    char self[PATH_MAX] = {};
    if (const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1); n > 0) {
      f.running_binary.assign(self, static_cast<std::size_t>(n));
    }
    if (::access("/usr/bin/dpkg-query", X_OK) != 0) {
      f.dpkg_error = "/usr/bin/dpkg-query: " + errno_text(errno);
      return f;
    }
    // Exit 1 when a package is unknown: the others are still listed.
    auto run = run_fixed({"/usr/bin/timeout", "10", "/usr/bin/dpkg-query", "-W",
                          "-f=${Package}\\t${db:Status-Abbrev}\\t${Version}\\n", "sudo", "hoist-agent"});
    if (!run) {
      f.dpkg_error = run.error().message;
      return f;
    }
    if (run->exit_code != 0 && run->exit_code != 1) {
      f.dpkg_error = fmt::format("dpkg-query exited {}", run->exit_code);
      return f;
    }
    f.dpkg_available = true;
    std::string_view rest = run->out;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      const auto t1 = line.find('\t');
      const auto t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
      if (t2 == std::string_view::npos) continue;
      const auto name = line.substr(0, t1);
      const auto status = line.substr(t1 + 1, t2 - t1 - 1);
      const auto version = std::string(line.substr(t2 + 1));
      if (!status.starts_with("ii")) continue;  // installed, not half or removed
      if (name == "sudo") f.sudo_version = version;
      if (name == "hoist-agent") f.agent_version = version;
    }
    return f;
  }

  TimePoint now() override { return std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now()); }

 private:
  std::optional<Identity> identity_;  // from state(), for server()
};

}  // namespace

std::unique_ptr<DoctorProbe> make_system_probe() {
  return std::make_unique<SystemProbe>();
}

}  // namespace hoist::agent
