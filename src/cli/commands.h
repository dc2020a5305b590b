// Subcommands of `hoist`. Each registers itself on the CLI11 app and sets
// `run` to the code that executes it; one file per command group.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "cli/remote.h"

namespace hoist::cli {

using Runner = std::function<int()>;

// Offline, on policy files.
void add_policy_check(CLI::App& policy, Runner& run);
void add_policy_test(CLI::App& policy, Runner& run);

// Against hoistd (see cli/remote.h).
void add_login(CLI::App& app, Runner& run, const Globals& globals);             // login.cpp
void add_token(CLI::App& app, Runner& run, const Globals& globals);             // token.cpp
void add_requests(CLI::App& app, Runner& run, const Globals& globals);          // requests.cpp
void add_policy_remote(CLI::App& policy, Runner& run, const Globals& globals);  // policy_remote.cpp
void add_endpoints(CLI::App& app, Runner& run, const Globals& globals);         // endpoints.cpp
void add_audit(CLI::App& app, Runner& run, const Globals& globals);             // audit.cpp
void add_users(CLI::App& app, Runner& run, const Globals& globals);             // users.cpp
void add_codes(CLI::App& code, Runner& run, const Globals& globals);            // codes.cpp: issue, list, rotate-key
void add_notify(CLI::App& app, Runner& run, const Globals& globals);            // notify.cpp
void add_endpoint(CLI::App& app, Runner& run);  // endpoint.cpp: elevate, status (the local agent)
// endpoint.cpp: bare `hoist code` (use a code on this computer, through the
// local agent); its subcommands are add_codes'.
void add_code_use(CLI::App& code, Runner& run);

}  // namespace hoist::cli
