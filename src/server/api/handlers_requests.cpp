// The request lifecycle over the store: submission (the server evaluates
// the endpoint's effective policy itself and applies autonomous approval),
// reviews, self-approval, cancellation, revocation and expiry.
//
// MUST: the server decides with its own copy of the policy; the agent's
// facts (path, digest, package, trust) are inputs, its opinion is not.
// MUST: every transition goes through the core's transition(), in one
// store transaction with its audit event and the push message to the
// request's endpoint; a second reviewer racing the first gets Conflict.
// MUST: an agent sees and acts on only its own endpoint's requests.
#include <fmt/format.h>

#include "core/timestamp.h"
#include "server/api/api_impl.h"
#include "server/auth/secrets.h"

namespace hoist::api {

namespace {

std::string new_request_id(std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // Time first, so id order (pagination) is creation order.
  return fmt::format("req-{:012x}-{}", ms, auth::random_id(4));
}

std::optional<RequestState> parse_state(std::string_view text) {
  for (auto s : {RequestState::kPending, RequestState::kApproved, RequestState::kActive, RequestState::kDenied,
                 RequestState::kCancelled, RequestState::kExpired, RequestState::kRevoked}) {
    if (to_string(s) == text) {
      return s;
    }
  }
  return std::nullopt;
}

// Over the cap of waiting requests (kMaxPendingPerRequester): what the
// user is told, through the agent, in sudo or `hoist elevate`.
Error too_many_pending(const std::string& user, const std::string& host, std::size_t waiting) {
  return rate_limited(
      fmt::format("{} has {} requests waiting on {}; an approver must decide one, or withdraw one with "
                  "`hoist cancel ID` (`hoist status` lists them)",
                  user, waiting, host));
}

}  // namespace

Result<std::size_t> page_limit(const net::HttpRequest& request) {
  const auto text = request.query_param("limit");
  if (!text) {
    return std::size_t{100};
  }
  std::size_t n = 0;
  if (text->empty() || text->size() > 4) {
    return invalid_argument(fmt::format("limit must be a number from 1 to {}", store::kMaxPage));
  }
  for (char c : *text) {
    if (c < '0' || c > '9') {
      return invalid_argument(fmt::format("limit must be a number from 1 to {}", store::kMaxPage));
    }
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n < 1 || n > store::kMaxPage) {
    return invalid_argument(fmt::format("limit must be a number from 1 to {}", store::kMaxPage));
  }
  return n;
}

json::object request_json(const store::RequestRecord& rec, TimePoint now) {
  const Request& r = rec.request;
  json::object review = {};
  json::value review_value = nullptr;
  if (r.review) {
    std::string_view by = "approver";
    if (r.review->by == Review::By::kSelf) {
      by = "self";
    } else if (r.review->by == Review::By::kAutonomous) {
      by = "autonomous";
    }
    review_value = json::object{{"by", by},
                                {"reviewer", json_text(r.review->reviewer)},
                                {"approved", r.review->approved},
                                {"comment", json_text(r.review->comment)},
                                {"at", json_time(r.review->at)}};
  }
  json::array argv;
  for (const auto& a : rec.command.argv) {
    argv.push_back(json_text(a));
  }
  json::object command{{"path", json_text(rec.command.path)},
                       {"argv", std::move(argv)},
                       {"sha256", rec.command.sha256 ? json::value(rec.command.sha256->hex()) : json::value(nullptr)},
                       {"package", json_text(rec.command.package)},
                       {"runas", json::object{{"user", json_text(rec.command.runas_user)},
                                              {"group", json_text(rec.command.runas_group)}}}};
  return {{"id", r.id},
          {"version", rec.version},
          {"kind", to_string(r.kind)},
          {"state", to_string(effective_state(r, now))},
          {"stored_state", to_string(r.state)},
          {"requester", json_text(r.requester)},
          {"groups", string_array(rec.requester_groups)},
          {"host", json_text(r.host)},
          {"endpoint_id", rec.endpoint_id},
          {"rule", json_text(r.rule)},
          {"justification", json_text(r.justification)},
          {"requested_duration_s", r.requested_duration.count()},
          {"max_duration_s", r.max_duration.count()},
          {"approval_mode", to_string(r.approval_mode)},
          {"self_approval_allowed", r.self_approval_allowed},
          {"created_at", json_time(r.created_at)},
          {"pending_deadline", json_time(r.pending_deadline)},
          {"review", std::move(review_value)},
          {"grant_start", json_opt_time(r.grant_start)},
          {"grant_deadline", json_opt_time(r.grant_deadline)},
          {"time_left_s", grant_time_left(r, now).count()},
          {"ended_at", json_opt_time(r.ended_at)},
          {"ended_by", json_text(r.ended_by)},
          {"end_reason", json_text(r.end_reason)},
          {"command", std::move(command)}};
}

Status Api::Impl::enqueue_request_push(store::StoreTx& tx, const store::RequestRecord& rec, TimePoint now) {
  if (rec.endpoint_id.empty()) {
    return {};
  }
  const Request& r = rec.request;
  json::object payload{{"request_id", r.id},
                       {"version", rec.version},
                       {"state", to_string(effective_state(r, now))},
                       {"requester", json_text(r.requester)},
                       {"grant_deadline", json_opt_time(r.grant_deadline)},
                       {"reviewer", r.review ? json::value(json_text(r.review->reviewer)) : json::value(nullptr)},
                       {"comment", r.review ? json::value(json_text(r.review->comment)) : json::value(nullptr)},
                       {"end_reason", json_text(r.end_reason)}};
  auto pushed = tx.enqueue_push(rec.endpoint_id, "request", dump(payload), now);
  if (!pushed) {
    // A retired endpoint (or one never stored) cannot be told: not an error
    // for the transition itself.
    return pushed.error().code == ErrorCode::kNotFound ? Status{} : Status{pushed.error()};
  }
  return {};
}

Result<SubmitBody> parse_submit_body(std::string_view text) {
  JsonBody b(text);
  SubmitBody out;
  out.kind = b.optional_string("kind", 16).value_or("command");
  out.user = b.string("user", 256);
  out.groups = b.string_list("groups", 1024, 256);
  out.justification = b.string("justification", 2000);
  out.duration_s = b.optional_int("duration_s", 1, kMaxDuration.count());
  if (auto command = b.optional_object("command")) {
    out.path = command->string("path", 4096);
    out.argv = command->string_list("argv", 4096, 128 * 1024);
    out.sha256 = command->optional_string("sha256", 64);
    out.trusted_path = command->optional_bool("trusted_path").value_or(false);
    out.real_path = command->optional_string("real_path", 4096).value_or("");
    if (auto runas = command->optional_object("runas")) {
      out.runas.user = runas->string("user", 256);
      out.runas.group = runas->optional_string("group", 256).value_or("");
      out.runas.user_group = runas->optional_string("user_group", 256).value_or("");
      command->absorb(runas->finish());
    }
    if (auto pkg = command->optional_object("package")) {
      SubmitBody::Package p;
      p.name = pkg->string("name", 256);
      p.origin = pkg->optional_string("origin", 256).value_or("");
      p.maintainer = pkg->optional_string("maintainer", 1024).value_or("");
      p.verified = pkg->optional_bool("verified").value_or(false);
      command->absorb(pkg->finish());
      out.package = p;
    }
    b.absorb(command->finish());
  }
  if (auto st = b.finish(); !st) {
    return st.error();
  }
  return out;
}

Result<net::HttpResponse> Api::Impl::submit_request(Call& call) {
  auto body = parse_submit_body(call.request.body);
  if (!body) {
    return body.error();
  }
  RequestKind kind = RequestKind::kCommand;
  if (body->kind == "session") {
    kind = RequestKind::kSession;
  } else if (body->kind != "command") {
    return invalid_argument("field \"kind\" must be \"command\" or \"session\"");
  }
  if (kind == RequestKind::kCommand && body->path.empty()) {
    return invalid_argument("a command request needs field \"command\" with the resolved \"path\"");
  }
  if (kind == RequestKind::kSession && !body->path.empty()) {
    return invalid_argument("a session request takes no \"command\"");
  }
  std::optional<Sha256> digest;
  if (body->sha256) {
    auto d = Sha256::from_hex(*body->sha256);
    if (!d) {
      return invalid_argument("field \"command.sha256\" must be 64 hex digits");
    }
    digest = *d;
  }

  auto effective = effective_policy(call.caller.endpoint.labels);
  if (!effective) {
    return effective.error();
  }
  const auto& policy = *effective->compiled;
  const auto now_tp = deps.clock.now();
  const auto now = deps.clock.now_s();
  Subject subject{body->user, body->groups, call.caller.endpoint.labels, call.caller.endpoint.hostname};
  CommandLine command;
  command.exe.path = body->path;
  command.exe.trusted_path = body->trusted_path;
  command.exe.sha256 = digest;
  command.exe.real_path = body->real_path;
  command.runas = body->runas;
  if (body->package) {
    command.exe.package =
        PackageFacts{body->package->name, body->package->origin, body->package->maintainer, body->package->verified};
  }
  if (body->argv.size() > 1) {
    command.args.assign(body->argv.begin() + 1, body->argv.end());
  }
  const Decision decision = kind == RequestKind::kSession ? policy.evaluate_session(subject, now, deps.zones)
                                                          : policy.evaluate(subject, command, now, deps.zones);
  const std::string& host = call.caller.endpoint.hostname;

  if (decision.action != Action::kRequest) {
    if (decision.action == Action::kDeny) {
      auto st = deps.store.write([&](store::StoreTx& tx) {
        return audit(tx, call.caller.actor(),
                     audited::RequestRefused{.user = body->user,
                                             .path = body->path,
                                             .rule = decision.rule ? decision.rule->name : "",
                                             .reason = decision.reason},
                     "", host);
      });
      if (!st) {
        return st.error();
      }
    }
    return json_ok(json::object{{"decision", to_string(decision.action)},
                                {"reason", json_text(decision.reason)},
                                {"contact", json_text(policy.policy().settings.contact)},
                                {"request", nullptr}});
  }

  NewRequest in{new_request_id(now_tp), kind, body->user, host, body->justification, std::nullopt};
  if (body->duration_s) {
    in.duration = Seconds{*body->duration_s};
  }
  auto opened = open_request(in, decision, policy.policy().settings.request_expiry, now);
  if (!opened) {
    return opened.error();
  }
  Request request = *opened;
  std::string auto_approval;
  if (decision.approval == ApprovalMode::kAutonomous && decision.rule != nullptr) {
    if (const auto* aa =
            policy.find_auto_approval(subject, *decision.rule, request.requested_duration, now, deps.zones)) {
      auto approved = transition(request, event::AutoApprove{aa->name}, now);
      if (!approved) {
        return approved.error();
      }
      request = *approved;
      auto_approval = aa->name;
    }
  }
  store::RequestRecord rec;
  rec.request = request;
  rec.command = store::CommandInfo{body->path,       body->argv,       digest, body->package ? body->package->name : "",
                                   body->runas.user, body->runas.group};
  rec.requester_groups = body->groups;
  rec.endpoint_id = call.caller.endpoint.id;
  Result<store::RequestRecord> stored = internal_error("not written");
  std::optional<Error> refused;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (request.state == RequestState::kPending) {
      // Counted inside the transaction: concurrent submits cannot all pass.
      auto waiting = tx.count_pending(request.requester, rec.endpoint_id, now);
      if (!waiting) {
        return waiting.error();
      }
      if (*waiting >= kMaxPendingPerRequester) {
        refused = too_many_pending(request.requester, host, *waiting);
        // The refusal is audited (and committed); nothing else is written.
        return audit(tx, call.caller.actor(),
                     audited::RequestRefused{
                         .user = body->user, .path = body->path, .rule = request.rule, .reason = refused->message},
                     "", host);
      }
    }
    stored = tx.insert_request(rec);
    if (!stored) {
      return stored.error();
    }
    if (auto a = audit(tx, call.caller.actor(),
                       audited::RequestCreated{.requester = request.requester,
                                               .request_kind = kind,
                                               .path = body->path,
                                               .argv = body->argv,
                                               .runas = body->runas.user,
                                               .runas_group = body->runas.group,
                                               .sha256 = digest,
                                               .rule = request.rule,
                                               .approval_mode = request.approval_mode,
                                               .justification = request.justification,
                                               .requested_duration = request.requested_duration},
                       request.id, host);
        !a) {
      return a;
    }
    if (!auto_approval.empty()) {
      if (auto a = audit(
              tx, "auto-approval:" + auto_approval,
              audited::RequestAutoApproved{.auto_approval = auto_approval, .grant_deadline = request.grant_deadline},
              request.id, host);
          !a) {
        return a;
      }
    }
    return enqueue_request_push(tx, *stored, now);
  });
  if (!st) {
    return st.error();
  }
  if (refused) {
    return *refused;
  }
  if (deps.wake_push) {
    deps.wake_push(stored->endpoint_id);
  }
  return json_ok(json::object{{"decision", "request"},
                              {"reason", json_text(decision.reason)},
                              {"contact", json_text(policy.policy().settings.contact)},
                              {"approval_wait_s", policy.policy().settings.approval_wait.count()},
                              {"request", request_json(*stored, now)}},
                 201);
}

