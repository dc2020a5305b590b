// What the attack suite's real-sudo binaries share (on top of
// tests/agent/e2e_harness.h): users, groups and directories made for one
// test and removed after it, the probe (probe.cpp) installed where rules can
// name it, and batches: many command lines run by test users in ONE private
// mount namespace, each line's exit status and output told apart by
// markers, so that a hundred sudo runs cost one `unshare` and one `su` per
// user.
//
// Nothing here writes the host's /etc/sudo.conf or /etc/sudoers: they are
// bind-mounted inside the namespace only. Everything made on the host
// (users, groups, directories under /run and /tmp) is removed by a
// destructor.
#pragma once

#include <grp.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/e2e_harness.h"

namespace hoist::testing::attacks {

namespace fs = std::filesystem;

// Replaces every {name} in `text` by vars[name]; an unknown {name} is left
// as it is (so shell braces survive).
inline std::string expand(std::string text, const std::map<std::string, std::string>& vars) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t open = text.find('{', pos);
    if (open == std::string::npos) break;
    const std::size_t close = text.find('}', open);
    if (close == std::string::npos) break;
    const auto it = vars.find(text.substr(open + 1, close - open - 1));
    out.append(text, pos, open - pos);
    if (it != vars.end()) {
      out += it->second;
    } else {
      out.append(text, open, close - open + 1);
    }
    pos = close + 1;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

// Single-quoted for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

inline std::string unique_name(const std::string& suffix) {
  return "hoist-e2e-" + std::to_string(::getpid()) + suffix;
}

// A local user made for one test (hoist-e2e-PID<suffix>, no home
// directory, shell /bin/sh, optionally in supplementary groups) and removed
// after it.
class LocalUser {
 public:
  explicit LocalUser(const std::string& suffix, const std::string& groups = "") : name_(unique_name(suffix)) {
    remove_leftover_accounts("/etc/passwd", "/usr/sbin/userdel");
    std::vector<std::string> args{"/usr/sbin/useradd", "--no-create-home", "--shell", "/bin/sh"};
    if (!groups.empty()) {
      args.emplace_back("-G");
      args.push_back(groups);
    }
    args.push_back(name_);
    ok_ = run(args, "/dev/null") == 0;
    if (ok_) {
      const passwd* pw = ::getpwnam(name_.c_str());
      ok_ = pw != nullptr;
      if (pw != nullptr) {
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        home_ = pw->pw_dir;
      }
    }
  }
  ~LocalUser() {
    if (uid_ != 0) (void)run({"/usr/sbin/userdel", name_}, "/dev/null");
  }
  LocalUser(const LocalUser&) = delete;
  LocalUser& operator=(const LocalUser&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] uid_t uid() const { return uid_; }
  [[nodiscard]] gid_t gid() const { return gid_; }
  [[nodiscard]] const std::string& home() const { return home_; }

 private:
  std::string name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  std::string home_;
  bool ok_ = false;
};

// A local group made for one test (hoist-e2e-PID<suffix>), removed after it.
class LocalGroup {
 public:
  explicit LocalGroup(const std::string& suffix) : name_(unique_name(suffix)) {
    remove_leftover_accounts("/etc/group", "/usr/sbin/groupdel");
    ok_ = run({"/usr/sbin/groupadd", name_}, "/dev/null") == 0;
    if (ok_) {
      const group* gr = ::getgrnam(name_.c_str());
      ok_ = gr != nullptr;
      if (gr != nullptr) gid_ = gr->gr_gid;
    }
  }
  ~LocalGroup() {
    if (gid_ != 0) (void)run({"/usr/sbin/groupdel", name_}, "/dev/null");
  }
  LocalGroup(const LocalGroup&) = delete;
  LocalGroup& operator=(const LocalGroup&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] gid_t gid() const { return gid_; }

