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
#include <map>
#include <mutex>
#include <optional>
#include <set>
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

// Which pool a connection counts against, and for whom.
enum class Pool { kSudo, kRoot, kUser };
struct Slot {
  Pool pool = Pool::kUser;
  std::uint32_t uid = 0;
};

Slot slot_for(const Result<Caller>& caller) {
  if (!caller) return {Pool::kRoot, 0};  // only a root peer can fail to be identified
  if (caller->sudo) return {Pool::kSudo, caller->uid};
  if (caller->uid == 0) return {Pool::kRoot, 0};
  return {Pool::kUser, caller->uid};
}

// The open connections by pool and uid (under the server's mutex).
class Book {
 public:
  explicit Book(const ConnectionLimits& limits) : limits_(limits) {}

  // nullopt when the connection fits (and is counted); otherwise what to
  // tell the caller.
  std::optional<std::string> admit(const Slot& s) {
    switch (s.pool) {
      case Pool::kSudo:
        if (sudo_[s.uid] >= limits_.per_user_sudo) {
          return fmt::format(
              "hoist-agent is already answering {} sudo commands of uid {}, the most it takes at once from one "
              "user; finish one of them (or wait) and try again",
              sudo_[s.uid], s.uid);
        }
        if (all_sudo_ >= limits_.all_sudo) {
          return fmt::format("hoist-agent is answering {} sudo commands, the most it takes at once; try again soon",
                             all_sudo_);
        }
        ++sudo_[s.uid];
        ++all_sudo_;
        return std::nullopt;
      case Pool::kRoot:
        if (root_ >= limits_.root) {
          return fmt::format("hoist-agent already has {} connections from root, the most it takes at once", root_);
        }
        ++root_;
        return std::nullopt;
      case Pool::kUser:
        if (users_[s.uid] >= limits_.per_user) {
          return fmt::format(
              "hoist-agent already has {} connections from uid {}, the most it takes at once from one user's "
              "programs; close some and try again",
              users_[s.uid], s.uid);
        }
        if (all_users_ >= limits_.all_users) {
          return fmt::format(
              "hoist-agent already has {} connections from users' programs, the most it takes at "
              "once; try again soon",
              all_users_);
        }
        ++users_[s.uid];
        ++all_users_;
        return std::nullopt;
    }
    return "hoist-agent cannot tell who is asking (this is a bug)";
  }

  void release(const Slot& s) {
    const auto drop = [](std::map<std::uint32_t, std::size_t>& per, std::uint32_t uid) {
      if (auto it = per.find(uid); it != per.end() && --it->second == 0) per.erase(it);
    };
    switch (s.pool) {
      case Pool::kSudo:
        drop(sudo_, s.uid);
        --all_sudo_;
        break;
      case Pool::kRoot: --root_; break;
      case Pool::kUser:
        drop(users_, s.uid);
        --all_users_;
        break;
    }
  }

  [[nodiscard]] std::size_t open() const { return all_sudo_ + root_ + all_users_; }

 private:
  ConnectionLimits limits_;
  std::map<std::uint32_t, std::size_t> sudo_;
  std::map<std::uint32_t, std::size_t> users_;
  std::size_t all_sudo_ = 0;
  std::size_t all_users_ = 0;
  std::size_t root_ = 0;
};

// One served connection. Its descriptor is written by the turn's reply and
// by the progress ticker, one at a time (mu); busy while a turn is being
// answered.
struct Conn {
  explicit Conn(Fd f) : fd(std::move(f)) {}
  Fd fd;
  std::mutex mu;
  bool busy = false;
};

