// The plugin's side of the agent protocol (docs/agent-protocol.md): one
// Unix stream connection to hoist-agent, one request frame and one reply
// frame per turn, every step bounded by a deadline. poll() loops, no
// threads (sudo's process is single-threaded across plugin callbacks).
//
// MUST: the peer is hoist-agent: its SO_PEERCRED uid is 0 (or our own
// euid, which is 0 inside sudo; the equality lets unprivileged tests run a
// fake agent). MUST: a reply that is not exactly one well-formed frame
// (after any `progress` frames) is an error, never half-read. MUST:
// descriptors the peer sends us are dropped by the kernel (we never pass a
// control buffer to recv). MUST: a hung agent is found out within
// silence_ms: the agent sends `progress` while it works, so silence means
// it is not answering, however long the work takes (at most turn_ms).
// MUST: an answer the agent sent before it closed the connection (a
// refusal for being over a connection limit) is read, even when sending
// the request failed. Fails closed: every error is a Result the caller
// turns into a denial.
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>

#include "core/result.h"
#include "ipc/frame.h"
#include "platform/unique_fd.h"

namespace hoist::endpoint {

struct AgentTimeouts {
  int connect_ms = 2000;  // the agent's backlog full for this long: not answering
  int silence_ms = 1500;  // neither a reply nor a progress frame for this long: not answering
  int turn_ms = 120'000;  // one turn, progress or not (a submit waits for hoistd)
};

class AgentConnection {
 public:
  // Connects to the agent's socket. Unavailable for a missing socket or a
  // refused connection (not running) and for a backlog that stays full
  // (not answering); PermissionDenied for a peer that is not root.
  static Result<AgentConnection> connect(const std::string& socket_path, const AgentTimeouts& timeouts = {});

  // One turn: sends `request` (with `pass_fd` attached by SCM_RIGHTS when
  // >= 0) and reads one reply frame, skipping progress frames. A connection
  // the agent closed while it sat idle (a prompt, a phone call to the help
  // desk) is opened again first: nothing was sent on it. Fails when
  // the agent is silent for silence_ms or the turn takes turn_ms (extra_ms
  // added to both, for a wait turn that the agent holds open). When
  // `interrupted` is given and
  // becomes non-zero while waiting (a signal handler sets it, poll() sees
  // EINTR), the turn stops with Conflict "interrupted"; the connection is
  // then unusable (the reply is still due). `meanwhile`, when given, runs
  // once the request is sent, before the reply is read: work of the
  // caller's that overlaps the agent's (it must not throw).
  // `more_may_follow`: the reply may be followed by one more frame, read
  // with next() (a check with record_after); without it, anything after
  // the reply is an error.
  Result<ipc::Fields> call(const ipc::Fields& request, int pass_fd = -1, int extra_ms = 0,
                           const volatile std::sig_atomic_t* interrupted = nullptr,
                           const std::function<void()>& meanwhile = {}, bool more_may_follow = false);
  // The frame that follows a reply read with more_may_follow (skipping
  // progress frames, with the same silence and turn limits as a turn).
  // Until it is read, call() refuses: the stream would be out of step.
  Result<ipc::Fields> next(const volatile std::sig_atomic_t* interrupted = nullptr);
  // Nothing follows the reply after all (it said so): any byte already
  // read past it is an error, as for a call without more_may_follow.
  Status nothing_follows();

  [[nodiscard]] bool connected() const { return fd_.valid(); }
  // A frame is due from the agent (next() has not read it yet).
  [[nodiscard]] bool frame_due() const { return follows_; }

 private:
  class Clock;
  AgentConnection(platform::UniqueFd fd, std::string path, AgentTimeouts timeouts)
      : fd_(std::move(fd)), path_(std::move(path)), timeouts_(timeouts) {}
  // The agent closed its end and nothing is waiting to be read.
  [[nodiscard]] bool closed_by_agent() const;
  // Reads one frame that is not `progress` into the reply.
  Result<ipc::Fields> read_frame(Clock& clock, const volatile std::sig_atomic_t* interrupted, bool send_failed,
                                 bool more_may_follow);
  Result<ipc::Fields> fail(Error e);
  platform::UniqueFd fd_;
  std::string path_;
  AgentTimeouts timeouts_;
  std::string buffer_;    // read but not yet taken: the start of the next frame
  bool follows_ = false;  // a frame is due (next())
};

// Whether something accepts connections at the socket (or queues them:
// a full backlog counts). False when nothing listens there: the agent is
// not running. Break-glass is for that case only, since a user can make an
// agent slow or busy but never make it stop listening.
bool agent_listening(const std::string& socket_path);

// What the user reads when the agent could not be asked: that it is not
// running, or (when something listens at `socket_path`) not answering.
std::string agent_unreachable_message(const std::string& socket_path);
// The words for each.
std::string agent_unreachable_message();
std::string agent_not_answering_message();

}  // namespace hoist::endpoint
