#include "agent/state/state_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <system_error>

namespace hoist::agent {

namespace {

using platform::UniqueFd;

std::string errno_text(int err) {
  return std::system_category().message(err);
}

// The checks every file of the database shares (the file itself, -wal,
// -shm). `st` is from a stat that did not follow symlinks.
Status check_file(const std::string& shown_as, const struct stat& st) {
  if (S_ISLNK(st.st_mode)) {
    return invalid_argument(
        fmt::format("{} is a symlink; hoist-agent keeps its state only in real files: remove the link", shown_as));
  }
  if (!S_ISREG(st.st_mode)) return invalid_argument(fmt::format("{} is not a regular file", shown_as));
  if (st.st_uid != ::geteuid()) {
    return invalid_argument(fmt::format("{} is owned by uid {}, not by hoist-agent's user (uid {}): chown it", shown_as,
                                        st.st_uid, ::geteuid()));
  }
  if ((st.st_mode & 077) != 0) {
    return invalid_argument(
        fmt::format("{} is accessible to group or others (mode {:04o}) and holds the endpoint's credential; run "
                    "chmod 600 {} (and consider the credential exposed)",
                    shown_as, st.st_mode & 07777, shown_as));
  }
  return {};
}

Status check_side_files(int dirfd, const std::string& dir, const std::string& db_name) {
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::string name = db_name + suffix;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return unavailable(fmt::format("cannot stat {}/{}: {}", dir, name, errno_text(errno)));
    }
    if (auto ok = check_file(fmt::format("{}/{}", dir, name), st); !ok.ok()) return ok;
  }
  return {};
}

}  // namespace

Result<CheckedStateDir> open_state_dir(const std::string& dir, const std::string& db_name, bool read_only) {
  if (dir.empty()) return invalid_argument("the agent state directory is not set");
  bool created = false;
  if (read_only) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) {
      return not_found(fmt::format("{}: no agent state yet", dir));
    }
  } else if (::mkdir(dir.c_str(), 0700) == 0) {
    created = true;
  } else if (errno != EEXIST) {
    return unavailable(fmt::format("cannot create the agent state directory {}: {}", dir, errno_text(errno)));
  }
  struct stat link_st {};
  if (::lstat(dir.c_str(), &link_st) != 0) {
    return unavailable(fmt::format("cannot stat the agent state directory {}: {}", dir, errno_text(errno)));
  }
  if (S_ISLNK(link_st.st_mode)) {
    return invalid_argument(
        fmt::format("the agent state directory {} is a symlink; hoist-agent keeps its state only in a real "
                    "directory: replace the link with a directory owned by hoist-agent's user with mode 0700",
                    dir));
  }
  if (!S_ISDIR(link_st.st_mode)) {
    return invalid_argument(fmt::format("the agent state directory {} exists and is not a directory", dir));
  }
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return unavailable(fmt::format("cannot open the agent state directory {}: {}", dir, errno_text(errno)));
  }
  // umask may have narrowed mkdir's mode; 0700 is what was meant.
  if (created && ::fchmod(fd.get(), 0700) != 0) {
    return unavailable(fmt::format("cannot chmod the agent state directory {}: {}", dir, errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return unavailable(fmt::format("cannot stat the agent state directory {}: {}", dir, errno_text(errno)));
  }
  if (st.st_dev != link_st.st_dev || st.st_ino != link_st.st_ino) {
    return unavailable(fmt::format("the agent state directory {} changed while it was being checked; try again", dir));
  }
  if (st.st_uid != ::geteuid()) {
    return invalid_argument(
        fmt::format("the agent state directory {} is owned by uid {}, not by hoist-agent's user (uid {}): chown it",
                    dir, st.st_uid, ::geteuid()));
  }
  if ((st.st_mode & 022) != 0) {
    return invalid_argument(
        fmt::format("the agent state directory {} is writable by group or others (mode {:04o}); run chmod 700 {}", dir,
                    st.st_mode & 07777, dir));
  }
  if (!read_only && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return unavailable(
          fmt::format("another process has the agent state in {} open (is hoist-agent already running?)", dir));
    }
    return unavailable(fmt::format("cannot lock the agent state directory {}: {}", dir, errno_text(errno)));
  }

  CheckedStateDir out;
  out.dir = dir;
  out.db_path = fmt::format("{}/{}", dir, db_name);
  {
    // Created here, not by SQLite, so its mode is 0600 from the start. This
    // descriptor is closed before SQLite opens the file: closing any
    // descriptor of a file drops the process's POSIX locks on it, SQLite's
    // included.
    UniqueFd file(read_only ? UniqueFd()
                            : UniqueFd(::openat(fd.get(), db_name.c_str(),
                                                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)));
    if (file.valid()) {
      if (::fchmod(file.get(), 0600) != 0 || ::fsync(fd.get()) != 0) {
        return unavailable(fmt::format("cannot set up {}: {}", out.db_path, errno_text(errno)));
      }
    } else if (!read_only && errno != EEXIST) {
      return unavailable(fmt::format("cannot create {}: {}", out.db_path, errno_text(errno)));
    }
  }
  struct stat file_st {};
  if (::fstatat(fd.get(), db_name.c_str(), &file_st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (read_only && errno == ENOENT) return not_found(fmt::format("{}: no agent state yet", out.db_path));
    return unavailable(fmt::format("cannot stat {}: {}", out.db_path, errno_text(errno)));
  }
  if (auto ok = check_file(out.db_path, file_st); !ok.ok()) return ok.error();
  if (auto ok = check_side_files(fd.get(), dir, db_name); !ok.ok()) return ok.error();
  out.db_dev = file_st.st_dev;
  out.db_ino = file_st.st_ino;
  out.dir_fd = std::move(fd);
  return out;
}

Status recheck_state_files(const CheckedStateDir& checked) {
  const std::string db_name = checked.db_path.substr(checked.dir.size() + 1);
  struct stat st {};
  if (::fstatat(checked.dir_fd.get(), db_name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return unavailable(fmt::format("cannot stat {}: {}", checked.db_path, errno_text(errno)));
  }
  if (st.st_dev != checked.db_dev || st.st_ino != checked.db_ino) {
    return unavailable(fmt::format("{} was replaced while it was being opened; try again", checked.db_path));
  }
  if (auto ok = check_file(checked.db_path, st); !ok.ok()) return ok;
  return check_side_files(checked.dir_fd.get(), checked.dir, db_name);
}

}  // namespace hoist::agent
