// hoist: one CLI for users and admins: offline policy tools, and the
// admin commands over hoistd's API (log in once with `hoist login`).
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace {

int run_main(int argc, char** argv) {
  CLI::App app{"hoist: just-in-time root for Linux fleets"};
  app.set_version_flag("--version", "hoist 0.1.0");
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
    (void)app.exit(e);
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
