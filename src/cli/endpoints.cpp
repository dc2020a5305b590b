// hoist endpoints list / show / retire, and hoist enrol-token create /
// revoke: the machines that run hoist-agent.
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

struct EndpointArgs {
  std::string id;
  std::vector<std::string> labels;
  std::string expires;
  int uses = 1;
  bool retired = false;
};

int run_list(const EndpointArgs& args, const Globals& globals) {
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto reply = call_json(**api, "GET", "/api/v1/endpoints");
  if (!reply) {
    return report(reply.error());
  }
  const auto& endpoints = field_of(*reply, "endpoints");
  if (globals.json) {
    json::array out;
    if (endpoints.is_array()) {
      for (const auto& e : endpoints.as_array()) {
        if (args.retired || text_of(e, "retired_at").empty()) {
          out.push_back(e);
        }
      }
    }
    print_json(json::object{{"endpoints", std::move(out)}});
    return kExitOk;
  }
  Table table({"ID", "HOST", "LABELS", "AGENT", "LAST SEEN", "ENROLLED", "STATE"});
  if (endpoints.is_array()) {
    for (const auto& e : endpoints.as_array()) {
      const std::string retired = text_of(e, "retired_at");
      if (!retired.empty() && !args.retired) {
        continue;
      }
      const std::string seen = text_of(e, "last_seen");
      table.add_row({text_of(e, "id"), text_of(e, "hostname"), joined_of(e, "labels"), text_of(e, "agent_version"),
                     seen.empty() ? "never" : short_time(seen), short_time(text_of(e, "enrolled_at")),
                     retired.empty() ? "enrolled" : "retired " + short_time(retired)});
    }
  }
  fmt::print("{}", table.render());
  return kExitOk;
}

int run_show(const EndpointArgs& args, const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/endpoints/" + url_encode(args.id), [&](const json::value& reply) {
    auto line = [](std::string_view label, const std::string& value) {
      if (!value.empty()) {
        fmt::print("{:<15}{}\n", label, printable(value));
      }
    };
    line("Endpoint:", text_of(reply, "id"));
    line("Host:", text_of(reply, "hostname"));
    line("Labels:", joined_of(reply, "labels"));
    line("Agent:", text_of(reply, "agent_version"));
    line("Enrolled:", short_time(text_of(reply, "enrolled_at")));
    line("Last seen:", text_of(reply, "last_seen").empty() ? "never" : short_time(text_of(reply, "last_seen")));
    line("Retired:", short_time(text_of(reply, "retired_at")));
  });
}

int run_retire(const EndpointArgs& args, const Globals& globals) {
  return call_and_show(globals, "DELETE", "/api/v1/endpoints/" + url_encode(args.id), [&](const json::value& reply) {
    fmt::print("Endpoint {} ({}) retired: its credential no longer works.\n", printable(args.id),
               printable(text_of(reply, "hostname")));
  });
}

int run_enrol_create(const EndpointArgs& args, const Globals& globals) {
  json::array labels;
  for (const auto& l : args.labels) {
    labels.emplace_back(l);
  }
  json::object body{{"labels", std::move(labels)}, {"uses", args.uses}};
  if (!args.expires.empty()) {
    auto d = parse_duration(args.expires);
    if (!d) {
      (void)std::fprintf(stderr, "hoist: --expires: %s\n", d.error().message.c_str());
      return kExitUsage;
    }
    body["expires_in_s"] = d->count();
  }
  return call_and_show(globals, "POST", "/api/v1/enrolment-tokens", body, [&](const json::value& reply) {
    // The token alone on stdout, for scripts; the rest on stderr.
    fmt::print("{}\n", printable(text_of(reply, "token")));
    (void)std::fprintf(stderr,
                       "hoist: enrolment token %s: %lld use(s), labels [%s], expires %s; shown only this once\n",
                       printable(text_of(reply, "id")).c_str(), number_of(reply, "uses"),
                       printable(joined_of(reply, "labels")).c_str(), short_time(text_of(reply, "expires_at")).c_str());
  });
}

int run_enrol_revoke(const EndpointArgs& args, const Globals& globals) {
  return call_and_show(
      globals, "DELETE", "/api/v1/enrolment-tokens/" + url_encode(args.id),
      [&](const json::value& /*reply*/) { fmt::print("Enrolment token {} revoked.\n", printable(args.id)); });
}

}  // namespace

void add_endpoints(CLI::App& app, Runner& run, const Globals& globals) {
  auto args = std::make_shared<EndpointArgs>();
  auto* endpoints = app.add_subcommand("endpoints", "Enrolled endpoints");
  endpoints->require_subcommand(1);
  auto* list = endpoints->add_subcommand("list", "Enrolled endpoints and when they were last seen");
  list->add_flag("--retired", args->retired, "Include retired endpoints");
  list->callback([&run, args, &globals] { run = [args, &globals] { return run_list(*args, globals); }; });
  auto* show = endpoints->add_subcommand("show", "One endpoint");
  show->add_option("id", args->id, "Endpoint id")->required();
  show->callback([&run, args, &globals] { run = [args, &globals] { return run_show(*args, globals); }; });
  auto* retire = endpoints->add_subcommand("retire", "Retire an endpoint: its agent credential stops working");
  retire->add_option("id", args->id, "Endpoint id")->required();
  retire->callback([&run, args, &globals] { run = [args, &globals] { return run_retire(*args, globals); }; });

  auto* enrol = app.add_subcommand("enrol-token", "Tokens that enrol new endpoints");
  enrol->require_subcommand(1);
  auto* create = enrol->add_subcommand("create", "Create an enrolment token (printed once, on stdout)");
  create->add_option("--label", args->labels, "Label for the endpoints it enrols (repeat for several)");
  create->add_option("--uses", args->uses, "How many endpoints it may enrol")->check(CLI::Range(1, 100000));
  create->add_option("--expires", args->expires, "Lifetime, such as 1h or 7d (default: the server's)");
  create->callback([&run, args, &globals] { run = [args, &globals] { return run_enrol_create(*args, globals); }; });
  auto* revoke = enrol->add_subcommand("revoke", "Revoke an enrolment token");
  revoke->add_option("id", args->id, "Enrolment token id")->required();
  revoke->callback([&run, args, &globals] { run = [args, &globals] { return run_enrol_revoke(*args, globals); }; });
}

}  // namespace hoist::cli
