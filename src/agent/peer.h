// Who is asking hoist-agent: the kernel's account of the peer on the Unix
// socket (SO_PEERCRED), never a message's.
//
// MUST: a peer whose effective uid is 0 speaks for its real uid only when it
// is a sudo process (its /proc/<pid>/exe is one of the sudo binaries); any
// other peer speaks for its effective uid alone.
// MUST: names and groups come from NSS (getpwuid_r, getgrouplist), never
// from the message.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/evaluator.h"
#include "core/result.h"

namespace hoist::agent {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;  // effective, at connect time
  gid_t gid = 0;
};

// Who asks the agent, as the kernel says: the uid the peer speaks for (see
// speaking_uid) and the peer process (for the plugin, the sudo process).
struct Caller {
  std::uint32_t uid = 0;
  pid_t pid = 0;
  bool sudo = false;  // the peer is a sudo process (the plugin), speaking for its user
};

// SO_PEERCRED of a connected Unix socket.
Result<PeerCredentials> peer_credentials(int fd);

// The uid the peer may speak for (see the MUST above). `sudo_binaries` are
// the paths a sudo process's /proc/<pid>/exe may name.
Result<Caller> speaking_for(const PeerCredentials& peer, const std::vector<std::string>& sudo_binaries);

// The real uid in a /proc/<pid>/status text ("Uid:\treal\teffective...").
Result<std::uint32_t> real_uid_from_status(std::string_view status_text);

struct Account {
  std::string name;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::string> groups;  // primary first, then supplementary, by name
};

// NSS look-up. NotFound for an unknown uid.
Result<Account> account_of(std::uint32_t uid);

// Whom sudo -u USER / -g GROUP runs the command as, by NSS: USER ("" = root,
// or the invoker when only GROUP is given) must exist, and GROUP ("" = none)
// too; the result carries the canonical names and USER's primary group.
// PermissionDenied naming an unknown user or group.
Result<RunAs> run_as_of(std::string_view user, std::string_view group, const Account& invoker);

}  // namespace hoist::agent
