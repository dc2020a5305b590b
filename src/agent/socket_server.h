// hoist-agent's Unix socket: one request frame and one reply frame per turn
// (docs/agent-protocol.md), the caller identified by the kernel.
//
// MUST: the uid a request speaks for comes from SO_PEERCRED (peer.h), never
// from the frame; a descriptor passed with SCM_RIGHTS is accepted only with
// a request frame's first bytes, at most one, and is closed after the turn.
// MUST: no user can deny the socket to another: connections are counted
// per uid they speak for, in three pools no other pool can take from: sudo
// runs (sudo's plugin, per user), root's own processes, and every other
// process (per user). A connection over its limit is answered at once with
// an `error` (rate_limited) that says so, then closed; it is never left
// without an answer (the plugin must not take it for an agent that is
// down).
// MUST: a slow or hostile peer holds one connection for a bounded time: a
// connection that sends nothing is closed after first_frame_timeout, one
// idle between turns after idle_timeout, one inside a frame after
// frame_timeout, and a reply it does not read after frame_timeout.
// MUST: while a turn is being answered the agent sends a `progress` frame
// every progress_interval, so a client tells a busy agent (a large file
// to hash, hoistd to ask) from a hung one (no frame at all).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/peer.h"
#include "agent/turn.h"
#include "core/result.h"
#include "ipc/frame.h"

namespace hoist::agent {

// How many connections may be open at once.
struct ConnectionLimits {
  std::size_t per_user_sudo = 64;  // sudo runs speaking for one user (a recorded run keeps one open)
  std::size_t per_user = 8;        // one user's own processes (hoist elevate, hoist status, ...)
  std::size_t root = 32;           // root's own processes, together
  std::size_t all_sudo = 1024;     // sudo runs, together
  std::size_t all_users = 256;     // users' own processes, together
};

struct SocketServerOptions {
  std::string path = "/run/hoist/agent.sock";
  std::vector<std::string> sudo_binaries = {"/usr/bin/sudo"};
  std::chrono::milliseconds first_frame_timeout{3000};
  std::chrono::seconds idle_timeout{30};
  std::chrono::seconds frame_timeout{10};
  std::chrono::milliseconds progress_interval{250};
  ConnectionLimits limits;
};

// Answers one request frame from a caller, with the passed descriptor or -1:
// the reply, and what follows it (turn.h).
using FrameHandler = std::function<Turn(const Caller& caller, const ipc::Fields& request, int fd)>;

class SocketServer {
 public:
  // Binds and listens (the socket is 0666: any local user may ask; who
  // they are is the kernel's to say). Replaces a stale socket at the path,
  // never another kind of file.
  static Result<std::unique_ptr<SocketServer>> create(SocketServerOptions options, FrameHandler handler);
  virtual ~SocketServer() = default;
  SocketServer() = default;
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  // Serves until stop(); returns when every connection is done.
  virtual void run() = 0;
  // Thread-safe.
  virtual void stop() = 0;
};

}  // namespace hoist::agent
