#include "endpoint/agent_connection.h"

#include "ipc/messages.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

namespace hoist::endpoint {

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

enum class Wait { kReady, kTimedOut, kInterrupted, kFailed };

// Waits for `events` on fd until the deadline.
Wait wait_for(int fd, short events, std::int64_t deadline, const volatile std::sig_atomic_t* interrupted) {
  for (;;) {
    if (interrupted != nullptr && *interrupted != 0) return Wait::kInterrupted;
    const int left = remaining(deadline);
    if (left == 0) return Wait::kTimedOut;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Wait::kFailed;
    }
    if (n > 0) return Wait::kReady;
  }
}

int connect_unix(int fd, const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(), std::min(socket_path.size(), sizeof(addr.sun_path) - 1));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  return ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
}

}  // namespace

// A turn's deadlines: silence_ms (+ extra) without any frame, turn_ms
// (+ extra) in all.
class AgentConnection::Clock {
 public:
  Clock(const AgentTimeouts& t, int extra_ms)
      : silence_(std::int64_t{t.silence_ms} + extra_ms),
        turn_ms_(std::int64_t{t.turn_ms} + extra_ms),
        turn_ends_(now_ms() + turn_ms_),
        quiet_until_(now_ms() + silence_) {}
  [[nodiscard]] std::int64_t deadline() const { return std::min(quiet_until_, turn_ends_); }
  void heard() { quiet_until_ = now_ms() + silence_; }
  [[nodiscard]] Error waited(Wait w) const {
    if (w == Wait::kInterrupted) return conflict("interrupted");
    if (w == Wait::kFailed) return unavailable(os_error("poll", errno));
    if (now_ms() >= turn_ends_) {
      return unavailable("hoist-agent is not answering (no answer within " + std::to_string(turn_ms_ / 1000) + " s)");
    }
    return unavailable("hoist-agent is not answering (nothing from it for " + std::to_string(silence_) + " ms)");
  }

 private:
  std::int64_t silence_;
  std::int64_t turn_ms_;
  std::int64_t turn_ends_;
  std::int64_t quiet_until_;
};

std::string agent_unreachable_message() {
  return "hoist-agent is not running; ask your help desk";
}

std::string agent_not_answering_message() {
  return "hoist-agent is not answering; try again in a minute, or ask your help desk";
}

bool agent_listening(const std::string& socket_path) {
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path)) return false;
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return false;
  if (connect_unix(fd.get(), socket_path) == 0) return true;
  return errno == EAGAIN || errno == EINPROGRESS;  // a full backlog is someone listening
}

std::string agent_unreachable_message(const std::string& socket_path) {
  return agent_listening(socket_path) ? agent_not_answering_message() : agent_unreachable_message();
}

Result<AgentConnection> AgentConnection::connect(const std::string& socket_path, const AgentTimeouts& timeouts) {
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return invalid_argument("the agent socket path is empty or too long");
  }
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return unavailable(os_error("socket", errno));
  const std::int64_t deadline = now_ms() + timeouts.connect_ms;
  for (;;) {
    if (connect_unix(fd.get(), socket_path) == 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN) {  // the agent's backlog is full: busy or hung; again until the deadline
      if (remaining(deadline) == 0) {
        return unavailable("hoist-agent is not answering (its connection queue stayed full for " +
                           std::to_string(timeouts.connect_ms) + " ms)");
      }
      ::poll(nullptr, 0, 20);
      continue;
    }
    if (err == EINPROGRESS) {
      if (wait_for(fd.get(), POLLOUT, deadline, nullptr) != Wait::kReady) {
        return unavailable("hoist-agent is not answering (the connection was not set up in time)");
      }
      int so_error = 0;
      socklen_t len = sizeof(so_error);
      if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0 || so_error != 0) {
        return unavailable(os_error("connect " + socket_path, so_error != 0 ? so_error : errno));
      }
      break;
    }
    return unavailable("hoist-agent is not running (" + os_error("connect " + socket_path, err) + ")");
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
  return AgentConnection(std::move(fd), socket_path, timeouts);
}

