// hoist requests list / show / approve / deny, and hoist grants list /
// revoke: what approvers do from a terminal.
#include <fmt/format.h>
#include <algorithm>
#include <boost/json/value.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/remote.h"
#include "cli/terminal.h"
#include "core/duration.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

struct RequestArgs {
  std::string id;
  std::string state;
  std::string user;
  std::string host;
  std::string endpoint;
  std::string duration;
  std::string comment;
  int limit = 100;
  bool all = false;
};

// argv as a person would type it: arguments with spaces or shell
// metacharacters in single quotes.
std::string command_line(const json::value& request) {
  const auto& command = field_of(request, "command");
  const auto& argv = field_of(command, "argv");
  std::string out;
  if (argv.is_array() && !argv.as_array().empty()) {
    for (const auto& a : argv.as_array()) {
      if (!a.is_string()) {
        continue;
      }
      std::string arg(a.as_string());
      if (!out.empty()) {
        out += ' ';
      }
      // Quoted too: anything beyond ASCII, so a no-break or other unusual
      // space cannot make one argument look like two.
      const bool unusual =
          std::any_of(arg.begin(), arg.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
      if (arg.empty() || unusual || arg.find_first_of(" \t\n'\"\\$`;&|<>()*?[]#~!{}") != std::string::npos) {
        std::string quoted = "'";
        for (const char c : arg) {
          quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
        }
        out += quoted + "'";
      } else {
        out += arg;
      }
    }
  }
  if (out.empty()) {
    out = text_of(command, "path");
  }
  if (out.empty() && text_of(request, "kind") == "session") {
    out = "(admin session)";
  }
  return out;
}

// Whom a command request runs as: "root", "postgres", "root (group adm)".
std::string runas_text(const json::value& request) {
  const auto& runas = field_of(field_of(request, "command"), "runas");
  std::string user = text_of(runas, "user");
  if (user.empty()) user = "root";  // a hoistd from before runas
  const std::string group = text_of(runas, "group");
  return group.empty() ? user : user + " (group " + group + ")";
}

// The time a request is about: how long it waits, or its grant's end.
std::string until_text(const json::value& r) {
  const std::string state = text_of(r, "state");
  if (state == "pending") {
    return "waits until " + short_time(text_of(r, "pending_deadline"));
  }
  if (state == "approved" || state == "active") {
    return short_duration(number_of(r, "time_left_s")) + " left";
  }
  return {};
}

void print_request(const json::value& r) {
  auto line = [](std::string_view label, const std::string& value) {
    if (!value.empty()) {
      fmt::print("{:<15}{}\n", label, printable(value));
    }
  };
  line("Request:", text_of(r, "id"));
  line("State:", text_of(r, "state"));
  line("User:", text_of(r, "requester"));
  line("Groups:", joined_of(r, "groups"));
  line("Host:", text_of(r, "host"));
  line("Kind:", text_of(r, "kind"));
  line("Command:", command_line(r));
  if (text_of(r, "kind") != "session") line("Runs as:", runas_text(r));
  line("Path:", text_of(field_of(r, "command"), "path"));
  line("SHA-256:", text_of(field_of(r, "command"), "sha256"));
  line("Package:", text_of(field_of(r, "command"), "package"));
  line("Rule:", text_of(r, "rule"));
  line("Why:", text_of(r, "justification"));
  line("Asked for:", short_duration(number_of(r, "requested_duration_s")));
  line("Approval:", text_of(r, "approval_mode"));
  line("Created:", short_time(text_of(r, "created_at")));
  if (text_of(r, "state") == "pending") {
    line("Waits until:", short_time(text_of(r, "pending_deadline")));
  }
  const auto& review = field_of(r, "review");
  if (review.is_object()) {
    line(flag_of(review, "approved") ? "Approved by:" : "Denied by:",
         fmt::format("{} ({}) at {}", text_of(review, "reviewer"), text_of(review, "by"),
                     short_time(text_of(review, "at"))));
    line("Comment:", text_of(review, "comment"));
  }
  line("Grant from:", short_time(text_of(r, "grant_start")));
  line("Grant until:", short_time(text_of(r, "grant_deadline")));
  if (text_of(r, "state") == "approved" || text_of(r, "state") == "active") {
    line("Time left:", short_duration(number_of(r, "time_left_s")));
  }
  line("Ended:", short_time(text_of(r, "ended_at")));
  line("Ended by:", text_of(r, "ended_by"));
  line("End reason:", text_of(r, "end_reason"));
}

Table request_table() {
  return Table({"ID", "STATE", "USER", "HOST", "COMMAND", "ASKED", "CREATED", "WHY", "WHEN"});
}

void add_request_row(Table& table, const json::value& r) {
  table.add_row({text_of(r, "id"), text_of(r, "state"), text_of(r, "requester"), text_of(r, "host"), command_line(r),
                 short_duration(number_of(r, "requested_duration_s")), short_time(text_of(r, "created_at")),
                 text_of(r, "justification"), until_text(r)});
}

int run_list(const RequestArgs& args, const Globals& globals) {
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  Table table = request_table();
  json::array all;
  std::string after;
  for (;;) {
    const std::string target = "/api/v1/requests" + query_string({{"state", args.state},
                                                                  {"user", args.user},
                                                                  {"host", args.host},
                                                                  {"endpoint", args.endpoint},
                                                                  {"after", after},
                                                                  {"limit", std::to_string(args.limit)}});
    auto reply = call_json(**api, "GET", target);
    if (!reply) {
      return report(reply.error());
    }
    const auto& requests = field_of(*reply, "requests");
    if (requests.is_array()) {
      for (const auto& r : requests.as_array()) {
        add_request_row(table, r);
        all.push_back(r);
      }
    }
    after = text_of(*reply, "next_after");
    if (!args.all || after.empty()) {
      if (!after.empty() && !globals.json) {
        (void)std::fprintf(stderr, "hoist: more requests follow: use --all, or narrow with --state/--user/--host\n");
      }
      break;
    }
  }
  if (globals.json) {
    print_json(json::object{{"requests", std::move(all)}});
  } else {
    fmt::print("{}", table.render());
  }
  return kExitOk;
}

int run_show(const RequestArgs& args, const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/requests/" + url_encode(args.id),
                       [&](const json::value& reply) { print_request(reply); });
}

