#include "agent/plugin_install.h"

#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

#include <filesystem>

#include "agent/spool_dir.h"
#include "agent/sudo_conf.h"
#include "platform/unique_fd.h"
#include "plugin/sudo_args.h"

namespace hoist::agent {

static_assert(plugin::kDefaultSpoolDir == kDefaultSpoolDir,
              "hoist_sudo.so's default spool must be the spool of hoist-agent's default state directory");

namespace {

// The spool_dir= the plugin needs for an agent with this state directory:
// none when it is the plugin's default anyway.
std::optional<std::string> spool_option_for(const std::string& state_dir) {
  const std::string spool =
      spool_dir_of(std::filesystem::absolute(std::filesystem::path(state_dir)).lexically_normal().string());
  if (spool == kDefaultSpoolDir) return std::nullopt;
  return "spool_dir=" + spool;
}

using platform::UniqueFd;

constexpr std::string_view kHoistVersionLine = "Hoist policy plugin version";
constexpr std::string_view kSudoersVersionLine = "Sudoers policy plugin version";
constexpr std::size_t kMaxToolOutput = 256 * 1024;

std::string errno_text(int e) {
  return std::strerror(e);
}

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string backup_path(const std::string& sudo_conf, const std::string& backup) {
  return backup.empty() ? sudo_conf + ".hoist-backup" : backup;
}

// --- the enrolment --------------------------------------------------------

// Read-only and without the state's lock: the agent normally runs (and
// holds the lock) while the plugin is installed. An identity row is what
// `hoist-agent run` requires to start (daemon.cpp).
Status check_enrolled(const std::string& state_dir) {
  const std::string not_enrolled = fmt::format(
      "this computer is not enrolled (no identity in {}): run hoist-agent enroll --server URL --token T --ca-pin "
      "SHA256 first, then install-plugin",
      state_dir);
  const std::string db = state_dir + "/agent.db";
  struct stat st {};
  if (::stat(db.c_str(), &st) != 0) {
    if (errno == ENOENT) return not_found(not_enrolled);
    return unavailable(fmt::format("cannot read the agent state {}: {}", db, errno_text(errno)));
  }
  sqlite3* raw = nullptr;
  const int rc = ::sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW, nullptr);
  const std::unique_ptr<sqlite3, decltype(&::sqlite3_close)> handle(raw, &::sqlite3_close);
  if (rc != SQLITE_OK) {
    return unavailable(fmt::format("cannot open the agent state {}: {}", db,
                                   raw != nullptr ? ::sqlite3_errmsg(raw) : ::sqlite3_errstr(rc)));
  }
  ::sqlite3_busy_timeout(raw, 5000);
  sqlite3_stmt* stmt = nullptr;
  if (::sqlite3_prepare_v2(raw, "SELECT COUNT(*) FROM identity", -1, &stmt, nullptr) != SQLITE_OK) {
    return unavailable(fmt::format("cannot read the enrolment from {}: {}", db, ::sqlite3_errmsg(raw)));
  }
  const std::unique_ptr<sqlite3_stmt, decltype(&::sqlite3_finalize)> statement(stmt, &::sqlite3_finalize);
  if (::sqlite3_step(stmt) != SQLITE_ROW) {
    return unavailable(fmt::format("cannot read the enrolment from {}: {}", db, ::sqlite3_errmsg(raw)));
  }
  if (::sqlite3_column_int64(stmt, 0) == 0) return not_found(not_enrolled);
  return {};
}

// --- the plugin .so -------------------------------------------------------

Status check_root_owned(const std::string& path, const struct stat& st) {
  if (st.st_uid != 0) {
    return permission_denied(
        fmt::format("{} is owned by uid {}, not root: sudo would refuse it (chown root {})", path, st.st_uid, path));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return permission_denied(
        fmt::format("{} is writable by group or others (mode {:04o}): whoever can write it "
                    "can become root (chmod go-w {})",
                    path, st.st_mode & 07777, path));
  }
  return {};
}

Status check_plugin_file(const std::string& path) {
  if (!path.starts_with('/')) return invalid_argument(fmt::format("the plugin path {} must be absolute", path));
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return not_found(fmt::format("the plugin {} cannot be used: {} (build and install hoist_sudo.so, or give --plugin)",
                                 path, errno_text(errno)));
  }
  struct stat st {};
  if (::stat(resolved, &st) != 0) {
    return not_found(fmt::format("the plugin {} cannot be used: {}", path, errno_text(errno)));
  }
  if (!S_ISREG(st.st_mode)) return invalid_argument(fmt::format("the plugin {} is not a regular file", path));
  if (auto ok = check_root_owned(path, st); !ok) return ok;
  // Whoever can replace a directory entry above the file (or above a
  // symbolic link to it) can swap the .so. As the agent's trust walk, a
  // sticky directory (/tmp) is not excepted.
  for (const std::string& start : {path, std::string(resolved)}) {
    for (std::string dir = dir_of(start);; dir = dir_of(dir)) {
      struct stat ds {};
      if (::stat(dir.c_str(), &ds) != 0) {
        return unavailable(fmt::format("cannot check {} (above the plugin): {}", dir, errno_text(errno)));
      }
      if (auto ok = check_root_owned(dir, ds); !ok) return ok;
      if (dir == "/") break;
    }
  }
  return {};
}