 private:
  std::string name_;
  gid_t gid_ = 0;
  bool ok_ = false;
};

// A directory made for one test and removed with everything in it:
// hoist-e2e-PID-<n><suffix> under `parent`, owned by `owner`:`group` with
// `mode`. Root-owned 0755 under /run is a trusted directory (root-owned
// up to /, writable by nobody else); under /tmp and owned by a test user it
// is the attacker's.
class TestDir {
 public:
  TestDir(const std::string& parent, const std::string& suffix, uid_t owner, gid_t group, mode_t mode)
      : path_(parent + "/" + unique_name("-" + std::to_string(counter_++) + suffix)) {
    ok_ = ::mkdir(path_.c_str(), 0700) == 0 && ::chown(path_.c_str(), owner, group) == 0 &&
          ::chmod(path_.c_str(), mode) == 0;
  }
  ~TestDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string operator/(const std::string& name) const { return path_ + "/" + name; }

  // Writes `name` (owned by owner:group, `mode`) through a temporary name
  // and rename().
  bool put(const std::string& name, const std::string& content, mode_t mode, uid_t owner = 0, gid_t group = 0) const {
    const std::string tmp = path_ + "/." + fs::path(name).filename().string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << content;
      if (!out) return false;
    }
    return ::chown(tmp.c_str(), owner, group) == 0 && ::chmod(tmp.c_str(), mode) == 0 &&
           ::rename(tmp.c_str(), (path_ + "/" + name).c_str()) == 0;
  }
  // Copies the file `from` to `name` (owner:group, `mode`).
  bool copy(const std::string& from, const std::string& name, mode_t mode, uid_t owner = 0, gid_t group = 0) const {
    return put(name, slurp(from), mode, owner, group);
  }
  bool mkdir(const std::string& name, mode_t mode = 0755, uid_t owner = 0, gid_t group = 0) const {
    const std::string p = path_ + "/" + name;
    return ::mkdir(p.c_str(), 0700) == 0 && ::chown(p.c_str(), owner, group) == 0 && ::chmod(p.c_str(), mode) == 0;
  }
  bool symlink(const std::string& target, const std::string& name, uid_t owner = 0, gid_t group = 0) const {
    const std::string p = path_ + "/" + name;
    return ::symlink(target.c_str(), p.c_str()) == 0 && ::lchown(p.c_str(), owner, group) == 0;
  }
  bool hardlink(const std::string& existing, const std::string& name) const {
    return ::link((path_ + "/" + existing).c_str(), (path_ + "/" + name).c_str()) == 0;
  }

 private:
  static inline int counter_ = 0;
  std::string path_;
  bool ok_ = false;
};

// ---------------------------------------------------------------------------
// Batches

// One command line of a batch and what came of it.
struct StepResult {
  bool found = false;  // the batch reached this step
  int status = -1;     // its exit status (124: timeout killed it)
  std::string out;     // its stdout
  std::string err;     // its stderr
};
inline std::ostream& operator<<(std::ostream& os, const StepResult& r) {
  return os << "exit " << r.status << (r.found ? "" : " (never reached)") << "\n--- stdout ---\n"
            << r.out << "--- stderr ---\n"
            << r.err << "---";
}

// The user's half of a batch: a /bin/sh script that runs each command line
// in a subshell with stdin from /dev/null, framed by markers on stdout and
// stderr (@@@step ID@@@ ... @@@rc ID STATUS@@@). `prelude` comes first
// (shell functions the lines use).
inline std::string batch_script(const std::string& prelude,
                                const std::vector<std::pair<std::string, std::string>>& steps) {
  std::string s = "#!/bin/sh\n" + prelude + "\n";
  for (const auto& [id, command] : steps) {
    s += "printf '@@@step %s@@@\\n' " + shell_quote(id) + "; printf '@@@step %s@@@\\n' " + shell_quote(id) + " >&2\n";
    s += "( " + command + "\n) </dev/null\n";
    s += "printf '@@@rc %s %s@@@\\n' " + shell_quote(id) + " $?; printf '@@@rc %s@@@\\n' " + shell_quote(id) + " >&2\n";
  }
  return s;
}

