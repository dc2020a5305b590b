// sudo's options + argv -> the run mode, the command to resolve, argv_out
// and the agent's CommandContext; every option either maps to a defined
// behaviour or is refused with a message.
#include "plugin/run_mode.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ipc/messages.h"
#include "plugin_test_support.h"

namespace hoist::plugin {
namespace {

using testing::views;

TargetUser root_target(std::string shell = "/bin/bash") {
  TargetUser t;
  t.name = "root";
  t.home = "/root";
  t.shell = std::move(shell);
  return t;
}

SudoSettings settings(const std::vector<std::string>& entries) {
  auto s = parse_settings(views(entries));
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? *s : SudoSettings{};
}

struct PlanCase {
  std::string name{};
  std::vector<std::string> settings{};
  std::vector<std::string> argv{};
  std::string target_shell = "/bin/bash";
  std::vector<EnvVar> env{};
  // Expected on success:
  ipc::RunMode mode = ipc::RunMode::kRun;
  std::string command{};
  std::vector<std::string> agent_argv{};  // empty = the argv as given
  std::vector<std::string> exec{};        // argv_out
  // Expected on failure (code != kInternal means a failure is expected):
  ErrorCode error = ErrorCode::kInternal;
  std::string message{};
};

TEST(PlanCheckPolicy, Table) {
  const ErrorCode kInvalid = ErrorCode::kInvalidArgument;
  const ErrorCode kRefused = ErrorCode::kPermissionDenied;
  const std::vector<PlanCase> cases = {
      {.name = "a command", .argv = {"apt-get", "update"}, .command = "apt-get", .exec = {"apt-get", "update"}},
      {.name = "an absolute command with -u -g -n -k -H -C",
       .settings = {"runas_user=postgres", "runas_group=dba", "noninteractive=true", "ignore_ticket=true",
                    "set_home=true", "closefrom=10"},
       .argv = {"/usr/bin/psql", "-l"},
       .command = "/usr/bin/psql",
       .exec = {"/usr/bin/psql", "-l"}},
      {.name = "-E is the environment policy's to judge",
       .settings = {"preserve_environment=true"},
       .argv = {"make", "install"},
       .command = "make",
       .exec = {"make", "install"}},
      {.name = "-s with a command",
       .settings = {"run_shell=true"},
       .argv = {"/usr/bin/zsh", "-c", "ls\\ -l"},
       .mode = ipc::RunMode::kShell,
       .command = "/usr/bin/zsh",
       .exec = {"/usr/bin/zsh", "-c", "ls\\ -l"}},
      {.name = "-s alone",
       .settings = {"run_shell=true"},
       .argv = {"/usr/bin/zsh"},
       .mode = ipc::RunMode::kShell,
       .command = "/usr/bin/zsh",
       .exec = {"/usr/bin/zsh"}},
      {.name = "no command: the implied shell",
       .settings = {"implied_shell=true"},
       .argv = {"/bin/bash"},
       .mode = ipc::RunMode::kShell,
       .command = "/bin/bash",
       .exec = {"/bin/bash"}},
      {.name = "-i runs the target's shell, not the invoker's, as a login shell",
       .settings = {"login_shell=true"},
       .argv = {"/usr/bin/fish"},
       .target_shell = "/bin/dash",
       .mode = ipc::RunMode::kLoginShell,
       .command = "/bin/dash",
       .agent_argv = {"/bin/dash"},
       .exec = {"-dash"}},
      {.name = "-i with a command",
       .settings = {"login_shell=true"},
       .argv = {"/usr/bin/fish", "-c", "id"},
       .target_shell = "/bin/dash",
       .mode = ipc::RunMode::kLoginShell,
       .command = "/bin/dash",
       .agent_argv = {"/bin/dash", "-c", "id"},
       .exec = {"-dash", "-c", "id"}},
      {.name = "-i for a target without a shell runs /bin/sh",
       .settings = {"login_shell=true"},
       .argv = {"/bin/bash"},
       .target_shell = "",
       .mode = ipc::RunMode::kLoginShell,
       .command = "/bin/sh",
       .agent_argv = {"/bin/sh"},
       .exec = {"-sh"}},
      {.name = "-e uses the invoker's editor on copies",
       .settings = {"sudoedit=true"},
       .argv = {"sudoedit", "/etc/hosts", "/etc/motd"},
       .env = {{"EDITOR", "vim -u NONE"}},
       .mode = ipc::RunMode::kEdit,
       .command = "vim",
       .exec = {"vim", "-u", "NONE", "--", "/etc/hosts", "/etc/motd"}},
      {.name = "invoked as sudoedit",
       .settings = {"progname=sudoedit", "sudoedit=true"},
       .argv = {"sudoedit", "notes.txt"},
       .mode = ipc::RunMode::kEdit,
       .command = "editor",
       .exec = {"editor", "--", "notes.txt"}},
      // Refusals and what sudo never sends.
      {.name = "sudoedit as a command would re-enter sudo",
       .argv = {"sudoedit", "/etc/hosts"},
       .error = kRefused,
       .message = "sudo -e FILE"},
      {.name = "-P", .settings = {"preserve_groups=true"}, .argv = {"id"}, .error = kRefused, .message = "sudo -P"},
      {.name = "-R", .settings = {"cmnd_chroot=/srv"}, .argv = {"id"}, .error = kRefused, .message = "sudo -R"},
      {.name = "-D", .settings = {"cmnd_cwd=/tmp"}, .argv = {"id"}, .error = kRefused, .message = "sudo -D"},
      {.name = "-T", .settings = {"timeout=10"}, .argv = {"id"}, .error = kRefused, .message = "sudo -T"},
      {.name = "-h host", .settings = {"remote_host=db"}, .argv = {"id"}, .error = kRefused, .message = "sudo -h"},
      {.name = "-i for a target with a relative shell",
       .settings = {"login_shell=true"},
       .argv = {"/bin/bash"},
       .target_shell = "bash",
       .error = kRefused,
       .message = "not an absolute path"},
      {.name = "-e with an empty file name",
       .settings = {"sudoedit=true"},
       .argv = {"sudoedit", ""},
       .error = kRefused,
       .message = "empty file name"},
      {.name = "no argv", .error = kInvalid, .message = "no command"},
      {.name = "empty argv[0]", .argv = {""}, .error = kInvalid, .message = "no command"},
      {.name = "-i with -s",
       .settings = {"login_shell=true", "run_shell=true"},
       .argv = {"/bin/bash"},
       .error = kInvalid,
       .message = "-i and -s"},
      {.name = "-i with -E",
       .settings = {"login_shell=true", "preserve_environment=true"},
       .argv = {"/bin/bash"},
       .error = kInvalid,
       .message = "-i and -E"},
      {.name = "-e with -s",
       .settings = {"sudoedit=true", "run_shell=true"},
       .argv = {"sudoedit", "/etc/hosts"},
       .error = kInvalid,
       .message = "-e together with -s"},
      {.name = "-e with -E",
       .settings = {"sudoedit=true", "preserve_environment=true"},
       .argv = {"sudoedit", "/etc/hosts"},
       .error = kInvalid,
       .message = "-E"},
      {.name = "-e without files",
       .settings = {"sudoedit=true"},
       .argv = {"sudoedit"},
       .error = kInvalid,
       .message = "unexpected form"},
      {.name = "-e without sudoedit in argv[0]",
       .settings = {"sudoedit=true"},
       .argv = {"vim", "/etc/hosts"},
       .error = kInvalid,
       .message = "unexpected form"},
      {.name = "-s with two words",
       .settings = {"run_shell=true"},
       .argv = {"/bin/bash", "-x"},
       .error = kInvalid,
       .message = "unexpected form"},
      {.name = "-s with a first argument other than -c",
       .settings = {"run_shell=true"},
       .argv = {"/bin/bash", "-x", "id"},
       .error = kInvalid,
       .message = "unexpected form"},
      {.name = "the implied shell with a command",
       .settings = {"implied_shell=true"},
       .argv = {"/bin/bash", "-c", "id"},
       .error = kInvalid,
       .message = "implied_shell"},
      {.name = "too many arguments",
       .argv = std::vector<std::string>(5000, "x"),
       .error = kInvalid,
       .message = "more than 4096 arguments"},
      {.name = "a command line too long",
       .argv = {"echo", std::string(200 * 1024, 'x')},
       .error = kInvalid,
       .message = "longer than 128 KiB"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto s = settings(c.settings);
    const auto argv = views(c.argv);
    auto plan = plan_check_policy(s, argv, root_target(c.target_shell), c.env);
    if (c.error != ErrorCode::kInternal) {
      ASSERT_FALSE(plan.ok());
      EXPECT_EQ(plan.error().code, c.error);
      EXPECT_NE(plan.error().message.find(c.message), std::string::npos) << plan.error().message;
      continue;
    }
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    EXPECT_EQ(plan->mode, c.mode);
    EXPECT_EQ(plan->command, c.command);
    EXPECT_EQ(plan->argv, c.agent_argv.empty() ? c.argv : c.agent_argv);
    auto exec = exec_argv(*plan);
    ASSERT_TRUE(exec.ok()) << exec.error().message;
    EXPECT_EQ(*exec, c.exec);
  }
}

TEST(PlanCheckPolicy, EditKeepsEditorAndFilesApart) {
  auto plan = plan_check_policy(settings({"sudoedit=true"}), views({"sudoedit", "-x", "b c"}), root_target(),
                                std::vector<EnvVar>{{"VISUAL", "\tnano  -w "}});
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  EXPECT_EQ(plan->editor_argv, (std::vector<std::string>{"nano", "-w"}));
  EXPECT_EQ(plan->edit_files, (std::vector<std::string>{"-x", "b c"}));
  EXPECT_EQ(plan->argv, (std::vector<std::string>{"sudoedit", "-x", "b c"}));
}

TEST(ChooseEditor, Table) {
  struct Case {
    std::vector<EnvVar> env;
    std::vector<std::string> expected;
  };
  for (const auto& c : std::vector<Case>{
           {{}, {"editor"}},
           {{{"EDITOR", "vi"}}, {"vi"}},
           {{{"EDITOR", "vi"}, {"VISUAL", "emacs -nw"}}, {"emacs", "-nw"}},
           {{{"EDITOR", "vi"}, {"VISUAL", "emacs"}, {"SUDO_EDITOR", "nano"}}, {"nano"}},
           {{{"SUDO_EDITOR", ""}, {"EDITOR", "vi"}}, {"vi"}},
           {{{"SUDO_EDITOR", "  \t "}, {"EDITOR", "vi"}}, {"vi"}},
           {{{"SUDO_EDITOR", "vi -- /etc/shadow"}, {"EDITOR", "nano"}}, {"nano"}},
           {{{"EDITOR", "vi --"}}, {"editor"}},
           {{{"EDITOR", "/opt/ed/bin/ed --flag=--x"}}, {"/opt/ed/bin/ed", "--flag=--x"}},
           {{{"EDITOR", "vi"}, {"EDITOR", "nano"}}, {"vi"}},
       }) {
    auto editor = choose_editor(c.env);
    ASSERT_TRUE(editor.ok());
    EXPECT_EQ(*editor, c.expected);
  }
  auto none = choose_editor({}, "");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kPermissionDenied);
}

TEST(PlanList, WithAndWithoutCommand) {
  auto all = plan_list(SudoSettings{}, {});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->mode, ipc::RunMode::kList);
  EXPECT_EQ(all->command, "");
  EXPECT_TRUE(all->argv.empty());
  auto one = plan_list(SudoSettings{}, views({"apt-get", "update"}));
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->command, "apt-get");
  EXPECT_EQ(one->argv, (std::vector<std::string>{"apt-get", "update"}));
  EXPECT_FALSE(plan_list(SudoSettings{}, views({""})).ok());
  auto refused = plan_list(settings({"cmnd_chroot=/x"}), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  auto exec = exec_argv(*one);
  EXPECT_FALSE(exec.ok());
}

TEST(PlanValidate, RunsNothing) {
  const auto plan = plan_validate();
  EXPECT_EQ(plan.mode, ipc::RunMode::kValidate);
  EXPECT_EQ(plan.command, "");
  EXPECT_FALSE(exec_argv(plan).ok());
}

UserInfo alice(std::string tty = "/dev/pts/3") {
  auto u = parse_user_info(views({"user=alice", "uid=1000", "gid=1001", "cwd=/home/alice/src", "tty=" + tty}));
  EXPECT_TRUE(u.ok());
  return u.ok() ? *u : UserInfo{};
}

TEST(MakeContext, FillsTheAgentsView) {
  const auto s = settings({"runas_user=postgres", "runas_group=dba"});
  auto plan = plan_check_policy(s, views({"psql", "-l"}), root_target(), {});
  ASSERT_TRUE(plan.ok());
  auto c = make_context(alice(), s, *plan, "/usr/bin/psql");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ipc::CommandContext expected;
  expected.user = "alice";
  expected.uid = 1000;
  expected.gid = 1001;
  expected.runas_user = "postgres";
  expected.runas_group = "dba";
  expected.command = "/usr/bin/psql";
  expected.argv = {"psql", "-l"};
  expected.cwd = "/home/alice/src";
  expected.tty = "/dev/pts/3";
  expected.mode = ipc::RunMode::kRun;
  expected.noninteractive = false;
  EXPECT_EQ(*c, expected);
  // What the agent receives decodes to the same context.
  auto decoded = ipc::check_from(ipc::to_fields(ipc::CheckMessage{*c}));
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->context, expected);
}

