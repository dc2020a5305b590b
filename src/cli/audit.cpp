// hoist audit query / export / verify: the audit trail from a terminal.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>

#include "cli/audit_verify.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/remote.h"
#include "cli/terminal.h"
#include "core/audit_kind.h"
#include "core/duration.h"
#include "core/timestamp.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

struct AuditArgs {
  std::string since;
  std::string until;
  std::string actor;
  std::string action;
  std::string target;
  std::string host;
  std::string output;
  std::string expect_head;
  int limit = 100;
  bool all = false;
};

// --since 2h means two hours ago; anything else is passed on as a time.
Result<std::string> time_filter(const std::string& value, std::string_view flag) {
  if (value.empty()) {
    return value;
  }
  if (value.find_first_of("-:T") == std::string::npos) {
    auto d = parse_duration(value);
    if (!d) {
      return invalid_argument(fmt::format("{}: {} (give a time such as 2026-11-24T09:00:00Z or an age such as 2h)",
                                          flag, d.error().message));
    }
    const auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    return format_timestamp(now - *d);
  }
  if (auto t = parse_timestamp(value); !t) {
    return invalid_argument(fmt::format("{}: {}", flag, t.error().message));
  }
  return value;
}

Result<std::vector<std::pair<std::string, std::string>>> filters(const AuditArgs& args) {
  auto since = time_filter(args.since, "--since");
  if (!since) {
    return since.error();
  }
  auto until = time_filter(args.until, "--until");
  if (!until) {
    return until.error();
  }
  return std::vector<std::pair<std::string, std::string>>{{"since", *since},       {"until", *until},
                                                          {"actor", args.actor},   {"action", args.action},
                                                          {"target", args.target}, {"host", args.host}};
}

