// hoist-agent's Unix socket: one request frame and one reply frame per turn
// (docs/agent-protocol.md), the caller identified by the kernel.
//
// MUST: the uid a request speaks for comes from SO_PEERCRED (peer.h), never
// from the frame; a descriptor passed with SCM_RIGHTS is accepted only with
// a request frame's first bytes, at most one, and is closed after the turn.
// MUST: a slow or hostile peer holds one connection for a bounded time
// (idle_timeout between turns, frame_timeout within one), and at most
// max_connections are served at once; further ones are closed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/peer.h"
#include "core/result.h"
#include "ipc/frame.h"

namespace hoist::agent {

struct SocketServerOptions {
  std::string path = "/run/hoist/agent.sock";
  std::vector<std::string> sudo_binaries = {"/usr/bin/sudo"};
  std::chrono::seconds idle_timeout{30};
  std::chrono::seconds frame_timeout{10};
  std::size_t max_connections = 64;
};

// Answers one request frame from a caller, with the passed descriptor or -1.
using FrameHandler = std::function<ipc::Fields(const Caller& caller, const ipc::Fields& request, int fd)>;

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
