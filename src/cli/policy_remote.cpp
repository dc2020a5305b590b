// hoist policy list / show / history / diff / apply / assign / delete:
// policies on hoistd (`policy check` and `policy test` work on files).
#include <fmt/format.h>
#include <boost/json/value.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/remote.h"
#include "cli/terminal.h"
#include "core/text_diff.h"
#include "platform/read_file.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxPolicyFile = std::size_t{1} << 20;

struct PolicyArgs {
  std::string name;
  std::string file;
  std::string comment;
  std::vector<std::string> labels;
  int version = 0;
  int from = 0;
  int to = 0;
  bool force = false;
  bool exit_code = false;
  bool none = false;
};

// "policies/web.toml" -> "web".
std::string name_from_file(const std::string& file) {
  std::string base = file.substr(file.rfind('/') == std::string::npos ? 0 : file.rfind('/') + 1);
  if (const auto dot = base.rfind('.'); dot != std::string::npos && dot > 0) {
    base.resize(dot);
  }
  return base;
}

std::string policy_path(const std::string& name) {
  return "/api/v1/policies/" + url_encode(name);
}

// The current version and text of a policy; version 0 and "" when it does
// not exist or was deleted.
Result<std::pair<int, std::string>> current_text(ApiClient& api, const std::string& name) {
  auto reply = call_json(api, "GET", policy_path(name));
  if (!reply) {
    if (reply.error().code == ErrorCode::kNotFound) {
      return std::pair<int, std::string>{0, ""};
    }
    return reply.error();
  }
  if (!text_of(*reply, "deleted_at").empty()) {
    return std::pair<int, std::string>{0, ""};
  }
  const auto& current = field_of(*reply, "current");
  return std::pair<int, std::string>{static_cast<int>(number_of(*reply, "current_version")), text_of(current, "text")};
}

int run_list(const Globals& globals) {
  return call_and_show(globals, "GET", "/api/v1/policies", [&](const json::value& reply) {
    Table table({"NAME", "VERSION", "GROUPS (LABELS)", "STATE"});
    const auto& policies = field_of(reply, "policies");
    if (policies.is_array()) {
      for (const auto& p : policies.as_array()) {
        const std::string deleted = text_of(p, "deleted_at");
        table.add_row({text_of(p, "name"), std::to_string(number_of(p, "current_version")), joined_of(p, "labels"),
                       deleted.empty() ? "live" : "deleted " + short_time(deleted)});
      }
    }
    fmt::print("{}", table.render());
  });
}

int run_show(const PolicyArgs& args, const Globals& globals) {
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  const std::string target =
      args.version > 0 ? fmt::format("{}/versions/{}", policy_path(args.name), args.version) : policy_path(args.name);
  auto reply = call_json(**api, "GET", target);
  if (!reply) {
    return report(reply.error());
  }
  if (globals.json) {
    print_json(*reply);
    return kExitOk;
  }
  if (args.version == 0 && !text_of(*reply, "deleted_at").empty()) {
    (void)std::fprintf(stderr, "hoist: policy %s was deleted %s; `hoist policy history %s` lists its versions\n",
                       printable(args.name).c_str(), short_time(text_of(*reply, "deleted_at")).c_str(),
                       printable(args.name).c_str());
    return kExitNotFound;
  }
  // The TOML itself on stdout (so it can be saved and applied again); what
  // version it is on stderr.
  const auto& version = args.version > 0 ? *reply : field_of(*reply, "current");
  (void)std::fprintf(stderr, "# %s version %lld by %s, %s\n", printable(args.name).c_str(),
                     number_of(version, "version"), printable(text_of(version, "author")).c_str(),
                     short_time(text_of(version, "created_at")).c_str());
  const std::string text = text_of(version, "text");
  (void)std::fwrite(text.data(), 1, text.size(), stdout);
  return kExitOk;
}

int run_history(const PolicyArgs& args, const Globals& globals) {
  return call_and_show(globals, "GET", policy_path(args.name) + "/versions", [&](const json::value& reply) {
    Table table({"VERSION", "AUTHOR", "CREATED", "COMMENT"}, 60);
    const auto& versions = field_of(reply, "versions");
    if (versions.is_array()) {
      for (const auto& v : versions.as_array()) {
        table.add_row({std::to_string(number_of(v, "version")), text_of(v, "author"),
                       short_time(text_of(v, "created_at")), text_of(v, "comment")});
      }
    }
    fmt::print("{}", table.render());
  });
}