// The text between "@@@step ID@@@\n" and "@@@rc ID" in `text`.
inline std::optional<std::string> between_markers(const std::string& text, const std::string& id,
                                                  int* status = nullptr) {
  const std::string start = "@@@step " + id + "@@@\n";
  const std::size_t at = text.find(start);
  if (at == std::string::npos) return std::nullopt;
  const std::size_t from = at + start.size();
  const std::string end = "@@@rc " + id;
  const std::size_t to = text.find(end, from);
  if (to == std::string::npos) return std::nullopt;
  if (status != nullptr) {
    *status = std::atoi(text.c_str() + to + end.size());
  }
  return text.substr(from, to - from);
}

inline StepResult step_result(const SudoRun& batch, const std::string& id) {
  StepResult r;
  int status = -1;
  auto out = between_markers(batch.out, id, &status);
  auto err = between_markers(batch.err, id);
  if (!out) return r;
  r.found = true;
  r.status = status;
  r.out = *out;
  r.err = err ? *err : "";
  return r;
}

// Runs the root shell script `driver` with /bin/sh in a private mount
// namespace (setsid, stdin /dev/null), stdout and stderr captured through
// files in `dir`; the whole run is bounded by `timeout_s`.
inline SudoRun run_in_namespace(const std::string& driver, const std::string& dir, int timeout_s) {
  const std::string out = dir + "/batch.out";
  const std::string err = dir + "/batch.err";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::setsid();
    const std::string limit = std::to_string(timeout_s);
    ::execl("/usr/bin/timeout", "timeout", limit.c_str(), "/usr/bin/unshare", "-m", "/bin/sh", driver.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  SudoRun r;
  int status = 0;
  if (pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status)) r.status = WEXITSTATUS(status);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// ---------------------------------------------------------------------------
// The probe's report (probe.cpp)

struct ProbeReport {
  std::vector<std::string> argv;
  long uid = -1, euid = -1, gid = -1, egid = -1;
  std::string groups;  // "0,27", sorted
  std::string cwd;
  std::string umask;
  std::vector<std::string> fds;            // "3:/path"
  std::map<std::string, std::string> env;  // name -> value (escaped as the probe prints it)
  [[nodiscard]] bool has_env(const std::string& name) const { return env.count(name) != 0; }
  [[nodiscard]] std::string env_or(const std::string& name, const std::string& missing = "<unset>") const {
    const auto it = env.find(name);
    return it == env.end() ? missing : it->second;
  }
};

// Every probe report in `text`, in order.
inline std::vector<ProbeReport> probe_reports(const std::string& text) {
  std::vector<ProbeReport> out;
  std::istringstream in(text);
  std::string line;
  std::optional<ProbeReport> cur;
  while (std::getline(in, line)) {
    if (line == "hoist-probe") {
      cur.emplace();
      continue;
    }
    if (!cur) continue;
    if (line == "end") {
      out.push_back(std::move(*cur));
      cur.reset();
    } else if (line.rfind("argv[", 0) == 0) {
      cur->argv.push_back(line.substr(line.find("]=") + 2));
    } else if (line.rfind("uid=", 0) == 0) {
      std::sscanf(line.c_str(), "uid=%ld euid=%ld gid=%ld egid=%ld", &cur->uid, &cur->euid, &cur->gid,  // NOLINT
                  &cur->egid);
    } else if (line.rfind("groups=", 0) == 0) {
      cur->groups = line.substr(7);
    } else if (line.rfind("cwd=", 0) == 0) {
      cur->cwd = line.substr(4);
    } else if (line.rfind("umask=", 0) == 0) {
      cur->umask = line.substr(6);
    } else if (line.rfind("fd=", 0) == 0) {
      cur->fds.push_back(line.substr(3));
    } else if (line.rfind("env=", 0) == 0) {
      const std::string entry = line.substr(4);
      const auto eq = entry.find('=');
      cur->env.emplace(entry.substr(0, eq), eq == std::string::npos ? "" : entry.substr(eq + 1));
    }
  }
  return out;
}

// Installs the probe (HOIST_ATTACK_PROBE) as dir/name, root-owned 0755.
inline bool install_probe(const TestDir& dir, const std::string& name = "probe") {
  return dir.copy(HOIST_ATTACK_PROBE, name, 0755);
}

}  // namespace hoist::testing::attacks
