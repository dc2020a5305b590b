// hoist policy test FILE --user U [...] -- COMMAND [ARGS...]: evaluates one
// command against a policy offline and prints the decision and the rule that
// made it, as `doas -C` and `testsudoers` do. Exit status: 0 allow, 1 deny,
// 2 request; 64/65/66 for usage errors, invalid policies, missing files.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/path.h"
#include "core/timestamp.h"
#include "platform/dpkg_database.h"
#include "platform/executable.h"
#include "platform/policy_loader.h"
#include "platform/system_time_zones.h"

namespace hoist::cli {

namespace {

struct Options {
  std::string file;
  std::string user;
  std::vector<std::string> groups;
  bool groups_given = false;
  std::vector<std::string> labels;
  std::string host;
  std::string at;
  std::string duration;
  std::vector<std::string> command;
  std::string runas;        // sudo -u ("" = root)
  std::string runas_group;  // sudo -g
  bool edit = false;        // sudo -e: `command` holds the files
  // Facts, for --no-inspect.
  bool no_inspect = false;
  std::string sha256;
  std::string package;
  std::string origin;
  std::string maintainer;
  bool unverified = false;
  bool untrusted = false;
  std::string dpkg_dir = "/var/lib/dpkg";
};

// The user's groups from NSS (files, LDAP/AD through sssd, ...), or none
// when the user is unknown here.
std::vector<std::string> system_groups(const std::string& user) {
  std::vector<std::string> out;
  std::vector<char> buf(1 << 16);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return out;
  int n = 64;
  std::vector<gid_t> gids(static_cast<std::size_t>(n));
  if (getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &n) < 0) {
    gids.resize(static_cast<std::size_t>(n));
    if (getgrouplist(user.c_str(), pw.pw_gid, gids.data(), &n) < 0) return out;
  }
  gids.resize(static_cast<std::size_t>(n));
  for (const gid_t g : gids) {
    group gr{};
    group* gfound = nullptr;
    if (getgrgid_r(g, &gr, buf.data(), buf.size(), &gfound) == 0 && gfound != nullptr) out.emplace_back(gr.gr_name);
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  return v.empty() ? std::string("none") : fmt::format("{}", fmt::join(v, ", "));
}

Result<Executable> facts_from_flags(const Options& o) {
  auto path = normalize_absolute_path(o.command.front());
  if (!path.ok())
    return invalid_argument("with --no-inspect the command must be an absolute path: " + path.error().message);
  Executable exe;
  exe.path = *path;
  exe.trusted_path = !o.untrusted;
  if (!o.sha256.empty()) {
    auto d = Sha256::from_hex(o.sha256);
    if (!d.ok()) return invalid_argument("--sha256: " + d.error().message);
    exe.sha256 = *d;
  }
  if (!o.package.empty()) exe.package = PackageFacts{o.package, o.origin, o.maintainer, !o.unverified};
  return exe;
}

// The primary group of `user` from NSS, or "" when unknown here.
std::string primary_group(const std::string& user) {
  std::vector<char> buf(1 << 16);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return "";
  group gr{};
  group* gfound = nullptr;
  if (getgrgid_r(pw.pw_gid, &gr, buf.data(), buf.size(), &gfound) != 0 || gfound == nullptr) return "";
  return gr.gr_name;
}

void print_runas(const RunAs& runas) {
  fmt::print("runs as:    {}{}\n", runas.user, runas.group.empty() ? std::string() : " (group " + runas.group + ")");
}

void print_decision(const Options& o, const Decision& d) {
  fmt::print("decision:   {}\n", to_string(d.action));
  if (d.rule != nullptr) {
    fmt::print("rule:       {} ({}:{})\n", d.rule->name, o.file, d.rule->line);
  } else if (o.edit) {
    fmt::print("rule:       none (an edit needs a rule that names the file)\n");
  } else {
    fmt::print("rule:       none (policy default)\n");
  }
  fmt::print("reason:     {}\n", d.reason);
}

// --edit: the files of `sudo -e` (sudoedit), decided on the files alone.
int run_edit_test(const Options& o, const CompiledPolicy& policy, const Subject& subject, const RunAs& runas,
                  TimePoint now, const TimeZones& zones) {
  std::vector<EditFile> files;
  char cwd[4096];
  const std::string here = ::getcwd(cwd, sizeof cwd) != nullptr ? cwd : "";
  for (const auto& name : o.command) {
    if (o.no_inspect) {
      auto path = normalize_absolute_path(name);
      if (!path.ok()) {
        fmt::print(stderr, "hoist: with --no-inspect the files must be absolute paths: {}\n", path.error().message);
        return kExitUsage;
      }
      files.push_back(EditFile{*path, !o.untrusted});
      continue;
    }
    auto file = platform::inspect_edit_file(here, name);
    if (!file.ok()) {
      fmt::print(stderr, "hoist: {} (use --no-inspect to test a file that is not on this machine)\n",
                 file.error().message);
      return exit_code_for(file.error().code);
    }
    files.push_back(std::move(*file));
  }
  const Decision d = policy.evaluate_edit(subject, files, runas, now, zones);
  for (const auto& f : files) {
    fmt::print("edit:       {} ({})\n", f.path, f.trusted ? "trusted path" : "untrusted path or a link");
  }
  print_runas(runas);
  fmt::print("user:       {} (groups: {}; labels: {}{})\n", subject.user, join(subject.groups), join(subject.labels),
             subject.host.empty() ? std::string() : "; host: " + subject.host);
  fmt::print("at:         {}\n", format_timestamp(now));
  print_decision(o, d);
  if (d.action != Action::kDeny) fmt::print("reauth:     {}\n", d.reauthenticate ? "yes" : "no");
  return exit_code_for(d.action);
}

int run_test(const Options& o) {
  const platform::SystemTimeZones zones;
  const auto loaded = platform::load_policy_file(o.file, zones);
  if (!loaded.policy) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.to_string());
    return exit_code_for(loaded.error_code);
  }
  TimePoint now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (!o.at.empty()) {
    auto t = parse_timestamp(o.at);
    if (!t.ok()) {
      fmt::print(stderr, "hoist: --at: {}\n", t.error().message);
      return kExitUsage;
    }
    now = *t;
  }
  std::optional<Seconds> duration;
  if (!o.duration.empty()) {
    auto d = parse_duration(o.duration);
    if (!d.ok()) {
      fmt::print(stderr, "hoist: --duration: {}\n", d.error().message);
      return kExitUsage;
    }
    duration = *d;
  }
  const bool fact_flags = !o.sha256.empty() || !o.package.empty() || !o.origin.empty() || !o.maintainer.empty() ||
                          o.unverified || o.untrusted;
  if (fact_flags && !o.no_inspect) {
    fmt::print(stderr,
               "hoist: --sha256, --package, --origin, --maintainer, --unverified and --untrusted describe a "
               "file that is not inspected; add --no-inspect\n");
    return kExitUsage;
  }

