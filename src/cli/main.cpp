// hoist: one CLI for users and admins. Today: offline policy tools.
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace {

int run_main(int argc, char** argv) {
  CLI::App app{"hoist: just-in-time root for Linux fleets"};
  app.set_version_flag("--version", "hoist 0.1.0");
  app.require_subcommand(1);
  hoist::cli::Runner run;
  CLI::App* policy = app.add_subcommand("policy", "Check and test policy files offline");
  policy->require_subcommand(1);
  hoist::cli::add_policy_check(*policy, run);
  hoist::cli::add_policy_test(*policy, run);
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
