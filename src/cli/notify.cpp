// hoist notify: notification channels (webhooks, Slack, Teams, email) and
// their deliveries on hoistd (docs/notifications.md, docs/cli.md). Admins
// only.
//
// MUST: a channel's secret is read from a file or the environment (never
// a flag, which other local users can see), sent once to hoistd, and never
// printed, except a webhook secret made here with --generate-secret,
// printed once on stdout for the receiver.
#include <openssl/rand.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/remote.h"
#include "cli/terminal.h"
#include "core/duration.h"
#include "core/webhook_signature.h"
#include "platform/read_file.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

struct NotifyArgs {
  std::string id;
  std::vector<std::string> ids;
  std::string name;
  std::string kind = "webhook";
  std::string url;
  std::vector<std::string> sets;  // "key=value" config fields
  std::vector<std::string> events;
  std::vector<std::string> labels;
  std::vector<std::string> rules;
  bool any_label = false;
  bool any_rule = false;
  std::string ca_file;
  std::string timeout;
  std::string secret_file;
  bool generate_secret = false;
  std::string keep_old_secret;
  bool enable = false;
  bool disable = false;
  std::string channel;
  std::string state;
  int limit = 100;
  std::string wait = "15s";
};

constexpr const char* kSecretEnv = "HOIST_CHANNEL_SECRET";
constexpr const char* kOldSecretEnv = "HOIST_WEBHOOK_SECRET";  // its first name, still read

int usage(const std::string& message) {
  (void)std::fprintf(stderr, "hoist: %s\n", message.c_str());
  return kExitUsage;
}

// The secret to send: --generate-secret (printed once), --secret-file, or
// $HOIST_WEBHOOK_SECRET; nullopt when none was asked for. `error` is set
// (and nullopt returned) when one was asked for and cannot be had.
std::optional<std::string> secret_from(const NotifyArgs& args, std::string& error, bool& generated) {
  generated = false;
  if (args.generate_secret) {
    std::vector<std::uint8_t> key(32);
    if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
      error = "no randomness for a secret (OpenSSL)";
      return std::nullopt;
    }
    generated = true;
    return webhook::format_secret(key);
  }
  if (!args.secret_file.empty()) {
    auto text = platform::read_small_file(args.secret_file, 4096);
    if (!text) {
      error = "--secret-file: " + text.error().message;
      return std::nullopt;
    }
    std::string s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
  }
  for (const char* name : {kSecretEnv, kOldSecretEnv}) {
    if (const char* env = std::getenv(name); env != nullptr && *env != '\0') {  // NOLINT(concurrency-mt-unsafe)
      return std::string(env);
    }
  }
  return std::nullopt;
}

json::array string_list(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& i : items) {
    // "--events request.*,code.issued" as well as repeated flags.
    std::size_t start = 0;
    while (start <= i.size()) {
      const auto comma = i.find(',', start);
      const auto part = i.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!part.empty()) out.emplace_back(part);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

// The config fields given on the command line ({} when none). A --set
// value that reads as JSON (a number, true, null, ["a","b"]) is sent as
// that; any other text as a string.
Result<json::object> config_from(const NotifyArgs& args) {
  json::object config;
  for (const auto& kv : args.sets) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_argument("--set takes KEY=VALUE (e.g. --set channel=C0123)");
    const std::string key = kv.substr(0, eq);
    const std::string value = kv.substr(eq + 1);
    boost::system::error_code ec;
    auto parsed = json::parse(value, ec);
    if (!ec && !parsed.is_object()) {
      config[key] = std::move(parsed);
    } else {
      config[key] = value;
    }
  }
  if (!args.url.empty()) config["url"] = args.url;
  if (!args.ca_file.empty()) config["ca_file"] = args.ca_file == "none" ? std::string() : args.ca_file;
  if (!args.timeout.empty()) {
    auto d = parse_duration(args.timeout);
    if (!d) return invalid_argument("--timeout: " + d.error().message);
    config["timeout_s"] = d->count();
  }
  return config;
}

