#include "plugin/run_mode.h"

#include <exception>
#include <new>
#include <optional>
#include <utility>

namespace hoist::plugin {
namespace {

template <class T, class F>
Result<T> guarded(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return internal_error("out of memory while reading the command");
  } catch (...) {
    return internal_error("reading the command failed (this is a bug)");
  }
}

Status check_argv_size(std::span<const std::string_view> argv) {
  if (argv.size() > kMaxArrayEntries) {
    return invalid_argument("the command has more than 4096 arguments; Hoist cannot check it");
  }
  std::size_t bytes = 0;
  for (auto a : argv) bytes += a.size() + 1;
  if (bytes > kMaxArgvBytes) {
    return invalid_argument("the command line is longer than 128 KiB; Hoist cannot check it");
  }
  return {};
}

std::vector<std::string> copy(std::span<const std::string_view> argv) {
  return {argv.begin(), argv.end()};
}

// sudo -s/-i arrive as [shell] or [shell, "-c", command] (sudo's front end
// rewrote them); anything else did not come from sudo.
Status check_shell_argv(std::span<const std::string_view> argv, bool implied) {
  const bool plain = argv.size() == 1;
  const bool with_command = argv.size() == 3 && argv[1] == "-c";
  if (plain || (with_command && !implied)) return {};
  return invalid_argument(std::string("sudo passed a shell command line of an unexpected form") +
                          (implied ? " (a command with implied_shell)" : "") + " (this sudo is not supported)");
}

Result<CommandPlan> plan_check_policy_unguarded(const SudoSettings& s, std::span<const std::string_view> argv,
                                                const TargetUser& target, std::span<const EnvVar> user_env) {
  if (auto refused = refused_option(s)) return permission_denied(*refused);
  if (argv.empty() || argv[0].empty()) return invalid_argument("sudo passed no command (this sudo is not supported)");
  if (auto st = check_argv_size(argv); !st) return st.error();
  const bool shell = s.run_shell || s.implied_shell;
  if (s.login_shell && shell) return invalid_argument("sudo passed both -i and -s (sudo refuses that itself)");
  if (s.login_shell && s.preserve_environment) {
    return invalid_argument("sudo passed both -i and -E (sudo refuses that itself)");
  }

  CommandPlan plan;
  if (s.sudoedit) {
    if (shell || s.login_shell) return invalid_argument("sudo passed -e together with -s or -i");
    if (s.preserve_environment) return invalid_argument("sudo passed -e together with -E (sudo refuses that itself)");
    if (argv[0] != "sudoedit" || argv.size() < 2) {
      return invalid_argument("sudo passed an edit command line of an unexpected form (this sudo is not supported)");
    }
    for (auto file : argv.subspan(1)) {
      if (file.empty()) return permission_denied("sudo -e was given an empty file name");
    }
    auto editor = choose_editor(user_env);
    if (!editor) return editor.error();
    plan.mode = ipc::RunMode::kEdit;
    plan.command = editor->front();
    plan.argv = copy(argv);
    plan.editor_argv = std::move(*editor);
    plan.edit_files = copy(argv.subspan(1));
    return plan;
  }
  if (argv[0] == "sudoedit") {
    // Resolving it would find /usr/bin/sudoedit, and running that as root
    // re-enters sudo without end.
    return permission_denied("run sudoedit as \"sudo -e FILE\" or \"sudoedit FILE\", not as a command of sudo");
  }
  if (s.login_shell) {
    if (auto st = check_shell_argv(argv, false); !st) return st.error();
    const std::string shell_path = target.shell.empty() ? std::string("/bin/sh") : target.shell;
    if (shell_path.front() != '/') {
      return permission_denied("the login shell of " + target.name + " is not an absolute path; sudo -i cannot run it");
    }
    plan.mode = ipc::RunMode::kLoginShell;
    plan.command = shell_path;
    plan.argv = copy(argv);
    plan.argv[0] = shell_path;
    return plan;
  }
  if (shell) {
    if (auto st = check_shell_argv(argv, s.implied_shell && !s.run_shell); !st) return st.error();
    plan.mode = ipc::RunMode::kShell;
  } else {
    plan.mode = ipc::RunMode::kRun;
  }
  plan.command = std::string(argv[0]);
  plan.argv = copy(argv);
  return plan;
}

}  // namespace

Result<CommandPlan> plan_check_policy(const SudoSettings& settings, std::span<const std::string_view> argv,
                                      const TargetUser& target, std::span<const EnvVar> user_env) {
  return guarded<CommandPlan>([&] { return plan_check_policy_unguarded(settings, argv, target, user_env); });
}

Result<CommandPlan> plan_list(const SudoSettings& settings, std::span<const std::string_view> argv) {
  return guarded<CommandPlan>([&]() -> Result<CommandPlan> {
    if (auto refused = refused_option(settings)) return permission_denied(*refused);
    if (auto st = check_argv_size(argv); !st) return st.error();
    CommandPlan plan;
    plan.mode = ipc::RunMode::kList;
    if (!argv.empty()) {
      if (argv[0].empty()) return invalid_argument("sudo -l was given an empty command name");
      plan.command = std::string(argv[0]);
      plan.argv = copy(argv);
    }
    return plan;
  });
}

