// Enrolment, heartbeats, endpoint listing and retirement.
//
// MUST: each enrolled endpoint gets its own credential (never a shared
// one); only its hash is stored, and retiring the endpoint erases it.
// MUST: an enrolment token use is taken atomically with the endpoint's
// creation: a token with one use enrols one endpoint.
// MUST: the enrolment reply's host key (codes_key) is the new endpoint's
// own, derived from its id; it is never audited.
#include <fmt/format.h>

#include "core/timestamp.h"
#include "server/api/api_impl.h"
#include "server/auth/secrets.h"

namespace hoist::api {

namespace {

Status check_label(std::string_view label) {
  if (label.empty() || label.size() > 64) {
    return invalid_argument("an endpoint label has 1 to 64 characters");
  }
  for (char c : label) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) {
      return invalid_argument(fmt::format("label \"{}\" may use only a-z, 0-9, '.', '-' and '_'", label));
    }
  }
  return {};
}

Status check_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return invalid_argument("a hostname has 1 to 253 characters");
  }
  for (char c : host) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) {
      return invalid_argument("a hostname may use only letters, digits, '.', '-' and '_'");
    }
  }
  return {};
}

}  // namespace

Status check_labels(const std::vector<std::string>& labels) {
  for (const auto& l : labels) {
    if (auto st = check_label(l); !st) {
      return st;
    }
  }
  return {};
}

json::object endpoint_json(const store::EndpointRecord& e) {
  return {{"id", e.id},
          {"hostname", json_text(e.hostname)},
          {"labels", string_array(e.labels)},
          {"agent_version", json_text(e.agent_version)},
          {"enrolled_at", json_time(e.enrolled_at)},
          {"last_seen", json_opt_time(e.last_seen)},
          {"retired_at", json_opt_time(e.retired_at)},
          {"codes_key_generation", e.codes_key_generation}};
}

Result<std::string> Api::Impl::create_enrollment_token(const std::vector<std::string>& labels, int uses,
                                                       Seconds lifetime, const std::string& actor) {
  if (auto st = check_labels(labels); !st) {
    return st.error();
  }
  if (uses < 1 || uses > 100000) {
    return invalid_argument("an enrolment token has 1 to 100000 uses");
  }
  const auto now = deps.clock.now_s();
  const auto token = auth::make_secret_token(auth::kEnrolmentTokenKind);
  store::EnrollmentTokenRecord rec;
  rec.id = token.id;
  rec.secret_hash = auth::hash_secret(token.secret);
  rec.labels = labels;
  rec.uses_left = uses;
  rec.expires_at = now + lifetime;
  rec.created_by = actor;
  rec.created_at = now;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.insert_enrollment_token(rec); !s) {
      return s;
    }
    return audit(tx, actor,
                 audited::EnrolmentTokenCreated{.labels = labels, .uses = uses, .expires_at = rec.expires_at}, rec.id,
                 "");
  });
  if (!st) {
    return st.error();
  }
  return token.text();
}

Result<net::HttpResponse> Api::Impl::create_enrollment_token_route(Call& call) {
  struct Body {
    std::vector<std::string> labels;
    std::optional<std::int64_t> uses;
    std::optional<std::int64_t> expires_in_s;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string_list("labels", 64, 64), b.optional_int("uses", 1, 100000),
                b.optional_int("expires_in_s", 60, 366LL * 24 * 3600)};
  });
  if (!body) {
    return body.error();
  }
  const int uses = static_cast<int>(body->uses.value_or(1));
  const Seconds lifetime{body->expires_in_s.value_or(24 * 3600)};
  auto text = create_enrollment_token(body->labels, uses, lifetime, call.caller.actor());
  if (!text) {
    return text.error();
  }
  auto parsed = auth::parse_secret_token(*text, auth::kEnrolmentTokenKind);
  return json_ok(json::object{{"id", parsed ? parsed->id : std::string()},
                              {"token", *text},
                              {"labels", string_array(body->labels)},
                              {"uses", uses},
                              {"expires_at", json_time(deps.clock.now_s() + lifetime)}},
                 201);
}

Result<net::HttpResponse> Api::Impl::list_enrollment_tokens(Call& /*call*/) {
  auto tokens = deps.store.enrollment_tokens();
  if (!tokens) {
    return tokens.error();
  }
  const auto now = deps.clock.now_s();
  json::array out;
  for (const auto& t : *tokens) {
    const char* state = t.revoked_at          ? "revoked"
                        : t.uses_left == 0    ? "used_up"
                        : t.expires_at <= now ? "expired"
                                              : "active";
    out.push_back(json::object{{"id", json_text(t.id)},
                               {"labels", string_array(t.labels)},
                               {"uses_left", t.uses_left},
                               {"expires_at", json_time(t.expires_at)},
                               {"created_by", json_text(t.created_by)},
                               {"created_at", json_time(t.created_at)},
                               {"revoked_at", json_opt_time(t.revoked_at)},
                               {"state", state}});
  }
  return json_ok(json::object{{"tokens", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::revoke_enrollment_token(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) {
    return body.error();
  }
  const std::string& id = call.param("id");
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.revoke_enrollment_token(id, deps.clock.now_s()); !s) {
      return s;
    }
    return audit(tx, call.caller.actor(), audited::EnrolmentTokenRevoked{}, id, "");
  });
  if (!st) {
    return st.error();
  }
  return json_ok(json::object{{"id", json_text(id)}, {"revoked", true}});
}

