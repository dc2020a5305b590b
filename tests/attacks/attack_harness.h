// What the sudo-path attack cases share: the real hoistd, an enrolled and
// running hoist-agent, a test user, a root-owned directory under /run (a
// trusted path: /tmp is writable by everyone, so nothing under it is
// trusted) and one under /tmp the user owns, and the real sudo loading
// hoist_sudo.so in a private mount namespace (tests/agent/e2e_harness.h).
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "agent/e2e_harness.h"

namespace hoist::testing {

// A directory made for one test and removed after it: root-owned 0755
// under /run (trusted), or owned by `owner` under /tmp.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& parent, uid_t owner = 0, mode_t mode = 0755)
      : path_(parent + "/hoist-attack-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++)) {
    ok_ = ::mkdir(path_.c_str(), mode) == 0 &&
          ::chown(path_.c_str(), owner, owner == 0 ? 0 : static_cast<gid_t>(-1)) == 0 &&
          ::chmod(path_.c_str(), mode) == 0;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }

  // Writes `name` owned by root with `mode`.
  bool put(const std::string& name, const std::string& content, mode_t mode) const {
    const std::string file = path_ + "/" + name;
    {
      std::ofstream out(file, std::ios::trunc);
      out << content;
      if (!out) return false;
    }
    return ::chown(file.c_str(), 0, 0) == 0 && ::chmod(file.c_str(), mode) == 0;
  }

 private:
  static inline int counter_ = 0;
  std::string path_;
  bool ok_ = false;
};

class AttackE2E : public AgentE2E {
 protected:
  // Enrols and starts the agent, makes the user and the sudo.conf; call
  // from each real-sudo case after its skip check.
  void arm() {
    ASSERT_EQ(enroll(), 0) << slurp(log_);
    start_agent();
    ASSERT_TRUE(user_.ok()) << "cannot create a test user";
    conf_ = write_sudo_conf();
  }
  // `shell` run as the test user (no terminal), with sudo going through
  // Hoist. Every sudo in it must carry its own `timeout`.
  SudoRun as_user(const std::string& shell) { return sudo_as(user_.name(), conf_, shell, hoistd_.dir()); }

  [[nodiscard]] static std::string slurp_file(const std::string& path) { return slurp(path); }
  [[nodiscard]] static bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
  }

  TestUser user_;
  std::string conf_;
};

}  // namespace hoist::testing
