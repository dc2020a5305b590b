// A scripted stand-in for hoist-agent: listens on a Unix socket in a temp
// directory and answers each request frame with the next step of a script,
// recording what arrived (frames and any descriptor passed by SCM_RIGHTS).
// Runs in its own thread, which blocks SIGINT so a signal meant for the
// plugin (the test's main thread) never lands here.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ipc/frame.h"
#include "ipc/messages.h"

namespace hoist::plugin::testing {

struct Received {
  ipc::Fields fields;
  std::string type;
  bool had_fd = false;
  dev_t fd_dev = 0;
  ino_t fd_ino = 0;
};

// What a step answers: a frame's fields, or raw bytes (garbage), or
// nothing (close the connection). An allowing decision to a check with
// record_after is followed, as hoist-agent does, by `recorded`; `then`
// replaces that frame (an error: the record failed), and `unrecorded`
// sends none (the agent died or hangs before recording).
struct Answer {
  std::optional<ipc::Fields> fields;
  std::optional<std::string> raw;
  std::optional<ipc::Fields> then;
  bool unrecorded = false;
  static Answer of(const ipc::Fields& f) { return Answer{f, std::nullopt, std::nullopt, false}; }
  static Answer bytes(std::string b) { return Answer{std::nullopt, std::move(b), std::nullopt, false}; }
  static Answer hang_up() { return Answer{}; }
  // `f`, then `next` instead of `recorded`.
  static Answer followed(const ipc::Fields& f, const ipc::Fields& next) { return Answer{f, std::nullopt, next, false}; }
  // `f`, and nothing after it.
  static Answer never_recorded(const ipc::Fields& f) { return Answer{f, std::nullopt, std::nullopt, true}; }
};

using Step = std::function<Answer(const Received&)>;

class FakeAgent {
 public:
  explicit FakeAgent(const std::string& socket_path) : path_(socket_path) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ::unlink(path_.c_str());
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listen_fd_, 8) != 0) {
      ::close(listen_fd_);
      listen_fd_ = -1;
    }
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
      stop_pipe_[0] = stop_pipe_[1] = -1;
      ADD_FAILURE() << "pipe2 failed";
    }
  }
  ~FakeAgent() {
    stop();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
    ::unlink(path_.c_str());
  }
  FakeAgent(const FakeAgent&) = delete;
  FakeAgent& operator=(const FakeAgent&) = delete;

  [[nodiscard]] bool listening() const { return listen_fd_ >= 0; }
  void script(std::vector<Step> steps) { steps_ = std::move(steps); }
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    if (thread_.joinable()) {
      const char c = 'x';
      if (::write(stop_pipe_[1], &c, 1) != 1) ADD_FAILURE() << "cannot stop the fake agent";
      thread_.join();
    }
  }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::vector<std::string> types() {
    std::vector<std::string> out;
    for (const auto& r : received()) out.push_back(r.type);
    return out;
  }

 private:
  struct Client {
    int fd;
    std::string buffer;
    bool had_fd = false;
    struct stat fd_stat {};
  };

  void run() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::vector<Client> clients;
    for (;;) {
      std::vector<pollfd> fds{{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const auto& c : clients) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 10000) <= 0) break;
      if (fds[0].revents != 0) break;
      const std::size_t polled = clients.size();  // a client accepted below has no pollfd yet
      if (fds[1].revents & POLLIN) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) clients.push_back({fd, {}});
      }
      for (std::size_t i = 0; i < polled; ++i) {
        if (fds[i + 2].revents == 0) continue;
        if (!serve(clients[i])) {
          ::close(clients[i].fd);
          clients[i].fd = -1;
        }
      }
      std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
    }
    for (auto& c : clients) ::close(c.fd);
  }

  // Reads what is there; answers a complete frame. False: close it.
  bool serve(Client& c) {
    char data[65536];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    iovec iov{data, sizeof(data)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(c.fd, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return false;
    for (cmsghdr* h = CMSG_FIRSTHDR(&msg); h != nullptr; h = CMSG_NXTHDR(&msg, h)) {
      if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(h), sizeof(int));
        c.had_fd = true;
        ::fstat(fd, &c.fd_stat);
        ::close(fd);
      }
    }
    c.buffer.append(data, static_cast<std::size_t>(n));
    auto decoded = ipc::decode_frame(c.buffer);
    if (!decoded) return false;
    if (!decoded->has_value()) return true;
    Received r;
    r.fields = (*decoded)->fields;
    r.type = r.fields.optional("type").ok() ? r.fields.optional("type")->value_or("") : "";
    r.had_fd = c.had_fd;
    r.fd_dev = c.fd_stat.st_dev;
    r.fd_ino = c.fd_stat.st_ino;
    c.buffer.erase(0, (*decoded)->bytes);
    c.had_fd = false;
    Step step;
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(r);
      if (next_ < steps_.size()) step = steps_[next_++];
    }
    if (!step) return false;
    Answer a = step(r);
    std::string out;
    if (a.fields) {
      out = *ipc::encode_frame(*a.fields);
      const bool allow = a.fields->optional("type").ok() && a.fields->optional("type")->value_or("") == "decision" &&
                         a.fields->optional("action").ok() && a.fields->optional("action")->value_or("") == "allow";
      const bool asked = r.type == "check" && r.fields.optional("record_after").ok() &&
                         r.fields.optional("record_after")->value_or("") == "1";
      if (a.then) {
        out += *ipc::encode_frame(*a.then);
      } else if (asked && allow && !a.unrecorded) {
        out += *ipc::encode_frame(ipc::to_fields(ipc::RecordedMessage{}));
      }
    } else if (a.raw) {
      out = *a.raw;
    } else {
      return false;
    }
    return ::send(c.fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size());
  }

  std::string path_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mu_;
  std::vector<Step> steps_;
  std::size_t next_ = 0;
  std::vector<Received> received_;
};

}  // namespace hoist::plugin::testing
