#include "agent/spool_import.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/endpoint_events.h"
#include "agent/event_bounds.h"
#include "core/sha256.h"
#include "platform/unique_fd.h"

namespace hoist::agent {

namespace {

using platform::UniqueFd;

std::string file_type(mode_t mode) {
  if (S_ISREG(mode)) return "regular file";
  if (S_ISDIR(mode)) return "directory";
  if (S_ISLNK(mode)) return "symbolic link";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  return "unknown file type";
}

// What is wrong with a spool entry, or "" when it may be read.
std::string problem_with(const struct stat& st, uid_t owner) {
  if (!S_ISREG(st.st_mode)) return "a " + file_type(st.st_mode) + ", not a regular file";
  if (st.st_uid != owner) return fmt::format("owned by uid {}, not {}", st.st_uid, owner);
  if ((st.st_mode & 077) != 0) return fmt::format("mode {:04o}: group or others may access it", st.st_mode & 07777);
  if (st.st_nlink != 1) return fmt::format("{} hard links", st.st_nlink);
  if (static_cast<std::uint64_t>(st.st_size) > kMaxSpoolFileBytes) {
    return fmt::format("{} bytes, more than a spooled event can be ({})", st.st_size, kMaxSpoolFileBytes);
  }
  return {};
}

OutboxEvent spool_event(const std::string& id, const events::EndpointEvent auto& event,
                        const std::function<EventTime()>& clock) {
  return OutboxEvent{id, events::outbox_kind(event), clock(), bound_event_details(events::details_text(event))};
}

// The event's id: derived from the file name, so a file seen twice (the
// agent stopped between queueing and removing it) is queued once.
std::string id_for(std::string_view what) {
  return sha256(what).hex().substr(0, 32);
}

class Round {
 public:
  Round(int dir_fd, AgentState& state, const std::function<EventTime()>& clock)
      : dir_fd_(dir_fd), state_(state), clock_(clock), owner_(::geteuid()) {}

  void import(const std::string& name, SpoolRound& out) {
    struct stat before {};
    if (::fstatat(dir_fd_, name.c_str(), &before, AT_SYMLINK_NOFOLLOW) != 0) return;  // gone meanwhile
    if (auto problem = problem_with(before, owner_); !problem.empty()) {
      reject(name, problem, &before, out);
      return;
    }
    UniqueFd fd(::openat(dir_fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno != ENOENT) reject(name, fmt::format("cannot be opened: {}", std::strerror(errno)), &before, out);
      return;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      reject(name, fmt::format("cannot be examined: {}", std::strerror(errno)), &before, out);
      return;
    }
    std::string problem = problem_with(st, owner_);
    if (problem.empty() && (st.st_dev != before.st_dev || st.st_ino != before.st_ino)) {
      problem = "replaced while it was being opened";
    }
    std::string bytes;
    if (problem.empty()) {
      bytes.resize(kMaxSpoolFileBytes + 1);
      std::size_t got = 0;
      while (got < bytes.size()) {
        const ssize_t n = ::read(fd.get(), bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      bytes.resize(got);
      if (got > kMaxSpoolFileBytes) problem = "grew past what a spooled event can be while it was read";
    }
    if (!problem.empty()) {
      reject(name, problem, &st, out);
      return;
    }
    events::BreakGlass use{.spool_file = name};
    auto frame = ipc::decode_frame(bytes);
    if (frame && *frame && (*frame)->bytes == bytes.size()) {
      use.fields.emplace();
      for (const auto& f : (*frame)->fields.all()) use.fields->emplace_back(f.key, f.value);
    }  // else kept, as malformed: a break-glass use must not vanish
    if (auto st2 = state_.enqueue(spool_event(id_for(name), use, clock_)); !st2) {
      out.problem = fmt::format("{}: cannot queue it: {}", name, st2.error().message);
      stop_ = true;
      return;
    }
    ::unlinkat(dir_fd_, name.c_str(), 0);
    ++out.imported;
  }

  [[nodiscard]] bool stopped() const { return stop_; }

 private:
  // Reported first, then set aside: an entry is renamed only once its
  // report is queued (it is retried in the next round otherwise).
  void reject(const std::string& name, const std::string& problem, const struct stat* st, SpoolRound& out) {
    events::SpoolRejected rejected{.spool_file = name, .problem = problem};
    if (st != nullptr) {
      rejected.file = events::SpoolRejected::File{.type = file_type(st->st_mode),
                                                  .uid = st->st_uid,
                                                  .mode = st->st_mode,
                                                  .size = static_cast<std::int64_t>(st->st_size)};
    }
    if (auto queued = state_.enqueue(spool_event(id_for(name + ".rejected"), rejected, clock_)); !queued) {
      out.problem = fmt::format("{}: {}; and it cannot be reported: {}", name, problem, queued.error().message);
      stop_ = true;
      return;
    }
    const std::string aside = name + ".rejected";
    if (::renameat(dir_fd_, name.c_str(), dir_fd_, aside.c_str()) != 0 && errno != ENOENT) {
      out.problem = fmt::format("{}: {}; and it cannot be set aside: {}", name, problem, std::strerror(errno));
    }
    out.rejected.push_back(name + ": " + problem);
  }

  int dir_fd_;
  AgentState& state_;
  const std::function<EventTime()>& clock_;
  uid_t owner_;
  bool stop_ = false;
};

}  // namespace

SpoolRound import_spool(const std::string& dir, AgentState& state, const std::function<EventTime()>& clock) {
  SpoolRound out;
  try {
    UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir_fd.valid()) {
      if (errno != ENOENT) out.problem = fmt::format("the spool {} cannot be opened: {}", dir, std::strerror(errno));
      return out;
    }
    struct stat st {};
    if (::fstat(dir_fd.get(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & 077) != 0) {
      out.problem = fmt::format(
          "the spool {} is not a directory owned by uid {} with mode 0700 (it is uid {}, mode {:04o}): nothing is "
          "imported from it; fix it with chown {} {} && chmod 700 {}",
          dir, ::geteuid(), st.st_uid, st.st_mode & 07777, ::geteuid(), dir, dir);
      return out;
    }
    std::vector<std::string> names;
    {
      UniqueFd list_fd(::dup(dir_fd.get()));
      DIR* d = list_fd.valid() ? ::fdopendir(list_fd.get()) : nullptr;
      if (d == nullptr) {
        out.problem = fmt::format("the spool {} cannot be listed: {}", dir, std::strerror(errno));
        return out;
      }
      (void)list_fd.release();  // the DIR owns it now
      while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() > 6 && name.ends_with(".event") && name.front() != '.') names.push_back(name);
      }
      ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    if (names.size() > kMaxSpoolFilesPerRound) names.resize(kMaxSpoolFilesPerRound);
    Round round(dir_fd.get(), state, clock);
    for (const auto& name : names) {
      round.import(name, out);
      if (round.stopped()) break;
    }
  } catch (const std::exception& e) {
    out.problem = fmt::format("the spool {}: {} (this is a bug)", dir, e.what());
  }
  return out;
}

}  // namespace hoist::agent
