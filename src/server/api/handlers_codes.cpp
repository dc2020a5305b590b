// Offline temporary admin codes issued by a technician (docs/admin-codes.md):
// a response to an endpoint's challenge, or a pre-issued code; the host keys
// the agents check them with, and their rotation.
//
// Issuing one is the code service's (src/server/app/code_service.h, with
// its MUSTs): this file parses the body and renders the code once.
// MUST: a host key goes only to its own endpoint (enrolment, the agent's
// codes-key route); it is never audited, logged or shown to users.
#include <fmt/format.h>

#include <map>

#include "core/admin_code.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

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
  auto body = read_body<app::IssueCodeBody>(call.request, [](JsonBody& b) {
    return app::IssueCodeBody{b.string("endpoint", 256),
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
  // A code is root on that computer, as an approval is.
  if (auto refusal = step_up_refusal(call.caller)) {
    return *refusal;
  }
  auto issued = code_service.issue(*body, call.caller.actor(), deps.clock.now_s());
  if (!issued) {
    return issued.error();
  }
  json::object out{{"endpoint", json_text(body->endpoint)}, {"host", json_text(issued->host)},
                   {"user", json_text(body->user)},         {"duration_s", body->duration_s},
                   {"command", json_text(issued->command)}, {"generation", issued->generation}};
  if (issued->kind == store::IssuedCodeKind::kResponse) {
    out["kind"] = "response";
  } else {
    out["kind"] = "preissued";
    out["valid_days"] = issued->valid_days;
    out["valid_until"] = json_opt_time(issued->valid_until);
  }
  out["id"] = issued->id;
  out["code"] = issued->code;
  return json_ok(std::move(out), 201);
}

}  // namespace hoist::api