// A diff is printed as is: it is the policy text (TOML the server
// accepted, so UTF-8) with +/- marks, and its control characters are
// escaped like everything else from the server.
void print_diff(const std::string& diff) {
  std::string out;
  std::size_t start = 0;
  while (start < diff.size()) {
    auto end = diff.find('\n', start);
    if (end == std::string::npos) {
      end = diff.size();
    }
    out += printable(std::string_view(diff).substr(start, end - start));
    out += '\n';
    start = end + 1;
  }
  (void)std::fwrite(out.data(), 1, out.size(), stdout);
}

int run_diff(const PolicyArgs& args, const Globals& globals) {
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  std::string diff;
  json::object out{{"name", args.name}};
  if (!args.file.empty()) {
    auto local = platform::read_small_file(args.file, kMaxPolicyFile);
    if (!local) {
      return report(local.error());
    }
    auto current = current_text(**api, args.name);
    if (!current) {
      return report(current.error());
    }
    diff = unified_diff(current->second, *local, fmt::format("{}@{}", args.name, current->first), args.file);
    out["from"] = current->first;
    out["file"] = args.file;
  } else {
    std::vector<std::pair<std::string, std::string>> params;
    params.emplace_back("from", args.from > 0 ? std::to_string(args.from) : "");
    params.emplace_back("to", args.to > 0 ? std::to_string(args.to) : "");
    auto reply = call_json(**api, "GET", policy_path(args.name) + "/diff" + query_string(params));
    if (!reply) {
      return report(reply.error());
    }
    diff = text_of(*reply, "diff");
    out["from"] = number_of(*reply, "from");
    out["to"] = number_of(*reply, "to");
  }
  if (globals.json) {
    out["diff"] = diff;
    print_json(out);
  } else {
    print_diff(diff);
  }
  return args.exit_code && !diff.empty() ? 1 : kExitOk;
}

int run_assign(const PolicyArgs& args, const Globals& globals);

int apply_file(const PolicyArgs& args, const Globals& globals) {
  auto text = platform::read_small_file(args.file, kMaxPolicyFile);
  if (!text) {
    return report(text.error());
  }
  const std::string name = args.name.empty() ? name_from_file(args.file) : args.name;
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto current = current_text(**api, name);
  if (!current) {
    return report(current.error());
  }
  if (current->first > 0 && current->second == *text && !args.force) {
    if (globals.json) {
      print_json(json::object{{"name", name}, {"version", current->first}, {"changed", false}});
    } else {
      fmt::print("Policy {} is already at version {} with this text; nothing to do.\n", printable(name),
                 current->first);
    }
    return kExitOk;
  }
  // The version read above is the one this edit is based on: a change by
  // someone else meanwhile makes the server answer 409 instead of losing it.
  json::object body{{"text", *text}, {"expected_version", current->first}};
  if (!args.comment.empty()) {
    body["comment"] = args.comment;
  }
  auto reply = call_json(**api, "PUT", policy_path(name), body);
  if (!reply) {
    if (reply.error().code == ErrorCode::kConflict) {
      return report({ErrorCode::kConflict, reply.error().message +
                                               "; someone changed it meanwhile: review `hoist policy diff " + name +
                                               " " + args.file + "` and apply again"});
    }
    if (reply.error().code == ErrorCode::kInvalidArgument) {
      // hoistd names the text NAME.toml; the person knows it as their file.
      std::string message = reply.error().message;
      const std::string theirs = "\n" + name + ".toml:";
      const std::string ours = "\n" + args.file + ":";
      for (auto at = message.find(theirs); at != std::string::npos; at = message.find(theirs, at + ours.size())) {
        message.replace(at, theirs.size(), ours);
      }
      return report({ErrorCode::kInvalidArgument, message});
    }
    return report(reply.error());
  }
  if (globals.json) {
    json::object out = reply->as_object();
    out["changed"] = true;
    print_json(out);
  } else {
    fmt::print("Policy {} is now version {}.\n", printable(name), number_of(*reply, "version"));
    if (current->first == 0 && args.labels.empty()) {
      fmt::print("Assign it to endpoint groups with `hoist policy assign {} LABEL...`.\n", printable(name));
    }
  }
  return kExitOk;
}

