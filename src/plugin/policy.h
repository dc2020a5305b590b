// What hoist_sudo.so decides, with sudo's C arrays already read into typed
// values (sudo_args.h) and its answers given back as values (Outcome):
// hoist_sudo.cpp translates on both sides and does nothing else.
//
// check(): the command is found and opened (command_file.h), the target
// looked up (accounts.h), hoist-agent asked (endpoint/agent_client.h);
// an allow becomes a Launch (command_info.h, env_policy.h), a request the
// approval flow (endpoint/approval.h), an unreachable agent break-glass or
// a denial. docs/sudo-plugin.md describes it as built.
//
// MUST: root (invoking uid 0) is never locked out: allowed without the
// agent, logged. MUST: every uncertain path denies: an unreachable agent,
// a malformed reply, a command outside the trusted tree, data from sudo
// that does not parse. MUST: the file judged is the file run (execfd of the
// descriptor sent to the agent). MUST: nothing prompts under sudo -n or
// without a tty. MUST: "sudoedit" is never resolved and run as a command,
// and an edit is decided on its files (their directories resolved, as sudo
// then opens them), never on the editor. MUST: a configuration problem
// (bad plugin options) still lets root and break-glass users elevate.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "endpoint/agent_client.h"
#include "endpoint/terminal.h"
#include "ipc/messages.h"
#include "plugin/command_file.h"
#include "plugin/pam_auth.h"
#include "plugin/run_mode.h"
#include "plugin/sudo_args.h"

namespace hoist::plugin {

// What sudo runs once check_policy() allows it.
struct Launch {
  std::vector<std::string> command_info;
  std::vector<std::string> argv;
  // The command's environment; nullopt: the one sudo already has from the
  // first check (an intercepted execve inside a recorded session).
  std::optional<std::vector<std::string>> env;
};

// The answer to one of sudo's calls.
struct Outcome {
  Verdict verdict = Verdict::kDeny;
  // Deny and error: why, for the user and for sudo's log (errstr).
  std::string message;
  std::optional<Launch> launch;                 // check(), allowed
  std::optional<std::vector<std::string>> env;  // init_session(): PAM's additions merged in

  static Outcome allow() { return Outcome{Verdict::kAllow, {}, {}, {}}; }
  static Outcome deny(std::string why) { return Outcome{Verdict::kDeny, std::move(why), {}, {}}; }
  // An Error's verdict (verdict_for) with its message.
  static Outcome from(const Error& e) { return Outcome{verdict_for(e.code), e.message, {}, {}}; }
  static Outcome error(std::string why) { return Outcome{Verdict::kError, std::move(why), {}, {}}; }
};

// What open() received, read: a field that did not parse carries its error.
struct OpenInput {
  Result<SudoSettings> settings;
  Result<UserInfo> user;
  Result<std::vector<EnvVar>> user_env;
  // The options that parsed (each valid entry on its own when the whole
  // line does not) and, when some did not, why.
  PluginOptions options;
  std::optional<Error> options_error;
};

class Policy {
 public:
  Policy(unsigned api_version, endpoint::Conversation& io) : api_(api_version), io_(io) {}

  void open(OpenInput input);
  // check_policy(): `argv` as read from sudo's array, `argc` as sudo gave
  // it (they must agree), env_add as read.
  Outcome check(const Result<std::vector<std::string_view>>& argv, int argc,
                const Result<std::vector<EnvVar>>& env_add);
  // sudo -l [CMD] (-U user): prints what it finds through the Conversation.
  Outcome list(const Result<std::vector<std::string_view>>& argv, int argc, const std::string& list_user);
  Outcome validate();
  void invalidate();
  // The PAM session for the target user (`target` from sudo's passwd;
  // nullopt: sudo has none, no session), once hoist-agent confirms that
  // the decision is recorded (check's record_after).
  Outcome init_session(const std::optional<std::string>& target);
  void close();

  // The invoker's terminal, or "".
  [[nodiscard]] const std::string& tty() const { return user_.tty; }

 private:
  Outcome check_intercepted(const Result<std::vector<std::string_view>>& argv, int argc);
  Status authenticate(bool allow_cached);
  Outcome finish(const ipc::DecisionMessage& decision);
  Outcome agent_down(const std::string& cause);
  Outcome agent_unreachable(const std::string& cause);
  Outcome request(const ipc::DecisionMessage& decision);
  Outcome request_noninteractive(const ipc::DecisionMessage& decision);
  Outcome use_admin_code();
  Outcome run_granted(const std::string& what);
  Outcome cancel(const std::string& id);
  Outcome list_all(const std::string& other);
  endpoint::Reply<ipc::DecisionMessage> ask_check();
  void start_pam(const std::string& target);
  Status await_record();

  unsigned api_;
  endpoint::Conversation& io_;
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
  int check_calls_ = 0;
  bool intercepting_ = false;
  std::string session_grant_;  // the session grant a recorded run is under
  TargetUser target_;
  CommandPlan plan_;
  OpenedCommand command_;
  ipc::CommandContext context_;
  std::optional<endpoint::AgentClient> agent_;
  std::vector<std::string> env_;  // the environment check() gave the command
  std::unique_ptr<PamSession> session_;
  std::string session_target_;  // whom session_ was started for
};

}  // namespace hoist::plugin
