// The plugin's side of the agent protocol (docs/agent-protocol.md): one
// Unix stream connection to hoist-agent, one request frame and one reply
// frame per turn, every step bounded by a deadline. poll() loops, no
// threads (sudo's process is single-threaded across plugin callbacks).
//
// MUST: the peer is hoist-agent: its SO_PEERCRED uid is 0 (or our own
// euid, which is 0 inside sudo; the equality lets unprivileged tests run a
// fake agent). MUST: a reply that is not exactly one well-formed frame is
// an error, never half-read. MUST: descriptors the peer sends us are
// dropped by the kernel (we never pass a control buffer to recv). Fails
// closed: every error is a Result the caller turns into a denial.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>

#include "core/result.h"
#include "ipc/frame.h"
#include "platform/unique_fd.h"

namespace hoist::plugin {

struct AgentTimeouts {
  int connect_ms = 2000;
  int reply_ms = 15000;  // a check may hash a large executable
};

class AgentClient {
 public:
  // Connects to the agent's socket. Unavailable, saying the agent is not
  // running, for a missing socket, a refused connection or a timeout;
  // PermissionDenied for a peer that is not root.
  static Result<AgentClient> connect(const std::string& socket_path, const AgentTimeouts& timeouts = {});

  // One turn: sends `request` (with `pass_fd` attached by SCM_RIGHTS when
  // >= 0) and reads one reply frame within reply_ms (extra_ms added, for a
  // wait turn that the agent holds open). When `interrupted` is given and
  // becomes non-zero while waiting (a signal handler sets it, poll() sees
  // EINTR), the turn stops with Conflict "interrupted"; the connection is
  // then unusable (the reply is still due).
  Result<ipc::Fields> call(const ipc::Fields& request, int pass_fd = -1, int extra_ms = 0,
                           const volatile std::sig_atomic_t* interrupted = nullptr);

  [[nodiscard]] bool connected() const { return fd_.valid(); }

 private:
  AgentClient(platform::UniqueFd fd, AgentTimeouts timeouts) : fd_(std::move(fd)), timeouts_(timeouts) {}
  platform::UniqueFd fd_;
  AgentTimeouts timeouts_;
};

// The message an unreachable agent gives the user, with the cause for logs.
std::string agent_unreachable_message();

}  // namespace hoist::plugin