  Subject subject;
  subject.user = o.user;
  subject.groups = o.groups_given ? o.groups : system_groups(o.user);
  subject.labels = o.labels;
  subject.host = o.host;
  const CompiledPolicy& policy = *loaded.policy;

  CommandLine cmd;
  cmd.runas.user = !o.runas.empty() ? o.runas : o.runas_group.empty() ? std::string("root") : o.user;
  cmd.runas.group = o.runas_group;
  cmd.runas.user_group = primary_group(cmd.runas.user);
  if (o.edit) return run_edit_test(o, policy, subject, cmd.runas, now, zones);
  cmd.args.assign(o.command.begin() + 1, o.command.end());
  if (o.no_inspect) {
    auto exe = facts_from_flags(o);
    if (!exe.ok()) {
      fmt::print(stderr, "hoist: {}\n", exe.error().message);
      return kExitUsage;
    }
    cmd.exe = std::move(*exe);
  } else {
    auto resolved = platform::resolve_command(o.command.front());
    if (!resolved.ok()) {
      fmt::print(stderr, "hoist: {}\n", resolved.error().message);
      return exit_code_for(resolved.error().code);
    }
    platform::DigestCache cache;
    platform::DpkgDatabase dpkg(o.dpkg_dir, &cache);
    const platform::ExecutableInspector inspector(&dpkg, &cache);
    auto inspected = inspector.inspect(*resolved);
    if (!inspected.ok()) {
      fmt::print(stderr, "hoist: {} (use --no-inspect to test a file that is not on this machine)\n",
                 inspected.error().message);
      return exit_code_for(inspected.error().code);
    }
    cmd.exe = std::move(inspected->facts);
  }

  const Decision d = policy.evaluate(subject, cmd, now, zones);