int run_query(const AuditArgs& args, const Globals& globals) {
  auto params = filters(args);
  if (!params) {
    (void)std::fprintf(stderr, "hoist: %s\n", params.error().message.c_str());
    return kExitUsage;
  }
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  Table table({"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "HOST", "DETAILS"}, 60);
  json::array all;
  std::string after;
  for (;;) {
    auto page = *params;
    page.emplace_back("after", after);
    page.emplace_back("limit", std::to_string(args.limit));
    auto reply = call_json(**api, "GET", "/api/v1/audit" + query_string(page));
    if (!reply) {
      return report(reply.error());
    }
    const auto& events = field_of(*reply, "events");
    if (events.is_array()) {
      for (const auto& e : events.as_array()) {
        const auto& details = field_of(e, "details");
        table.add_row({text_of(e, "seq"), short_time(text_of(e, "time")), text_of(e, "actor"), text_of(e, "action"),
                       text_of(e, "target"), text_of(e, "host"),
                       details.is_string() ? std::string(details.as_string()) : json::serialize(details)});
        all.push_back(e);
      }
    }
    after = text_of(*reply, "next_after");
    if (!args.all || after.empty()) {
      if (!after.empty() && !globals.json) {
        (void)std::fprintf(stderr, "hoist: more events follow: use --all, or narrow the filter\n");
      }
      break;
    }
  }
  if (globals.json) {
    print_json(json::object{{"events", std::move(all)}});
  } else {
    fmt::print("{}", table.render());
  }
  return kExitOk;
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const auto n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return unavailable(fmt::format("write failed: {}", std::strerror(errno)));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

int run_export(const AuditArgs& args, const Globals& /*globals*/) {
  auto params = filters(args);
  if (!params) {
    (void)std::fprintf(stderr, "hoist: %s\n", params.error().message.c_str());
    return kExitUsage;
  }
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto reply = (*api)->send("GET", "/api/v1/audit/export.csv" + query_string(*params), {}, {});
  if (!reply) {
    return report(reply.error());
  }
  if (reply->status != 200) {
    return report(error_from_reply(*reply));
  }
  if (args.output.empty() || args.output == "-") {
    if (auto st = write_all(STDOUT_FILENO, reply->body); !st) {
      return report(st.error());
    }
  } else {
    const std::string tmp = fmt::format("{}.tmp.{}", args.output, ::getpid());
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
      return report(unavailable(fmt::format("cannot write {}: {}", tmp, std::strerror(errno))));
    }
    auto st = write_all(fd, reply->body);
    if (st && ::fsync(fd) != 0) {
      st = unavailable(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    }
    ::close(fd);
    if (st && ::rename(tmp.c_str(), args.output.c_str()) != 0) {
      st = unavailable(fmt::format("cannot write {}: {}", args.output, std::strerror(errno)));
    }
    if (!st) {
      ::unlink(tmp.c_str());
      return report(st.error());
    }
  }
  const auto rows = reply->header("x-hoist-rows");
  (void)std::fprintf(stderr, "hoist: exported %s event(s)%s%s\n", printable(rows.value_or("?")).c_str(),
                     args.output.empty() || args.output == "-" ? "" : " to ",
                     args.output.empty() || args.output == "-" ? "" : printable(args.output).c_str());
  if (auto truncated = reply->header("x-hoist-truncated")) {
    (void)std::fprintf(stderr, "hoist: the export stopped early: %s\n", printable(*truncated).c_str());
    return kExitInvalid;
  }
  return kExitOk;
}

int run_verify(const AuditArgs& args, const Globals& globals) {
  std::optional<ChainHead> expected;
  if (!args.expect_head.empty()) {
    auto head = parse_chain_head(args.expect_head);
    if (!head) {
      (void)std::fprintf(stderr, "hoist: --expect-head: %s\n", head.error().message.c_str());
      return kExitUsage;
    }
    expected = *head;
  }
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto result = verify_remote_chain(**api, expected);
  if (!result) {
    return report(result.error());
  }
  const auto& v = result->chain;
  if (globals.json) {
    json::object out{{"ok", v.ok}, {"events_checked", v.events_checked}, {"problem", v.problem}};
    out["first_bad_seq"] = v.first_bad_seq ? json::value(*v.first_bad_seq) : json::value(nullptr);
    out["head"] = v.ok && result->head.seq > 0
                      ? json::value(fmt::format("{}:{}", result->head.seq, result->head.hash.hex()))
                      : json::value(nullptr);
    print_json(out);
  } else if (v.ok) {
    if (result->head.seq == 0) {
      fmt::print("The audit trail is empty.\n");
    } else {
      fmt::print("The audit trail verifies: {} events, each hash recomputed here.\n", v.events_checked);
      fmt::print("Head: {}:{}\n", result->head.seq, result->head.hash.hex());
      fmt::print(
          "Keep the head somewhere else; `hoist audit verify --expect-head <head>` later also finds "
          "events removed from the end.\n");
    }
  } else {
    (void)std::fprintf(stderr, "hoist: THE AUDIT TRAIL DOES NOT VERIFY at event %s: %s\n",
                       v.first_bad_seq ? std::to_string(*v.first_bad_seq).c_str() : "?", printable(v.problem).c_str());
    (void)std::fprintf(stderr, "hoist: %llu event(s) before it verified\n",
                       static_cast<unsigned long long>(v.events_checked));
  }
  return v.ok ? kExitOk : kExitInvalid;
}

void add_filters(CLI::App* cmd, AuditArgs& args) {
  cmd->add_option("--since", args.since, "From this time (RFC 3339) or age (2h, 7d)");
  cmd->add_option("--until", args.until, "Up to this time (RFC 3339) or age");
  cmd->add_option("--actor", args.actor, "Who: a user name, agent:<host> or system");
  cmd->add_option("--action", args.action,
                  fmt::format("What, such as {} or {} (docs/audit.md lists them)",
                              to_string(AuditKind::kRequestApproved), to_string(AuditKind::kGrantRevoked)));
  cmd->add_option("--target,--request", args.target, "The object: a request id, a policy name, ...");
  cmd->add_option("--host", args.host, "Only events about this host");
}

}  // namespace

void add_audit(CLI::App& app, Runner& run, const Globals& globals) {
  auto args = std::make_shared<AuditArgs>();
  auto* audit = app.add_subcommand("audit", "The tamper-evident audit trail");
  audit->require_subcommand(1);
  auto* query = audit->add_subcommand("query", "Audit events, oldest first");
  add_filters(query, *args);
  query->add_option("--limit", args->limit, "At most this many per page")->check(CLI::Range(1, 1000));
  query->add_flag("--all", args->all, "Follow every page");
  query->callback([&run, args, &globals] { run = [args, &globals] { return run_query(*args, globals); }; });

  auto* exp = audit->add_subcommand("export", "The JIT events report as CSV");
  add_filters(exp, *args);
  exp->add_option("-o,--output", args->output, "Write to this file instead of stdout");
  exp->callback([&run, args, &globals] { run = [args, &globals] { return run_export(*args, globals); }; });

  auto* verify = audit->add_subcommand("verify", "Recompute the whole hash chain here (exit 65 if it breaks)");
  verify->add_option("--expect-head", args->expect_head, "SEQ:HASH printed by an earlier verify");
  verify->callback([&run, args, &globals] { run = [args, &globals] { return run_verify(*args, globals); }; });
}

}  // namespace hoist::cli
