// How sudo was asked to run a command, from its settings and argv, and the
// agent's view of it (ipc::CommandContext). Pure: resolving the command,
// looking up the target user and opening the executable are the caller's.
//
// MUST: every sudo option maps to a defined behaviour or a refusal that says
// what to do instead (docs/sudo-plugin.md has the table). MUST: sudoedit is
// never run as a command: `sudo -e` becomes the invoker's editor in sudo's
// sudoedit mode (resolving "sudoedit" and running it as root re-enters sudo
// without end). MUST: for sudo -i the shell is the target user's from the
// passwd database, never the invoker's $SHELL.
//
// Errors: InvalidArgument for what sudo's front end never produces (it
// refuses -i with -s or -E, -e with -E, ...) or for a command line too large
// to check; PermissionDenied for an option Hoist refuses, with a message for
// the user. verdict_for() maps them to the plugin's verdict.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ipc/messages.h"
#include "plugin/command_info.h"
#include "plugin/sudo_args.h"

namespace hoist::plugin {

// One invocation before the command is resolved.
struct CommandPlan {
  ipc::RunMode mode = ipc::RunMode::kRun;
  // What the caller resolves through the secure path (a name or an absolute
  // path): argv[0] for a command or sudo -s, the target's shell for sudo -i,
  // the editor for sudo -e; "" for sudo -l without a command and sudo -v.
  std::string command;
  // What the agent judges. sudo -s/-i: [shell] or [shell, "-c", "escaped
  // command"] as sudo's front end rewrote it (for -i with the target's shell
  // as argv[0]); sudo -e: ["sudoedit", FILE...].
  std::vector<std::string> argv;
  std::vector<std::string> editor_argv;  // sudo -e: the editor and its arguments
  std::vector<std::string> edit_files;   // sudo -e: the files, as typed
  friend bool operator==(const CommandPlan&, const CommandPlan&) = default;
};

// check_policy(): the plan for settings + argv. user_env is read only for
// sudo -e (SUDO_EDITOR, VISUAL, EDITOR); target only for sudo -i (its shell).
Result<CommandPlan> plan_check_policy(const SudoSettings& settings, std::span<const std::string_view> argv,
                                      const TargetUser& target, std::span<const EnvVar> user_env);

// list(): `sudo -l` (argv empty) or `sudo -l CMD...`.
Result<CommandPlan> plan_list(const SudoSettings& settings, std::span<const std::string_view> argv);

// validate(): `sudo -v`.
CommandPlan plan_validate();

// The editor for sudo -e: the first non-empty of SUDO_EDITOR, VISUAL and
// EDITOR split on blanks (no quoting, as sudoers does); a value with a "--"
// argument is skipped, since "--" separates the editor from the files.
// default_editor when none is usable. The editor runs as the invoking user
// on copies of the files, so the choice is the user's.
Result<std::vector<std::string>> choose_editor(std::span<const EnvVar> user_env,
                                               std::string_view default_editor = "editor");

// The agent's view. resolved_command is the absolute path found for
// plan.command (ignored, and the context's command left "", when
// plan.command is ""). noninteractive is true for -n and without a tty.
// runas_user/runas_group are the target's names as NSS gave them when
// `target` is given (the invoker's name for -g alone), else as typed.
Result<ipc::CommandContext> make_context(const UserInfo& user, const SudoSettings& settings, const CommandPlan& plan,
                                         std::string_view resolved_command, const TargetUser* target = nullptr);

// argv_out for sudo's front end: the plan's argv, except that sudo -i runs
// "-" + basename(shell) (a login shell) and sudo -e runs
// editor_argv + "--" + files. The caller has put the path the command runs
// under in argv[0] (never the name as typed: a multi-call program acts on
// it) and the edit files as sudo is to open them.
Result<std::vector<std::string>> exec_argv(const CommandPlan& plan);

// The part of command_info that follows from the plan: the resolved command,
// the target as runas (its groups too), the cwd (the invoker's; for sudo -i
// the target's home, optional as sudoers has it), the umask
// (command_umask() of the invoker's) and the sudoedit flags. The caller adds
// what the agent decided: execfd, timeout_s, recording.
Result<CommandSpec> make_command_spec(const CommandPlan& plan, const UserInfo& user, const TargetUser& target,
                                      std::string_view resolved_command);

}  // namespace hoist::plugin