Result<store::RequestRecord> Api::Impl::apply_event(const std::string& id, const RequestEvent& event,
                                                    const std::string& actor, const audited::RequestChange& change,
                                                    const std::function<Status(const store::RequestRecord&)>& check) {
  const auto now = deps.clock.now_s();
  Result<store::RequestRecord> out = internal_error("not written");
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto got = tx.get_request(id);
    if (!got) {
      return got.error();
    }
    if (!*got) {
      return not_found(fmt::format("there is no request {}", id));
    }
    store::RequestRecord rec = std::move(**got);
    if (check) {
      if (auto c = check(rec); !c) {
        return c;
      }
    }
    auto moved = transition(rec.request, event, now);
    if (!moved) {
      return moved.error();
    }
    rec.request = std::move(*moved);
    out = tx.update_request(rec);
    if (!out) {
      return out.error();
    }
    if (auto a = append_audit(tx, actor, to_string(audited::kind_of(change)), id, out->request.host,
                              audited::details_of(change, out->request));
        !a) {
      return a;
    }
    return enqueue_request_push(tx, *out, now);
  });
  if (!st) {
    return st.error();
  }
  if (deps.wake_push) {
    deps.wake_push(out->endpoint_id);
  }
  return out;
}

Result<net::HttpResponse> Api::Impl::agent_get_request(Call& call) {
  auto rec = deps.store.request(call.param("id"));
  if (!rec) {
    return rec.error();
  }
  if (!*rec || (*rec)->endpoint_id != call.caller.endpoint.id) {
    return not_found(fmt::format("this endpoint has no request {}", call.param("id")));
  }
  return json_ok(request_json(**rec, deps.clock.now_s()));
}