// apply --assign LABEL...: the file, then the policy's endpoint groups (only
// when the file was taken or was already the current version).
int run_apply(const PolicyArgs& args, const Globals& globals) {
  if (const int applied = apply_file(args, globals); applied != kExitOk || args.labels.empty()) return applied;
  PolicyArgs assign = args;
  if (assign.name.empty()) assign.name = name_from_file(args.file);
  return run_assign(assign, globals);
}

int run_assign(const PolicyArgs& args, const Globals& globals) {
  if (args.labels.empty() != args.none) {
    (void)std::fputs(args.none ? "hoist: give either labels or --none\n"
                               : "hoist: give the labels, or --none to take the policy off every endpoint\n",
                     stderr);
    return kExitUsage;
  }
  json::array labels;
  for (const auto& l : args.labels) {
    labels.emplace_back(l);
  }
  return call_and_show(globals, "PUT", policy_path(args.name) + "/labels", json::object{{"labels", labels}},
                       [&](const json::value& reply) {
                         if (args.labels.empty()) {
                           fmt::print("Policy {} applies to no endpoint group now.\n", printable(args.name));
                         } else {
                           fmt::print("Policy {} applies to endpoints labelled {}.\n", printable(args.name),
                                      printable(joined_of(reply, "labels")));
                         }
                       });
}

int run_delete(const PolicyArgs& args, const Globals& globals) {
  return call_and_show(globals, "DELETE", policy_path(args.name), [&](const json::value& /*reply*/) {
    fmt::print("Policy {} deleted; its history is kept.\n", printable(args.name));
  });
}

}  // namespace

void add_policy_remote(CLI::App& policy, Runner& run, const Globals& globals) {
  auto args = std::make_shared<PolicyArgs>();
  auto* list = policy.add_subcommand("list", "Policies on the server and the endpoint groups they apply to");
  list->callback([&run, &globals] { run = [&globals] { return run_list(globals); }; });

  auto* show = policy.add_subcommand("show", "Print a policy's TOML (current version, or --version)");
  show->add_option("name", args->name, "Policy name")->required();
  show->add_option("--version", args->version, "Version number")->check(CLI::PositiveNumber);
  show->callback([&run, args, &globals] { run = [args, &globals] { return run_show(*args, globals); }; });

  auto* history = policy.add_subcommand("history", "A policy's versions, with author and comment");
  history->add_option("name", args->name, "Policy name")->required();
  history->callback([&run, args, &globals] { run = [args, &globals] { return run_history(*args, globals); }; });

  auto* diff = policy.add_subcommand(
      "diff", "Unified diff: between two versions on the server, or from the current version to a FILE");
  diff->add_option("name", args->name, "Policy name")->required();
  diff->add_option("file", args->file, "Local policy file to compare with the server's current version");
  diff->add_option("--from", args->from, "Older version (default: the one before --to)")->check(CLI::PositiveNumber);
  diff->add_option("--to", args->to, "Newer version (default: the current one)")->check(CLI::PositiveNumber);
  diff->add_flag("--exit-code", args->exit_code, "Exit 1 when there are differences (like git diff)");
  diff->callback([&run, args, &globals] { run = [args, &globals] { return run_diff(*args, globals); }; });

  auto* apply = policy.add_subcommand("apply", "Upload a policy file as the policy's next version");
  apply->add_option("file", args->file, "Policy file (TOML)")->required();
  apply->add_option("--name", args->name, "Policy name (default: the file's name without .toml)");
  apply->add_option("--comment", args->comment, "What changed and why (kept in the audit trail)");
  apply->add_flag("--force", args->force, "Add a version even when the text is unchanged");
  apply->add_option("--assign", args->labels,
                    "Then make the policy apply to endpoints with these labels (as `policy assign`; repeat it)");
  apply->callback([&run, args, &globals] { run = [args, &globals] { return run_apply(*args, globals); }; });

  auto* assign = policy.add_subcommand("assign", "Set the endpoint groups (labels) a policy applies to");
  assign->add_option("name", args->name, "Policy name")->required();
  assign->add_option("labels", args->labels, "Endpoint labels");
  assign->add_flag("--none", args->none, "Take the policy off every endpoint");
  assign->callback([&run, args, &globals] { run = [args, &globals] { return run_assign(*args, globals); }; });

  auto* del = policy.add_subcommand("delete", "Delete a policy (its versions stay in the history)");
  del->add_option("name", args->name, "Policy name")->required();
  del->callback([&run, args, &globals] { run = [args, &globals] { return run_delete(*args, globals); }; });
}

}  // namespace hoist::cli