void show_channel(const json::value& c) {
  auto line = [](std::string_view label, const std::string& value) {
    if (!value.empty()) fmt::print("{:<16}{}\n", label, printable(value));
  };
  const auto& config = field_of(c, "config");
  const auto& secret = field_of(c, "secret");
  line("Channel:", text_of(c, "id"));
  line("Name:", text_of(c, "name"));
  line("Kind:", text_of(c, "kind"));
  line("State:", flag_of(c, "enabled") ? "enabled" : "disabled");
  line("Events:", joined_of(c, "events"));
  const auto& filters = field_of(c, "filters");
  line("Labels:", joined_of(filters, "labels").empty() ? "any" : joined_of(filters, "labels"));
  line("Rules:", joined_of(filters, "rules").empty() ? "any" : joined_of(filters, "rules"));
  // The config holds no secret (hoistd keeps those apart): every field.
  if (config.is_object()) {
    for (const auto& [key, value] : config.as_object()) {
      const std::string shown = value.is_string() ? std::string(value.as_string()) : json::serialize(value);
      line(fmt::format("{}:", std::string_view(key)), shown);
    }
  }
  line("CA file:", text_of(config, "ca_file").empty() ? "(the system's CAs)" : "");
  line("Secret:", flag_of(secret, "set") ? "set (never shown)" : "none");
  line("Old secret:", text_of(secret, "previous_valid_until").empty()
                          ? ""
                          : "still signs until " + short_time(text_of(secret, "previous_valid_until")));
  line("Version:", std::to_string(number_of(c, "version")));
}

// Sends a channel's body and shows the answer; a secret made here
// (`generated`, "" for none) is shown once after it: on its own line on
// stdout for people, as "generated_secret" in the JSON for scripts. It is
// the CLI's own, never anything hoistd returned.
int send_channel(const Globals& globals, std::string_view method, const std::string& target, const json::value& body,
                 const std::string& generated) {
  auto api = connect_logged_in();
  if (!api) return report(api.error());
  auto reply = call_json(**api, method, target, body);
  if (!reply) return report(reply.error());
  if (globals.json) {
    json::value out = *reply;
    if (!generated.empty() && out.is_object()) out.as_object()["generated_secret"] = generated;
    print_json(out);
    return kExitOk;
  }
  show_channel(*reply);
  if (!generated.empty()) {
    (void)std::fprintf(stderr,
                       "hoist: the channel's signing secret, shown only this once (give it to the receiver):\n");
    fmt::print("{}\n", generated);
  }
  return kExitOk;
}

// Where a channel sends, for the list: what of its config says so
// (a webhook URL, a Slack channel, a mail server); secrets are not in it.
std::string destination(const json::value& config) {
  for (const char* key : {"url", "channel", "smtp_url"}) {
    if (auto text = text_of(config, key); !text.empty()) return text;
  }
  return "";
}

// The filters as the body sends them, given the channel's own (`current`,
// for a change): a list given replaces that list only.
json::object filters_from(const NotifyArgs& args, const json::value& current) {
  json::array labels = args.any_label ? json::array{} : string_list(args.labels);
  json::array rules = args.any_rule ? json::array{} : string_list(args.rules);
  if (args.labels.empty() && !args.any_label) {
    const auto& old = field_of(field_of(current, "filters"), "labels");
    if (old.is_array()) labels = old.as_array();
  }
  if (args.rules.empty() && !args.any_rule) {
    const auto& old = field_of(field_of(current, "filters"), "rules");
    if (old.is_array()) rules = old.as_array();
  }
  return json::object{{"labels", std::move(labels)}, {"rules", std::move(rules)}};
}

bool filters_given(const NotifyArgs& args) {
  return !args.labels.empty() || !args.rules.empty() || args.any_label || args.any_rule;
}

int run_list(const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/notify/channels", [](const json::value& reply) {
    Table table({"ID", "NAME", "KIND", "STATE", "EVENTS", "TO"});
    const auto& channels = field_of(reply, "channels");
    if (channels.is_array()) {
      for (const auto& c : channels.as_array()) {
        table.add_row({text_of(c, "id"), text_of(c, "name"), text_of(c, "kind"),
                       flag_of(c, "enabled") ? "enabled" : "disabled", joined_of(c, "events"),
                       destination(field_of(c, "config"))});
      }
    }
    fmt::print("{}", table.render());
  });
}