Result<net::HttpResponse> Api::Impl::agent_cancel_request(Call& call) {
  struct Body {
    std::string user;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) { return Body{b.string("user", 256)}; });
  if (!body) {
    return body.error();
  }
  const std::string& endpoint_id = call.caller.endpoint.id;
  auto rec = apply_event(call.param("id"), event::Cancel{body->user}, call.caller.actor(),
                         audited::RequestCancelled{.user = body->user}, [&](const store::RequestRecord& r) -> Status {
                           if (r.endpoint_id != endpoint_id) {
                             return not_found(fmt::format("this endpoint has no request {}", r.request.id));
                           }
                           if (r.request.requester != body->user) {
                             return permission_denied("only the requester may cancel a request");
                           }
                           return {};
                         });
  if (!rec) {
    return rec.error();
  }
  return json_ok(request_json(*rec, deps.clock.now_s()));
}

Result<net::HttpResponse> Api::Impl::agent_self_approve(Call& call) {
  struct Body {
    std::string user;
    std::optional<std::int64_t> duration_s;
    std::string comment;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string("user", 256), b.optional_int("duration_s", 1, kMaxDuration.count()),
                b.optional_string("comment", 2000).value_or("")};
  });
  if (!body) {
    return body.error();
  }
  const std::string& endpoint_id = call.caller.endpoint.id;
  event::SelfApprove approve{body->user, std::nullopt, body->comment};
  if (body->duration_s) {
    approve.duration = Seconds{*body->duration_s};
  }
  auto rec = apply_event(call.param("id"), approve, body->user,
                         audited::RequestSelfApproved{.via = call.caller.actor(), .comment = body->comment},
                         [&](const store::RequestRecord& r) -> Status {
                           if (r.endpoint_id != endpoint_id) {
                             return not_found(fmt::format("this endpoint has no request {}", r.request.id));
                           }
                           if (r.request.requester != body->user) {
                             return permission_denied("self-approval is for the requester only");
                           }
                           return {};
                         });
  if (!rec) {
    return rec.error();
  }
  return json_ok(request_json(*rec, deps.clock.now_s()));
}

