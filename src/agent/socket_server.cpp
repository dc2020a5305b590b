#include "agent/socket_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "agent/peer.h"
#include "ipc/messages.h"
#include "platform/unique_fd.h"

namespace hoist::agent {

namespace {

using Fd = platform::UniqueFd;

std::string os_error(std::string_view what, int err) {
  return fmt::format("{}: {}", what, std::strerror(err));
}

// Waits until fd is readable, the deadline passes (false) or stop is set.
bool wait_readable(int fd, int stop_fd, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int n = ::poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (fds[1].revents != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

class Server final : public SocketServer {
 public:
  Server(SocketServerOptions options, FrameHandler handler, Fd listener, Fd stop_read, Fd stop_write)
      : opts_(std::move(options)),
        handler_(std::move(handler)),
        listener_(std::move(listener)),
        stop_read_(std::move(stop_read)),
        stop_write_(std::move(stop_write)) {}

  ~Server() override {
    stop();
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return active_ == 0; });
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void run() override {
    while (!stopping_) {
      pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
      const int n = ::poll(fds, 2, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (fds[1].revents != 0) break;
      Fd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn.get() < 0) continue;
      {
        const std::lock_guard lock(mu_);
        if (active_ >= opts_.max_connections) continue;  // closed: the peer sees hoist-agent busy
        ++active_;
      }
      std::thread([this, c = std::move(conn)]() mutable {
        serve(std::move(c));
        const std::lock_guard lock(mu_);
        --active_;
        done_.notify_all();
      }).detach();
    }
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return active_ == 0; });
  }

  void stop() override {
    if (!stopping_.exchange(true)) {
      const char byte = 1;
      (void)!::write(stop_write_.get(), &byte, 1);
    }
  }

 private:
  void serve(Fd conn) {
    auto peer = peer_credentials(conn.get());
    if (!peer) return;
    auto caller = speaking_for(*peer, opts_.sudo_binaries);
    std::string buffer;
    for (;;) {
      Fd passed;
      const auto idle_deadline = std::chrono::steady_clock::now() + opts_.idle_timeout;
      std::optional<std::chrono::steady_clock::time_point> frame_deadline;
      std::optional<ipc::DecodedFrame> frame;
      while (!frame) {
        if (!buffer.empty()) {
          auto decoded = ipc::decode_frame(buffer);
          if (!decoded) {
            reply(conn.get(), ipc::to_fields(ipc::ErrorMessage{decoded.error().code, decoded.error().message}));
            return;
          }
          if (decoded->has_value()) {
            frame = std::move(**decoded);
            break;
          }
        }
        if (!wait_readable(conn.get(), stop_read_.get(), frame_deadline.value_or(idle_deadline))) return;
        char data[16384];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
        iovec iov{data, sizeof data};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
          const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            // One descriptor, with a frame's first bytes; any other is closed.
            if (buffer.empty() && passed.get() < 0 && i == 0) {
              passed = Fd(fd);
            } else {
              ::close(fd);
            }
          }
        }
        if (buffer.empty()) frame_deadline = std::chrono::steady_clock::now() + opts_.frame_timeout;
        buffer.append(data, static_cast<std::size_t>(n));
      }
      buffer.erase(0, frame->bytes);
      const auto answer = caller ? handler_(*caller, frame->fields, passed.get())
                                 : ipc::to_fields(ipc::ErrorMessage{caller.error().code, caller.error().message});
      if (!reply(conn.get(), answer)) return;
    }
  }

  static bool reply(int fd, const ipc::Fields& fields) {
    auto frame = ipc::encode_frame(fields);
    if (!frame) {
      frame = ipc::encode_frame(ipc::to_fields(
          ipc::ErrorMessage{ErrorCode::kInternal, "hoist-agent could not encode its answer (this is a bug)"}));
      if (!frame) return false;
    }
    std::size_t sent = 0;
    while (sent < frame->size()) {
      const ssize_t n = ::send(fd, frame->data() + sent, frame->size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  SocketServerOptions opts_;
  FrameHandler handler_;
  Fd listener_;
  Fd stop_read_;
  Fd stop_write_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable done_;
  std::size_t active_ = 0;
};

}  // namespace

Result<std::unique_ptr<SocketServer>> SocketServer::create(SocketServerOptions options, FrameHandler handler) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.path.empty() || options.path.front() != '/' || options.path.size() >= sizeof addr.sun_path) {
    return invalid_argument(fmt::format("the agent socket path \"{}\" must be absolute and shorter than {} bytes",
                                        options.path, sizeof addr.sun_path));
  }
  std::memcpy(addr.sun_path, options.path.c_str(), options.path.size() + 1);
  struct stat st {};
  if (::lstat(options.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return invalid_argument(
          fmt::format("{} exists and is not a socket; remove it or choose another path", options.path));
    }
    ::unlink(options.path.c_str());  // a stale socket of an earlier run
  }
  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) return unavailable(os_error("cannot create the agent socket", errno));
  const mode_t old = ::umask(0);
  const int bound = ::bind(listener.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int bind_errno = errno;
  ::umask(old);
  if (bound != 0) return unavailable(os_error(fmt::format("cannot bind {}", options.path), bind_errno));
  if (::chmod(options.path.c_str(), 0666) != 0 || ::listen(listener.get(), 64) != 0) {
    return unavailable(os_error(fmt::format("cannot listen on {}", options.path), errno));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return unavailable(os_error("cannot create a pipe", errno));
  return std::unique_ptr<SocketServer>(
      new Server(std::move(options), std::move(handler), std::move(listener), Fd(pipe_fds[0]), Fd(pipe_fds[1])));
}

}  // namespace hoist::agent