bool AgentConnection::closed_by_agent() const {
  pollfd p{fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char byte = 0;
  return ::recv(fd_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

Result<ipc::Fields> AgentConnection::call(const ipc::Fields& request, int pass_fd, int extra_ms,
                                          const volatile std::sig_atomic_t* interrupted,
                                          const std::function<void()>& meanwhile, bool more_may_follow) {
  if (!fd_.valid()) return unavailable("the connection to hoist-agent was lost");
  if (follows_ || !buffer_.empty()) {
    return fail(unavailable("hoist-agent's connection is out of step (a frame was left unread); this is a bug"));
  }
  if (closed_by_agent()) {
    auto again = connect(path_, timeouts_);
    if (!again) return again.error();
    fd_ = std::move(again->fd_);
  }
  auto frame = ipc::encode_frame(request);
  if (!frame) return frame.error();
  Clock clock(timeouts_, extra_ms);

  std::size_t sent = 0;
  bool fd_sent = pass_fd < 0;
  bool send_failed = false;  // the agent closed first: its answer (a refusal) may be waiting
  while (sent < frame->size()) {
    if (auto w = wait_for(fd_.get(), POLLOUT, clock.deadline(), interrupted); w != Wait::kReady) {
      return fail(clock.waited(w));
    }
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
      if (errno == EPIPE || errno == ECONNRESET) {
        send_failed = true;
        break;
      }
      return fail(unavailable(os_error("sending to hoist-agent", errno)));
    }
    fd_sent = true;
    sent += static_cast<std::size_t>(n);
  }
  if (meanwhile && !send_failed) meanwhile();
  auto reply = read_frame(clock, interrupted, send_failed, more_may_follow);
  if (reply && more_may_follow && fd_.valid()) follows_ = true;
  return reply;
}

Result<ipc::Fields> AgentConnection::next(const volatile std::sig_atomic_t* interrupted) {
  if (!fd_.valid()) return unavailable("the connection to hoist-agent was lost");
  if (!follows_) return fail(unavailable("no frame from hoist-agent is due; this is a bug"));
  follows_ = false;
  Clock clock(timeouts_, 0);
  return read_frame(clock, interrupted, false, false);
}

Status AgentConnection::nothing_follows() {
  follows_ = false;
  if (!buffer_.empty()) return fail(invalid_argument("hoist-agent sent more than one reply")).error();
  return {};
}

Result<ipc::Fields> AgentConnection::read_frame(Clock& clock, const volatile std::sig_atomic_t* interrupted,
                                                bool send_failed, bool more_may_follow) {
  char chunk[16384];
  for (;;) {
    while (!buffer_.empty()) {
      auto decoded = ipc::decode_frame(buffer_);
      if (!decoded) return fail(invalid_argument("hoist-agent sent a malformed reply: " + decoded.error().message));
      if (!decoded->has_value()) break;
      auto type = ipc::message_type((*decoded)->fields);
      if (type && *type == ipc::MessageType::kProgress) {
        if (auto p = ipc::progress_from((*decoded)->fields); !p) {
          return fail(invalid_argument("hoist-agent sent a malformed progress frame: " + p.error().message));
        }
        buffer_.erase(0, (*decoded)->bytes);
        clock.heard();  // still working
        continue;
      }
      if ((*decoded)->bytes != buffer_.size() && !more_may_follow) {
        return fail(invalid_argument("hoist-agent sent more than one reply"));
      }
      buffer_.erase(0, (*decoded)->bytes);
      if (send_failed) fd_.reset();  // it has closed its end: the connection is over
      return std::move((*decoded)->fields);
    }
    if (auto w = wait_for(fd_.get(), POLLIN, clock.deadline(), interrupted); w != Wait::kReady) {
      return fail(clock.waited(w));
    }
    const ssize_t n = ::recv(fd_.get(), chunk, sizeof(chunk), 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return fail(unavailable(os_error("reading from hoist-agent", errno)));
    }
    if (n == 0) {
      return fail(unavailable(send_failed ? "hoist-agent closed the connection before taking the request"
                                          : "hoist-agent closed the connection without an answer"));
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

// Any failure leaves the stream out of step: drop it.
Result<ipc::Fields> AgentConnection::fail(Error e) {
  fd_.reset();
  buffer_.clear();
  follows_ = false;
  return e;
}

}  // namespace hoist::endpoint
