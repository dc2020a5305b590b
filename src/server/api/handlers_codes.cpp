// Offline temporary admin codes issued by a technician (docs/admin-codes.md):
// a response to an endpoint's challenge, or a pre-issued code; the host keys
// the agents check them with, and their rotation.
//
// MUST: a code is returned once and never stored: the store and the audit
// trail record who issued what for whom (the challenge's nonce or the
// pre-issued id, never the code).
// MUST: a host key goes only to its own endpoint (enrolment, the agent's
// codes-key route); it is never audited, logged or shown to users.
// MUST: a code is made with the endpoint's current key generation, checked
// again when its record is stored, so a rotation cannot leave a code
// issued for the old key.
#include <openssl/rand.h>

#include <fmt/format.h>

#include <map>

#include "core/admin_code.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

std::uint32_t day_of(TimePoint t) {
  return static_cast<std::uint32_t>(t.time_since_epoch().count() / 86400);
}

std::string lower_hex(std::span<const std::uint8_t> bytes) {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

json::object issued_code_json(const store::IssuedCode& c, const std::string& host) {
  return {{"id", c.id},
          {"endpoint", json_text(c.endpoint_id)},
          {"host", json_text(host)},
          {"kind", store::to_string(c.kind)},
          {"ref", c.ref},
          {"generation", c.generation},
          {"user", json_text(c.user)},
          {"duration_s", c.duration_s},
          {"command", json_text(c.command)},
          {"issued_by", json_text(c.issued_by)},
          {"issued_at", json_time(c.issued_at)},
          {"valid_until", json_opt_time(c.valid_until)},
          {"used_at", json_opt_time(c.used_at)},
          {"state", c.used_at ? "used" : "issued"}};
}

}  // namespace

Result<json::object> Api::Impl::codes_key_json(const std::string& endpoint_id, std::uint32_t generation) const {
  if (options.codes_master_key.empty()) {
    return unavailable("this hoistd has no admin-code key (see docs/admin-codes.md)");
  }
  auto key = codes::derive_host_key(options.codes_master_key, endpoint_id, generation);
  if (!key) {
    return key.error();
  }
  return json::object{{"generation", generation}, {"key", lower_hex(*key)}};
}

Result<net::HttpResponse> Api::Impl::agent_codes_key(Call& call) {
  const auto& endpoint = call.caller.endpoint;
  auto out = codes_key_json(endpoint.id, endpoint.codes_key_generation);
  if (!out) {
    return out.error();
  }
  return json_ok(*out);
}

Result<net::HttpResponse> Api::Impl::rotate_codes_key(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) {
    return body.error();
  }
  const std::string& id = call.param("id");
  auto endpoint = deps.store.endpoint(id);
  if (!endpoint) {
    return endpoint.error();
  }
  if (!*endpoint || (*endpoint)->retired_at) {
    return not_found(fmt::format("there is no enrolled endpoint {}", id));
  }
  const auto now = deps.clock.now_s();
  std::uint32_t generation = 0;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto bumped = tx.bump_codes_key_generation(id);
    if (!bumped) {
      return bumped.error().code == ErrorCode::kNotFound
                 ? Status{not_found(fmt::format("there is no enrolled endpoint {}", id))}
                 : Status{bumped.error()};
    }
    generation = *bumped;
    if (auto a = audit(tx, call.caller.actor(),
                       audited::EndpointCodesKeyRotated{.old_generation = generation - 1, .new_generation = generation},
                       id, (*endpoint)->hostname);
        !a) {
      return a;
    }
    // The agent fetches its new key (GET /api/v1/agent/codes-key) when told.
    auto pushed = tx.enqueue_push(id, "codes_key", dump(json::object{{"generation", generation}}), now);
    return pushed ? Status{} : Status{pushed.error()};
  });
  if (!st) {
    return st.error();
  }
  if (deps.wake_push) {
    deps.wake_push(id);
  }
  return json_ok(json::object{{"endpoint", json_text(id)}, {"generation", generation}});
}