// --- running sudo's tools -------------------------------------------------

struct ToolRun {
  int exit_code = -1;  // -1: killed by a signal or not run
  std::string output;  // stdout and stderr together
};

// Runs argv (absolute argv[0]) with a fixed environment, stdin from
// /dev/null. With a candidate, the child first gets a private mount
// namespace in which the candidate is bound over `bind_target`.
Result<ToolRun> run_tool(const std::vector<std::string>& argv, const std::string& candidate = "",
                         const std::string& bind_target = "") {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return unavailable(fmt::format("cannot make a pipe: {}", errno_text(errno)));
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // NOLINT: execve's signature
  args.push_back(nullptr);
  char path_env[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  char locale_env[] = "LC_ALL=C";
  char* env[] = {path_env, locale_env, nullptr};

  const pid_t pid = ::fork();
  if (pid < 0) return unavailable(fmt::format("cannot fork: {}", errno_text(errno)));
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    const int out = write_end.get();
    auto die = [out](const char* what) {
      const char* err = std::strerror(errno);
      (void)!::write(out, what, std::strlen(what));
      (void)!::write(out, err, std::strlen(err));
      (void)!::write(out, "\n", 1);
      ::_exit(125);
    };
    if (!candidate.empty()) {
      if (::unshare(CLONE_NEWNS) != 0) die("hoist-agent: unshare(CLONE_NEWNS): ");
      if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("hoist-agent: make / private: ");
      if (::mount(candidate.c_str(), bind_target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
        die("hoist-agent: bind the candidate over the system sudo.conf: ");
      }
    }
    const int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in < 0 || ::dup2(null_in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) die("hoist-agent: dup2: ");
    ::execve(args[0], args.data(), env);
    die("hoist-agent: exec: ");
  }
  write_end.reset();
  ToolRun run;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (run.output.size() < kMaxToolOutput) run.output.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return unavailable(fmt::format("waitpid: {}", errno_text(errno)));
  }
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

std::string indented(std::string_view text) {
  std::string out;
  std::size_t lines = 0;
  for (std::size_t pos = 0; pos < text.size() && lines < 20; ++lines) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    out += "  | ";
    out.append(text.substr(pos, nl - pos));
    out += '\n';
    pos = nl + 1;
  }
  return out;
}

Status check_sudoers(const SudoTools& tools) {
  auto run = run_tool({tools.timeout, "20", tools.visudo, "-c", "-q"});
  if (!run) return run.error();
  if (run->exit_code != 0) {
    return unavailable(fmt::format(
        "/etc/sudoers is not valid (`visudo -c` exited {}); it is the way back to a working sudo, so nothing was "
        "changed. Fix it with visudo first.\n{}",
        run->exit_code, indented(run->output)));
  }
  return {};
}

// `sudo -V` with the candidate as sudo.conf, in a private mount namespace.
Status try_candidate(const SudoTools& tools, const std::string& candidate, std::string_view expected_line) {
  auto run = run_tool({tools.timeout, "20", tools.sudo, "-V"}, candidate, tools.system_sudo_conf);
  if (!run) return run.error();
  if (run->exit_code != 0 || run->output.find(expected_line) == std::string::npos) {
    return unavailable(fmt::format(
        "the new sudo.conf failed its test (`sudo -V` with it in a private mount namespace exited {}{}); "
        "nothing was changed. sudo said:\n{}",
        run->exit_code, run->exit_code == 0 ? fmt::format(" without printing \"{}\"", expected_line) : std::string(),
        indented(run->output)));
  }
  return {};
}

// --- files ----------------------------------------------------------------

// The current file: nullopt when it does not exist. Refuses a symlink or
// anything but a regular file (rename would replace the link, not what
// sudo reads through it).
Result<std::optional<std::string>> read_current(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>();
    if (errno == ELOOP) {
      return invalid_argument(fmt::format("{} is a symbolic link; point --sudo-conf at the file itself", path));
    }
    return unavailable(fmt::format("cannot open {}: {}", path, errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return unavailable(fmt::format("cannot stat {}: {}", path, errno_text(errno)));
  if (!S_ISREG(st.st_mode)) return invalid_argument(fmt::format("{} is not a regular file", path));
  if (static_cast<std::size_t>(st.st_size) > kMaxSudoConfBytes) {
    return invalid_argument(fmt::format("{} is larger than {} bytes", path, kMaxSudoConfBytes));
  }
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return unavailable(fmt::format("cannot read {}: {}", path, errno_text(errno)));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxSudoConfBytes) {
      return invalid_argument(fmt::format("{} is larger than {} bytes", path, kMaxSudoConfBytes));
    }
  }
  return std::optional<std::string>(std::move(text));
}

