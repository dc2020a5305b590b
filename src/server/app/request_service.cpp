#include "server/app/request_service.h"

#include <fmt/format.h>

#include <utility>

#include "server/app/json_values.h"

namespace hoist::app {

namespace json = boost::json;

namespace {

// Over the cap of waiting requests: what the user is told, through the
// agent, in sudo or `hoist elevate`.
Error too_many_pending(const std::string& user, const std::string& host, std::size_t waiting) {
  return rate_limited(
      fmt::format("{} has {} requests waiting on {}; an approver must decide one, or withdraw one with "
                  "`hoist cancel ID` (`hoist status` lists them)",
                  user, waiting, host));
}

// "1s", "1m30s", "250ms": how often a bucket gives one more.
std::string every_text(std::chrono::milliseconds interval) {
  if (interval.count() % 1000 != 0) return fmt::format("{}ms", interval.count());
  return format_duration(std::chrono::duration_cast<Seconds>(interval));
}

// Over a submission limit: what the user is told, through the agent, in
// sudo or `hoist elevate`.
Error too_many_submissions(const SubmissionLimits& limits, const SubmissionThrottle::Refusal& refusal,
                           const std::string& user, const std::string& host) {
  const BucketLimit& limit = refusal.by_endpoint_limit ? limits.per_endpoint : limits.per_user;
  const std::string who = refusal.by_endpoint_limit ? fmt::format("{} has sent too many requests", host)
                                                    : fmt::format("{} has sent too many requests from {}", user, host);
  return rate_limited(fmt::format("{} in a short time (at most {} at once, then one every {}); try again in {} s", who,
                                  limit.burst, every_text(limit.interval), refusal.retry_after.count()));
}

Error too_many_pending_at(const std::string& host, std::size_t waiting) {
  return rate_limited(
      fmt::format("{} requests wait for a decision on {} already; an approver must decide some before more can be sent",
                  waiting, host));
}

}  // namespace

std::optional<Throttled> RequestService::throttle(const EndpointCaller& caller, const std::string& user,
                                                  AuditTime now) {
  auto refused = throttle_.admit({caller.endpoint_id, caller.actor, caller.host}, user, now);
  if (!refused) return std::nullopt;
  if (refused->report) {
    // A failed write keeps the count for the next report: the refusal
    // stands either way.
    if (auto st = audit_throttled(*refused->report); !st) throttle_.give_back(std::move(*refused->report));
  }
  return Throttled{too_many_submissions(throttle_.options().limits, *refused, user, caller.host), refused->retry_after};
}

Result<std::size_t> RequestService::report_throttled(AuditTime now, bool all) {
  std::size_t audited = 0;
  std::optional<Error> failed;
  for (auto& report : throttle_.due_reports(now, all)) {
    if (auto st = audit_throttled(report); !st) {
      if (!failed) failed = st.error();
      throttle_.give_back(std::move(report));
      continue;
    }
    ++audited;
  }
  if (failed) return *failed;
  return audited;
}

Status RequestService::audit_throttled(const SubmissionThrottle::Report& report) {
  return deps_.store.write([&](store::StoreTx& tx) {
    return audit(deps_, tx, report.actor,
                 audited::RequestThrottled{.throttled = report.throttled,
                                           .by_endpoint_limit = report.by_endpoint_limit,
                                           .first_at = std::chrono::floor<Seconds>(report.first_at),
                                           .last_at = std::chrono::floor<Seconds>(report.last_at),
                                           .last_user = report.last_user},
                 "", report.host);
  });
}

Status RequestService::check(const SubmitBody& body) {
  if (body.kind != "command" && body.kind != "session") {
    return invalid_argument("field \"kind\" must be \"command\" or \"session\"");
  }
  if (body.kind == "command" && body.path.empty()) {
    return invalid_argument("a command request needs field \"command\" with the resolved \"path\"");
  }
  if (body.kind == "session" && !body.path.empty()) {
    return invalid_argument("a session request takes no \"command\"");
  }
  if (body.sha256 && !Sha256::from_hex(*body.sha256)) {
    return invalid_argument("field \"command.sha256\" must be 64 hex digits");
  }
  return {};
}

Result<SubmitOutcome> RequestService::submit(const CompiledPolicy& policy, const EndpointCaller& caller,
                                             const SubmitBody& body, std::chrono::system_clock::time_point now_tp) {
  if (auto st = check(body); !st) {
    return st.error();
  }
  const RequestKind kind = body.kind == "session" ? RequestKind::kSession : RequestKind::kCommand;
  std::optional<Sha256> digest;
  if (body.sha256) {
    digest = *Sha256::from_hex(*body.sha256);  // check() read it
  }
  const TimePoint now = std::chrono::time_point_cast<Seconds>(now_tp);
  Subject subject{body.user, body.groups, caller.labels, caller.host};
  CommandLine command;
  command.exe.path = body.path;
  command.exe.trusted_path = body.trusted_path;
  command.exe.sha256 = digest;
  command.exe.real_path = body.real_path;
  command.runas = body.runas;
  if (body.package) {
    command.exe.package =
        PackageFacts{body.package->name, body.package->origin, body.package->maintainer, body.package->verified};
  }
  if (body.argv.size() > 1) {
    command.args.assign(body.argv.begin() + 1, body.argv.end());
  }
  const Decision decision = kind == RequestKind::kSession ? policy.evaluate_session(subject, now, deps_.zones)
                                                          : policy.evaluate(subject, command, now, deps_.zones);
  const std::string& host = caller.host;

  if (decision.action != Action::kRequest) {
    if (decision.action == Action::kDeny) {
      auto st = deps_.store.write([&](store::StoreTx& tx) {
        return audit(deps_, tx, caller.actor,
                     audited::RequestRefused{.user = body.user,
                                             .path = body.path,
                                             .rule = decision.rule ? decision.rule->name : "",
                                             .reason = decision.reason},
                     "", host);
      });
      if (!st) {
        return st.error();
      }
    }
    return SubmitOutcome{decision.action, decision.reason, std::nullopt};
  }

  NewRequest in{deps_.new_request_id(now_tp), kind, body.user, host, body.justification, std::nullopt};
  if (body.duration_s) {
    in.duration = Seconds{*body.duration_s};
  }
  auto opened = open_request(in, decision, policy.policy().settings.request_expiry, now);
  if (!opened) {
    return opened.error();
  }
  Request request = *opened;
  std::string auto_approval;
  if (decision.approval == ApprovalMode::kAutonomous && decision.rule != nullptr) {
    if (const auto* aa =
            policy.find_auto_approval(subject, *decision.rule, request.requested_duration, now, deps_.zones)) {
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
  rec.command = store::CommandInfo{body.path,       body.argv,       digest, body.package ? body.package->name : "",
                                   body.runas.user, body.runas.group};
  rec.requester_groups = body.groups;
  rec.endpoint_id = caller.endpoint_id;
  Result<store::RequestRecord> stored = internal_error("not written");
  std::optional<Error> refused;
  auto st = deps_.store.write([&](store::StoreTx& tx) -> Status {
    if (request.state == RequestState::kPending) {
      // Counted inside the transaction: concurrent submits cannot all pass.
      auto waiting = tx.count_pending(request.requester, rec.endpoint_id, now);
      if (!waiting) {
        return waiting.error();
      }
      if (*waiting >= kMaxPendingPerRequester) {
        refused = too_many_pending(request.requester, host, *waiting);
      } else {
        auto at_endpoint = tx.count_pending(std::nullopt, rec.endpoint_id, now);
        if (!at_endpoint) {
          return at_endpoint.error();
        }
        if (*at_endpoint >= kMaxPendingPerEndpoint) refused = too_many_pending_at(host, *at_endpoint);
      }
      if (refused) {
        // The refusal is audited (and committed); nothing else is written.
        return audit(deps_, tx, caller.actor,
                     audited::RequestRefused{
                         .user = body.user, .path = body.path, .rule = request.rule, .reason = refused->message},
                     "", host);
      }
    }
    stored = tx.insert_request(rec);
    if (!stored) {
      return stored.error();
    }
    if (auto a = audit(deps_, tx, caller.actor,
                       audited::RequestCreated{.requester = request.requester,
                                               .request_kind = kind,
                                               .path = body.path,
                                               .argv = body.argv,
                                               .runas = body.runas.user,
                                               .runas_group = body.runas.group,
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
              deps_, tx, "auto-approval:" + auto_approval,
              audited::RequestAutoApproved{.auto_approval = auto_approval, .grant_deadline = request.grant_deadline},
              request.id, host);
          !a) {
        return a;
      }
    }
    return enqueue_push(tx, *stored, now);
  });
  if (!st) {
    return st.error();
  }
  if (refused) {
    return *refused;
  }
  if (deps_.wake_push) {
    deps_.wake_push(stored->endpoint_id);
  }
  return SubmitOutcome{Action::kRequest, decision.reason, std::move(*stored)};
}

Result<store::RequestRecord> RequestService::approve(const std::string& id, const UserCaller& by,
                                                     std::optional<Seconds> duration, const std::string& comment,
                                                     TimePoint now) {
  return apply(id, event::Approve{by.user, duration, comment}, by.actor, audited::RequestApproved{.comment = comment},
               now);
}

Result<store::RequestRecord> RequestService::deny(const std::string& id, const UserCaller& by,
                                                  const std::string& comment, TimePoint now) {
  return apply(id, event::Deny{by.user, comment}, by.actor, audited::RequestDenied{.comment = comment}, now);
}

Result<store::RequestRecord> RequestService::revoke(const std::string& id, const UserCaller& by,
                                                    const std::string& reason, TimePoint now) {
  return apply(id, event::Revoke{by.user, reason}, by.actor, audited::GrantRevoked{.reason = reason}, now);
}

Result<store::RequestRecord> RequestService::cancel(const EndpointCaller& caller, const std::string& id,
                                                    const std::string& user, TimePoint now) {
  return apply(id, event::Cancel{user}, caller.actor, audited::RequestCancelled{.user = user}, now,
               [&](const store::RequestRecord& r) -> Status {
                 if (r.endpoint_id != caller.endpoint_id) {
                   return not_found(fmt::format("this endpoint has no request {}", r.request.id));
                 }
                 if (r.request.requester != user) {
                   return permission_denied("only the requester may cancel a request");
                 }
                 return {};
               });
}

Result<store::RequestRecord> RequestService::self_approve(const EndpointCaller& caller, const std::string& id,
                                                          const std::string& user, std::optional<Seconds> duration,
                                                          const std::string& comment, TimePoint now) {
  return apply(id, event::SelfApprove{user, duration, comment}, user,
               audited::RequestSelfApproved{.via = caller.actor, .comment = comment}, now,
               [&](const store::RequestRecord& r) -> Status {
                 if (r.endpoint_id != caller.endpoint_id) {
                   return not_found(fmt::format("this endpoint has no request {}", r.request.id));
                 }
                 if (r.request.requester != user) {
                   return permission_denied("self-approval is for the requester only");
                 }
                 return {};
               });
}

Result<store::RequestRecord> RequestService::expire(const store::RequestRecord& due, TimePoint now) {
  const bool was_grant = due.request.state != RequestState::kPending;
  return apply(due.request.id, event::Expire{}, "system",
               was_grant ? audited::RequestChange{audited::GrantExpired{}} : audited::RequestExpired{}, now);
}

Result<store::RequestRecord> RequestService::apply(const std::string& id, const RequestEvent& event,
                                                   const std::string& actor, const audited::RequestChange& change,
                                                   TimePoint now,
                                                   const std::function<Status(const store::RequestRecord&)>& check) {
  Result<store::RequestRecord> out = internal_error("not written");
  auto st = deps_.store.write([&](store::StoreTx& tx) -> Status {
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
    if (auto a = deps_.append_audit(tx, actor, to_string(audited::kind_of(change)), id, out->request.host,
                                    audited::details_of(change, out->request));
        !a) {
      return a;
    }
    return enqueue_push(tx, *out, now);
  });
  if (!st) {
    return st.error();
  }
  if (deps_.wake_push) {
    deps_.wake_push(out->endpoint_id);
  }
  return out;
}

Status RequestService::enqueue_push(store::StoreTx& tx, const store::RequestRecord& rec, TimePoint now) {
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

}  // namespace hoist::app
