#include "plugin/agent_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace hoist::plugin {

namespace {

std::int64_t now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

int remaining(std::int64_t deadline) {
  const std::int64_t left = deadline - now_ms();
  return left <= 0 ? 0 : static_cast<int>(left > 60'000'000 ? 60'000'000 : left);
}

std::string os_error(std::string_view what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Waits for `events` on fd until the deadline. Unavailable on timeout,
// Conflict when interrupted.
Status wait_for(int fd, short events, std::int64_t deadline, const volatile std::sig_atomic_t* interrupted) {
  for (;;) {
    if (interrupted != nullptr && *interrupted != 0) return conflict("interrupted");
    const int left = remaining(deadline);
    if (left == 0) return unavailable("hoist-agent did not answer in time");
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return unavailable(os_error("poll", errno));
    }
    if (n > 0) return {};
  }
}

}  // namespace

std::string agent_unreachable_message() {
  return "hoist-agent is not running; ask your help desk";
}

Result<AgentClient> AgentClient::connect(const std::string& socket_path, const AgentTimeouts& timeouts) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return invalid_argument("the agent socket path is empty or too long");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return unavailable(os_error("socket", errno));
  const std::int64_t deadline = now_ms() + timeouts.connect_ms;
  for (;;) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {  // the agent's backlog is full: it is busy, try again until the deadline
      if (remaining(deadline) == 0) return unavailable("hoist-agent is busy (connection timed out)");
      ::poll(nullptr, 0, 20);
      continue;
    }
    if (err == EINPROGRESS) {
      if (auto st = wait_for(fd.get(), POLLOUT, deadline, nullptr); !st) return st.error();
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
        return unavailable(os_error("connect " + socket_path, so_error != 0 ? so_error : errno));
      }
      break;
    }
    return unavailable(os_error("connect " + socket_path, err));
  }
  ucred peer{};
  socklen_t len = sizeof(peer);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
    return unavailable(os_error("SO_PEERCRED", errno));
  }
  if (peer.uid != 0 && peer.uid != ::geteuid()) {
    return permission_denied("the process at " + socket_path + " runs as uid " + std::to_string(peer.uid) +
                             ", not as root: it is not hoist-agent");
  }
  return AgentClient(std::move(fd), timeouts);
}

Result<ipc::Fields> AgentClient::call(const ipc::Fields& request, int pass_fd, int extra_ms,
                                      const volatile std::sig_atomic_t* interrupted) {
  if (!fd_.valid()) return unavailable("the connection to hoist-agent was lost");
  auto frame = ipc::encode_frame(request);
  if (!frame) return frame.error();
  const std::int64_t deadline = now_ms() + timeouts_.reply_ms + extra_ms;
  // Any failure from here on leaves the stream out of step: drop it.
  auto fail = [this](Error e) -> Result<ipc::Fields> {
    fd_.reset();
    return e;
  };

  std::size_t sent = 0;
  bool fd_sent = pass_fd < 0;
  while (sent < frame->size()) {
    if (auto st = wait_for(fd_.get(), POLLOUT, deadline, interrupted); !st) return fail(st.error());
    ssize_t n = 0;
    if (!fd_sent) {
      // The descriptor rides on the first byte(s) of the frame.
      iovec iov{frame->data() + sent, frame->size() - sent};
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
      n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    } else {
      n = ::send(fd_.get(), frame->data() + sent, frame->size() - sent, MSG_NOSIGNAL);
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail(unavailable(os_error("sending to hoist-agent", errno)));
    }
    fd_sent = true;
    sent += static_cast<std::size_t>(n);
  }

  std::string buffer;
  char chunk[16384];
  for (;;) {
    if (auto st = wait_for(fd_.get(), POLLIN, deadline, interrupted); !st) return fail(st.error());
    const ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail(unavailable(os_error("reading from hoist-agent", errno)));
    }
    if (n == 0) return fail(unavailable("hoist-agent closed the connection without an answer"));
    buffer.append(chunk, static_cast<std::size_t>(n));
    auto decoded = ipc::decode_frame(buffer);
    if (!decoded) return fail(invalid_argument("hoist-agent sent a malformed reply: " + decoded.error().message));
    if (!decoded->has_value()) continue;
    if ((*decoded)->bytes != buffer.size()) {
      return fail(invalid_argument("hoist-agent sent more than one reply"));
    }
    return std::move((*decoded)->fields);
  }
}

}  // namespace hoist::plugin