bool send_all(int fd, const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;  // includes SO_SNDTIMEO running out: a peer that does not read
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool reply(int fd, const ipc::Fields& fields) {
  auto frame = ipc::encode_frame(fields);
  if (!frame) {
    frame = ipc::encode_frame(ipc::to_fields(
        ipc::ErrorMessage{ErrorCode::kInternal, "hoist-agent could not encode its answer (this is a bug)"}));
    if (!frame) return false;
  }
  return send_all(fd, *frame);
}

class Server final : public SocketServer {
 public:
  Server(SocketServerOptions options, FrameHandler handler, Fd listener, Fd stop_read, Fd stop_write)
      : opts_(std::move(options)),
        handler_(std::move(handler)),
        listener_(std::move(listener)),
        stop_read_(std::move(stop_read)),
        stop_write_(std::move(stop_write)),
        book_(opts_.limits) {}

  ~Server() override {
    stop();
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return book_.open() == 0; });
  }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void run() override {
    std::thread ticker([this] { tick(); });
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
      auto peer = peer_credentials(conn.get());
      if (!peer) continue;
      auto caller = speaking_for(*peer, opts_.sudo_binaries);
      const Slot slot = slot_for(caller);
      {
        const std::lock_guard lock(mu_);
        if (auto refused = book_.admit(slot)) {
          refuse(conn.get(), *refused);
          continue;  // closed: the peer reads why first
        }
      }
      std::thread([this, c = std::move(conn), caller = std::move(caller), slot]() mutable {
        serve(std::move(c), caller);
        const std::lock_guard lock(mu_);
        book_.release(slot);
        done_.notify_all();
      }).detach();
    }
    {
      std::unique_lock lock(mu_);
      done_.wait(lock, [&] { return book_.open() == 0; });
    }
    ticker.join();
  }

  void stop() override {
    if (!stopping_.exchange(true)) {
      const char byte = 1;
      (void)!::write(stop_write_.get(), &byte, 1);
    }
  }

 private:
  // Over a limit: the reason, as an error frame, without waiting for the
  // peer (the socket buffer of a new connection has room for it).
  static void refuse(int fd, const std::string& why) {
    auto frame = ipc::encode_frame(ipc::to_fields(ipc::ErrorMessage{ErrorCode::kRateLimited, why}));
    if (frame) (void)::send(fd, frame->data(), frame->size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }

  // Every progress_interval: a progress frame to each connection whose turn
  // is being answered. Never waits for a connection (try_lock, MSG_DONTWAIT).
  void tick() {
    auto frame = ipc::encode_frame(ipc::to_fields(ipc::ProgressMessage{}));
    if (!frame) return;
    const int interval = static_cast<int>(opts_.progress_interval.count());
    for (;;) {
      pollfd p{stop_read_.get(), POLLIN, 0};
      const int n = ::poll(&p, 1, interval);
      if (n < 0 && errno != EINTR) return;
      if (n > 0 || stopping_) return;
      std::vector<std::shared_ptr<Conn>> conns;
      {
        const std::lock_guard lock(mu_);
        conns.assign(conns_.begin(), conns_.end());
      }
      for (const auto& c : conns) {
        const std::unique_lock lock(c->mu, std::try_to_lock);
        if (!lock.owns_lock() || !c->busy) continue;
        const ssize_t sent = ::send(c->fd.get(), frame->data(), frame->size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (sent > 0 && static_cast<std::size_t>(sent) < frame->size()) {
          ::shutdown(c->fd.get(), SHUT_RDWR);  // half a frame went: the stream cannot be read any more
        }
      }
    }
  }

  void serve(Fd fd, const Result<Caller>& caller) {
    const timeval send_timeout{static_cast<time_t>(opts_.frame_timeout.count()), 0};
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    auto conn = std::make_shared<Conn>(std::move(fd));
    {
      const std::lock_guard lock(mu_);
      conns_.insert(conn);
    }
    turns(*conn, caller);
    const std::lock_guard lock(mu_);
    conns_.erase(conn);
  }

  void turns(Conn& conn, const Result<Caller>& caller) {
    const int fd = conn.fd.get();
    std::string buffer;
    for (std::size_t turn = 0;; ++turn) {
      Fd passed;
      // A connection that has said nothing yet has a short while to start.
      const auto idle_deadline =
          std::chrono::steady_clock::now() +
          (turn == 0 ? std::chrono::duration_cast<std::chrono::milliseconds>(opts_.first_frame_timeout)
                     : std::chrono::duration_cast<std::chrono::milliseconds>(opts_.idle_timeout));
      std::optional<std::chrono::steady_clock::time_point> frame_deadline;
      std::optional<ipc::DecodedFrame> frame;
      while (!frame) {
        if (!buffer.empty()) {
          auto decoded = ipc::decode_frame(buffer);
          if (!decoded) {
            const std::lock_guard lock(conn.mu);
            reply(fd, ipc::to_fields(ipc::ErrorMessage{decoded.error().code, decoded.error().message}));
            return;
          }
          if (decoded->has_value()) {
            frame = std::move(**decoded);
            break;
          }
        }
        if (!wait_readable(fd, stop_read_.get(), frame_deadline.value_or(idle_deadline))) return;
        char data[16384];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
        iovec iov{data, sizeof data};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
          const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (std::size_t i = 0; i < count; ++i) {
            int passed_fd = -1;
            std::memcpy(&passed_fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            // One descriptor, with a frame's first bytes; any other is closed.
            if (buffer.empty() && passed.get() < 0 && i == 0) {
              passed = Fd(passed_fd);
            } else {
              ::close(passed_fd);
            }
          }
        }
        if (buffer.empty()) frame_deadline = std::chrono::steady_clock::now() + opts_.frame_timeout;
        buffer.append(data, static_cast<std::size_t>(n));
      }
      buffer.erase(0, frame->bytes);
      {
        const std::lock_guard lock(conn.mu);
        conn.busy = true;
      }
      Turn answer = caller ? handler_(*caller, frame->fields, passed.get())
                           : Turn{ipc::to_fields(ipc::ErrorMessage{caller.error().code, caller.error().message}), {}};
      bool sent = false;
      {
        const std::lock_guard lock(conn.mu);
        if (!answer.follow_up) conn.busy = false;
        sent = reply(fd, answer.reply);
      }
      if (answer.follow_up) {
        // Done whether or not the reply reached the peer: the decision was
        // made, so its event is recorded. Progress frames go out meanwhile.
        const ipc::Fields next = answer.follow_up();
        const std::lock_guard lock(conn.mu);
        conn.busy = false;
        if (!sent || !reply(fd, next)) return;
        continue;
      }
      if (!sent) return;
    }
  }

  SocketServerOptions opts_;
  FrameHandler handler_;
  Fd listener_;
  Fd stop_read_;
  Fd stop_write_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable done_;
  Book book_;
  std::set<std::shared_ptr<Conn>> conns_;
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
  // A deep backlog: connections wait there only until the accept loop,
  // which takes them at once and refuses the ones over a limit itself.
  if (::chmod(options.path.c_str(), 0666) != 0 || ::listen(listener.get(), SOMAXCONN) != 0) {
    return unavailable(os_error(fmt::format("cannot listen on {}", options.path), errno));
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return unavailable(os_error("cannot create a pipe", errno));
  return std::unique_ptr<SocketServer>(
      new Server(std::move(options), std::move(handler), std::move(listener), Fd(pipe_fds[0]), Fd(pipe_fds[1])));
}

}  // namespace hoist::agent
