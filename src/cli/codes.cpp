// hoist code issue / list / rotate-key: the help desk's side of offline
// admin codes (docs/admin-codes.md). The code is shown once, here; hoistd
// keeps only a record of what was issued.
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

struct CodeArgs {
  std::string endpoint;
  std::string user;
  std::string duration;
  std::string challenge;
  std::string command;
  std::string reason;
  int days = 0;  // 0: the server's default (pre-issued codes only)
  int limit = 100;
};

// The id of the live endpoint named by `name`: its id, or its hostname when
// exactly one live endpoint has it.
Result<std::string> resolve_endpoint(ApiClient& api, const std::string& name) {
  auto reply = call_json(api, "GET", "/api/v1/endpoints");
  if (!reply) {
    return reply.error();
  }
  const auto& endpoints = field_of(*reply, "endpoints");
  std::vector<std::string> by_host;
  if (endpoints.is_array()) {
    for (const auto& e : endpoints.as_array()) {
      if (!text_of(e, "retired_at").empty()) {
        continue;
      }
      if (text_of(e, "id") == name) {
        return name;
      }
      if (text_of(e, "hostname") == name) {
        by_host.push_back(text_of(e, "id"));
      }
    }
  }
  if (by_host.empty()) {
    return not_found(
        fmt::format("no enrolled endpoint has the id or hostname \"{}\" (see hoist endpoints list)", printable(name)));
  }
  if (by_host.size() > 1) {
    std::string ids;
    for (const auto& id : by_host) {
      ids += ids.empty() ? id : ", " + id;
    }
    return invalid_argument(fmt::format("{} endpoints are called \"{}\": give one of their ids with --endpoint: {}",
                                        by_host.size(), printable(name), printable(ids)));
  }
  return by_host.front();
}

// What a code grants, in words.
std::string grants_text(const json::value& reply) {
  const std::string command = text_of(reply, "command");
  return fmt::format("{} for {} on {}", command.empty() ? "an admin session" : "running " + printable(command),
                     short_duration(number_of(reply, "duration_s")), printable(text_of(reply, "host")));
}

void print_issued(const json::value& reply) {
  const std::string code = text_of(reply, "code");
  const bool preissued = text_of(reply, "kind") == "preissued";
  // Spaced out, to be read aloud over the phone.
  std::string spaced;
  for (const char c : code) {
    if (!spaced.empty()) {
      spaced += c == '-' ? "   " : " ";
    }
    if (c != '-') {
      spaced += c;
    }
  }
  fmt::print("\n    {}\n\n", printable(spaced));
  fmt::print("{} for {}: {}.\n", preissued ? "Pre-issued code" : "Response", printable(text_of(reply, "user")),
             grants_text(reply));
  if (preissued) {
    fmt::print("Usable once until {} (UTC).\n", short_time(text_of(reply, "valid_until")));
  } else {
    fmt::print("Usable once, for the challenge it answers.\n");
  }
  fmt::print("Shown only this once: hoistd keeps a record (id {}), not the code.\n", number_of(reply, "id"));
}

int run_issue(const CodeArgs& args, const Globals& globals) {
  auto duration = parse_duration(args.duration);
  if (!duration) {
    (void)std::fprintf(stderr, "hoist: --for: %s\n", duration.error().message.c_str());
    return kExitUsage;
  }
  if (!args.challenge.empty() && args.days != 0) {
    (void)std::fputs("hoist: --days is for pre-issued codes; a response (--challenge) answers one challenge\n", stderr);
    return kExitUsage;
  }
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto endpoint = resolve_endpoint(**api, args.endpoint);
  if (!endpoint) {
    return report(endpoint.error());
  }
  json::object body{{"endpoint", *endpoint}, {"user", args.user}, {"duration_s", duration->count()}};
  if (!args.challenge.empty()) {
    body["challenge"] = args.challenge;
  }
  if (!args.command.empty()) {
    body["command"] = args.command;
  }
  if (args.days != 0) {
    body["days"] = args.days;
  }
  if (!args.reason.empty()) {
    body["reason"] = args.reason;
  }
  auto reply = call_json(**api, "POST", "/api/v1/codes", body);
  if (!reply) {
    return report(reply.error());
  }
  if (globals.json) {
    print_json(*reply);
  } else {
    print_issued(*reply);
  }
  return kExitOk;
}

