// hoist_sudo.so: the C ABI of Hoist's sudo policy plugin (sudo_plugin(5),
// `struct policy_plugin hoist_policy`). A thin shim: sudo's arrays are
// parsed by the adapter layer (sudo_args.h, run_mode.h), hoist-agent
// decides (agent_client.h), and the decision becomes command_info
// (command_info.h, env_policy.h). docs/sudo-plugin.md describes it as built.
//
// MUST: no exception crosses the C ABI (every entry point catches
// everything). MUST: open() succeeds for configuration problems (a failing
// policy open() locks every sudo, root's included); they deny every command
// except root's and break-glass. MUST: root (invoking uid 0) is never locked
// out: allowed without the agent, logged. MUST: every uncertain path
// denies: an unreachable agent, a malformed reply, a command outside the
// trusted tree. MUST: the file judged is the file run (execfd of the
// descriptor sent to the agent). MUST: nothing prompts under sudo -n or
// without a tty. MUST: "sudoedit" is never resolved and run as a command,
// and an edit is decided on its files (their directories resolved, as sudo
// then opens them), never on the editor.
// MUST: the SIGINT handler installed for the approval wait is restored
// before returning to sudo. MUST: what check_policy() returned to sudo
// outlives close() (sudoedit writes the files back from argv_out after
// close). Globals: two pointers and one sig_atomic_t (trivial
// constructors, no destructors); the state lives from open() until the
// next open() or the end of the process.
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sudo_plugin.h>
#include <sys/stat.h>
#include <syslog.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipc/messages.h"
#include "platform/executable.h"
#include "platform/unique_fd.h"
#include "plugin/agent_client.h"
#include "plugin/break_glass.h"
#include "plugin/command_info.h"
#include "plugin/env_policy.h"
#include "plugin/pam_auth.h"
#include "plugin/run_mode.h"
#include "plugin/sudo_args.h"
#include "plugin/terminal.h"
#include "plugin/timestamp.h"
#include "plugin/tracee.h"

#ifndef HOIST_VERSION
#define HOIST_VERSION "0.0.0"
#endif

namespace hoist::plugin {
namespace {

constexpr std::uint64_t kDefaultApprovalWaitS = 120;
constexpr int kWaitTurnMs = 1000;

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_sigint(int /*signo*/) {
  g_interrupted = 1;
}

std::int64_t monotonic_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Installs our SIGINT handler (no SA_RESTART, so poll() returns EINTR) and
// unblocks SIGINT; the destructor restores both. sudo's own handler only
// marks the signal pending, and sudo refuses to exec while one is pending,
// so Ctrl-C during the wait must never reach it.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupted = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    installed_ = ::sigaction(SIGINT, &sa, &old_) == 0;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    masked_ = ::sigprocmask(SIG_UNBLOCK, &set, &old_mask_) == 0;
  }
  ~SigintGuard() {
    if (masked_) ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    if (installed_) ::sigaction(SIGINT, &old_, nullptr);
  }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  struct sigaction old_ {};
  sigset_t old_mask_{};
  bool installed_ = false;
  bool masked_ = false;
};

// sudo's conversation and printf as a Conversation.
class SudoIo final : public Conversation {
 public:
  SudoIo(sudo_conv_t conv, sudo_printf_t printf_fn) : conv_(conv), printf_(printf_fn) {}
  // Everything shown passes safe_for_terminal(): reasons, contacts and
  // reviewers' comments come from other people.
  void info(std::string_view text) override { print(SUDO_CONV_INFO_MSG, safe_for_terminal(text) + "\n"); }
  void error(std::string_view text) override { print(SUDO_CONV_ERROR_MSG, safe_for_terminal(text) + "\n"); }
  void status_line(std::string_view text) override {
    print(SUDO_CONV_INFO_MSG | SUDO_CONV_PREFER_TTY, "\r" + safe_for_terminal(text));
  }
  std::optional<std::string> prompt(std::string_view question, bool echo) override {
    if (conv_ == nullptr) return std::nullopt;
    const std::string q(question);
    sudo_conv_message msg{echo ? SUDO_CONV_PROMPT_ECHO_ON : SUDO_CONV_PROMPT_ECHO_OFF, 0, q.c_str()};
    sudo_conv_reply reply{nullptr};
    const int rc = conv_(1, &msg, &reply, nullptr);
    if (rc != 0 || reply.reply == nullptr) {
      if (reply.reply != nullptr) std::free(reply.reply);
      return std::nullopt;
    }
    std::string answer(reply.reply);
    explicit_bzero(reply.reply, answer.size());
    std::free(reply.reply);
    // sudo read at most 1023 bytes of a longer line and left the rest on
    // the terminal: drop it, or it answers the next question.
    if (answer.size() > kMaxAnswerBytes) flush_terminal_input();
    return answer;
  }

  // The invoker's terminal (user_info's tty), for flush_terminal_input().
  void set_tty(std::string tty) { tty_ = std::move(tty); }

 private:
  void print(int type, const std::string& text) {
    if (printf_ != nullptr) printf_(type, "%s", text.c_str());
  }
  void flush_terminal_input() const {
    if (tty_.empty()) return;
    const int fd = ::open(tty_.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return;
    if (::isatty(fd) == 1) ::tcflush(fd, TCIFLUSH);
    ::close(fd);
  }
  sudo_conv_t conv_;
  sudo_printf_t printf_;
  std::string tty_;
};

// Logged text holds user-chosen argv: no control characters, so a
// newline cannot forge a second log line.
void log_auth(int priority, const std::string& text) {
  std::string line = text;
  for (char& c : line) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) c = '?';
  }
  ::syslog(LOG_AUTHPRIV | priority, "hoist: %s", line.c_str());
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out.size() > 512 ? out.substr(0, 512) + "..." : out;
}

