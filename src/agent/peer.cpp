#include "agent/peer.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hoist::agent {

Result<PeerCredentials> peer_credentials(int fd) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
    return internal_error(fmt::format("cannot read the peer's credentials: {}", std::strerror(errno)));
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

Result<std::uint32_t> real_uid_from_status(std::string_view status_text) {
  std::size_t pos = 0;
  while (pos < status_text.size()) {
    const auto end = std::min(status_text.find('\n', pos), status_text.size());
    const auto line = status_text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.starts_with("Uid:")) continue;
    std::size_t i = 4;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::uint64_t v = 0;
    std::size_t digits = 0;
    for (; i < line.size() && line[i] >= '0' && line[i] <= '9' && digits < 11; ++i, ++digits) {
      v = v * 10 + static_cast<std::uint64_t>(line[i] - '0');
    }
    if (digits == 0 || digits > 10 || v > 0xFFFFFFFEULL || (i < line.size() && line[i] != ' ' && line[i] != '\t')) {
      break;
    }
    return static_cast<std::uint32_t>(v);
  }
  return invalid_argument("no readable Uid line in the process status");
}

Result<Caller> speaking_for(const PeerCredentials& peer, const std::vector<std::string>& sudo_binaries) {
  if (peer.uid != 0) {
    return Caller{static_cast<std::uint32_t>(peer.uid), peer.pid, false};
  }
  // A root peer: sudo speaks for the user who ran it; anything else running
  // as root speaks for root.
  std::array<char, 4096> exe{};
  const auto proc = fmt::format("/proc/{}", peer.pid);
  const auto n = readlink((proc + "/exe").c_str(), exe.data(), exe.size() - 1);
  if (n <= 0) {
    return permission_denied(fmt::format("cannot tell which program process {} is", peer.pid));
  }
  const std::string path(exe.data(), static_cast<std::size_t>(n));
  if (std::find(sudo_binaries.begin(), sudo_binaries.end(), path) == sudo_binaries.end()) {
    return Caller{0, peer.pid, false};
  }
  std::ifstream in(proc + "/status");
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    return permission_denied(fmt::format("cannot read the status of sudo process {}", peer.pid));
  }
  auto uid = real_uid_from_status(text.str());
  if (!uid) return uid.error();
  return Caller{*uid, peer.pid, true};
}

Result<Account> account_of(std::uint32_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc = 0;
  while ((rc = getpwuid_r(uid, &pw, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1U << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0) {
    return unavailable(fmt::format("cannot look up uid {}: {}", uid, std::strerror(rc)));
  }
  if (found == nullptr) {
    return not_found(fmt::format("uid {} has no account on this computer", uid));
  }
  Account out;
  out.name = pw.pw_name;
  out.uid = pw.pw_uid;
  out.gid = pw.pw_gid;
  int count = 64;
  std::vector<gid_t> gids(static_cast<std::size_t>(count));
  while (getgrouplist(pw.pw_name, pw.pw_gid, gids.data(), &count) == -1) {
    if (count > 65536) return unavailable(fmt::format("user {} is in too many groups", out.name));
    gids.resize(static_cast<std::size_t>(count));
  }
  gids.resize(static_cast<std::size_t>(count));
  // The primary group first.
  std::stable_partition(gids.begin(), gids.end(), [&](gid_t g) { return g == pw.pw_gid; });
  std::vector<char> gbuf(16384);
  for (const gid_t g : gids) {
    struct group gr {};
    struct group* gfound = nullptr;
    int grc = 0;
    while ((grc = getgrgid_r(g, &gr, gbuf.data(), gbuf.size(), &gfound)) == ERANGE && gbuf.size() < (1U << 22)) {
      gbuf.resize(gbuf.size() * 2);
    }
    if (grc == 0 && gfound != nullptr) {
      const std::string name = gr.gr_name;
      if (std::find(out.groups.begin(), out.groups.end(), name) == out.groups.end()) {
        out.groups.push_back(name);
      }
    }
  }
  return out;
}

Result<RunAs> run_as_of(std::string_view user, std::string_view group, const Account& invoker) {
  const std::string who = !user.empty() ? std::string(user) : group.empty() ? std::string("root") : invoker.name;
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc = 0;
  while ((rc = getpwnam_r(who.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE && buf.size() < (1U << 20)) {
    buf.resize(buf.size() * 2);
  }
  if (rc != 0) return unavailable(fmt::format("cannot look up user {}: {}", who, std::strerror(rc)));
  if (found == nullptr) return permission_denied(fmt::format("there is no user {} on this computer", who));
  RunAs out;
  out.user = pw.pw_name;
  const gid_t primary = pw.pw_gid;
  std::vector<char> gbuf(16384);
  struct group gr {};
  struct group* gfound = nullptr;
  while ((rc = getgrgid_r(primary, &gr, gbuf.data(), gbuf.size(), &gfound)) == ERANGE && gbuf.size() < (1U << 22)) {
    gbuf.resize(gbuf.size() * 2);
  }
  if (rc == 0 && gfound != nullptr) out.user_group = gr.gr_name;
  if (!group.empty()) {
    const std::string g(group);
    while ((rc = getgrnam_r(g.c_str(), &gr, gbuf.data(), gbuf.size(), &gfound)) == ERANGE && gbuf.size() < (1U << 22)) {
      gbuf.resize(gbuf.size() * 2);
    }
    if (rc != 0) return unavailable(fmt::format("cannot look up group {}: {}", g, std::strerror(rc)));
    if (gfound == nullptr) return permission_denied(fmt::format("there is no group {} on this computer", g));
    out.group = gr.gr_name;
  }
  return out;
}

}  // namespace hoist::agent
