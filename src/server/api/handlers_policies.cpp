// Policies: versions, assignment to endpoint groups, diffs, and the
// effective policy an agent fetches.
//
// MUST: a policy version is stored only when it parses without errors, so
// an agent never receives a policy it cannot load.
// MUST: every change is a new version, audited with its author and diff.
#include <fmt/format.h>

#include <set>
#include <vector>

#include "core/policy_file.h"
#include "core/policy_merge.h"
#include "core/text_diff.h"
#include "core/timestamp.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

constexpr std::size_t kMaxAuditDiffBytes = 64 * 1024;

Status check_policy_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return invalid_argument("a policy name has 1 to 64 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    if (!ok) {
      return invalid_argument("a policy name may use only a-z, 0-9, '.', '-' and '_'");
    }
  }
  return {};
}

Result<int> parse_version_param(std::string_view text, std::string_view what) {
  int v = 0;
  if (text.empty() || text.size() > 9) {
    return invalid_argument(fmt::format("{} must be a version number", what));
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return invalid_argument(fmt::format("{} must be a version number", what));
    }
    v = v * 10 + (c - '0');
  }
  if (v < 1) {
    return invalid_argument(fmt::format("{} must be 1 or more", what));
  }
  return v;
}

// Tells every live endpoint in any of `labels` that its effective policy
// changed (the agent then refetches it with If-None-Match).
Status push_policy_change(store::StoreTx& tx, const std::vector<store::EndpointRecord>& endpoints,
                          const std::set<std::string>& labels, const json::object& payload, TimePoint now) {
  std::vector<std::string> affected;
  for (const auto& e : endpoints) {
    if (!e.retired_at &&
        std::any_of(e.labels.begin(), e.labels.end(), [&](const std::string& l) { return labels.count(l) > 0; })) {
      affected.push_back(e.id);
    }
  }
  // One statement for all of them (thousands, under the write lock).
  if (auto pushed = tx.enqueue_push_many(affected, "policy", dump(payload), now); !pushed) {
    return pushed.error();
  }
  return {};
}

// A policy text set against the policy's current version: what saving it
// would replace, and the unified diff (cut at kMaxAuditDiffBytes).
struct Draft {
  std::optional<store::PolicyRecord> current;  // none, or deleted, or live
  bool live = false;
  int current_version = 0;  // 0 when there is no live policy
  std::string previous_text;
  std::string diff;
  bool diff_truncated = false;
};

Result<Draft> draft_against_current(store::Store& store, const std::string& name, const std::string& text) {
  Draft d;
  auto current = store.policy(name);
  if (!current) {
    return current.error();
  }
  d.current = std::move(*current);
  // A deleted policy starts again from nothing (its numbering continues).
  d.live = d.current && !d.current->deleted_at;
  d.current_version = d.live ? d.current->current_version : 0;
  if (d.current_version > 0) {
    auto prev = store.policy_version(name, d.current_version);
    if (!prev) {
      return prev.error();
    }
    if (*prev) {
      d.previous_text = (*prev)->text;
    }
  }
  d.diff = unified_diff(d.previous_text, text, fmt::format("{}@{}", name, d.current_version),
                        fmt::format("{}@{}", name, d.current_version + 1));
  if (d.diff.size() > kMaxAuditDiffBytes) {
    d.diff.resize(kMaxAuditDiffBytes);
    d.diff_truncated = true;
  }
  return d;
}

}  // namespace

json::object policy_json(const store::PolicyRecord& p) {
  return {{"name", json_text(p.name)},
          {"current_version", p.current_version},
          {"labels", string_array(p.labels)},
          {"deleted_at", json_opt_time(p.deleted_at)}};
}

json::object policy_version_json(const store::PolicyVersion& v, bool with_text) {
  json::object out{{"name", json_text(v.name)},
                   {"version", v.version},
                   {"author", json_text(v.author)},
                   {"comment", json_text(v.comment)},
                   {"created_at", json_time(v.created_at)}};
  if (with_text) {
    out["text"] = json_text(v.text);
  }
  return out;
}

