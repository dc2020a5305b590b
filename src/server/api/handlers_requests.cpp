// The request routes: an agent's submission, cancellation and
// self-approval, the approvers' reviews and revocations, the lists. Each
// parses the body, calls the request service (src/server/app/
// request_service.h: the domain steps, the store transaction, the audit
// event and the push message, and the MUSTs they keep) and renders its
// outcome as JSON.
#include <fmt/format.h>

#include "core/timestamp.h"
#include "net/http_error.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

// The longest text GET /api/v1/requests?text= searches for.
constexpr std::size_t kMaxRequestSearchText = 256;

std::optional<RequestState> parse_state(std::string_view text) {
  for (auto s : {RequestState::kPending, RequestState::kApproved, RequestState::kActive, RequestState::kDenied,
                 RequestState::kCancelled, RequestState::kExpired, RequestState::kRevoked}) {
    if (to_string(s) == text) {
      return s;
    }
  }
  return std::nullopt;
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

namespace {

app::EndpointCaller endpoint_caller(const Caller& caller) {
  return app::EndpointCaller{caller.actor(), caller.endpoint.id, caller.endpoint.hostname, caller.endpoint.labels};
}

app::UserCaller user_caller(const Caller& caller) {
  return app::UserCaller{caller.user, caller.actor()};
}

std::optional<Seconds> seconds_of(const std::optional<std::int64_t>& s) {
  return s ? std::optional<Seconds>(Seconds{*s}) : std::nullopt;
}

}  // namespace

Result<net::HttpResponse> Api::Impl::submit_request(Call& call) {
  auto body = parse_submit_body(call.request.body);
  if (!body) {
    return body.error();
  }
  // The body's own faults first, before the policy is looked up.
  if (auto st = app::RequestService::check(*body); !st) {
    return st.error();
  }
  // Then the limits on submissions, before anything is evaluated or
  // audited: over them, 429 with Retry-After, and no event of its own.
  if (auto throttled = request_service.throttle(endpoint_caller(call.caller), body->user, deps.clock.now_ms())) {
    auto response = net::error_response(throttled->error);
    response.set_header("retry-after", std::to_string(throttled->retry_after.count()));
    return response;
  }
  // What decides a request is read afresh where other replicas change
  // policies: a memo could be as old as their notification's way here.
  auto effective = effective_policy(call.caller.endpoint.labels, !deps.store.replicas().shared());
  if (!effective) {
    return effective.error();
  }
  const auto& policy = *effective->compiled;
  const auto now_tp = deps.clock.now();
  auto outcome = request_service.submit(policy, endpoint_caller(call.caller), *body, now_tp);
  if (!outcome) {
    return outcome.error();
  }
  const auto& settings = policy.policy().settings;
  if (outcome->request) observe_decision(*outcome->request);  // an auto-approval; a pending one counts nothing
  if (!outcome->request) {
    return json_ok(json::object{{"decision", to_string(outcome->action)},
                                {"reason", json_text(outcome->reason)},
                                {"contact", json_text(settings.contact)},
                                {"request", nullptr}});
  }
  return json_ok(
      json::object{{"decision", "request"},
                   {"reason", json_text(outcome->reason)},
                   {"contact", json_text(settings.contact)},
                   {"approval_wait_s", settings.approval_wait.count()},
                   {"request", request_json(*outcome->request, std::chrono::time_point_cast<Seconds>(now_tp))}},
      201);
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
  auto rec = request_service.cancel(endpoint_caller(call.caller), call.param("id"), body->user, deps.clock.now_s());
  if (!rec) {
    return rec.error();
  }
  observe_decision(*rec);
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
  auto rec = request_service.self_approve(endpoint_caller(call.caller), call.param("id"), body->user,
                                          seconds_of(body->duration_s), body->comment, deps.clock.now_s());
  if (!rec) {
    return rec.error();
  }
  observe_decision(*rec);
  return json_ok(request_json(*rec, deps.clock.now_s()));
}

Result<net::HttpResponse> Api::Impl::list_requests(Call& call) {
  store::RequestFilter filter;
  for (const auto& [key, value] : call.request.query) {
    if (key == "state") {
      auto parsed = parse_state(value);
      if (!parsed) {
        return invalid_argument(fmt::format(
            "unknown state \"{}\"; use pending, approved, active, denied, cancelled, expired or revoked", value));
      }
      filter.state = *parsed;
    } else if (key == "user") {
      filter.requester = value;
    } else if (key == "host") {
      filter.host = value;
    } else if (key == "endpoint") {
      filter.endpoint_id = value;
    } else if (key == "since" || key == "until") {
      auto t = parse_timestamp(value);
      if (!t) {
        return invalid_argument(fmt::format("{}: {}", key, t.error().message));
      }
      (key == "since" ? filter.created_since : filter.created_until) = *t;
    } else if (key == "text") {
      if (value.size() > kMaxRequestSearchText) {
        return invalid_argument(fmt::format("text has at most {} bytes", kMaxRequestSearchText));
      }
      filter.text = value;
    } else if (key == "order") {
      if (value != "oldest" && value != "newest") {
        return invalid_argument("order must be \"oldest\" (the default) or \"newest\"");
      }
      filter.newest_first = value == "newest";
    } else if (key == "after") {
      filter.after_id = value;
    } else if (key != "limit") {
      return invalid_argument(fmt::format(
          "unknown filter \"{}\"; use state, user, host, endpoint, since, until, text, order, after, limit", key));
    }
  }
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
  if (auto refusal = step_up_refusal(call.caller)) {
    return *refusal;
  }
  auto rec = request_service.approve(call.param("id"), user_caller(call.caller), seconds_of(body->duration_s),
                                     body->comment, deps.clock.now_s());
  if (!rec) {
    return rec.error();
  }
  observe_decision(*rec);
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
  if (auto refusal = step_up_refusal(call.caller)) {
    return *refusal;
  }
  auto rec = request_service.deny(call.param("id"), user_caller(call.caller), body->comment, deps.clock.now_s());
  if (!rec) {
    return rec.error();
  }
  observe_decision(*rec);
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
  auto rec = request_service.revoke(call.param("id"), user_caller(call.caller), body->reason, deps.clock.now_s());
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
      auto done = request_service.expire(rec, deps.clock.now_s());
      if (done) {
        ++expired;
        observe_decision(*done);  // a pending request's expiry; a grant's counts nothing
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