int run_add(const NotifyArgs& args, const Globals& globals) {
  if (args.events.empty()) return usage("notify channels add needs --events (e.g. --events 'request.*')");
  if (args.generate_secret && args.kind != "webhook") {
    return usage("--generate-secret makes a webhook's whsec_ secret; give this kind's with --secret-file");
  }
  std::string error;
  bool generated = false;
  auto secret = secret_from(args, error, generated);
  if (!error.empty()) return usage(error);
  if (!secret && args.kind == "webhook") {
    return usage(
        fmt::format("a webhook needs a signing secret: --generate-secret, --secret-file FILE or ${}", kSecretEnv));
  }
  auto config = config_from(args);
  if (!config) return usage(config.error().message);
  json::object body{{"kind", args.kind},
                    {"name", args.name},
                    {"events", string_list(args.events)},
                    {"enabled", !args.disable},
                    {"config", std::move(*config)}};
  if (filters_given(args)) body["filters"] = filters_from(args, json::value());
  if (secret) body["secret"] = *secret;
  return send_channel(globals, "POST", "/api/v1/notify/channels", body, generated ? *secret : std::string());
}

int run_show(const NotifyArgs& args, const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/notify/channels/" + url_encode(args.id), show_channel);
}

int run_set(const NotifyArgs& args, const Globals& globals) {
  if (args.enable && args.disable) return usage("--enable and --disable together");
  std::string error;
  bool generated = false;
  auto secret = secret_from(args, error, generated);
  if (!error.empty()) return usage(error);
  auto config = config_from(args);
  if (!config) return usage(config.error().message);
  json::object body;
  if (!args.name.empty()) body["name"] = args.name;
  if (!args.events.empty()) body["events"] = string_list(args.events);
  if (args.enable || args.disable) body["enabled"] = args.enable;
  if (!config->empty()) body["config"] = std::move(*config);
  if (filters_given(args)) {
    auto api = connect_logged_in();
    if (!api) return report(api.error());
    auto current = call_json(**api, "GET", "/api/v1/notify/channels/" + url_encode(args.id));
    if (!current) return report(current.error());
    body["filters"] = filters_from(args, *current);
  }
  if (secret) {
    body["secret"] = *secret;
    if (!args.keep_old_secret.empty()) {
      std::int64_t seconds = 0;
      if (args.keep_old_secret != "0") {
        auto d = parse_duration(args.keep_old_secret);
        if (!d) return usage("--keep-old-secret: " + d.error().message);
        seconds = d->count();
      }
      body["previous_secret_valid_for_s"] = seconds;
    }
  } else if (!args.keep_old_secret.empty()) {
    return usage("--keep-old-secret goes with a new secret (--generate-secret or --secret-file)");
  }
  if (body.empty()) {
    return usage("nothing to change: give --name, --events, --set, --label, --enable, ... (see --help)");
  }
  return send_channel(globals, "PATCH", "/api/v1/notify/channels/" + url_encode(args.id), body,
                      generated ? *secret : std::string());
}

int run_remove(const NotifyArgs& args, const Globals& globals) {
  return call_and_show(globals, "DELETE", "/api/v1/notify/channels/" + url_encode(args.id),
                       [&](const json::value& reply) {
                         fmt::print("Channel {} deleted ({} pending deliveries dropped).\n", printable(args.id),
                                    number_of(reply, "pending_dropped"));
                       });
}

void delivery_row(Table& table, const json::value& d) {
  const auto& event = field_of(d, "event");
  const std::string state = text_of(d, "state");
  std::string when =
      state == "pending" ? "next " + short_time(text_of(d, "next_attempt_at")) : short_time(text_of(d, "finished_at"));
  table.add_row({std::to_string(number_of(d, "id")), text_of(d, "channel"), text_of(event, "id"),
                 text_of(event, "kind"), state, std::to_string(number_of(d, "attempts")), when,
                 text_of(d, "last_error")});
}

int run_test(const NotifyArgs& args, const Globals& globals) {
  auto wait = parse_duration(args.wait);
  if (!wait) return usage("--wait: " + wait.error().message);
  auto api = connect_logged_in();
  if (!api) return report(api.error());
  auto queued = call_json(**api, "POST", "/api/v1/notify/channels/" + url_encode(args.id) + "/test");
  if (!queued) return report(queued.error());
  const auto id = number_of(*queued, "id");
  json::value last = *queued;
  const auto deadline = std::chrono::steady_clock::now() + *wait;
  while (text_of(last, "state") == "pending" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto now = call_json(**api, "GET", fmt::format("/api/v1/notify/deliveries/{}", id));
    if (!now) return report(now.error());
    last = std::move(*now);
    // A failed first attempt is enough to say what is wrong.
    if (number_of(last, "attempts") > 0 && text_of(last, "state") == "pending") break;
  }
  if (globals.json) {
    print_json(last);
  } else {
    Table table({"DELIVERY", "CHANNEL", "EVENT", "KIND", "STATE", "ATTEMPTS", "WHEN", "LAST ERROR"});
    delivery_row(table, last);
    fmt::print("{}", table.render());
  }
  const std::string state = text_of(last, "state");
  if (state == "delivered") return kExitOk;
  (void)std::fprintf(
      stderr, "hoist: the test message was %s: %s\n", state == "dead" ? "refused (dead letter)" : "not delivered yet",
      printable(text_of(last, "last_error").empty() ? "no attempt yet" : text_of(last, "last_error")).c_str());
  return state == "dead" ? kExitInvalid : kExitUnavailable;
}