int run_list(const CodeArgs& args, const Globals& globals) {
  std::vector<std::pair<std::string, std::string>> query;
  if (!args.endpoint.empty()) {
    query.emplace_back("endpoint", args.endpoint);
  }
  if (!args.user.empty()) {
    query.emplace_back("user", args.user);
  }
  query.emplace_back("limit", std::to_string(args.limit));
  return call_and_show(globals, "GET", "/api/v1/codes" + query_string(query), [&](const json::value& reply) {
    Table table({"ID", "ISSUED", "HOST", "USER", "GRANTS", "KIND", "BY", "STATE"});
    const auto& codes = field_of(reply, "codes");
    if (codes.is_array()) {
      for (const auto& c : codes.as_array()) {
        const std::string command = text_of(c, "command");
        const std::string grants =
            short_duration(number_of(c, "duration_s")) + " " + (command.empty() ? std::string("session") : command);
        std::string kind = text_of(c, "kind");
        if (kind == "preissued") {
          kind += " to " + short_time(text_of(c, "valid_until"));
        }
        const std::string state =
            text_of(c, "state") == "used" ? "used " + short_time(text_of(c, "used_at")) : text_of(c, "state");
        table.add_row({std::to_string(number_of(c, "id")), short_time(text_of(c, "issued_at")), text_of(c, "host"),
                       text_of(c, "user"), grants, kind, text_of(c, "issued_by"), state});
      }
    }
    fmt::print("{}", table.render());
  });
}

int run_rotate(const CodeArgs& args, const Globals& globals) {
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto endpoint = resolve_endpoint(**api, args.endpoint);
  if (!endpoint) {
    return report(endpoint.error());
  }
  auto reply = call_json(**api, "POST", fmt::format("/api/v1/endpoints/{}/codes-key/rotate", url_encode(*endpoint)),
                         json::object{});
  if (!reply) {
    return report(reply.error());
  }
  if (globals.json) {
    print_json(*reply);
  } else {
    fmt::print("The admin-code key of {} is now generation {}: codes issued before no longer fit.\n",
               printable(*endpoint), number_of(*reply, "generation"));
  }
  return kExitOk;
}

}  // namespace

void add_codes(CLI::App& code, Runner& run, const Globals& globals) {
  auto args = std::make_shared<CodeArgs>();
  auto* issue = code.add_subcommand("issue", "Issue a code for a user on an endpoint (help desk)");
  issue->add_option("--endpoint", args->endpoint, "Endpoint id or hostname")->required();
  issue->add_option("--user", args->user, "The user the code is for")->required();
  issue->add_option("--for", args->duration, "What it grants: 5m, 10m, 15m, 30m, 45m, 1h, 2h, 3h, 4h, 6h, 8h, 12h, 24h")
      ->required();
  issue->add_option("--challenge", args->challenge,
                    "The challenge the user reads out (XXXX-XXXX); without it, a "
                    "pre-issued code");
  issue->add_option("--command", args->command, "Allow only this command (absolute path) instead of a session");
  issue->add_option("--days", args->days, "Days a pre-issued code is valid from today, UTC (default 1)")
      ->check(CLI::Range(1, 31));
  issue->add_option("--reason", args->reason, "Why (kept in the audit trail)");
  issue->callback([&run, args, &globals] { run = [args, &globals] { return run_issue(*args, globals); }; });

  auto* list = code.add_subcommand("list", "Codes issued, newest first (never the codes themselves)");
  list->add_option("--endpoint", args->endpoint, "Only this endpoint id");
  list->add_option("--user", args->user, "Only this user");
  list->add_option("--limit", args->limit, "At most this many")->check(CLI::Range(1, 1000));
  list->callback([&run, args, &globals] { run = [args, &globals] { return run_list(*args, globals); }; });

  auto* rotate = code.add_subcommand("rotate-key", "Give an endpoint a new admin-code key (admin)");
  rotate->add_option("--endpoint", args->endpoint, "Endpoint id or hostname")->required();
  rotate->callback([&run, args, &globals] { run = [args, &globals] { return run_rotate(*args, globals); }; });
}

}  // namespace hoist::cli