// A root-owned 0644 file with `text`, fsynced, beside `target`; removed
// when destroyed unless committed (renamed).
class Candidate {
 public:
  static Result<Candidate> write(const std::string& target, std::string_view text) {
    const std::string dir = dir_of(target);
    const auto slash = target.rfind('/');
    const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
    std::string templ = fmt::format("{}/.{}.hoist-XXXXXX", dir, base);
    const int raw = ::mkostemp(templ.data(), O_CLOEXEC);
    if (raw < 0) return unavailable(fmt::format("cannot create a file in {}: {}", dir, errno_text(errno)));
    Candidate c(templ);
    UniqueFd fd(raw);
    if (::fchown(fd.get(), 0, 0) != 0 || ::fchmod(fd.get(), 0644) != 0) {
      return unavailable(fmt::format("cannot make {} root's with mode 0644: {}", templ, errno_text(errno)));
    }
    for (std::size_t done = 0; done < text.size();) {
      const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return unavailable(fmt::format("cannot write {}: {}", templ, errno_text(errno)));
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return unavailable(fmt::format("cannot fsync {}: {}", templ, errno_text(errno)));
    if (::close(fd.release()) != 0) return unavailable(fmt::format("cannot close {}: {}", templ, errno_text(errno)));
    return c;
  }

  Candidate(Candidate&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  Candidate& operator=(Candidate&&) = delete;
  Candidate(const Candidate&) = delete;
  Candidate& operator=(const Candidate&) = delete;
  ~Candidate() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  [[nodiscard]] const std::string& path() const { return path_; }

  // rename() over `target`, then fsync the directory so the switch is durable.
  Status commit(const std::string& target) {
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      return unavailable(fmt::format("cannot rename {} to {}: {}{}", path_, target, errno_text(errno),
                                     errno == EBUSY ? " (is it a mount point?)" : ""));
    }
    path_.clear();
    UniqueFd dir(::open(dir_of(target).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid() || ::fsync(dir.get()) != 0) {
      return unavailable(
          fmt::format("{} was replaced, but its directory could not be synced: {}", target, errno_text(errno)));
    }
    return {};
  }

 private:
  explicit Candidate(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

Status check_plugin_options(const std::vector<std::string>& options) {
  std::vector<std::string_view> views(options.begin(), options.end());
  auto parsed = plugin::parse_plugin_options(views);
  if (!parsed) return invalid_argument("hoist_sudo.so would not accept its options: " + parsed.error().message);
  return {};
}

}  // namespace

Result<std::string> install_plugin(const InstallPluginOptions& options) {
  HoistPluginLine line;
  line.plugin_path = options.plugin_path;
  line.options.push_back("agent_socket=" + options.agent_socket);
  if (!options.break_glass_file.empty()) line.options.push_back("break_glass_file=" + options.break_glass_file);
  line.options.insert(line.options.end(), options.extra_options.begin(), options.extra_options.end());
  // The plugin spools break-glass uses where this agent reads them.
  std::string spool_note;
  const bool spool_given = std::any_of(options.extra_options.begin(), options.extra_options.end(),
                                       [](const std::string& o) { return o.rfind("spool_dir=", 0) == 0; });
  if (!spool_given) {
    if (auto spool = spool_option_for(options.state_dir)) line.options.push_back(*spool);
  } else if (auto wanted = spool_option_for(options.state_dir).value_or("spool_dir=" + std::string(kDefaultSpoolDir));
             std::find(options.extra_options.begin(), options.extra_options.end(), wanted) ==
             options.extra_options.end()) {
    spool_note = fmt::format(
        "note: hoist-agent reads break-glass uses from {}; run it with --spool-dir set to the "
        "plugin's spool_dir, or they never reach the audit trail\n",
        wanted.substr(std::string_view("spool_dir=").size()));
  }
  auto formatted = format_hoist_plugin_line(line);
  if (!formatted) return formatted.error();
  if (auto ok = check_plugin_options(line.options); !ok) return ok.error();

  if (auto ok = check_enrolled(options.state_dir); !ok) return ok.error();
  if (auto ok = check_plugin_file(options.plugin_path); !ok) return ok.error();

  auto current = read_current(options.sudo_conf);
  if (!current) return current.error();
  const std::string old_text = current->value_or("");
  auto old_conf = parse_sudo_conf(old_text);
  if (!old_conf) return Error{old_conf.error().code, options.sudo_conf + ": " + old_conf.error().message};
  auto edit = with_hoist_policy(old_text, line);
  if (!edit) return Error{edit.error().code, options.sudo_conf + ": " + edit.error().message};
  if (!edit->changed) {
    return fmt::format("{} already loads Hoist's plugin as asked:\n  {}\nnothing changed\n{}", options.sudo_conf,
                       *formatted, spool_note);
  }
  // Self-check of the pure edit before anything is written.
  auto new_conf = parse_sudo_conf(edit->text);
  if (!new_conf || !new_conf->loads_hoist()) {
    return internal_error("the new sudo.conf does not load Hoist's plugin (this is a bug); nothing changed");
  }

  if (auto ok = check_sudoers(options.tools); !ok) return ok.error();

  std::string report;
  auto candidate = Candidate::write(options.sudo_conf, edit->text);
  if (!candidate) return candidate.error();
  if (auto ok = try_candidate(options.tools, candidate->path(), kHoistVersionLine); !ok) return ok.error();
  report += "tested: sudo -V loads hoist_sudo.so with the new sudo.conf (in a private mount namespace)\n";

  const std::string backup = backup_path(options.sudo_conf, options.backup);
  if (current->has_value() && !old_conf->loads_hoist()) {
    auto copy = Candidate::write(backup, old_text);
    if (!copy) return copy.error();
    if (auto ok = copy->commit(backup); !ok) return ok.error();
    report += fmt::format("saved the previous {} as {}\n", options.sudo_conf, backup);
  } else if (!current->has_value()) {
    report += fmt::format("{} did not exist: no backup made\n", options.sudo_conf);
  } else {
    report += fmt::format("{} already loaded Hoist: {} (the file from before Hoist) kept as it is\n", options.sudo_conf,
                          backup);
  }

  if (auto ok = candidate->commit(options.sudo_conf); !ok) return ok.error();
  if (const auto* was = old_conf->policy()) {
    report += fmt::format("replaced line {} (Plugin {} {}) in {} by:\n  {}\n", was->first_line, was->symbol, was->path,
                          options.sudo_conf, *formatted);
  } else {
    report += fmt::format("added to {} (it had no policy Plugin line: sudoers by default):\n  {}\n", options.sudo_conf,
                          *formatted);
  }
  report +=
      "sudo now asks hoist-agent; /etc/sudoers was checked and left as it is (the way back: "
      "hoist-agent uninstall-plugin)\n";
  return report + spool_note;
}

Result<std::string> uninstall_plugin(const UninstallPluginOptions& options) {
  auto current = read_current(options.sudo_conf);
  if (!current) return current.error();
  if (!current->has_value()) {
    return fmt::format("{} does not exist: sudo uses sudoers; nothing changed\n", options.sudo_conf);
  }
  const std::string& old_text = **current;
  auto old_conf = parse_sudo_conf(old_text);
  if (!old_conf) return Error{old_conf.error().code, options.sudo_conf + ": " + old_conf.error().message};
  auto edit = without_hoist_policy(old_text);
  if (!edit) return Error{edit.error().code, options.sudo_conf + ": " + edit.error().message};
  if (!edit->changed) {
    const auto* policy = old_conf->policy();
    return fmt::format("{} does not load Hoist's plugin (policy: {}); nothing changed\n", options.sudo_conf,
                       policy != nullptr ? policy->symbol : std::string("sudoers, sudo's default"));
  }
  auto new_conf = parse_sudo_conf(edit->text);
  if (!new_conf || new_conf->policy() != nullptr) {
    return internal_error("the new sudo.conf still names a policy plugin (this is a bug); nothing changed");
  }

  if (auto ok = check_sudoers(options.tools); !ok) return ok.error();
  auto candidate = Candidate::write(options.sudo_conf, edit->text);
  if (!candidate) return candidate.error();
  if (auto ok = try_candidate(options.tools, candidate->path(), kSudoersVersionLine); !ok) return ok.error();
  std::string report = "tested: sudo -V loads sudoers with the new sudo.conf (in a private mount namespace)\n";
  if (auto ok = candidate->commit(options.sudo_conf); !ok) return ok.error();
  const auto* was = old_conf->policy();
  report += fmt::format("removed line {} (Plugin {} {}) from {}: sudo uses sudoers again (its default)\n",
                        was->first_line, was->symbol, was->path, options.sudo_conf);
  const std::string backup = backup_path(options.sudo_conf, options.backup);
  if (::access(backup.c_str(), F_OK) == 0) {
    report += fmt::format("{} (the file from before install-plugin) was left as it is\n", backup);
  }
  return report;
}

}  // namespace hoist::agent