int run_deliveries(const NotifyArgs& args, const Globals& globals) {
  std::vector<std::pair<std::string, std::string>> query = {
      {"channel", args.channel}, {"state", args.state}, {"limit", std::to_string(args.limit)}};
  return call_and_show(globals, "GET", "/api/v1/notify/deliveries" + query_string(query), [](const json::value& reply) {
    Table table({"DELIVERY", "CHANNEL", "EVENT", "KIND", "STATE", "ATTEMPTS", "WHEN", "LAST ERROR"});
    const auto& rows = field_of(reply, "deliveries");
    if (rows.is_array()) {
      for (const auto& d : rows.as_array()) delivery_row(table, d);
    }
    fmt::print("{}", table.render());
  });
}

int run_redrive(const NotifyArgs& args, const Globals& globals) {
  if (args.ids.empty() == args.channel.empty()) {
    return usage("notify redrive takes delivery ids, or --channel ID for all of its dead letters");
  }
  auto api = connect_logged_in();
  if (!api) return report(api.error());
  std::vector<std::string> ids = args.ids;
  if (!args.channel.empty()) {
    std::int64_t after = 0;
    for (;;) {
      auto page = call_json(**api, "GET",
                            "/api/v1/notify/deliveries" + query_string({{"channel", args.channel},
                                                                        {"state", "dead"},
                                                                        {"after", after ? std::to_string(after) : ""},
                                                                        {"limit", "500"}}));
      if (!page) return report(page.error());
      const auto& rows = field_of(*page, "deliveries");
      if (!rows.is_array() || rows.as_array().empty()) break;
      for (const auto& d : rows.as_array()) ids.push_back(std::to_string(number_of(d, "id")));
      if (field_of(*page, "next_after").is_null()) break;
      after = number_of(*page, "next_after");
    }
  }
  json::array done;
  for (const auto& id : ids) {
    auto r = call_json(**api, "POST", "/api/v1/notify/deliveries/" + url_encode(id) + "/redrive");
    if (!r) return report(r.error());
    if (!globals.json) fmt::print("Delivery {} is pending again.\n", printable(id));
    done.push_back(std::move(*r));
  }
  if (globals.json) print_json(json::object{{"redriven", std::move(done)}});
  if (!globals.json && ids.empty()) fmt::print("No dead letters to re-drive.\n");
  return kExitOk;
}

}  // namespace