Result<net::HttpResponse> Api::Impl::list_requests(Call& call) {
  store::RequestFilter filter;
  if (auto state = call.request.query_param("state")) {
    auto parsed = parse_state(*state);
    if (!parsed) {
      return invalid_argument(fmt::format(
          "unknown state \"{}\"; use pending, approved, active, denied, cancelled, expired or revoked", *state));
    }
    filter.state = *parsed;
  }
  if (auto user = call.request.query_param("user")) {
    filter.requester = std::string(*user);
  }
  if (auto host = call.request.query_param("host")) {
    filter.host = std::string(*host);
  }
  if (auto endpoint = call.request.query_param("endpoint")) {
    filter.endpoint_id = std::string(*endpoint);
  }
  filter.after_id = std::string(call.request.query_param("after").value_or(""));
  auto limit = page_limit(call.request);
  if (!limit) {
    return limit.error();
  }
  filter.limit = *limit;
  auto records = deps.store.requests(filter);
  if (!records) {
    return records.error();
  }
  const auto now = deps.clock.now_s();
  json::array out;
  for (const auto& rec : *records) {
    out.push_back(request_json(rec, now));
  }
  json::value next = nullptr;
  if (records->size() == filter.limit) {
    next = json::string(records->back().request.id);
  }
  return json_ok(json::object{{"requests", std::move(out)}, {"next_after", std::move(next)}});
}