Result<net::HttpResponse> Api::Impl::enrol(Call& call) {
  struct Body {
    std::string token;
    std::string hostname;
    std::string agent_version;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string("token", 200), b.string("hostname", 253), b.string("agent_version", 64)};
  });
  if (!body) {
    return body.error();
  }
  if (auto st = check_hostname(body->hostname); !st) {
    return st.error();
  }
  auto token = auth::parse_secret_token(body->token, auth::kEnrolmentTokenKind);
  if (!token) {
    return token.error();
  }
  const auto now = deps.clock.now_s();
  const auto credential = auth::make_secret_token(auth::kAgentCredentialKind);
  store::EndpointRecord endpoint;
  endpoint.id = credential.id;
  endpoint.hostname = body->hostname;
  endpoint.credential_hash = auth::hash_secret(credential.secret);
  endpoint.agent_version = body->agent_version;
  endpoint.enrolled_at = now;
  endpoint.last_seen = now;
  // The endpoint's own admin-code key, when this hoistd issues codes: made
  // before anything is stored, so a failure leaves no endpoint behind.
  std::optional<json::object> codes_key;
  if (!options.codes_master_key.empty()) {
    auto key = codes_key_json(endpoint.id, endpoint.codes_key_generation);
    if (!key) {
      return key.error();
    }
    codes_key = std::move(*key);
  }
  // The secret is checked first (its hash never changes); the use is then
  // taken atomically with the endpoint's creation.
  auto stored = deps.store.enrollment_token(token->id);
  if (!stored) {
    return stored.error();
  }
  if (!*stored || !auth::secret_matches((*stored)->secret_hash, token->secret)) {
    return unauthenticated("the enrolment token is unknown; ask an admin for a new one");
  }
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto used = tx.use_enrollment_token(token->id, now);
    if (!used) {
      return used.error().code == ErrorCode::kPermissionDenied ? unauthenticated(used.error().message) : used.error();
    }
    endpoint.labels = used->labels;
    if (auto s = tx.insert_endpoint(endpoint); !s) {
      return s;
    }
    return audit(tx, "agent:" + endpoint.id,
                 audited::EndpointEnrolled{.enrolment_token = token->id,
                                           .labels = endpoint.labels,
                                           .agent_version = endpoint.agent_version,
                                           .remote = call.request.remote_address},
                 endpoint.id, endpoint.hostname);
  });
  if (!st) {
    return st.error();
  }
  auto out = endpoint_json(endpoint);
  out["credential"] = credential.text();
  if (codes_key) {
    out["codes_key"] = std::move(*codes_key);
  }
  return json_ok(out, 201);
}

Result<net::HttpResponse> Api::Impl::heartbeat(Call& call) {
  struct Body {
    std::string agent_version;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) { return Body{b.string("agent_version", 64)}; });
  if (!body) {
    return body.error();
  }
  const auto now = deps.clock.now_s();
  auto st = deps.store.write(
      [&](store::StoreTx& tx) { return tx.record_heartbeat(call.caller.endpoint.id, now, body->agent_version); });
  if (!st) {
    return st.error();
  }
  return json_ok(json::object{{"endpoint_id", call.caller.endpoint.id}, {"server_time", json_time(now)}});
}

Result<net::HttpResponse> Api::Impl::list_endpoints(Call& call) {
  auto endpoints = deps.store.endpoints();
  if (!endpoints) {
    return endpoints.error();
  }
  const auto label = call.request.query_param("label");
  json::array out;
  for (const auto& e : *endpoints) {
    if (label && std::find(e.labels.begin(), e.labels.end(), *label) == e.labels.end()) {
      continue;
    }
    out.push_back(endpoint_json(e));
  }
  return json_ok(json::object{{"endpoints", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::get_endpoint(Call& call) {
  auto endpoint = deps.store.endpoint(call.param("id"));
  if (!endpoint) {
    return endpoint.error();
  }
  if (!*endpoint) {
    return not_found(fmt::format("there is no endpoint {}", call.param("id")));
  }
  return json_ok(endpoint_json(**endpoint));
}

Result<net::HttpResponse> Api::Impl::retire_endpoint(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) {
    return body.error();
  }
  const std::string& id = call.param("id");
  auto endpoint = deps.store.endpoint(id);
  if (!endpoint) {
    return endpoint.error();
  }
  if (!*endpoint) {
    return not_found(fmt::format("there is no endpoint {}", id));
  }
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.retire_endpoint(id, deps.clock.now_s()); !s) {
      return s;
    }
    return audit(tx, call.caller.actor(), audited::EndpointRetired{}, id, (*endpoint)->hostname);
  });
  forget_endpoint(id);  // even when the write failed: it may have landed
  if (!st) {
    return st.error();
  }
  auto after = deps.store.endpoint(id);
  if (!after || !*after) {
    return internal_error("the retired endpoint vanished (this is a bug)");
  }
  return json_ok(endpoint_json(**after));
}

}  // namespace hoist::api