void add_notify(CLI::App& app, Runner& run, const Globals& globals) {
  auto args = std::make_shared<NotifyArgs>();
  auto* notify = app.add_subcommand(
      "notify", "Notification channels (webhook, Slack, Teams, email) and their deliveries (admins)");
  notify->require_subcommand(1);
  auto* channels = notify->add_subcommand("channels", "Channels: where audit events are sent");
  channels->require_subcommand(1);

  auto* list = channels->add_subcommand("list", "Channels (never their secrets)");
  list->callback([&run, &globals] { run = [&globals] { return run_list(globals); }; });

  const auto secret_options = [&](CLI::App* cmd) {
    cmd->add_flag("--generate-secret", args->generate_secret,
                  "Webhook: make a new whsec_ signing secret here and print it once (give it to the receiver)");
    cmd->add_option("--secret-file", args->secret_file,
                    fmt::format("Read the channel's secret from this file (or set ${}): a webhook's whsec_ secret, "
                                "a Slack webhook URL or bot token, a Teams Workflows URL, an SMTP password",
                                kSecretEnv));
  };
  const auto routing_options = [&](CLI::App* cmd) {
    cmd->add_option("--label", args->labels,
                    "Only events of endpoints with one of these labels (comma-separated or repeated)");
    cmd->add_option("--rule", args->rules,
                    "Only events of requests made under one of these rules (comma-separated or repeated)");
  };
  const auto config_options = [&](CLI::App* cmd) {
    cmd->add_option("--set", args->sets,
                    "A config field KEY=VALUE of the channel's kind (repeated; VALUE as JSON when it reads as JSON, "
                    "null clears it): see docs/notifications.md");
  };
  auto* add = channels->add_subcommand("add", "Add a channel (a Standard Webhook unless --kind says otherwise)");
  add->add_option("name", args->name, "A name for people")->required();
  add->add_option("--kind", args->kind, "webhook (default), slack, teams or email")
      ->check(CLI::IsMember({"webhook", "slack", "teams", "email"}));
  add->add_option("--url", args->url, "Webhook: https://HOST[:PORT]/PATH of the receiver");
  add->add_option("--events", args->events,
                  "Audit kinds to send, comma-separated or repeated: request.created, request.*, * (docs/audit.md)")
      ->required();
  add->add_option("--ca-file", args->ca_file, "PEM CA to verify the receiver (default: the system's CAs)");
  add->add_option("--timeout", args->timeout, "Per attempt, 1s to 60s (default 10s)");
  add->add_flag("--disabled", args->disable, "Create it disabled");
  secret_options(add);
  routing_options(add);
  config_options(add);
  add->callback([&run, args, &globals] { run = [args, &globals] { return run_add(*args, globals); }; });

  auto* show = channels->add_subcommand("show", "One channel");
  show->add_option("id", args->id, "Channel id")->required();
  show->callback([&run, args, &globals] { run = [args, &globals] { return run_show(*args, globals); }; });

  auto* set = channels->add_subcommand("set", "Change a channel, or rotate its secret");
  set->add_option("id", args->id, "Channel id")->required();
  set->add_option("--name", args->name, "A new name");
  set->add_option("--url", args->url, "A new receiver URL");
  set->add_option("--events", args->events, "The new list of audit kinds");
  set->add_option("--ca-file", args->ca_file, "A new CA file (\"none\": the system's CAs)");
  set->add_option("--timeout", args->timeout, "A new timeout per attempt");
  set->add_flag("--enable", args->enable, "Send to it again");
  set->add_flag("--disable", args->disable, "Stop sending (deliveries wait until it is enabled)");
  secret_options(set);
  routing_options(set);
  config_options(set);
  set->add_flag("--any-label", args->any_label, "Drop the label filter: events of every endpoint");
  set->add_flag("--any-rule", args->any_rule, "Drop the rule filter: events of every rule");
  set->add_option("--keep-old-secret", args->keep_old_secret,
                  "With a new secret: how long the old one still signs too (default 24h; 0: not at all)");
  set->callback([&run, args, &globals] { run = [args, &globals] { return run_set(*args, globals); }; });

  auto* remove = channels->add_subcommand("remove", "Delete a channel and its deliveries");
  remove->add_option("id", args->id, "Channel id")->required();
  remove->callback([&run, args, &globals] { run = [args, &globals] { return run_remove(*args, globals); }; });

  auto* test = notify->add_subcommand("test", "Send a test message through a channel and say how it went");
  test->add_option("id", args->id, "Channel id")->required();
  test->add_option("--wait", args->wait, "How long to wait for the first attempt (default 15s)");
  test->callback([&run, args, &globals] { run = [args, &globals] { return run_test(*args, globals); }; });

  auto* deliveries = notify->add_subcommand("deliveries", "Deliveries with their state and last error");
  deliveries->add_option("--channel", args->channel, "Only this channel's");
  deliveries->add_option("--state", args->state, "pending, delivered or dead")
      ->check(CLI::IsMember({"pending", "delivered", "dead"}));
  deliveries->add_option("--limit", args->limit, "At most this many (1-1000)")->check(CLI::Range(1, 1000));
  deliveries->callback([&run, args, &globals] { run = [args, &globals] { return run_deliveries(*args, globals); }; });

  auto* redrive = notify->add_subcommand("redrive", "Send dead letters again");
  redrive->add_option("ids", args->ids, "Delivery ids");
  redrive->add_option("--channel", args->channel, "Every dead letter of this channel");
  redrive->callback([&run, args, &globals] { run = [args, &globals] { return run_redrive(*args, globals); }; });
}

}  // namespace hoist::cli
