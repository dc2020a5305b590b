#include "core/policy_merge.h"

#include <algorithm>
#include <set>
#include <string_view>

#include <fmt/format.h>

namespace hoist {

namespace {

// deny > request > allow.
int restrictiveness(Action a) {
  switch (a) {
    case Action::kDeny: return 2;
    case Action::kRequest: return 1;
    case Action::kAllow: return 0;
  }
  return 2;
}

Status check_name(const NamedPolicy& p) {
  if (p.name.empty()) return invalid_argument("a policy has an empty name; give every policy a name");
  for (const char c : p.name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '/') {
      return invalid_argument(
          fmt::format("policy \"{}\": the name contains '/', which separates policy and rule names in a merged policy; "
                      "rename the policy",
                      p.name));
    }
    if (u <= 0x20 || u == 0x7f) {
      return invalid_argument(
          fmt::format("policy \"{}\": the name contains whitespace or a control character; rename the policy", p.name));
    }
  }
  if (p.policy.version != kPolicyFormatVersion) {
    return invalid_argument(fmt::format("policy \"{}\": format version {} is not supported (expected {})", p.name,
                                        p.policy.version, kPolicyFormatVersion));
  }
  return {};
}

std::string qualified(std::string_view policy, std::string_view name) {
  std::string out;
  out.reserve(policy.size() + 1 + name.size());
  out.append(policy).append("/").append(name);
  return out;
}

// The rule as its own policy's evaluator would see it, with the settings it
// depends on written into it.
Rule with_own_defaults(const Rule& rule, const Settings& own, std::string_view policy_name) {
  Rule r = rule;
  r.name = qualified(policy_name, rule.name);
  const Seconds max = cap_duration(rule.max_duration.value_or(own.max_duration), own.max_duration);
  r.max_duration = max;
  r.default_duration = cap_duration(rule.default_duration.value_or(own.default_duration), max);
  return r;
}

// Empty result: the entry approves nothing and is dropped.
std::vector<std::string> own_rule_references(const AutoApproval& a, const Policy& own, std::string_view policy_name) {
  std::vector<std::string> refs;
  if (!a.rules.empty()) {
    refs.reserve(a.rules.size());
    for (const auto& name : a.rules) refs.push_back(qualified(policy_name, name));
    return refs;
  }
  for (const Rule& r : own.rules) {
    if (r.action == Action::kRequest && r.approval == ApprovalMode::kAutonomous) {
      refs.push_back(qualified(policy_name, r.name));
    }
  }
  return refs;
}

std::vector<std::string> intersection(const std::vector<std::string>& kept, const std::vector<std::string>& other) {
  std::vector<std::string> out;
  for (const auto& g : kept) {
    if (std::find(other.begin(), other.end(), g) != other.end() && std::find(out.begin(), out.end(), g) == out.end()) {
      out.push_back(g);
    }
  }
  return out;
}

}  // namespace

Result<Policy> merge_policies(const std::vector<NamedPolicy>& policies) {
  Policy merged;
  merged.version = kPolicyFormatVersion;
  Settings& ms = merged.settings;
  if (policies.empty()) {
    ms.default_action = Action::kDeny;
    return merged;
  }

  std::set<std::string_view> seen;
  for (const NamedPolicy& p : policies) {
    if (auto ok = check_name(p); !ok) return ok.error();
    if (!seen.insert(p.name).second) {
      return invalid_argument(
          fmt::format("policy \"{}\" is listed twice; each policy may be merged only once", p.name));
    }
  }

  ms = policies.front().policy.settings;
  ms.contact.clear();
  // The first policy is folded in again, which also removes duplicate groups.
  for (const NamedPolicy& p : policies) {
    const Settings& s = p.policy.settings;
    if (restrictiveness(s.default_action) > restrictiveness(ms.default_action)) ms.default_action = s.default_action;
    ms.default_duration = std::min(ms.default_duration, s.default_duration);
    ms.max_duration = std::min(ms.max_duration, s.max_duration);
    ms.approval_wait = std::min(ms.approval_wait, s.approval_wait);
    ms.request_expiry = std::min(ms.request_expiry, s.request_expiry);
    if (ms.contact.empty()) ms.contact = s.contact;
    ms.self_approval_groups = intersection(ms.self_approval_groups, s.self_approval_groups);
    ms.reauthenticate = ms.reauthenticate || s.reauthenticate;
    ms.end_session_processes = ms.end_session_processes || s.end_session_processes;
  }
  ms.default_duration = cap_duration(ms.default_duration, ms.max_duration);

  for (const NamedPolicy& p : policies) {
    for (const Rule& r : p.policy.rules) merged.rules.push_back(with_own_defaults(r, p.policy.settings, p.name));
    for (const AutoApproval& a : p.policy.auto_approvals) {
      auto refs = own_rule_references(a, p.policy, p.name);
      if (refs.empty()) continue;
      AutoApproval copy = a;
      copy.name = qualified(p.name, a.name);
      copy.rules = std::move(refs);
      merged.auto_approvals.push_back(std::move(copy));
    }
  }
  return merged;
}

}  // namespace hoist