TEST(MakeContext, NonInteractiveWithMinusNOrWithoutATerminal) {
  auto plan = plan_check_policy(SudoSettings{}, views({"id"}), root_target(), {});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(make_context(alice(""), SudoSettings{}, *plan, "/usr/bin/id")->noninteractive);
  EXPECT_TRUE(make_context(alice(), settings({"noninteractive=true"}), *plan, "/usr/bin/id")->noninteractive);
  EXPECT_FALSE(make_context(alice(), SudoSettings{}, *plan, "/usr/bin/id")->noninteractive);
}

TEST(MakeContext, EveryModeReachesTheAgent) {
  struct Case {
    std::vector<std::string> settings;
    std::vector<std::string> argv;
    ipc::RunMode mode;
  };
  for (const auto& c : std::vector<Case>{{{}, {"id"}, ipc::RunMode::kRun},
                                         {{"run_shell=true"}, {"/bin/sh", "-c", "id"}, ipc::RunMode::kShell},
                                         {{"login_shell=true"}, {"/bin/sh"}, ipc::RunMode::kLoginShell},
                                         {{"sudoedit=true"}, {"sudoedit", "/etc/hosts"}, ipc::RunMode::kEdit}}) {
    const auto s = settings(c.settings);
    auto plan = plan_check_policy(s, views(c.argv), root_target(), {});
    ASSERT_TRUE(plan.ok()) << plan.error().message;
    auto ctx = make_context(alice(), s, *plan, "/usr/bin/x");
    ASSERT_TRUE(ctx.ok());
    EXPECT_EQ(ctx->mode, c.mode);
    auto decoded = ipc::check_from(ipc::to_fields(ipc::CheckMessage{*ctx}));
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->context, *ctx);
  }
}