int run_review(const RequestArgs& args, const Globals& globals, bool approve) {
  json::object body;
  if (!args.comment.empty()) {
    body["comment"] = args.comment;
  }
  if (approve && !args.duration.empty()) {
    auto d = parse_duration(args.duration);
    if (!d) {
      (void)std::fprintf(stderr, "hoist: --duration: %s\n", d.error().message.c_str());
      return kExitUsage;
    }
    body["duration_s"] = d->count();
  }
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto reply = call_json(
      **api, "POST", fmt::format("/api/v1/requests/{}/{}", url_encode(args.id), approve ? "approve" : "deny"), body);
  if (!reply) {
    return report(reply.error());
  }
  if (globals.json) {
    print_json(*reply);
  } else if (approve) {
    fmt::print("Approved {}: {} on {} may run {} as {} until {}.\n", printable(args.id),
               printable(text_of(*reply, "requester")), printable(text_of(*reply, "host")),
               printable(command_line(*reply)), printable(runas_text(*reply)),
               short_time(text_of(*reply, "grant_deadline")));
  } else {
    fmt::print("Denied {}: {} on {} is told so.\n", printable(args.id), printable(text_of(*reply, "requester")),
               printable(text_of(*reply, "host")));
  }
  return kExitOk;
}

int run_grants(const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/grants", [&](const json::value& reply) {
    Table table({"ID", "STATE", "USER", "HOST", "COMMAND", "UNTIL", "LEFT", "APPROVED BY"});
    const auto& grants = field_of(reply, "grants");
    if (grants.is_array()) {
      for (const auto& g : grants.as_array()) {
        const auto& review = field_of(g, "review");
        std::string by = text_of(review, "reviewer");
        if (text_of(review, "by") == "autonomous") {
          by = "(autonomous)";
        } else if (text_of(review, "by") == "self") {
          by += " (self)";
        }
        table.add_row({text_of(g, "id"), text_of(g, "state"), text_of(g, "requester"), text_of(g, "host"),
                       command_line(g), short_time(text_of(g, "grant_deadline")),
                       short_duration(number_of(g, "time_left_s")), by});
      }
    }
    fmt::print("{}", table.render());
  });
}

int run_revoke(const RequestArgs& args, const Globals& globals) {
  json::object body;
  if (!args.comment.empty()) {
    body["reason"] = args.comment;
  }
  return call_and_show(globals, "POST", fmt::format("/api/v1/grants/{}/revoke", url_encode(args.id)), body,
                       [&](const json::value& reply) {
                         fmt::print("Revoked {}: {} on {} loses root now.\n", printable(args.id),
                                    printable(text_of(reply, "requester")), printable(text_of(reply, "host")));
                       });
}

}  // namespace

void add_requests(CLI::App& app, Runner& run, const Globals& globals) {
  auto args = std::make_shared<RequestArgs>();
  auto* requests = app.add_subcommand("requests", "Review elevation requests");
  requests->require_subcommand(1);
  auto* list = requests->add_subcommand("list", "Requests, newest last");
  list->add_option("--state", args->state, "pending, approved, active, denied, cancelled, expired or revoked");
  list->add_option("--user", args->user, "Only this requester");
  list->add_option("--host", args->host, "Only this host");
  list->add_option("--endpoint", args->endpoint, "Only this endpoint id");
  list->add_option("--limit", args->limit, "At most this many per page")->check(CLI::Range(1, 1000));
  list->add_flag("--all", args->all, "Follow every page");
  list->callback([&run, args, &globals] { run = [args, &globals] { return run_list(*args, globals); }; });

  auto* show = requests->add_subcommand("show", "One request in full");
  show->add_option("id", args->id, "Request id")->required();
  show->callback([&run, args, &globals] { run = [args, &globals] { return run_show(*args, globals); }; });

  auto* approve = requests->add_subcommand("approve", "Approve a pending request");
  approve->add_option("id", args->id, "Request id")->required();
  approve->add_option("--duration", args->duration, "Grant for less than asked, such as 15m");
  approve->add_option("--comment", args->comment, "Why (kept in the audit trail)");
  approve->callback([&run, args, &globals] { run = [args, &globals] { return run_review(*args, globals, true); }; });

  auto* deny = requests->add_subcommand("deny", "Deny a pending request");
  deny->add_option("id", args->id, "Request id")->required();
  deny->add_option("--comment", args->comment, "Why (shown to the requester and kept in the audit trail)");
  deny->callback([&run, args, &globals] { run = [args, &globals] { return run_review(*args, globals, false); }; });

  auto* grants = app.add_subcommand("grants", "Grants in force");
  grants->require_subcommand(1);
  auto* glist = grants->add_subcommand("list", "Approved and active grants");
  glist->callback([&run, &globals] { run = [&globals] { return run_grants(globals); }; });
  auto* revoke = grants->add_subcommand("revoke", "End a grant now");
  revoke->add_option("id", args->id, "Grant (request) id")->required();
  revoke->add_option("--reason", args->comment, "Why (kept in the audit trail)");
  revoke->callback([&run, args, &globals] { run = [args, &globals] { return run_revoke(*args, globals); }; });
}

}  // namespace hoist::cli
