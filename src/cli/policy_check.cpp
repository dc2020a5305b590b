// hoist policy check FILE...: validates policy files; prints every error
// with file, line and field.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "platform/policy_loader.h"
#include "platform/system_time_zones.h"

namespace hoist::cli {

void add_policy_check(CLI::App& policy, Runner& run) {
  auto* cmd = policy.add_subcommand("check", "Validate policy files (exit 0 valid, 65 invalid, 66 unreadable)");
  auto files = std::make_shared<std::vector<std::string>>();
  auto quiet = std::make_shared<bool>(false);
  cmd->add_option("files", *files, "Policy files")->required();
  cmd->add_flag("-q,--quiet", *quiet, "Print only errors");
  cmd->callback([&run, files, quiet] {
    run = [files, quiet] {
      const platform::SystemTimeZones zones;
      int status = kExitOk;
      for (const auto& file : *files) {
        const auto loaded = platform::load_policy_file(file, zones);
        if (loaded.policy) {
          if (!*quiet) {
            const Policy& p = loaded.policy->policy();
            fmt::print("{}: ok ({} rule{}, {} auto-approval{})\n", file, p.rules.size(), p.rules.size() == 1 ? "" : "s",
                       p.auto_approvals.size(), p.auto_approvals.size() == 1 ? "" : "s");
          }
          continue;
        }
        for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.to_string());
        const int code = exit_code_for(loaded.error_code);
        if (status == kExitOk || code == kExitInvalid) status = code;
        if (loaded.error_code == ErrorCode::kInvalidArgument) {
          fmt::print(stderr, "{}: {} error{}\n", file, loaded.errors.size(), loaded.errors.size() == 1 ? "" : "s");
        }
      }
      return status;
    };
  });
}

}  // namespace hoist::cli