Result<net::HttpResponse> Api::Impl::list_policies(Call& /*call*/) {
  auto policies = deps.store.policies();
  if (!policies) {
    return policies.error();
  }
  json::array out;
  for (const auto& p : *policies) {
    out.push_back(policy_json(p));
  }
  return json_ok(json::object{{"policies", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::get_policy(Call& call) {
  const std::string& name = call.param("name");
  auto policy = deps.store.policy(name);
  if (!policy) {
    return policy.error();
  }
  if (!*policy) {
    return not_found(fmt::format("there is no policy {}", name));
  }
  auto out = policy_json(**policy);
  auto version = deps.store.policy_version(name, (*policy)->current_version);
  if (!version) {
    return version.error();
  }
  if (*version) {
    out["current"] = policy_version_json(**version, true);
  }
  return json_ok(out);
}

Result<net::HttpResponse> Api::Impl::put_policy(Call& call) {
  struct Body {
    std::string text;
    std::string comment;
    std::optional<std::int64_t> expected_version;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string("text", kMaxPolicyBytes), b.optional_string("comment", 1000).value_or(""),
                b.optional_int("expected_version", 0, INT32_MAX)};
  });
  if (!body) {
    return body.error();
  }
  const std::string& name = call.param("name");
  if (auto st = check_policy_name(name); !st) {
    return st.error();
  }
  auto parsed = parse_policy(body->text, name + ".toml", deps.zones);
  if (!parsed.policy) {
    std::string message = fmt::format("the policy has {} error(s):", parsed.errors.size());
    for (const auto& e : parsed.errors) {
      message += "\n" + e.to_string();
    }
    return invalid_argument(message);
  }
  auto draft = draft_against_current(deps.store, name, body->text);
  if (!draft) {
    return draft.error();
  }
  const int current_version = draft->current_version;
  const int expected = body->expected_version ? static_cast<int>(*body->expected_version) : current_version;
  auto endpoints = deps.store.endpoints();
  if (!endpoints) {
    return endpoints.error();
  }
  const auto now = deps.clock.now_s();
  store::PolicyVersion version;
  version.name = name;
  version.text = body->text;
  version.author = call.caller.user;
  version.comment = body->comment;
  version.created_at = now;
  Result<store::PolicyVersion> added = internal_error("not written");
  std::vector<std::string> labels = draft->live ? draft->current->labels : std::vector<std::string>{};
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    added = tx.add_policy_version(version, expected);
    if (!added) {
      return added.error();
    }
    if (auto a = audit(tx, call.caller.actor(),
                       audited::PolicyVersionAdded{.version = added->version,
                                                   .comment = body->comment,
                                                   .diff = draft->diff,
                                                   .diff_truncated = draft->diff_truncated},
                       name, "");
        !a) {
      return a;
    }
    return push_policy_change(tx, *endpoints, std::set<std::string>(labels.begin(), labels.end()),
                              json::object{{"policy", json_text(name)}, {"version", added->version}}, now);
  });
  forget_policies();  // even when the write failed: it may have landed
  if (!st) {
    return st.error();
  }
  if (deps.wake_push) {
    deps.wake_push("");  // every endpoint the policy reaches
  }
  return json_ok(policy_version_json(*added, false), current_version == 0 ? 201 : 200);
}

// A dry run of put_policy: the same parser, nothing stored or audited. The
// console calls it as the admin types, to show errors against their lines
// and the diff a save would make.
Result<net::HttpResponse> Api::Impl::check_policy(Call& call) {
  struct Body {
    std::string text;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) { return Body{b.string("text", kMaxPolicyBytes)}; });
  if (!body) {
    return body.error();
  }
  const std::string& name = call.param("name");
  if (auto st = check_policy_name(name); !st) {
    return st.error();
  }
  auto parsed = parse_policy(body->text, name + ".toml", deps.zones);
  json::array errors;
  for (const auto& e : parsed.errors) {
    errors.push_back(json::object{{"line", e.line},
                                  {"column", e.column},
                                  {"where", json_text(e.where)},
                                  {"message", json_text(e.message)},
                                  {"text", json_text(e.to_string())}});
  }
  auto draft = draft_against_current(deps.store, name, body->text);
  if (!draft) {
    return draft.error();
  }
  json::object out{{"name", json_text(name)},
                   {"valid", parsed.policy.has_value()},
                   {"errors", std::move(errors)},
                   {"current_version", draft->current_version},
                   {"changed", draft->previous_text != body->text},
                   {"diff", json_text(draft->diff)},
                   {"diff_truncated", draft->diff_truncated}};
  if (parsed.policy) {
    out["rules"] = parsed.policy->rules.size();
    out["auto_approvals"] = parsed.policy->auto_approvals.size();
  }
  return json_ok(out);
}