  std::string cmdline = cmd.exe.path;
  for (const auto& a : cmd.args) cmdline += " " + a;
  fmt::print("command:    {}\n", cmdline);
  if (!cmd.exe.real_path.empty()) fmt::print("link to:    {}\n", cmd.exe.real_path);
  if (cmd.runas.user != "root" || !cmd.runas.group.empty()) print_runas(cmd.runas);
  fmt::print("executable: {}path{}", cmd.exe.trusted_path ? "trusted " : "untrusted ",
             cmd.exe.sha256 ? ", sha256 " + cmd.exe.sha256->hex() : std::string(", no sha256"));
  if (cmd.exe.package) {
    fmt::print(", package {} ({})", cmd.exe.package->name, cmd.exe.package->verified ? "verified" : "NOT verified");
  }
  fmt::print("\n");
  fmt::print("user:       {} (groups: {}; labels: {}{})\n", subject.user, join(subject.groups), join(subject.labels),
             subject.host.empty() ? std::string() : "; host: " + subject.host);
  fmt::print("at:         {}\n", format_timestamp(now));
  print_decision(o, d);
  if (d.action == Action::kRequest) {
    const Seconds asked = cap_duration(duration.value_or(d.default_duration), d.max_duration);
    std::string approval;
    switch (d.approval) {
      case ApprovalMode::kManual: approval = "manual: a technician must approve"; break;
      case ApprovalMode::kSelf:
        approval = d.self_approval_allowed ? fmt::format("self: {} may approve it (self-approval group)", o.user)
                                           : "self, but the user is in no self-approval group: a technician must "
                                             "approve";
        break;
      case ApprovalMode::kAutonomous:
        if (const AutoApproval* a = policy.find_auto_approval(subject, *d.rule, asked, now, zones)) {
          approval = fmt::format("autonomous: approved at once by \"{}\" for {}", a->name, format_duration(asked));
        } else {
          approval = fmt::format(
              "autonomous, but no auto_approval entry covers this user, time and {}: a "
              "technician must approve",
              format_duration(asked));
        }
        break;
    }
    fmt::print("approval:   {}\n", approval);
    fmt::print("duration:   {} requested, at most {}\n", format_duration(asked), format_duration(d.max_duration));
  }
  if (d.action != Action::kDeny) fmt::print("reauth:     {}\n", d.reauthenticate ? "yes" : "no");
  return exit_code_for(d.action);
}

}  // namespace

void add_policy_test(CLI::App& policy, Runner& run) {
  auto* cmd = policy.add_subcommand("test", "Evaluate a command against a policy (exit 0 allow, 1 deny, 2 request)");
  auto o = std::make_shared<Options>();
  cmd->add_option("file", o->file, "Policy file")->required();
  cmd->add_option("-u,--user", o->user, "User who runs the command")->required();
  cmd->add_option("-g,--groups", o->groups, "The user's Unix groups (default: from the system)")->delimiter(',');
  cmd->add_option("-l,--labels", o->labels, "The endpoint's labels (endpoint groups)")->delimiter(',');
  cmd->add_option("--host", o->host, "The endpoint's enrolled hostname (for rules with hosts)");
  cmd->add_option("--at", o->at, "Evaluate at this time (RFC 3339, such as 2026-11-24T09:30:00Z; default: now)");
  cmd->add_option("--duration", o->duration, "Requested duration, for request decisions (such as 30m)");
  cmd->add_flag("--no-inspect", o->no_inspect, "Do not look at the file system: facts come only from the flags");
  cmd->add_option("--sha256", o->sha256, "With --no-inspect: the file's SHA-256");
  cmd->add_option("--package", o->package, "With --no-inspect: the Debian package that owns the file");
  cmd->add_option("--origin", o->origin, "With --no-inspect: the package's Origin");
  cmd->add_option("--maintainer", o->maintainer, "With --no-inspect: the package's Maintainer");
  cmd->add_flag("--unverified", o->unverified, "With --no-inspect: the file does not match its package");
  cmd->add_flag("--untrusted", o->untrusted, "With --no-inspect: the path is writable by someone other than root");
  cmd->add_option("--dpkg-dir", o->dpkg_dir, "dpkg database to consult")->capture_default_str();
  cmd->add_option("--runas", o->runas, "Whom it runs as, as sudo -u USER (default: root)");
  cmd->add_option("--runas-group", o->runas_group, "The group it runs with, as sudo -g GROUP");
  cmd->add_flag("--edit", o->edit, "An edit, as sudo -e (sudoedit): the arguments are the files");
  cmd->add_option("command", o->command, "The command and its arguments, or the files with --edit (after --)")
      ->required();
  cmd->callback([&run, o, cmd] {
    o->groups_given = cmd->count("--groups") > 0;
    run = [o] { return run_test(*o); };
  });
}

}  // namespace hoist::cli
