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