Result<net::HttpResponse> Api::Impl::delete_policy(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) {
    return body.error();
  }
  const std::string& name = call.param("name");
  auto current = deps.store.policy(name);
  if (!current) {
    return current.error();
  }
  auto endpoints = deps.store.endpoints();
  if (!endpoints) {
    return endpoints.error();
  }
  const std::set<std::string> labels =
      *current ? std::set<std::string>((*current)->labels.begin(), (*current)->labels.end()) : std::set<std::string>{};
  const auto now = deps.clock.now_s();
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.delete_policy(name, now); !s) {
      return s;
    }
    if (auto a = audit(tx, call.caller.actor(), audited::PolicyDeleted{}, name, ""); !a) {
      return a;
    }
    return push_policy_change(tx, *endpoints, labels, json::object{{"policy", json_text(name)}, {"deleted", true}},
                              now);
  });
  forget_policies();  // even when the write failed: it may have landed
  if (!st) {
    return st.error();
  }
  if (deps.wake_push) {
    deps.wake_push("");  // every endpoint the policy reaches
  }
  return json_ok(json::object{{"name", json_text(name)}, {"deleted", true}});
}

Result<net::HttpResponse> Api::Impl::assign_policy(Call& call) {
  struct Body {
    std::vector<std::string> labels;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) { return Body{b.string_list("labels", 256, 64)}; });
  if (!body) {
    return body.error();
  }
  if (auto st = check_labels(body->labels); !st) {
    return st.error();
  }
  const std::string& name = call.param("name");
  auto current = deps.store.policy(name);
  if (!current) {
    return current.error();
  }
  if (!*current || (*current)->deleted_at) {
    return not_found(fmt::format("there is no policy {}", name));
  }
  auto endpoints = deps.store.endpoints();
  if (!endpoints) {
    return endpoints.error();
  }
  std::set<std::string> touched((*current)->labels.begin(), (*current)->labels.end());
  touched.insert(body->labels.begin(), body->labels.end());
  const auto now = deps.clock.now_s();
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.assign_policy(name, body->labels); !s) {
      return s;
    }
    if (auto a =
            audit(tx, call.caller.actor(),
                  audited::PolicyAssigned{.labels = body->labels, .previous_labels = (*current)->labels}, name, "");
        !a) {
      return a;
    }
    return push_policy_change(tx, *endpoints, touched, json::object{{"policy", json_text(name)}}, now);
  });
  forget_policies();  // even when the write failed: it may have landed
  if (!st) {
    return st.error();
  }
  if (deps.wake_push) {
    deps.wake_push("");  // every endpoint the policy reaches
  }
  auto after = deps.store.policy(name);
  if (!after || !*after) {
    return internal_error("the policy vanished (this is a bug)");
  }
  return json_ok(policy_json(**after));
}

