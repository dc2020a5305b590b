// Subcommands of `hoist`. Each registers itself on the CLI11 app and sets
// `run` to the code that executes it; one file per subcommand.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace hoist::cli {

using Runner = std::function<int()>;

void add_policy_check(CLI::App& policy, Runner& run);
void add_policy_test(CLI::App& policy, Runner& run);

}  // namespace hoist::cli