TEST(MakeContext, RefusesAResolvedCommandThatIsNotAbsolute) {
  auto plan = plan_check_policy(SudoSettings{}, views({"id"}), root_target(), {});
  ASSERT_TRUE(plan.ok());
  for (std::string_view bad : std::vector<std::string_view>{"", "id", "bin/id", std::string_view("/bin/i\0d", 8)}) {
    auto c = make_context(alice(), SudoSettings{}, *plan, bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.error().code, ErrorCode::kInternal);
  }
}

TEST(MakeContext, ListWithoutCommandLeavesTheCommandEmpty) {
  auto c = make_context(alice(), SudoSettings{}, plan_validate(), "ignored");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->command, "");
  EXPECT_EQ(c->mode, ipc::RunMode::kValidate);
}

TEST(MakeCommandSpec, FollowsThePlan) {
  auto target = root_target("/bin/dash");
  target.groups = {0, 4};
  auto u = parse_user_info(views({"user=alice", "uid=1000", "gid=1000", "cwd=/srv/app", "umask=002"}));
  ASSERT_TRUE(u.ok());

  auto run = plan_check_policy(SudoSettings{}, views({"id"}), target, {});
  ASSERT_TRUE(run.ok());
  auto spec = make_command_spec(*run, *u, target, "/usr/bin/id");
  ASSERT_TRUE(spec.ok());
  auto info = build_command_info(*spec, kSudoApi_1_21);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->strings(), (std::vector<std::string>{
                                 "command=/usr/bin/id", "runas_user=root", "runas_uid=0", "runas_gid=0", "runas_euid=0",
                                 "runas_egid=0", "runas_groups=0,4", "cwd=/srv/app", "closefrom=3", "umask=022"}));

  auto login = plan_check_policy(settings({"login_shell=true"}), views({"/bin/bash"}), target, {});
  ASSERT_TRUE(login.ok());
  spec = make_command_spec(*login, *u, target, "/usr/bin/dash");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->cwd, "/root");
  EXPECT_TRUE(spec->cwd_optional);

  auto edit = plan_check_policy(settings({"sudoedit=true"}), views({"sudoedit", "/a", "/b"}), target, {});
  ASSERT_TRUE(edit.ok());
  spec = make_command_spec(*edit, *u, target, "/usr/bin/vim.basic");
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(spec->sudoedit);
  EXPECT_EQ(spec->sudoedit_nfiles, 2u);
  EXPECT_EQ(spec->command, "/usr/bin/vim.basic");

  EXPECT_FALSE(make_command_spec(plan_validate(), *u, target, "/usr/bin/id").ok());
  EXPECT_FALSE(make_command_spec(*run, *u, target, "id").ok());
}

}  // namespace
}  // namespace hoist::plugin
