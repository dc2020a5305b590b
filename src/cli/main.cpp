// hoist: one CLI for users and admins: offline policy tools, and the
// admin commands over hoistd's API (log in once with `hoist login`).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"

namespace {

// The deepest command given (the app itself when none was).
const CLI::App* deepest(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) return deepest(*sub);
  return &app;
}

// A command missing or wrong ("hoist frobnicate", "hoist policy"): say
// which, and list the right ones, rather than CLI11's "A subcommand is
// required".
bool explain_command(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* at = deepest(app);
  if (dynamic_cast<const CLI::RequiredError*>(&e) == nullptr || at->get_require_subcommand_min() == 0) return false;
  auto rest = at->remaining();
  if (rest.empty()) rest = app.remaining();  // fallthrough leaves them with the app
  if (!rest.empty() && !rest.front().empty() && rest.front()[0] == '-') return false;  // an option's error
  std::string path;
  for (const CLI::App* p = at; p != nullptr && p->get_parent() != nullptr; p = p->get_parent()) {
    path = " " + p->get_name() + path;
  }
  path = "hoist" + path;
  std::string list;
  for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
    list += (list.empty() ? "" : ", ") + sub->get_name();
  }
  if (rest.empty()) {
    (void)std::fprintf(stderr, "%s: give a command: %s\n", path.c_str(), list.c_str());
  } else {
    (void)std::fprintf(stderr, "%s: unknown command \"%s\"; the commands are: %s\n", path.c_str(),
                       hoist::cli::printable(rest.front()).c_str(), list.c_str());
  }
  (void)std::fprintf(stderr, "Run `%s --help` for more.\n", path.c_str());
  return true;
}

int run_main(int argc, char** argv) {
  CLI::App app{"hoist: just-in-time root for Linux fleets"};
  app.set_version_flag("--version", "hoist 0.1.0");
  app.footer(
      "Examples:\n"
      "  hoist login https://hoist.example:8443 --fingerprint 'SHA256 5E:01:...:85'   (as hoistd printed it)\n"
      "  hoist requests list --state pending       the requests waiting for a decision\n"
      "  hoist requests approve req-... --duration 15m --comment 'ticket 4711'\n"
      "  hoist policy check fleet.toml && hoist policy apply fleet.toml\n"
      "  hoist audit export -o audit.csv\n"
      "On an endpoint, without a login:\n"
      "  hoist elevate --reason 'patch night' --for 30m\n"
      "  hoist status                              your requests and grants on this computer\n"
      "Each command has --help; docs/cli.md has them all.");
  app.require_subcommand(1);
  app.fallthrough();
  hoist::cli::Runner run;
  hoist::cli::Globals globals;
  app.add_flag("--json", globals.json, "Print JSON for scripts instead of tables");
  hoist::cli::add_login(app, run, globals);
  hoist::cli::add_token(app, run, globals);
  CLI::App* policy = app.add_subcommand("policy", "Check and test policy files offline; manage them on hoistd");
  policy->require_subcommand(1);
  hoist::cli::add_policy_check(*policy, run);
  hoist::cli::add_policy_test(*policy, run);
  hoist::cli::add_policy_remote(*policy, run, globals);
  hoist::cli::add_requests(app, run, globals);
  hoist::cli::add_endpoints(app, run, globals);
  hoist::cli::add_audit(app, run, globals);
  hoist::cli::add_users(app, run, globals);
  hoist::cli::add_notify(app, run, globals);
  CLI::App* code =
      app.add_subcommand("code", "Offline admin codes: use one on this computer, or issue one (help desk)");
  hoist::cli::add_codes(*code, run, globals);
  hoist::cli::add_code_use(*code, run);
  hoist::cli::add_endpoint(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (!explain_command(app, e)) (void)app.exit(e);
    return hoist::cli::kExitUsage;
  }
  return run ? run() : hoist::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    (void)std::fprintf(stderr, "hoist: internal error: %s (this is a bug)\n", e.what());
  } catch (...) {
    (void)std::fputs("hoist: internal error (this is a bug)\n", stderr);
  }
  return hoist::cli::kExitInternal;
}