Result<net::HttpResponse> Api::Impl::policy_versions(Call& call) {
  const std::string& name = call.param("name");
  auto history = deps.store.policy_history(name);
  if (!history) {
    return history.error();
  }
  if (history->empty()) {
    return not_found(fmt::format("there is no policy {}", name));
  }
  json::array out;
  for (const auto& v : *history) {
    out.push_back(policy_version_json(v, false));
  }
  return json_ok(json::object{{"versions", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::policy_version(Call& call) {
  const std::string& name = call.param("name");
  auto number = parse_version_param(call.param("version"), "the version");
  if (!number) {
    return number.error();
  }
  auto version = deps.store.policy_version(name, *number);
  if (!version) {
    return version.error();
  }
  if (!*version) {
    return not_found(fmt::format("policy {} has no version {}", name, *number));
  }
  return json_ok(policy_version_json(**version, true));
}

Result<net::HttpResponse> Api::Impl::policy_diff(Call& call) {
  const std::string& name = call.param("name");
  auto policy = deps.store.policy(name);
  if (!policy) {
    return policy.error();
  }
  if (!*policy) {
    return not_found(fmt::format("there is no policy {}", name));
  }
  const int current = (*policy)->current_version;
  auto to = parse_version_param(call.request.query_param("to").value_or(std::to_string(current)), "\"to\"");
  if (!to) {
    return to.error();
  }
  auto from = call.request.query_param("from") ? parse_version_param(*call.request.query_param("from"), "\"from\"")
                                               : Result<int>(std::max(1, *to - 1));
  if (!from) {
    return from.error();
  }
  auto a = deps.store.policy_version(name, *from);
  auto b = deps.store.policy_version(name, *to);
  if (!a) {
    return a.error();
  }
  if (!b) {
    return b.error();
  }
  if (!*a || !*b) {
    return not_found(fmt::format("policy {} has no version {}", name, !*a ? *from : *to));
  }
  const auto diff =
      unified_diff((*a)->text, (*b)->text, fmt::format("{}@{}", name, *from), fmt::format("{}@{}", name, *to));
  return json_ok(json::object{{"name", json_text(name)}, {"from", *from}, {"to", *to}, {"diff", json_text(diff)}});
}

Result<EffectivePolicy> Api::Impl::effective_policy(const std::vector<std::string>& labels, bool may_use_memo) {
  const auto labels_key = label_set_key(labels);
  if (may_use_memo) {
    // The label set's ETag is known and current: no database.
    std::string known;
    {
      const std::lock_guard lock(memo_mu);
      if (auto it = etag_memo.find(labels_key);
          it != etag_memo.end() && memo_fresh(it->second.generation, policy_generation, it->second.cached_at)) {
        known = it->second.etag;
      }
    }
    if (!known.empty()) {
      const std::lock_guard lock(policy_cache_mu);
      if (auto it = effective_cache.find(known); it != effective_cache.end()) {
        return it->second;
      }
    }
  }
  // Read before the store: a policy change committed after this point moves
  // the generation, and the memo entry made below is then never used.
  const auto generation = current_policy_generation();
  auto assigned = deps.store.policies_for_labels(labels);
  if (!assigned) {
    return assigned.error();
  }
  EffectivePolicy out;
  std::string identity;
  for (const auto& p : *assigned) {
    out.parts.emplace_back(p.name, p.current_version);
    identity += fmt::format("{}@{};", p.name, p.current_version);
  }
  out.etag = "\"" + sha256(identity).hex().substr(0, 32) + "\"";
  const auto remember = [&] {
    const std::lock_guard lock(memo_mu);
    if (etag_memo.size() >= kMemoMaxEntries) {
      etag_memo.clear();
    }
    etag_memo.insert_or_assign(labels_key, EtagMemo{out.etag, generation, deps.clock.now_ms()});
  };
  {
    const std::lock_guard lock(policy_cache_mu);
    if (auto it = effective_cache.find(out.etag); it != effective_cache.end()) {
      remember();
      return it->second;
    }
  }
  std::vector<NamedPolicy> named;
  for (const auto& [name, version] : out.parts) {
    const std::string key = fmt::format("{}@{}", name, version);
    std::shared_ptr<const Policy> parsed;
    {
      const std::lock_guard lock(policy_cache_mu);
      if (auto it = parsed_policies.find(key); it != parsed_policies.end()) {
        parsed = it->second;
      }
    }
    if (!parsed) {
      auto text = deps.store.policy_version(name, version);
      if (!text) {
        return text.error();
      }
      if (!*text) {
        return internal_error(fmt::format("policy {} version {} is missing (this is a bug)", name, version));
      }
      auto result = parse_policy((*text)->text, key, deps.zones);
      if (!result.policy) {
        return internal_error(fmt::format("stored policy {} no longer parses: {}", key,
                                          result.errors.empty() ? "" : result.errors.front().to_string()));
      }
      parsed = std::make_shared<const Policy>(std::move(*result.policy));
      const std::lock_guard lock(policy_cache_mu);
      parsed_policies.emplace(key, parsed);
    }
    named.push_back(NamedPolicy{name, version, *parsed});
  }
  auto merged = merge_policies(named);
  if (!merged) {
    return merged.error();
  }
  auto compiled = CompiledPolicy::compile(std::move(*merged));
  if (!compiled) {
    return compiled.error();
  }
  out.compiled = *compiled;
  {
    const std::lock_guard lock(policy_cache_mu);
    if (effective_cache.size() > 256) {
      effective_cache.clear();
    }
    effective_cache.emplace(out.etag, out);
  }
  remember();
  return out;
}

Result<net::HttpResponse> Api::Impl::agent_policy(Call& call) {
  auto effective = effective_policy(call.caller.endpoint.labels);
  if (!effective) {
    return effective.error();
  }
  if (const auto inm = call.request.header("if-none-match"); inm && net::if_none_match_matches(*inm, effective->etag)) {
    net::HttpResponse not_modified;
    not_modified.status = 304;
    not_modified.set_header("etag", effective->etag);
    return not_modified;
  }
  json::array parts;
  for (const auto& [name, version] : effective->parts) {
    auto text = deps.store.policy_version(name, version);
    if (!text) {
      return text.error();
    }
    if (*text) {
      parts.push_back(policy_version_json(**text, true));
    }
  }
  auto response = json_ok(json::object{{"etag", effective->etag},
                                       {"labels", string_array(call.caller.endpoint.labels)},
                                       {"policies", std::move(parts)}});
  response.set_header("etag", effective->etag);
  return response;
}

}  // namespace hoist::api