CommandPlan plan_validate() {
  CommandPlan plan;
  plan.mode = ipc::RunMode::kValidate;
  return plan;
}

Result<std::vector<std::string>> choose_editor(std::span<const EnvVar> user_env, std::string_view default_editor) {
  return guarded<std::vector<std::string>>([&]() -> Result<std::vector<std::string>> {
    for (std::string_view name : {"SUDO_EDITOR", "VISUAL", "EDITOR"}) {
      auto value = find_env(user_env, name);
      if (!value || value->size() > ipc::kMaxPathBytes) continue;
      std::vector<std::string> words;
      std::size_t pos = 0;
      while (pos < value->size()) {
        const std::size_t start = value->find_first_not_of(" \t", pos);
        if (start == std::string_view::npos) break;
        const std::size_t end = std::min(value->find_first_of(" \t", start), value->size());
        words.emplace_back(value->substr(start, end - start));
        pos = end;
      }
      bool usable = !words.empty() && words.size() <= 64;
      for (std::size_t i = 1; usable && i < words.size(); ++i) usable = words[i] != "--";
      if (usable) return words;
    }
    if (default_editor.empty()) return permission_denied("no editor is set; set SUDO_EDITOR, VISUAL or EDITOR");
    return std::vector<std::string>{std::string(default_editor)};
  });
}

Result<ipc::CommandContext> make_context(const UserInfo& user, const SudoSettings& settings, const CommandPlan& plan,
                                         std::string_view resolved_command, const TargetUser* target) {
  return guarded<ipc::CommandContext>([&]() -> Result<ipc::CommandContext> {
    ipc::CommandContext c;
    if (!plan.command.empty()) {
      if (resolved_command.empty() || resolved_command.front() != '/' || resolved_command.size() > ipc::kMaxPathBytes ||
          resolved_command.find('\0') != std::string_view::npos) {
        return internal_error("the resolved command is not an absolute path (this is a bug)");
      }
      c.command = std::string(resolved_command);
    }
    if (plan.argv.size() > kMaxArrayEntries) return invalid_argument("the command has more than 4096 arguments");
    c.user = user.user;
    c.uid = user.uid;
    c.gid = user.gid;
    c.runas_user = target != nullptr ? target->name : settings.runas_user;
    c.runas_group = target != nullptr ? target->group : settings.runas_group;
    c.argv = plan.argv;
    c.cwd = user.cwd;
    c.tty = user.tty;
    c.mode = plan.mode;
    c.noninteractive = settings.noninteractive || user.tty.empty();
    return c;
  });
}

Result<std::vector<std::string>> exec_argv(const CommandPlan& plan) {
  return guarded<std::vector<std::string>>([&]() -> Result<std::vector<std::string>> {
    switch (plan.mode) {
      case ipc::RunMode::kEdit: {
        if (plan.editor_argv.empty() || plan.edit_files.empty()) {
          return internal_error("an edit plan without editor or files (this is a bug)");
        }
        std::vector<std::string> out = plan.editor_argv;
        out.emplace_back("--");
        out.insert(out.end(), plan.edit_files.begin(), plan.edit_files.end());
        return out;
      }
      case ipc::RunMode::kLoginShell: {
        if (plan.argv.empty() || plan.command.empty())
          return internal_error("an empty login shell plan (this is a bug)");
        std::vector<std::string> out = plan.argv;
        const std::size_t slash = plan.command.rfind('/');
        out[0] = "-" + plan.command.substr(slash == std::string::npos ? 0 : slash + 1);
        return out;
      }
      case ipc::RunMode::kRun:
      case ipc::RunMode::kShell:
        if (plan.argv.empty()) return internal_error("a plan without argv (this is a bug)");
        return plan.argv;
      case ipc::RunMode::kList:
      case ipc::RunMode::kValidate: break;
    }
    return internal_error("sudo -l and -v run no command (this is a bug)");
  });
}

Result<CommandSpec> make_command_spec(const CommandPlan& plan, const UserInfo& user, const TargetUser& target,
                                      std::string_view resolved_command) {
  return guarded<CommandSpec>([&]() -> Result<CommandSpec> {
    if (plan.mode == ipc::RunMode::kList || plan.mode == ipc::RunMode::kValidate) {
      return internal_error("sudo -l and -v run no command (this is a bug)");
    }
    if (resolved_command.empty() || resolved_command.front() != '/') {
      return internal_error("the resolved command is not an absolute path (this is a bug)");
    }
    CommandSpec spec;
    spec.command = std::string(resolved_command);
    spec.runas = {target.name, target.uid, target.gid, target.group, target.groups};
    if (plan.mode == ipc::RunMode::kLoginShell) {
      spec.cwd = target.home.empty() ? std::string("/") : target.home;
      spec.cwd_optional = true;
    } else {
      spec.cwd = user.cwd;
    }
    spec.umask = command_umask(user.umask);
    if (plan.mode == ipc::RunMode::kEdit) {
      spec.sudoedit = true;
      spec.sudoedit_nfiles = plan.edit_files.size();
    }
    return spec;
  });
}

}  // namespace hoist::plugin
