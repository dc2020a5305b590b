// What the attack suite's cases share beyond tests/agent/e2e_harness.h:
// users with passwords and groups, root-owned directories, a PAM service
// with the real password, the audit trail's events, and processes that run
// as a test user (the attacker) against the agent's socket.
#pragma once

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <filesystem>
#include <functional>
#include <map>

#include "agent/e2e_harness.h"

namespace hoist::testing {

inline constexpr std::string_view kAttackPassword = "Attack-e2e-pass-7";

// A local user made for one case (optionally in a supplementary group and
// with a password) and removed after it; several may exist at once.
class AttackUser {
 public:
  explicit AttackUser(const std::string& suffix, const std::string& group = "", const std::string& password = "")
      : name_("hoist-e2e-" + std::to_string(::getpid()) + suffix) {
    remove_leftover_accounts("/etc/passwd", "/usr/sbin/userdel");
    std::vector<std::string> args{"/usr/sbin/useradd", "--no-create-home", "--shell", "/bin/sh"};
    if (!group.empty()) {
      args.emplace_back("-G");
      args.push_back(group);
    }
    args.push_back(name_);
    created_ = run(args, "/dev/null") == 0;
    ok_ = created_;
    if (ok_ && !password.empty()) {
      ok_ = run({"/bin/sh", "-c", "echo '" + name_ + ":" + password + "' | /usr/sbin/chpasswd"}, "/dev/null") == 0;
    }
    if (const passwd* pw = ::getpwnam(name_.c_str())) {
      uid_ = pw->pw_uid;
      gid_ = pw->pw_gid;
    } else {
      ok_ = false;
    }
  }
  ~AttackUser() {
    if (created_) (void)run({"/usr/sbin/userdel", name_}, "/dev/null");
  }
  AttackUser(const AttackUser&) = delete;
  AttackUser& operator=(const AttackUser&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] uid_t uid() const { return uid_; }
  [[nodiscard]] gid_t gid() const { return gid_; }

 private:
  std::string name_;
  bool created_ = false;
  bool ok_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

// Runs `body` in a child process as uid/gid (no supplementary groups) and
// returns its exit status (-1 when it did not exit). The parent must be
// single-threaded (the child may allocate).
inline int run_as(uid_t uid, gid_t gid, const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
    ::_exit(body());
  }
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

inline int connect_unix(const std::string& path, bool nonblocking) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A child process running as uid/gid that keeps `count` connections to the
// agent's socket open, sends nothing, and opens a new one for each the
// agent closes, until it is destroyed. Only system calls after fork().
class ConnectionFlood {
 public:
  ConnectionFlood(const std::string& socket, uid_t uid, gid_t gid, int count) {
    pid_ = ::fork();
    if (pid_ != 0) return;
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) ::_exit(126);
    constexpr int kMax = 512;
    int fds[kMax];
    const int n = count < kMax ? count : kMax;
    for (int i = 0; i < n; ++i) fds[i] = -1;
    for (;;) {
      pollfd polls[kMax];
      int open = 0;
      for (int i = 0; i < n; ++i) {
        if (fds[i] < 0) fds[i] = connect_unix(socket, true);
        if (fds[i] >= 0) polls[open++] = pollfd{fds[i], POLLIN, 0};
      }
      ::poll(polls, static_cast<nfds_t>(open), 20);
      for (int k = 0; k < open; ++k) {
        if (polls[k].revents == 0) continue;
        for (int i = 0; i < n; ++i) {
          if (fds[i] == polls[k].fd) {
            ::close(fds[i]);  // closed by the agent, or refused with a message: again
            fds[i] = -1;
          }
        }
      }
      const timespec pause{0, 5'000'000};
      ::nanosleep(&pause, nullptr);
    }
  }
  ~ConnectionFlood() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ConnectionFlood(const ConnectionFlood&) = delete;
  ConnectionFlood& operator=(const ConnectionFlood&) = delete;
  [[nodiscard]] bool ok() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

// The sudo.conf of a case: hoist_sudo.so with the fixture's socket, its own
// timestamp and spool directories, and `extra` options.
inline std::string attack_sudo_conf(const std::string& dir, const std::string& socket, const std::string& spool,
                                    const std::string& extra = "") {
  const std::string conf = dir + "/sudo-attack.conf";
  {
    std::ofstream out(conf, std::ios::trunc);
    out << "Plugin hoist_policy " << HOIST_SUDO_SO << " agent_socket=" << socket << " timestamp_dir=" << dir
        << "/ts spool_dir=" << spool << (extra.empty() ? "" : " " + extra) << "\n";
  }
  EXPECT_EQ(::chmod(conf.c_str(), 0644), 0);
  return conf;
}

// The attack suite's fixture: the harness's, with hoistd's audit trail read
// by action.
class AgentAttackE2E : public AgentE2E {
 protected:
  json::array audit_events(const std::string& action) {
    const auto r = hoistd_.call("GET", "/api/v1/audit?limit=1000&action=" + action, "", admin_);
    EXPECT_EQ(r.status, 200) << r;
    return r.array("/events");
  }
  // The audit events of `action` whose details' `field` is `value`.
  std::size_t audited(const std::string& action, const std::string& field, const std::string& value) {
    std::size_t n = 0;
    for (const auto& e : audit_events(action)) {
      const auto* v = e.as_object().at("details").as_object().if_contains(field);
      if (v != nullptr && v->is_string() && v->as_string() == value) ++n;
    }
    return n;
  }
  [[nodiscard]] std::string spool_dir() const { return state_dir_ + "/spool"; }
};

}  // namespace hoist::testing
