// hoist_sudo.so: the C ABI of Hoist's sudo policy plugin (sudo_plugin(5),
// `struct policy_plugin hoist_policy`), and only that: sudo's arrays are
// read into typed values (sudo_args.h), one call to Policy (policy.h)
// decides, and its Outcome goes back as sudo's arrays, out-pointers and
// return code (to_sudo, the one mapping). docs/sudo-plugin.md describes
// the plugin as built.
//
// MUST: no exception crosses the C ABI (every entry point catches
// everything). MUST: open() succeeds for configuration problems (a failing
// policy open() locks every sudo, root's included); Policy then denies
// every command except root's and break-glass. MUST: what check_policy()
// returned to sudo outlives close() (sudoedit writes the files back from
// argv_out after close). Globals: two pointers (trivial constructors, no
// destructors); the state lives from open() until the next open() or the
// end of the process.
#include <fcntl.h>
#include <pwd.h>
#include <sudo_plugin.h>
#include <syslog.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint/terminal.h"
#include "plugin/command_info.h"
#include "plugin/policy.h"
#include "plugin/sudo_args.h"

#ifndef HOIST_VERSION
#define HOIST_VERSION "0.0.0"
#endif

namespace hoist::plugin {
namespace {

using endpoint::kMaxAnswerBytes;
using endpoint::safe_for_terminal;

// sudo's conversation and printf as a Conversation.
class SudoIo final : public endpoint::Conversation {
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

// Where check_policy() and friends put their answers for sudo.
struct SudoOut {
  char*** command_info = nullptr;
  char*** argv = nullptr;
  char*** env = nullptr;
  const char** errstr = nullptr;
};

// sudo's options, each valid entry on its own when the whole line does
// not parse, so root and break-glass keep working with the admin's
// intended paths.
void read_options(char* const options[], OpenInput& in) {
  auto parsed = parse_plugin_options(options);
  if (parsed) {
    in.options = std::move(*parsed);
    return;
  }
  in.options_error = parsed.error();
  auto entries = read_array(options, "plugin options");
  if (!entries) return;
  for (auto entry : *entries) {
    std::string_view one[] = {entry};
    auto single = parse_plugin_options(one);
    if (!single) continue;
    const auto key = entry.substr(0, entry.find('='));
    if (key == "agent_socket") in.options.agent_socket = single->agent_socket;
    if (key == "break_glass_file") in.options.break_glass_file = single->break_glass_file;
    if (key == "secure_path") in.options.secure_path = single->secure_path;
    if (key == "pam_service") in.options.pam_service = single->pam_service;
    if (key == "pam_confdir") in.options.pam_confdir = single->pam_confdir;
    if (key == "timestamp_dir") in.options.timestamp_dir = single->timestamp_dir;
    if (key == "spool_dir") in.options.spool_dir = single->spool_dir;
  }
}

// One open() to the next: sudo's I/O, the policy, and the arrays handed to
// sudo (which must outlive close()).
class Plugin {
 public:
  Plugin(unsigned version, sudo_conv_t conv, sudo_printf_t printf_fn) : io_(conv, printf_fn), policy_(version, io_) {}

  void open(char* const settings[], char* const user_info[], char* const user_env[], char* const options[]) {
    OpenInput in{parse_settings(settings), parse_user_info(user_info), parse_user_env(user_env), {}, {}};
    read_options(options, in);
    policy_.open(std::move(in));
    io_.set_tty(policy_.tty());
  }

  int check_policy(int argc, char* const argv[], char* env_add[], SudoOut out) {
    auto outcome = policy_.check(read_array(argv, "argv"), argc, parse_env_add(env_add));
    // An allow always says what to run; one that does not is a bug, never
    // a command run with whatever sudo's out-pointers held.
    if (outcome.verdict == Verdict::kAllow && !outcome.launch) {
      outcome = Outcome::error("the policy allowed a command without saying how to run it (this is a bug)");
    }
    return answer(std::move(outcome), out);
  }

  int list(int argc, char* const argv[], const char* list_user, const char** errstr) {
    return answer(policy_.list(read_array(argv, "argv"), argc, list_user != nullptr ? list_user : ""),
                  SudoOut{.errstr = errstr});
  }

  int validate(const char** errstr) { return answer(policy_.validate(), SudoOut{.errstr = errstr}); }
  void invalidate() { policy_.invalidate(); }

  int init_session(passwd* pwd, char** user_env_out[], const char** errstr) {
    return answer(policy_.init_session(pwd != nullptr ? std::optional<std::string>(pwd->pw_name) : std::nullopt),
                  SudoOut{.env = user_env_out, .errstr = errstr});
  }

  void close() { policy_.close(); }
  SudoIo& io() { return io_; }

 private:
  // The Outcome in sudo's terms. A denial or an error is shown ("hoist: "
  // before an error's) and handed to sudo as errstr; an allow's arrays are
  // kept here and pointed to.
  int answer(Outcome outcome, SudoOut out) {
    if (outcome.verdict != Verdict::kAllow) {
      // No words (sudo -l CMD that needs a request, already said): sudo
      // logs its own reason.
      if (outcome.message.empty()) return to_sudo(outcome.verdict);
      errstr_ = std::move(outcome.message);
      if (out.errstr != nullptr) *out.errstr = errstr_.c_str();
      io_.error(outcome.verdict == Verdict::kDeny ? errstr_ : "hoist: " + errstr_);
      return to_sudo(outcome.verdict);
    }
    if (outcome.launch) {
      auto& launch = *outcome.launch;
      const bool intercepted = !launch.env.has_value();
      auto info = make_c_string_array(std::move(launch.command_info));
      auto argv = info ? make_c_string_array(std::move(launch.argv)) : Result<CStringArray>(info.error());
      auto env =
          argv && launch.env ? make_c_string_array(std::move(*launch.env)) : Result<CStringArray>(CStringArray());
      if (!argv || !env) return answer(Outcome::error(!argv ? argv.error().message : env.error().message), out);
      if (intercepted) {
        intercept_info_ = std::move(*info);
        intercept_argv_ = std::move(*argv);
        *out.command_info = intercept_info_.data();
        *out.argv = intercept_argv_.data();
      } else {
        command_info_ = std::move(*info);
        argv_out_ = std::move(*argv);
        env_out_ = std::move(*env);
        *out.command_info = command_info_.data();
        *out.argv = argv_out_.data();
      }
      if (out.env != nullptr) *out.env = env_out_.data();
    }
    if (outcome.env) {
      auto env = make_c_string_array(std::move(*outcome.env));
      if (!env) return answer(Outcome::error(env.error().message), out);
      session_env_ = std::move(*env);
      if (out.env != nullptr) *out.env = session_env_.data();
    }
    return to_sudo(Verdict::kAllow);
  }

  SudoIo io_;
  Policy policy_;
  std::string errstr_;
  CStringArray command_info_;
  CStringArray argv_out_;
  CStringArray env_out_;
  CStringArray session_env_;
  CStringArray intercept_info_;
  CStringArray intercept_argv_;
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
    return g_plugin->check_policy(argc, argv, env_add, SudoOut{command_info, argv_out, user_env_out, errstr});
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

void plugin_invalidate(int /*rmcred*/) {
  try {
    if (g_plugin != nullptr) g_plugin->invalidate();
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