Result<net::HttpResponse> Api::Impl::list_codes(Call& call) {
  store::IssuedCodeFilter filter;
  if (auto endpoint = call.request.query_param("endpoint")) {
    filter.endpoint_id = std::string(*endpoint);
  }
  if (auto user = call.request.query_param("user")) {
    filter.user = std::string(*user);
  }
  auto limit = page_limit(call.request);
  if (!limit) {
    return limit.error();
  }
  filter.limit = *limit;
  auto issued = deps.store.issued_codes(filter);
  if (!issued) {
    return issued.error();
  }
  std::map<std::string, std::string, std::less<>> hosts;  // endpoint id -> hostname
  json::array out;
  for (const auto& c : *issued) {
    auto host = hosts.find(c.endpoint_id);
    if (host == hosts.end()) {
      auto endpoint = deps.store.endpoint(c.endpoint_id);
      if (!endpoint) {
        return endpoint.error();
      }
      host = hosts.emplace(c.endpoint_id, *endpoint ? (*endpoint)->hostname : std::string()).first;
    }
    out.push_back(issued_code_json(c, host->second));
  }
  return json_ok(json::object{{"codes", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::issue_code(Call& call) {
  struct Body {
    std::string endpoint;
    std::string user;
    std::int64_t duration_s = 0;
    std::optional<std::string> challenge;
    std::optional<std::string> command;
    std::optional<std::int64_t> days;
    std::optional<std::string> reason;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string("endpoint", 256),
                b.string("user", 256),
                b.optional_int("duration_s", 1, 24 * 3600).value_or(0),
                b.optional_string("challenge", 64),
                b.optional_string("command", 4096),
                b.optional_int("days", 1, 31),
                b.optional_string("reason", 2000)};
  });
  if (!body) {
    return body.error();
  }
  if (options.codes_master_key.empty()) {
    return unavailable("this hoistd has no admin-code key (see docs/admin-codes.md)");
  }
  if (body->duration_s == 0) {
    return invalid_argument("field \"duration_s\" is required");
  }
  if (body->challenge && body->days) {
    return invalid_argument("a response answers a challenge; \"days\" is for pre-issued codes only");
  }
  auto endpoint = deps.store.endpoint(body->endpoint);
  if (!endpoint) {
    return endpoint.error();
  }
  if (!*endpoint || (*endpoint)->retired_at) {
    return not_found(fmt::format("there is no enrolled endpoint {}", body->endpoint));
  }
  const std::string& host = (*endpoint)->hostname;
  const std::uint32_t generation = (*endpoint)->codes_key_generation;
  auto key = codes::derive_host_key(options.codes_master_key, body->endpoint, generation);
  if (!key) {
    return key.error();
  }
  const auto now = deps.clock.now_s();
  store::IssuedCode record;
  record.endpoint_id = body->endpoint;
  record.generation = generation;
  record.user = body->user;
  record.duration_s = body->duration_s;
  record.command = body->command.value_or("");
  record.issued_by = call.caller.actor();
  record.issued_at = now;
  const codes::CodeTerms terms{body->user, Seconds{body->duration_s}, body->command.value_or("")};
  audited::CodeIssued::Code issued_as;
  json::object out{{"endpoint", json_text(body->endpoint)}, {"host", json_text(host)},
                   {"user", json_text(body->user)},         {"duration_s", body->duration_s},
                   {"command", json_text(terms.command)},   {"generation", generation}};
  std::string code;
  if (body->challenge) {
    auto challenge = codes::parse_challenge(*body->challenge);
    if (!challenge) {
      return challenge.error();
    }
    if (challenge->host_tag != codes::host_tag(body->endpoint)) {
      return invalid_argument(
          fmt::format("this challenge was not made by {} ({}): check the computer", host, body->endpoint));
    }
    auto response = codes::compute_response(*key, *challenge, terms);
    if (!response) {
      return response.error();
    }
    code = *response;
    issued_as = audited::CodeIssued::Response{.nonce = challenge->nonce};
    out["kind"] = "response";
    record.kind = store::IssuedCodeKind::kResponse;
    record.ref = challenge->nonce;
  } else {
    std::uint32_t id = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&id), sizeof id) != 1) {
      return internal_error("no randomness for a code id (OpenSSL)");
    }
    const codes::PreIssued p{id & 0xFFFFFFU, day_of(now), static_cast<std::uint32_t>(body->days.value_or(1))};
    auto issued = codes::issue_preissued(*key, p, terms);
    if (!issued) {
      return issued.error();
    }
    code = *issued;
    issued_as = audited::CodeIssued::PreIssued{.code_id = p.id, .days = p.days};
    out["kind"] = "preissued";
    out["valid_days"] = p.days;
    const TimePoint valid_until{Seconds{(static_cast<std::int64_t>(p.first_day) + p.days) * 86400}};
    out["valid_until"] = json_time(valid_until);
    record.kind = store::IssuedCodeKind::kPreIssued;
    record.ref = p.id;
    record.valid_until = valid_until;
  }
  std::int64_t row_id = 0;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto stored = tx.insert_issued_code(record);
    if (!stored) {
      if (stored.error().code == ErrorCode::kConflict) {
        return conflict(fmt::format("the admin-code key of {} was rotated meanwhile: issue the code again", host));
      }
      return stored.error().code == ErrorCode::kNotFound
                 ? Status{not_found(fmt::format("there is no enrolled endpoint {}", body->endpoint))}
                 : Status{stored.error()};
    }
    row_id = stored->id;
    return audit(tx, call.caller.actor(),
                 audited::CodeIssued{.endpoint = body->endpoint,
                                     .user = body->user,
                                     .duration_s = body->duration_s,
                                     .command = terms.command,
                                     .reason = body->reason.value_or(""),
                                     .generation = generation,
                                     .code = issued_as,
                                     .issued_code_id = row_id},
                 body->endpoint, host);
  });
  if (!st) {
    return st.error();
  }
  out["id"] = row_id;
  out["code"] = code;
  return json_ok(std::move(out), 201);
}

}  // namespace hoist::api
