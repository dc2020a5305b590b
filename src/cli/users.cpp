// hoist users list / create / set: console users and their roles (admin).
#include <fmt/format.h>
#include <boost/json/value.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/password_prompt.h"
#include "cli/remote.h"
#include "cli/terminal.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

struct UserArgs {
  std::string name;
  std::string role;
  bool password_stdin = false;
  bool disable = false;
  bool enable = false;
};

int run_list(const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/users", [&](const json::value& reply) {
    Table table({"NAME", "ROLE", "CREATED", "STATE"});
    const auto& users = field_of(reply, "users");
    if (users.is_array()) {
      for (const auto& u : users.as_array()) {
        table.add_row({text_of(u, "name"), text_of(u, "role"), short_time(text_of(u, "created_at")),
                       flag_of(u, "disabled") ? "disabled" : "active"});
      }
    }
    fmt::print("{}", table.render());
  });
}

int run_create(const UserArgs& args, const Globals& globals) {
  json::object body{{"name", args.name}, {"role", args.role}};
  if (args.password_stdin) {
    auto password = read_password_from_stdin();
    if (!password) {
      return report(password.error());
    }
    body["password"] = *password;
  }
  return call_and_show(globals, "POST", "/api/v1/users", body, [&](const json::value& reply) {
    fmt::print("User {} created ({}).\n", printable(args.name), printable(text_of(reply, "role")));
    if (const auto password = text_of(reply, "password"); !password.empty()) {
      fmt::print("Password (shown only this once; give it to them over a safe channel): {}\n", printable(password));
    }
  });
}

int run_set(const UserArgs& args, const Globals& globals) {
  json::object body;
  if (!args.role.empty()) {
    body["role"] = args.role;
  }
  if (args.disable || args.enable) {
    body["disabled"] = args.disable;
  }
  if (args.password_stdin) {
    auto password = read_password_from_stdin();
    if (!password) {
      return report(password.error());
    }
    body["password"] = *password;
  }
  if (body.empty()) {
    (void)std::fputs("hoist: say what to change: --role, --disable, --enable or --password-stdin\n", stderr);
    return kExitUsage;
  }
  return call_and_show(globals, "PATCH", "/api/v1/users/" + url_encode(args.name), body, [&](const json::value& reply) {
    fmt::print("User {}: {}, {}.\n", printable(args.name), printable(text_of(reply, "role")),
               flag_of(reply, "disabled") ? "disabled (their sessions are ended)" : "active");
  });
}

}  // namespace

void add_users(CLI::App& app, Runner& run, const Globals& globals) {
  auto args = std::make_shared<UserArgs>();
  auto* users = app.add_subcommand("users", "Console users and their roles (admins)");
  users->require_subcommand(1);
  auto* list = users->add_subcommand("list", "Console users");
  list->callback([&run, &globals] { run = [&globals] { return run_list(globals); }; });

  auto* create = users->add_subcommand("create", "Create a console user (a password is made up unless given)");
  create->add_option("name", args->name, "User name")->required();
  create->add_option("--role", args->role, "admin, approver or auditor")
      ->required()
      ->check(CLI::IsMember({"admin", "approver", "auditor"}));
  create->add_flag("--password-stdin", args->password_stdin, "Read their password from the first line of stdin");
  create->callback([&run, args, &globals] { run = [args, &globals] { return run_create(*args, globals); }; });

  auto* set = users->add_subcommand("set", "Change a user's role, password, or disable them");
  set->add_option("name", args->name, "User name")->required();
  set->add_option("--role", args->role, "admin, approver or auditor")
      ->check(CLI::IsMember({"admin", "approver", "auditor"}));
  auto* disable = set->add_flag("--disable", args->disable, "Disable the account and end its sessions");
  set->add_flag("--enable", args->enable, "Enable a disabled account")->excludes(disable);
  set->add_flag("--password-stdin", args->password_stdin, "Set the password from the first line of stdin");
  set->callback([&run, args, &globals] { run = [args, &globals] { return run_set(*args, globals); }; });
}

}  // namespace hoist::cli