// getpwnam_r/getpwuid_r/getgrnam_r/getgrgid_r with a growing buffer.
template <class T, class F>
bool nss_lookup(T& out, std::vector<char>& buf, F&& call) {
  buf.resize(16384);
  for (;;) {
    T* found = nullptr;
    const int rc = call(&out, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (std::size_t{1} << 22)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return rc == 0 && found != nullptr;
  }
}

std::optional<std::uint32_t> hash_id(std::string_view s) {
  if (s.size() < 2 || s.front() != '#' || s.size() > 11) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

// The target user (-u) and group (-g) from NSS. As sudo(8) says, -g
// without -u runs the command as the invoking user with that group.
Result<TargetUser> lookup_target(const SudoSettings& s, const UserInfo& invoker) {
  passwd pw{};
  std::vector<char> buf;
  bool found = false;
  std::string who = s.runas_user;
  if (who.empty() && !s.runas_group.empty()) {
    found = nss_lookup(
        pw, buf, [&](passwd* p, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(invoker.uid, p, b, n, r); });
    who = invoker.user;
  } else {
    if (who.empty()) who = "root";
    if (auto uid = hash_id(who)) {
      found = nss_lookup(pw, buf,
                         [&](passwd* p, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(*uid, p, b, n, r); });
    } else {
      found = nss_lookup(pw, buf, [&](passwd* p, char* b, std::size_t n, passwd** r) {
        return ::getpwnam_r(who.c_str(), p, b, n, r);
      });
    }
  }
  if (!found) return permission_denied("unknown user " + who);
  TargetUser t;
  t.name = pw.pw_name;
  t.uid = pw.pw_uid;
  t.gid = pw.pw_gid;
  t.home = pw.pw_dir != nullptr ? pw.pw_dir : "";
  t.shell = pw.pw_shell != nullptr ? pw.pw_shell : "";
  int n = 64;
  std::vector<gid_t> gids(static_cast<std::size_t>(n));
  while (::getgrouplist(t.name.c_str(), t.gid, gids.data(), &n) < 0) {
    if (n > static_cast<int>(kMaxGroups)) return permission_denied(t.name + " is in too many groups");
    gids.resize(static_cast<std::size_t>(n) + 1);
    n = static_cast<int>(gids.size());
  }
  // Every group of the target, its primary one too: with -g the primary
  // group stays among the supplementary ones, as sudoers has it
  // (build_command_info puts the effective gid first and drops repeats).
  for (int i = 0; i < n; ++i) t.groups.push_back(gids[static_cast<std::size_t>(i)]);
  if (!s.runas_group.empty()) {
    group gr{};
    std::vector<char> gbuf;
    bool gfound = false;
    if (auto gid = hash_id(s.runas_group)) {
      gfound = nss_lookup(
          gr, gbuf, [&](group* g, char* b, std::size_t sz, group** r) { return ::getgrgid_r(*gid, g, b, sz, r); });
    } else {
      gfound = nss_lookup(gr, gbuf, [&](group* g, char* b, std::size_t sz, group** r) {
        return ::getgrnam_r(s.runas_group.c_str(), g, b, sz, r);
      });
    }
    if (!gfound) return permission_denied("unknown group " + s.runas_group);
    t.gid = gr.gr_gid;
    t.group = gr.gr_name;
  }
  return t;
}

std::string shell_of(std::uint32_t uid) {
  passwd pw{};
  std::vector<char> buf;
  if (!nss_lookup(pw, buf,
                  [&](passwd* p, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(uid, p, b, n, r); })) {
    return "";
  }
  return pw.pw_shell != nullptr ? pw.pw_shell : "";
}

std::string home_of(std::uint32_t uid) {
  passwd pw{};
  std::vector<char> buf;
  if (!nss_lookup(pw, buf,
                  [&](passwd* p, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(uid, p, b, n, r); })) {
    return "";
  }
  return pw.pw_dir != nullptr ? pw.pw_dir : "";
}

// The command, found through the secure path, opened, and checked to be a
// root-owned file in a trusted directory chain.
struct OpenedCommand {
  std::string path;       // the path it runs under (platform::command_paths)
  std::string real_path;  // the file's realpath
  bool link_trusted = true;
  platform::UniqueFd fd;  // the file at real_path
};

Result<OpenedCommand> open_command(std::string_view command, std::string_view secure_path, bool require_trusted) {
  auto resolved = platform::resolve_command(command, secure_path);
  if (!resolved) return resolved.error();
  // The path it runs under: the real path, or a link's under another name
  // (reboot -> systemctl), which argv[0] then carries.
  auto paths = platform::command_paths(*resolved);
  if (!paths) return paths.error();
  OpenedCommand out;
  out.path = paths->path;
  out.real_path = paths->real_path;
  out.link_trusted = paths->link_trusted;
  const std::string& real = paths->real_path;
  out.fd = platform::UniqueFd(::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!out.fd.valid()) return unavailable(real + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(out.fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    return permission_denied(real + " is not an executable file");
  }
  if (require_trusted) {
    const auto slash = real.rfind('/');
    const std::string dir = slash == 0 ? std::string("/") : real.substr(0, slash);
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || !platform::directory_chain_trusted(dir)) {
      return permission_denied(real + " is not a root-owned file in root-owned directories; Hoist elevates only those");
    }
    if (!paths->link_trusted) {
      return permission_denied(out.path + " is a link to " + real +
                               " under another name, in a directory someone other than root can change; run " + real +
                               " by its own name");
    }
  }
  return out;
}

// sudoedit's files as sudo will open them: absolute, their directories
// resolved (so the files decided on are the files sudo copies, whatever
// happens to the invoker's directories meanwhile).
Result<std::vector<std::string>> settle_edit_files(const std::vector<std::string>& files, const std::string& cwd) {
  std::vector<std::string> out;
  for (const auto& name : files) {
    auto file = platform::inspect_edit_file(cwd, name);
    if (!file) return Error{file.error().code, "sudoedit " + name + ": " + file.error().message};
    out.push_back(std::move(file->path));
  }
  return out;
}

class Plugin {
 public:
  Plugin(unsigned version, sudo_conv_t conv, sudo_printf_t printf_fn) : api_(version), io_(conv, printf_fn) {}

  void open(char* const settings[], char* const user_info[], char* const user_env[], char* const options[]) {
    auto s = parse_settings(settings);
    auto u = parse_user_info(user_info);
    auto e = parse_user_env(user_env);
    auto o = parse_plugin_options(options);
    if (s) settings_ = std::move(*s);
    if (u) user_ = std::move(*u);
    if (e) user_env_ = std::move(*e);
    if (o) {
      options_ = std::move(*o);
    } else {
      // Salvage each valid option on its own so root and break-glass keep
      // working with the admin's intended paths.
      if (auto entries = read_array(options, "plugin options")) {
        for (auto entry : *entries) {
          std::string_view one[] = {entry};
          if (auto single = parse_plugin_options(one)) merge_option(*single, entry);
        }
      }
      config_error_ = "the Hoist plugin is misconfigured in /etc/sudo.conf (" + o.error().message +
                      "); only root and break-glass users may elevate until an administrator fixes it";
      log_auth(LOG_ERR, config_error_);
    }
    const Error* bad = !s ? &s.error() : !u ? &u.error() : !e ? &e.error() : nullptr;
    if (bad != nullptr) {
      sudo_error_ = "sudo passed data Hoist cannot read: " + bad->message;
      log_auth(LOG_ERR, sudo_error_);
    } else {
      sudo_error_.clear();  // only now is user_.uid the invoker's (0 until then)
    }
    user_ok_ = u.ok();
    io_.set_tty(user_.tty);
  }

  int check_policy(int argc, char* const argv[], char* env_add[], char** command_info[], char** argv_out[],
                   char** user_env_out[], const char** errstr) {
    ++check_calls_;
    if (intercepting_ && check_calls_ > 1) {
      return intercept_check(argc, argv, command_info, argv_out, user_env_out, errstr);
    }
    if (check_calls_ > 1) return fail(errstr, -1, "check_policy was called twice without intercept");
    if (!sudo_error_.empty()) return fail(errstr, -1, sudo_error_);

    auto args = read_array(argv, "argv");
    if (!args) return fail(errstr, policy_return_code(args.error().code), args.error().message);
    if (static_cast<std::size_t>(argc) != args->size()) return fail(errstr, -1, "argc does not match argv");
    auto added = parse_env_add(env_add);
    if (!added) return fail(errstr, policy_return_code(added.error().code), added.error().message);
    env_add_ = std::move(*added);
    auto target = lookup_target(settings_, user_);
    if (!target) return fail(errstr, 0, target.error().message);
    target_ = std::move(*target);
    auto plan = plan_check_policy(settings_, *args, target_, user_env_);
    if (!plan) return fail(errstr, policy_return_code(plan.error().code), plan.error().message);
    plan_ = std::move(*plan);
    const bool root = user_.uid == 0;
    const bool edit = plan_.mode == ipc::RunMode::kEdit;
    // The editor runs as the invoker, on copies: nothing to trust in it.
    auto cmd = open_command(plan_.command, options_.secure_path, !root && !edit);
    if (!cmd) return fail(errstr, 0, cmd.error().message);
    command_ = std::move(*cmd);
    if (edit) {
      auto files = settle_edit_files(plan_.edit_files, user_.cwd);
      if (!files) return fail(errstr, 0, files.error().message);
      plan_.edit_files = std::move(*files);
      plan_.argv.resize(1);
      plan_.argv.insert(plan_.argv.end(), plan_.edit_files.begin(), plan_.edit_files.end());
    } else if (plan_.mode != ipc::RunMode::kLoginShell) {
      // The program runs with the argv[0] decided on, never the name as
      // typed (a multi-call program acts on it).
      plan_.argv[0] = command_.path;
    }

    if (root) {
      log_auth(LOG_NOTICE, "root runs " + command_.path + " as " + target_.name + " without asking hoist-agent");
      ipc::DecisionMessage allow;
      allow.action = Action::kAllow;
      return finish(allow, command_info, argv_out, user_env_out, errstr);
    }
    if (!config_error_.empty()) return agent_down(config_error_, command_info, argv_out, user_env_out, errstr);

    auto context = make_context(user_, settings_, plan_, command_.path, &target_);
    if (!context) return fail(errstr, policy_return_code(context.error().code), context.error().message);
    context_ = std::move(*context);
    auto client = AgentClient::connect(options_.agent_socket);
    if (!client) return agent_down(client.error().message, command_info, argv_out, user_env_out, errstr);
    client_.emplace(std::move(*client));
    auto decision = ask_check();
    if (!decision) {
      if (decision.error().code == ErrorCode::kUnavailable) {
        return agent_down(decision.error().message, command_info, argv_out, user_env_out, errstr);
      }
      return fail(errstr, 0, decision.error().message);
    }
    switch (decision->action) {
      case Action::kAllow: return finish(*decision, command_info, argv_out, user_env_out, errstr);
      case Action::kDeny: return fail(errstr, 0, deny_text(*decision));
      case Action::kRequest: return request(*decision, command_info, argv_out, user_env_out, errstr);
    }
    return fail(errstr, 0, "hoist-agent sent an unknown decision");
  }

  int list(int argc, char* const argv[], const char* list_user, const char** errstr) {
    if (!sudo_error_.empty()) return fail(errstr, -1, sudo_error_);
    auto args = read_array(argv, "argv");
    if (!args || static_cast<std::size_t>(argc) != args->size()) return fail(errstr, -1, "sudo passed a bad argv");
    auto plan = plan_list(settings_, *args);
    if (!plan) return fail(errstr, policy_return_code(plan.error().code), plan.error().message);
    const std::string other = list_user != nullptr ? list_user : "";
    if (!other.empty() && other != user_.user && user_.uid != 0) {
      return fail(errstr, 0, "only root may list what another user may run");
    }
    const bool root = user_.uid == 0;
    if (!config_error_.empty() && !root) return fail(errstr, 0, config_error_);
    if (plan->command.empty()) return list_all(other, errstr);

    auto cmd = open_command(plan->command, options_.secure_path, !root);
    if (!cmd) return fail(errstr, 0, cmd.error().message);
    if (root && other.empty()) {
      io_.info(cmd->path);
      return 1;
    }
    if (!other.empty() && other != user_.user) return fail(errstr, 0, "sudo -U with a command is not supported");
    auto target = lookup_target(settings_, user_);
    if (!target) return fail(errstr, 0, target.error().message);
    plan->argv[0] = cmd->path;
    auto context = make_context(user_, settings_, *plan, cmd->path, &*target);
    if (!context) return fail(errstr, policy_return_code(context.error().code), context.error().message);
    context->mode = ipc::RunMode::kList;
    context->noninteractive = true;
    auto client = AgentClient::connect(options_.agent_socket);
    if (!client) return agent_unreachable(client.error().message, errstr);
    auto reply = client->call(ipc::to_fields(ipc::CheckMessage{*context}), cmd->fd.get());
    if (!reply) return agent_unreachable(reply.error().message, errstr);
    auto decision = decode_decision(*reply);
    if (!decision) return fail(errstr, 0, decision.error().message);
    switch (decision->action) {
      case Action::kAllow: io_.info(cmd->path); return 1;
      case Action::kRequest:
        io_.info(cmd->path + " needs approval" + (decision->rule.empty() ? "" : " (rule \"" + decision->rule + "\")") +
                 "; run it with sudo to ask for it.");
        return 0;
      case Action::kDeny: return fail(errstr, 0, deny_text(*decision));
    }
    return 0;
  }

  int validate(const char** errstr) {
    if (!sudo_error_.empty()) return fail(errstr, -1, sudo_error_);
    if (user_.uid == 0) return 1;
    if (auto st = authenticate(true); !st) return fail(errstr, 0, st.error().message);
    return 1;
  }

  void invalidate(int /*rmcred*/) {
    if (!user_ok_) return;
    // -k and -K both drop every record of the user: nothing else is kept.
    if (auto st = TimestampStore(options_.timestamp_dir).remove_all(user_.uid); !st) {
      log_auth(LOG_INFO, "sudo -k: " + st.error().message);
    }
  }

  int init_session(passwd* pwd, char** user_env_out[], const char** errstr) {
    if (pwd == nullptr || env_out_.size() == 0) return 1;
    session_ = std::make_unique<PamSession>();
    const PamConfig config{options_.pam_service, options_.pam_confdir};
    Status st = session_->start(config, pwd->pw_name, user_.user, user_.tty, &io_);
    Result<std::vector<std::string>> env = st ? session_->open_session() : Result<std::vector<std::string>>(st.error());
    if (!env) {
      session_->end();
      if (user_.uid == 0) {  // never lock root out over a PAM session module
        log_auth(LOG_WARNING, "PAM session for root failed: " + env.error().message);
        return 1;
      }
      return fail(errstr, -1, env.error().message);
    }
    std::vector<std::string> merged = env_out_.strings();
    for (auto& entry : *env) {
      const auto eq = entry.find('=');
      if (eq == std::string::npos || eq == 0 || !valid_env_name(std::string_view(entry).substr(0, eq))) continue;
      if (entry.find("()", eq) != std::string::npos) continue;  // as env_policy: never a function definition
      const std::string prefix = entry.substr(0, eq + 1);
      const bool present = std::any_of(merged.begin(), merged.end(),
                                       [&](const std::string& m) { return m.compare(0, prefix.size(), prefix) == 0; });
      if (!present) merged.push_back(std::move(entry));
    }
    auto array = make_c_string_array(std::move(merged));
    if (!array) return fail(errstr, -1, array.error().message);
    session_env_ = std::move(*array);
    if (user_env_out != nullptr) *user_env_out = session_env_.data();
    return 1;
  }

  void close() {
    if (session_) session_->end();
  }

  SudoIo& io() { return io_; }

 private:
  void merge_option(const PluginOptions& single, std::string_view entry) {
    const auto key = entry.substr(0, entry.find('='));
    if (key == "agent_socket") options_.agent_socket = single.agent_socket;
    if (key == "break_glass_file") options_.break_glass_file = single.break_glass_file;
    if (key == "secure_path") options_.secure_path = single.secure_path;
    if (key == "pam_service") options_.pam_service = single.pam_service;
    if (key == "pam_confdir") options_.pam_confdir = single.pam_confdir;
    if (key == "timestamp_dir") options_.timestamp_dir = single.timestamp_dir;
    if (key == "spool_dir") options_.spool_dir = single.spool_dir;
  }

  // Prints `message` for the user (denials) and hands it to sudo.
  int fail(const char** errstr, int rc, std::string message) {
    errstr_ = message;
    if (errstr != nullptr) *errstr = errstr_.c_str();
    if (rc == 0) {
      io_.error(message);
    } else {
      io_.error("hoist: " + message);
    }
    return rc;
  }

  Result<ipc::DecisionMessage> decode_decision(const ipc::Fields& reply) {
    auto type = ipc::message_type(reply);
    if (type && *type == ipc::MessageType::kError) {
      auto e = ipc::error_from(reply);
      if (!e) return unavailable("hoist-agent sent a malformed error: " + e.error().message);
      return permission_denied(e->message);
    }
    auto d = ipc::decision_from(reply);
    if (!d) return unavailable("hoist-agent sent a malformed decision: " + d.error().message);
    return d;
  }

  Result<ipc::RequestStateMessage> decode_state(const ipc::Fields& reply) {
    auto type = ipc::message_type(reply);
    if (type && *type == ipc::MessageType::kError) {
      auto e = ipc::error_from(reply);
      if (!e) return unavailable("hoist-agent sent a malformed error: " + e.error().message);
      return permission_denied(e->message);
    }
    auto s = ipc::request_state_from(reply);
    if (!s) return unavailable("hoist-agent sent a malformed request state: " + s.error().message);
    return s;
  }

  Result<ipc::DecisionMessage> ask_check() {
    // An edit is decided on its files: the editor's descriptor is not sent.
    const int fd = plan_.mode == ipc::RunMode::kEdit ? -1 : command_.fd.get();
    auto reply = client_->call(ipc::to_fields(ipc::CheckMessage{context_}), fd);
    if (!reply) {
      if (reply.error().code == ErrorCode::kInvalidArgument) return unavailable(reply.error().message);
      return reply.error();
    }
    return decode_decision(*reply);
  }

  // Authenticates the invoker through PAM unless a fresh timestamp says it
  // was done within kTimestampTimeout (allow_cached). Each success renews
  // the record (unless sudo -N), as sudoers does.
  Status authenticate(bool allow_cached) {
    auto key = timestamp_key(user_);
    const TimestampStore store(options_.timestamp_dir);
    const bool cached = allow_cached && !settings_.ignore_ticket && key && store.fresh(*key);
    if (!cached) {
      if (settings_.noninteractive || user_.tty.empty()) {
        return permission_denied("a password is required; run sudo from a terminal, without -n");
      }
      const PamConfig config{options_.pam_service, options_.pam_confdir};
      if (auto st = pam_authenticate_user(config, user_.user, user_.tty, io_); !st) {
        log_auth(LOG_NOTICE, user_.user + ": " + st.error().message);
        return st;
      }
    }
    if (key && settings_.update_ticket) {
      if (auto st = store.update(*key); !st) log_auth(LOG_INFO, "timestamp not saved: " + st.error().message);
    }
    return {};
  }

  int finish(const ipc::DecisionMessage& decision, char** command_info[], char** argv_out[], char** user_env_out[],
             const char** errstr) {
    if (decision.reauthenticate) {
      if (auto st = authenticate(true); !st) return fail(errstr, 0, st.error().message);
    }
    EnvRequest env;
    env.preserve_environment = settings_.preserve_environment;
    env.invoking_user = user_.user;
    env.invoking_uid = user_.uid;
    env.invoking_gid = user_.gid;
    env.invoking_home = home_of(user_.uid);
    env.target = target_;
    if (plan_.mode == ipc::RunMode::kEdit) {
      // The editor runs as the invoker, on copies: their own HOME, USER
      // and SHELL, so it finds their settings.
      env.target = TargetUser{user_.user, user_.uid, user_.gid, "", {}, env.invoking_home, shell_of(user_.uid)};
    }
    env.command = command_.path;
    if (plan_.argv.size() > 1) env.args.assign(plan_.argv.begin() + 1, plan_.argv.end());
    env.secure_path = options_.secure_path;
    auto environment = build_environment(env, user_env_, env_add_);
    if (!environment) return fail(errstr, policy_return_code(environment.error().code), environment.error().message);
    auto spec = make_command_spec(plan_, user_, target_, command_.path);
    if (!spec) return fail(errstr, policy_return_code(spec.error().code), spec.error().message);
    if (plan_.mode != ipc::RunMode::kEdit) spec->execfd = command_.fd.get();
    spec->timeout_s = decision.timeout_s;
    // sudoedit runs the editor as the user, not root: nothing to record.
    if (decision.record_processes && plan_.mode != ipc::RunMode::kEdit) spec->recording = Recording::kIntercept;
    auto info = build_command_info(*spec, api_);
    if (!info) return fail(errstr, policy_return_code(info.error().code), info.error().message);
    auto exec = exec_argv(plan_);
    if (!exec) return fail(errstr, policy_return_code(exec.error().code), exec.error().message);
    auto exec_array = make_c_string_array(std::move(*exec));
    if (!exec_array) return fail(errstr, -1, exec_array.error().message);
    auto env_array = make_c_string_array(std::move(*environment));
    if (!env_array) return fail(errstr, -1, env_array.error().message);
    if (spec->execfd) {
      // fexecve() of a script needs the descriptor to survive the exec
      // (the interpreter opens /dev/fd/N); sudo keeps it past closefrom.
      ::fcntl(command_.fd.get(), F_SETFD, 0);
    }
    command_info_ = std::move(*info);
    argv_out_ = std::move(*exec_array);
    env_out_ = std::move(*env_array);
    *command_info = command_info_.data();
    *argv_out = argv_out_.data();
    *user_env_out = env_out_.data();
    intercepting_ = spec->recording == Recording::kIntercept;
    session_grant_ = intercepting_ ? decision.grant_id : std::string();
    // Intercept re-calls reuse the connection; otherwise do not hold one
    // open at the agent for as long as the command runs.
    if (!intercepting_) client_.reset();
    return 1;
  }

  // Agent unreachable or misconfigured plugin: break-glass or deny.
  // Break-glass only when nothing listens at the socket: a user can make
  // an agent busy or slow (and fill its connection limits), never make it
  // stop listening.
  int agent_down(const std::string& cause, char** command_info[], char** argv_out[], char** user_env_out[],
                 const char** errstr) {
    log_auth(LOG_WARNING, user_.user + " asked for " + command_.path + " but: " + cause);
    if (config_error_.empty() && agent_listening(options_.agent_socket)) {
      return fail(errstr, 0, agent_not_answering_message());
    }
    const std::string down = config_error_.empty() ? agent_unreachable_message() : config_error_;
    if (options_.break_glass_file.empty()) return fail(errstr, 0, down);
    auto groups = read_break_glass_file(options_.break_glass_file);
    if (!groups) {
      log_auth(LOG_ERR, "break-glass file ignored: " + groups.error().message);
      return fail(errstr, 0, down);
    }
    std::vector<std::uint32_t> gids = user_.groups;
    gids.push_back(user_.gid);
    if (!member_of_any(*groups, gids)) return fail(errstr, 0, down);
    if (settings_.noninteractive || user_.tty.empty()) {
      return fail(errstr, 0, down + "\nBreak-glass needs your password: run sudo from a terminal, without -n.");
    }
    io_.info("hoist-agent cannot be reached. You may use break-glass access; it is logged and reported.");
    if (auto st = authenticate(false); !st) return fail(errstr, 0, st.error().message);
    ipc::Fields event;
    event.add_uint("v", ipc::kProtocolVersion).add("type", "break_glass");
    event.add_uint("time", static_cast<std::uint64_t>(::time(nullptr))).add("host", user_.host);
    event.add("user", user_.user).add_uint("uid", user_.uid).add_uint("gid", user_.gid);
    event.add("runas_user", target_.name).add_uint("runas_uid", target_.uid);
    event.add("command", command_.path).add_all("argv", plan_.argv);
    event.add("cwd", user_.cwd).add("tty", user_.tty).add_uint("pid", static_cast<std::uint64_t>(user_.pid));
    event.add("cause", cause.substr(0, ipc::kMaxTextBytes));
    auto written = write_spool_event(options_.spool_dir, event);
    if (!written) {
      log_auth(LOG_ERR, "break-glass refused, the event could not be spooled: " + written.error().message);
      return fail(errstr, 0, "Break-glass could not be recorded (" + written.error().message + "); refused.");
    }
    log_auth(LOG_ALERT, "BREAK-GLASS: " + user_.user + " runs " + join_command(plan_.argv) + " as " + target_.name +
                            " (" + command_.path + "), event " + *written);
    ipc::DecisionMessage allow;
    allow.action = Action::kAllow;
    return finish(allow, command_info, argv_out, user_env_out, errstr);
  }

  int agent_unreachable(const std::string& cause, const char** errstr) {
    log_auth(LOG_WARNING, "sudo -l: " + cause);
    return fail(errstr, 0, agent_unreachable_message(options_.agent_socket));
  }

  int request(const ipc::DecisionMessage& decision, char** command_info[], char** argv_out[], char** user_env_out[],
              const char** errstr) {
    if (context_.noninteractive) {
      // Nobody can answer questions here: send the request (with the
      // user's HOIST_REASON, if any) and say at once how to follow it.
      std::string reason;
      for (const auto& v : user_env_) {
        if (v.name == "HOIST_REASON") reason = v.value;
      }
      auto reply = client_->call(ipc::to_fields(
          ipc::SubmitMessage{context_, noninteractive_justification(reason), decision.default_duration_s}));
      if (!reply) {
        return fail(errstr, 0,
                    noninteractive_request_text(decision, join_command(plan_.argv)) + "\n" +
                        agent_unreachable_message(options_.agent_socket) + " (the request was not sent)");
      }
      auto state = decode_state(*reply);
      if (!state) {
        return fail(errstr, 0,
                    "This command needs approval, but the request could not be sent: " + state.error().message);
      }
      if (state->contact.empty()) state->contact = decision.contact;
      log_auth(LOG_NOTICE,
               user_.user + " asked for " + command_.path + " without a terminal (request " + state->request_id + ")");
      return fail(errstr, 0, noninteractive_sent_text(*state, join_command(plan_.argv)));
    }
    if (decision.reauthenticate) {
      if (auto st = authenticate(true); !st) return fail(errstr, 0, st.error().message);
    }
    io_.info("This needs approval" + (decision.reason.empty() ? std::string(".") : ": " + decision.reason));
    io_.info(std::string(kAdminCodeHint));
    auto why = ask_justification(io_);
    if (!why) return fail(errstr, 0, why.error().message);
    if (is_code_word(*why)) return use_admin_code(command_info, argv_out, user_env_out, errstr);
    auto duration = ask_duration(io_, decision.default_duration_s, decision.max_duration_s);
    if (!duration) return fail(errstr, 0, duration.error().message);
    auto reply = client_->call(ipc::to_fields(ipc::SubmitMessage{context_, *why, *duration}));
    if (!reply)
      return fail(errstr, 0, agent_unreachable_message(options_.agent_socket) + " (the request was not sent)");
    if (auto e = ipc::error_from(*reply); e && e->code == ErrorCode::kUnavailable) {
      // hoistd is out of reach (a laptop on a plane): an admin code from
      // the help desk still works.
      io_.error(e->message + ".");
      return use_admin_code(command_info, argv_out, user_env_out, errstr);
    }
    auto state = decode_state(*reply);
    if (!state) return fail(errstr, 0, state.error().message);
    const std::string id = state->request_id;
    log_auth(LOG_NOTICE, user_.user + " asked for " + command_.path + " (request " + id + ")");
    // approval = "self" and the user in a self-approval group: they may
    // approve it here (already re-authenticated above when the rule asks
    // for it). No: the usual wait for a technician. No answer at all
    // (EOF, Ctrl-C at the prompt): nobody is there; the request is withdrawn.
    bool self_approved = false;
    if (state->state == RequestState::kPending && state->self_approval_allowed) {
      auto yes = ask_self_approval(io_);
      if (!yes) return cancel(id, errstr);
      if (*yes) {
        auto approved = client_->call(ipc::to_fields(ipc::SelfApproveMessage{id}));
        if (!approved) {
          return fail(errstr, 0,
                      "Lost contact with hoist-agent (" + approved.error().message + ").\n" + pending_text(id));
        }
        auto now = decode_state(*approved);
        if (now) {
          state = std::move(now);
          self_approved = state->state == RequestState::kApproved || state->state == RequestState::kActive;
          if (self_approved) log_auth(LOG_NOTICE, user_.user + " approved their own request " + id);
        } else {
          io_.error("You could not approve it yourself (" + now.error().message +
                    "); it waits for a technician instead.");
        }
      }
    }

    const std::uint64_t wait_s = decision.approval_wait_s == 0 ? kDefaultApprovalWaitS : decision.approval_wait_s;
    const std::int64_t deadline = monotonic_ms() + static_cast<std::int64_t>(wait_s) * 1000;
    bool drew = false;
    auto end_line = [&] {
      if (drew) io_.status_line(std::string(countdown_line(0).size(), ' '));
      if (drew) io_.status_line("");
      drew = false;
    };
    {
      SigintGuard guard;
      for (;;) {
        if (state->state == RequestState::kApproved || state->state == RequestState::kActive) break;
        if (state->state != RequestState::kPending) {
          end_line();
          return fail(errstr, 0, denied_request_text(*state, decision.contact));
        }
        const std::int64_t left = deadline - monotonic_ms();
        if (left <= 0) {
          end_line();
          return fail(errstr, 0, pending_text(id));
        }
        io_.status_line(countdown_line(static_cast<std::uint64_t>((left + 999) / 1000)));
        drew = true;
        const int turn = static_cast<int>(std::min<std::int64_t>(kWaitTurnMs, left));
        const std::int64_t started = monotonic_ms();
        auto next = client_->call(ipc::to_fields(ipc::WaitMessage{id, static_cast<std::uint64_t>(turn)}), -1, turn,
                                  &g_interrupted);
        if (g_interrupted != 0) {
          end_line();
          return cancel(id, errstr);
        }
        if (!next) {
          end_line();
          return fail(
              errstr, 0,
              "Lost contact with hoist-agent while waiting (" + next.error().message + ").\n" + pending_text(id));
        }
        state = decode_state(*next);
        if (!state) {
          end_line();
          return fail(errstr, 0, state.error().message + "\n" + pending_text(id));
        }
        // Decided: act on it at once. Still pending, the agent may have
        // answered early (a quick reply): keep to one turn a second.
        if (state->state != RequestState::kPending) continue;
        for (std::int64_t rest = turn - (monotonic_ms() - started); rest > 0 && g_interrupted == 0;
             rest = turn - (monotonic_ms() - started)) {
          ::poll(nullptr, 0, static_cast<int>(rest));
        }
        if (g_interrupted != 0) {
          end_line();
          return cancel(id, errstr);
        }
      }
    }
    end_line();
    if (self_approved) {
      io_.info("Approved by you.");
    } else {
      io_.info("Approved" + (state->reviewer.empty() ? std::string() : " by " + state->reviewer) +
               (state->comment.empty() ? std::string(".") : ": " + state->comment));
    }
    auto again = ask_check();
    if (!again) return fail(errstr, 0, again.error().message);
    if (again->action != Action::kAllow) {
      return fail(errstr, 0,
                  "The request was approved, but hoist-agent does not allow the command now: " +
                      (again->reason.empty() ? std::string("no reason given") : again->reason));
    }
    return finish(*again, command_info, argv_out, user_env_out, errstr);
  }

  // An offline admin code (docs/admin-codes.md) at the prompt: a fresh
  // challenge to read to the help desk, then the code they read back (or
  // a pre-issued one); the agent checks it for this command and grants it.
  int use_admin_code(char** command_info[], char** argv_out[], char** user_env_out[], const char** errstr) {
    auto reply = client_->call(ipc::to_fields(ipc::CodeChallengeMessage{context_.user, context_.uid}));
    if (!reply) return fail(errstr, 0, agent_unreachable_message(options_.agent_socket));
    if (auto e = ipc::error_from(*reply)) return fail(errstr, 0, "No admin code can be used here: " + e->message);
    auto challenge = ipc::challenge_from(*reply);
    if (!challenge) return fail(errstr, 0, "hoist-agent sent a malformed challenge: " + challenge.error().message);
    io_.info(admin_code_instructions(*challenge));
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto code = io_.prompt(std::string(kAdminCodePrompt), true);
      if (!code || trim(*code).empty()) return fail(errstr, 0, "No admin code was entered.");
      auto redeemed = client_->call(ipc::to_fields(ipc::CodeRedeemMessage{
          context_.user, context_.uid, context_.tty, challenge->challenge, std::string(trim(*code)), command_.path}));
      if (!redeemed) return fail(errstr, 0, agent_unreachable_message(options_.agent_socket));
      if (auto e = ipc::error_from(*redeemed)) {
        log_auth(LOG_WARNING, user_.user + ": admin code refused for " + command_.path + ": " + e->message);
        if (e->code == ErrorCode::kRateLimited || e->code == ErrorCode::kUnavailable) {
          return fail(errstr, 0, "The admin code was not accepted: " + e->message);
        }
        io_.error("Not accepted: " + e->message + ".");
        continue;
      }
      auto granted = ipc::code_grant_from(*redeemed);
      if (!granted) return fail(errstr, 0, "hoist-agent sent a malformed answer: " + granted.error().message);
      log_auth(LOG_NOTICE,
               user_.user + " used an admin code for " + command_.path + " (grant " + granted->grant_id + ")");
      io_.info(admin_code_accepted_text(*granted));
      auto again = ask_check();
      if (!again) return fail(errstr, 0, again.error().message);
      if (again->action != Action::kAllow) {
        return fail(errstr, 0,
                    "The admin code was accepted, but hoist-agent does not allow the command now: " +
                        (again->reason.empty() ? std::string("no reason given") : again->reason));
      }
      return finish(*again, command_info, argv_out, user_env_out, errstr);
    }
    return fail(errstr, 0, "The admin code was not accepted.");
  }

  int cancel(const std::string& id, const char** errstr) {
    client_.reset();  // a wait reply may still be due on that connection
    auto client = AgentClient::connect(options_.agent_socket);
    Result<ipc::Fields> reply =
        client ? client->call(ipc::to_fields(ipc::CancelMessage{id})) : Result<ipc::Fields>(client.error());
    if (reply) {
      if (auto refused = ipc::error_from(*reply)) {
        reply = Error{refused->code, refused->message};
      }
    }
    if (!reply) {
      return fail(errstr, 0,
                  "Could not withdraw request " + id + " (" + reply.error().message +
                      "); it may still be approved. Check it with \"hoist status " + id + "\".");
    }
    log_auth(LOG_NOTICE, user_.user + " cancelled request " + id);
    return fail(errstr, 0, cancelled_text(id));
  }

  int list_all(const std::string& other, const char** errstr) {
    auto client = AgentClient::connect(options_.agent_socket);
    if (!client) {
      if (user_.uid == 0) {
        io_.info("hoist-agent is not running; root may run any command.");
        return 1;
      }
      return agent_unreachable(client.error().message, errstr);
    }
    auto reply = client->call(ipc::to_fields(ipc::ListMessage{user_.user, user_.uid, user_.gid, other}));
    if (!reply) return agent_unreachable(reply.error().message, errstr);
    auto type = ipc::message_type(*reply);
    if (type && *type == ipc::MessageType::kError) {
      auto e = ipc::error_from(*reply);
      return fail(errstr, 0, e ? e->message : agent_unreachable_message(options_.agent_socket));
    }
    auto listing = ipc::listing_from(*reply);
    if (!listing) return agent_unreachable("malformed listing: " + listing.error().message, errstr);
    for (const auto& line : listing->lines) io_.info(line);
    return 1;
  }

  // A check_policy() re-entered by intercept for an execve inside a
  // recorded session: ask the agent (which records the process), never
  // prompt. sudo has changed to the process's directory for a relative path.
  int intercept_check(int argc, char* const argv[], char** command_info[], char** argv_out[], char** user_env_out[],
                      const char** errstr) {
    auto args = read_array(argv, "argv");
    if (!args || args->empty() || static_cast<std::size_t>(argc) != args->size()) {
      return fail(errstr, 0, "an intercepted command without argv");
    }
    const std::string exec_path((*args)[0]);
    std::string path = exec_path;
    char cwd[PATH_MAX];
    const bool have_cwd = ::getcwd(cwd, sizeof cwd) != nullptr;
    if (path.empty()) return fail(errstr, 0, "Hoist: an intercepted command without a path");
    if (path.front() != '/') {
      if (!have_cwd) return fail(errstr, 0, "Hoist: " + path + ": cannot tell which directory it is in");
      path = std::string(cwd) + "/" + path;
    }
    auto cmd = open_command(path, options_.secure_path, false);
    if (!cmd) return fail(errstr, 0, "Hoist: " + cmd.error().message);
    std::vector<std::string> exec_args(args->begin(), args->end());
    if (cmd->path != cmd->real_path && !cmd->link_trusted) {
      // A link under another name that the user could have made: it runs
      // as the file itself, so it cannot pick a personality a deny rule
      // forbids.
      cmd->path = cmd->real_path;
      exec_args[0] = cmd->real_path;
    }
    ipc::ExecMessage m;
    m.context = context_;
    m.context.command = cmd->path;
    m.context.argv = exec_args;
    m.context.cwd = have_cwd ? cwd : "";
    m.context.mode = ipc::RunMode::kRun;
    m.context.noninteractive = true;
    m.grant_id = session_grant_;
    if (auto caller = find_exec_caller(::getpid(), exec_path)) {
      m.pid = static_cast<std::uint32_t>(caller->pid);
      m.ppid = static_cast<std::uint32_t>(caller->ppid);
      m.exec_uid = caller->euid;
    }
    // The connection kept from the first call may have been closed by the
    // agent (idle): one more try on a fresh one.
    Result<ipc::Fields> reply = unavailable("not asked yet");
    for (int attempt = 0; attempt < 2 && !reply; ++attempt) {
      if (!client_ || !client_->connected()) {
        auto client = AgentClient::connect(options_.agent_socket);
        if (!client) return fail(errstr, 0, "Hoist: " + agent_unreachable_message(options_.agent_socket));
        client_.emplace(std::move(*client));
      }
      reply = client_->call(ipc::to_fields(m), cmd->fd.get());
      if (!reply) client_.reset();
    }
    if (!reply) return fail(errstr, 0, "Hoist: " + agent_unreachable_message(options_.agent_socket));
    auto decision = decode_decision(*reply);
    if (!decision) return fail(errstr, 0, "Hoist: " + decision.error().message);
    if (decision->action != Action::kAllow) {
      return fail(errstr, 0, "Hoist: " + cmd->path + ": " + decision->reason);
    }
    auto info = build_intercept_command_info(cmd->path);
    if (!info) return fail(errstr, -1, info.error().message);
    auto exec = make_c_string_array(std::move(exec_args));
    if (!exec) return fail(errstr, -1, exec.error().message);
    intercept_info_ = std::move(*info);
    intercept_argv_ = std::move(*exec);
    *command_info = intercept_info_.data();
    *argv_out = intercept_argv_.data();
    if (user_env_out != nullptr) *user_env_out = env_out_.data();
    return 1;
  }

  unsigned api_;
  SudoIo io_;
  SudoSettings settings_;
  UserInfo user_;
  bool user_ok_ = false;
  std::vector<EnvVar> user_env_;
  std::vector<EnvVar> env_add_;
  PluginOptions options_;
  std::string config_error_;
  // Set until open() has read sudo's arrays: every entry point refuses
  // while it is set (user_.uid reads 0 before then).
  std::string sudo_error_ = "the plugin was not initialised (this is a bug)";
  std::string errstr_;
  int check_calls_ = 0;
  bool intercepting_ = false;
  std::string session_grant_;  // the session grant a recorded run is under
  TargetUser target_;
  CommandPlan plan_;
  OpenedCommand command_;
  ipc::CommandContext context_;
  std::optional<AgentClient> client_;
  CStringArray command_info_;
  CStringArray argv_out_;
  CStringArray env_out_;
  CStringArray session_env_;
  CStringArray intercept_info_;
  CStringArray intercept_argv_;
  std::unique_ptr<PamSession> session_;
};

Plugin* g_plugin = nullptr;
// The plugin after close(): sudo still reads the vectors check_policy()
// returned once policy close() has run (sudoedit copies the edited files
// back from argv_out after the editor exits), so they live on until the
// next open() or the process ends.
Plugin* g_retired = nullptr;

const char* const kInternalError = "hoist: internal error in the sudo plugin (this is a bug)";

void report_internal(const char** errstr) {
  if (errstr != nullptr) *errstr = kInternalError;
  ::syslog(LOG_AUTHPRIV | LOG_ERR, "%s", kInternalError);
}

int plugin_open(unsigned int version, sudo_conv_t conversation, sudo_printf_t sudo_plugin_printf,
                char* const settings[], char* const user_info[], char* const user_env[], char* const plugin_options[],
                const char** errstr) {
  try {
    if (SUDO_API_VERSION_GET_MAJOR(version) != SUDO_API_VERSION_MAJOR) {
      if (errstr != nullptr) *errstr = "hoist_sudo.so needs sudo's plugin API major version 1";
      return -1;
    }
    delete g_retired;
    g_retired = nullptr;
    delete g_plugin;
    g_plugin = new Plugin(version, conversation, sudo_plugin_printf);
    g_plugin->open(settings, user_info, user_env, plugin_options);
    return 1;
  } catch (...) {
    // Still 1: a failing open() locks everyone out. Without a plugin object
    // every entry point refuses (root's too, the one case), with a message.
    delete g_plugin;
    g_plugin = nullptr;
    return 1;
  }
}

void plugin_close(int /*exit_status*/, int /*error*/) {
  try {
    if (g_plugin != nullptr) g_plugin->close();
  } catch (...) {
    report_internal(nullptr);
  }
  delete g_retired;
  g_retired = g_plugin;
  g_plugin = nullptr;
}

int plugin_show_version(int /*verbose*/) {
  try {
    if (g_plugin != nullptr) g_plugin->io().info("Hoist policy plugin version " HOIST_VERSION);
    return 1;
  } catch (...) {
    return -1;
  }
}

int plugin_check_policy(int argc, char* const argv[], char* env_add[], char** command_info[], char** argv_out[],
                        char** user_env_out[], const char** errstr) {
  try {
    if (g_plugin == nullptr) {
      report_internal(errstr);
      return -1;
    }
    return g_plugin->check_policy(argc, argv, env_add, command_info, argv_out, user_env_out, errstr);
  } catch (...) {
    report_internal(errstr);
    return -1;
  }
}

int plugin_list(int argc, char* const argv[], int /*verbose*/, const char* user, const char** errstr) {
  try {
    if (g_plugin == nullptr) {
      report_internal(errstr);
      return -1;
    }
    return g_plugin->list(argc, argv, user, errstr);
  } catch (...) {
    report_internal(errstr);
    return -1;
  }
}

int plugin_validate(const char** errstr) {
  try {
    if (g_plugin == nullptr) {
      report_internal(errstr);
      return -1;
    }
    return g_plugin->validate(errstr);
  } catch (...) {
    report_internal(errstr);
    return -1;
  }
}

void plugin_invalidate(int rmcred) {
  try {
    if (g_plugin != nullptr) g_plugin->invalidate(rmcred);
  } catch (...) {
    report_internal(nullptr);
  }
}

int plugin_init_session(struct passwd* pwd, char** user_env_out[], const char** errstr) {
  try {
    if (g_plugin == nullptr) return 1;
    return g_plugin->init_session(pwd, user_env_out, errstr);
  } catch (...) {
    report_internal(errstr);
    return -1;
  }
}

}  // namespace
}  // namespace hoist::plugin

extern "C" {
// The only exported symbol (hoist_sudo.map). Constant-initialised.
__attribute__((visibility("default"))) struct policy_plugin hoist_policy = {
    SUDO_POLICY_PLUGIN,
    SUDO_API_VERSION,
    hoist::plugin::plugin_open,
    hoist::plugin::plugin_close,
    hoist::plugin::plugin_show_version,
    hoist::plugin::plugin_check_policy,
    hoist::plugin::plugin_list,
    hoist::plugin::plugin_validate,
    hoist::plugin::plugin_invalidate,
    hoist::plugin::plugin_init_session,
    nullptr,  // register_hooks
    nullptr,  // deregister_hooks
    nullptr,  // event_alloc
};
}
