// hoist token create / list / revoke: API tokens for scripts and CI.
#include <fmt/format.h>
#include <boost/json/value.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/remote.h"
#include "cli/terminal.h"
#include "core/duration.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

struct TokenArgs {
  std::string label;
  std::string expires;
  std::string id;
};

int run_create(const TokenArgs& args, const Globals& globals) {
  json::object body{{"label", args.label}};
  if (!args.expires.empty()) {
    auto d = parse_duration(args.expires);
    if (!d) {
      (void)std::fprintf(stderr, "hoist: --expires: %s\n", d.error().message.c_str());
      return kExitUsage;
    }
    body["expires_in_s"] = d->count();
  }
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto token = call_json(**api, "POST", "/api/v1/tokens", body);
  if (!token) {
    return report(token.error());
  }
  if (globals.json) {
    print_json(*token);
    return kExitOk;
  }
  // The secret alone on stdout, so TOKEN=$(hoist token create ...) works;
  // the rest for people on stderr.
  fmt::print("{}\n", printable(text_of(*token, "token")));
  (void)std::fprintf(stderr, "hoist: token %s (\"%s\") expires %s; it is shown only this once\n",
                     printable(text_of(*token, "id")).c_str(), printable(text_of(*token, "label")).c_str(),
                     short_time(text_of(*token, "expires_at")).c_str());
  return kExitOk;
}

int run_list(const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/tokens", [&](const json::value& reply) {
    Table table({"ID", "LABEL", "CREATED", "EXPIRES", "LAST USED", "STATE"});
    const auto& tokens = field_of(reply, "tokens");
    if (tokens.is_array()) {
      for (const auto& t : tokens.as_array()) {
        const std::string state = flag_of(t, "active")               ? "active"
                                  : text_of(t, "revoked_at").empty() ? "expired"
                                                                     : "revoked";
        table.add_row({text_of(t, "id"), text_of(t, "label"), short_time(text_of(t, "created_at")),
                       short_time(text_of(t, "expires_at")), short_time(text_of(t, "last_used_at")), state});
      }
    }
    fmt::print("{}", table.render());
  });
}

int run_revoke(const TokenArgs& args, const Globals& globals) {
  return call_and_show(globals, "DELETE", "/api/v1/tokens/" + url_encode(args.id),
                       [&](const json::value& /*reply*/) { fmt::print("Token {} revoked.\n", printable(args.id)); });
}

}  // namespace

void add_token(CLI::App& app, Runner& run, const Globals& globals) {
  auto args = std::make_shared<TokenArgs>();
  auto* token = app.add_subcommand("token", "API tokens for scripts and automation");
  token->require_subcommand(1);
  auto* create = token->add_subcommand("create", "Create an API token for yourself (printed once, on stdout)");
  create->add_option("--label", args->label, "What the token is for, such as \"ci\"")->required();
  create->add_option("--expires", args->expires, "Lifetime, such as 30d (default: the server's, 90 days)");
  create->callback([&run, args, &globals] { run = [args, &globals] { return run_create(*args, globals); }; });
  auto* list = token->add_subcommand("list", "Your API tokens");
  list->callback([&run, &globals] { run = [&globals] { return run_list(globals); }; });
  auto* revoke = token->add_subcommand("revoke", "Revoke an API token (yours; admins: anyone's)");
  revoke->add_option("id", args->id, "Token id (from `hoist token list`)")->required();
  revoke->callback([&run, args, &globals] { run = [args, &globals] { return run_revoke(*args, globals); }; });
}

}  // namespace hoist::cli