Result<net::HttpResponse> Api::Impl::get_request(Call& call) {
  auto rec = deps.store.request(call.param("id"));
  if (!rec) {
    return rec.error();
  }
  if (!*rec) {
    return not_found(fmt::format("there is no request {}", call.param("id")));
  }
  return json_ok(request_json(**rec, deps.clock.now_s()));
}

Result<net::HttpResponse> Api::Impl::approve_request(Call& call) {
  struct Body {
    std::optional<std::int64_t> duration_s;
    std::string comment;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.optional_int("duration_s", 1, kMaxDuration.count()), b.optional_string("comment", 2000).value_or("")};
  });
  if (!body) {
    return body.error();
  }
  event::Approve approve{call.caller.user, std::nullopt, body->comment};
  if (body->duration_s) {
    approve.duration = Seconds{*body->duration_s};
  }
  auto rec =
      apply_event(call.param("id"), approve, call.caller.actor(), audited::RequestApproved{.comment = body->comment});
  if (!rec) {
    return rec.error();
  }
  return json_ok(request_json(*rec, deps.clock.now_s()));
}

Result<net::HttpResponse> Api::Impl::deny_request(Call& call) {
  struct Body {
    std::string comment;
  };
  auto body =
      read_body<Body>(call.request, [](JsonBody& b) { return Body{b.optional_string("comment", 2000).value_or("")}; });
  if (!body) {
    return body.error();
  }
  auto rec = apply_event(call.param("id"), event::Deny{call.caller.user, body->comment}, call.caller.actor(),
                         audited::RequestDenied{.comment = body->comment});
  if (!rec) {
    return rec.error();
  }
  return json_ok(request_json(*rec, deps.clock.now_s()));
}

Result<net::HttpResponse> Api::Impl::list_grants(Call& /*call*/) {
  const auto now = deps.clock.now_s();
  json::array out;
  for (auto state : {RequestState::kApproved, RequestState::kActive}) {
    store::RequestFilter filter;
    filter.state = state;
    filter.limit = store::kMaxPage;
    for (;;) {
      auto records = deps.store.requests(filter);
      if (!records) {
        return records.error();
      }
      for (const auto& rec : *records) {
        const auto effective = effective_state(rec.request, now);
        if (effective == RequestState::kApproved || effective == RequestState::kActive) {
          out.push_back(request_json(rec, now));
        }
      }
      if (records->size() < filter.limit) {
        break;
      }
      filter.after_id = records->back().request.id;
    }
  }
  return json_ok(json::object{{"grants", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::revoke_grant(Call& call) {
  struct Body {
    std::string reason;
  };
  auto body =
      read_body<Body>(call.request, [](JsonBody& b) { return Body{b.optional_string("reason", 2000).value_or("")}; });
  if (!body) {
    return body.error();
  }
  auto rec = apply_event(call.param("id"), event::Revoke{call.caller.user, body->reason}, call.caller.actor(),
                         audited::GrantRevoked{.reason = body->reason});
  if (!rec) {
    return rec.error();
  }
  return json_ok(request_json(*rec, deps.clock.now_s()));
}

Result<std::size_t> Api::Impl::expire_due() {
  std::size_t expired = 0;
  for (;;) {
    const auto now = deps.clock.now_s();
    const std::size_t before = expired;
    auto due = deps.store.due_requests(now, 100);
    if (!due) {
      return due.error();
    }
    for (const auto& rec : *due) {
      const bool was_grant = rec.request.state != RequestState::kPending;
      auto done = apply_event(rec.request.id, event::Expire{}, "system",
                              was_grant ? audited::RequestChange{audited::GrantExpired{}} : audited::RequestExpired{});
      if (done) {
        ++expired;
      } else if (done.error().code != ErrorCode::kConflict) {
        return done.error();  // Conflict: someone else moved it first
      }
    }
    // A full page means there may be more; a page where nothing moved (all
    // conflicts) is left to the next sweep instead of spinning.
    if (due->size() < 100 || expired == before) {
      return expired;
    }
  }
}

}  // namespace hoist::api
