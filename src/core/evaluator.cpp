#include "core/evaluator.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "core/path.h"

namespace hoist {

namespace {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

using StringIndex = std::unordered_map<std::string, std::vector<std::uint32_t>, StringHash, std::equal_to<>>;

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Hostnames compare without case (RFC 4343); the rule's are stored lower
// case. An unknown host ("") is in no list: it never helps a rule match.
bool host_in(const std::vector<std::string>& hosts, std::string_view host) {
  if (host.empty()) return false;
  std::string lower(host);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return std::find(hosts.begin(), hosts.end(), lower) != hosts.end();
}

bool intersects(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return std::any_of(a.begin(), a.end(), [&b](const std::string& x) { return contains(b, x); });
}

bool args_match(const ArgsSpec& spec, const std::vector<std::string>& args) {
  if (args.size() < spec.patterns.size()) return false;
  if (!spec.rest_allowed && args.size() != spec.patterns.size()) return false;
  for (std::size_t i = 0; i < spec.patterns.size(); ++i) {
    if (!spec.patterns[i].matches(args[i])) return false;
  }
  return true;
}

}  // namespace

bool principal_matches(const std::vector<std::string>& users, const std::vector<std::string>& groups,
                       const Subject& subject) {
  if (users.empty() && groups.empty()) return true;
  return contains(users, subject.user) || intersects(groups, subject.groups);
}

struct CompiledPolicy::Index {
  std::unordered_map<Sha256, std::vector<std::uint32_t>, Sha256Hash> by_sha256;
  StringIndex by_path;    // exact path rules
  StringIndex by_folder;  // folder rules and path globs, keyed by their literal folder
  StringIndex by_package;
  StringIndex by_name;
};

CompiledPolicy::CompiledPolicy() : index_(std::make_unique<Index>()) {}
CompiledPolicy::~CompiledPolicy() = default;

Result<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::compile(Policy policy) {
  auto compiled = std::make_shared<CompiledPolicy>();
  Index& ix = *compiled->index_;
  for (std::uint32_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& r = policy.rules[i];
    const CommandMatch& m = r.match;
    if (!ix.by_name.try_emplace(r.name, std::vector<std::uint32_t>{i}).second) {
      return invalid_argument("two rules are named \"" + r.name + "\" (this is a bug in the policy builder)");
    }
    for (const auto* p : {&m.path, &m.folder}) {
      if (*p && !is_normalized_absolute(**p)) {
        return invalid_argument("rule \"" + r.name + "\" has a path that is not normalised: " + **p +
                                " (this is a bug in the policy builder)");
      }
    }
    if (m.session) {
      compiled->session_rules_.push_back(i);
      continue;
    }
    if (!m.edit.empty()) {
      compiled->edit_rules_.push_back(i);
      continue;
    }
    // "Deny everything" holds for edits too.
    if (m.any_command && r.action == Action::kDeny) compiled->edit_rules_.push_back(i);
    // Each rule is indexed under its most selective criterion only: every
    // criterion must hold, so a rule that cannot match its key cannot match.
    if (!m.sha256.empty()) {
      for (const auto& d : m.sha256) {
        auto& v = ix.by_sha256[d];
        if (v.empty() || v.back() != i) v.push_back(i);
      }
    } else if (m.path) {
      ix.by_path[*m.path].push_back(i);
    } else if (m.folder) {
      ix.by_folder[*m.folder].push_back(i);
    } else if (m.path_glob) {
      const std::string_view lit = glob_literal_prefix(m.path_glob->source());
      const auto slash = lit.rfind('/');
      const std::string dir =
          slash == 0 ? "/" : std::string(lit.substr(0, slash == std::string_view::npos ? 0 : slash));
      if (!dir.empty() && is_normalized_absolute(dir)) {
        ix.by_folder[dir].push_back(i);
      } else {
        compiled->unindexed_.push_back(i);
      }
    } else if (m.package && m.package->kind() == StringMatcher::Kind::kLiteral) {
      ix.by_package[m.package->source()].push_back(i);
    } else {
      compiled->unindexed_.push_back(i);
    }
  }
  compiled->policy_ = std::move(policy);
  return std::shared_ptr<const CompiledPolicy>(std::move(compiled));
}

const Rule* CompiledPolicy::find_rule(std::string_view name) const {
  const auto it = index_->by_name.find(name);
  return it == index_->by_name.end() ? nullptr : &policy_.rules[it->second.front()];
}

bool CompiledPolicy::rule_matches(const Rule& rule, const Subject& subject, const CommandLine& command, TimePoint now,
                                  const TimeZones& zones) const {
  const CommandMatch& m = rule.match;
  const Executable& exe = command.exe;
  const bool deny = rule.action == Action::kDeny;
  // A name that reaches the file through a link under another name changes
  // what a multi-call program does; when someone other than root could
  // have made that link, the program's identity is uncertain: no grant.
  if (!deny && !exe.real_path.empty() && !exe.trusted_path) return false;
  // Under another name only a rule naming that name grants: a digest or a
  // package alone would run the program in whichever personality a
  // trusted link offers (insmod for a kmod rule, halt for systemd's).
  if (!deny && !exe.real_path.empty() && !m.uses_path() && !m.any_command) return false;
  if (!m.sha256.empty()) {
    if (!exe.sha256 || std::find(m.sha256.begin(), m.sha256.end(), *exe.sha256) == m.sha256.end()) return false;
  }
  if (m.uses_path()) {
    // A deny rule matches the path as seen, and the real path behind a
    // link; anything that grants needs the path the program runs under,
    // and one nobody but root can change.
    const auto path_holds = [&m](const std::string& p) {
      if (m.path && p != *m.path) return false;
      if (m.folder && !path_is_within(p, *m.folder)) return false;
      if (m.path_glob && !m.path_glob->matches(p)) return false;
      return true;
    };
    if (deny) {
      if (!path_holds(exe.path) && (exe.real_path.empty() || !path_holds(exe.real_path))) return false;
    } else if (!exe.trusted_path || !path_holds(exe.path)) {
      return false;
    }
  }
  if (m.needs_verified()) {
    // A grant needs the genuine file; a deny also catches a modified one.
    if (!exe.package || (!deny && !exe.package->verified)) return false;
    if (m.package && !m.package->matches(exe.package->name)) return false;
    if (m.origin && !m.origin->matches(exe.package->origin)) return false;
    if (m.maintainer && !m.maintainer->matches(exe.package->maintainer)) return false;
  }
  if (m.args && !args_match(*m.args, command.args)) return false;
  return scope_matches(rule, subject, command.runas, now, zones);
}

namespace {

// sudo -u / -g against the rule's runas (policy.h RunAsSpec).
bool runas_matches(const Rule& rule, const Subject& subject, const RunAs& runas) {
  const bool any_user = contains(rule.runas.users, "*");
  if (rule.action == Action::kDeny) {
    return rule.runas.users.empty() || any_user || contains(rule.runas.users, runas.user);
  }
  // sudo -g alone runs as the invoker: only the group is a privilege then.
  const bool self = runas.user == subject.user;
  const bool as_self_with_group = self && !runas.group.empty();
  // No users named: root; or, when the rule names groups only (sudoers'
  // "(:grp)"), the invoker alone.
  const bool user_ok = !rule.runas.users.empty()   ? any_user || contains(rule.runas.users, runas.user)
                       : rule.runas.groups.empty() ? runas.user == "root"
                                                   : self;
  if (!user_ok && !as_self_with_group) return false;
  if (runas.group.empty() || runas.group == runas.user_group) return true;
  return contains(rule.runas.groups, "*") || contains(rule.runas.groups, runas.group);
}

}  // namespace

bool CompiledPolicy::scope_matches(const Rule& rule, const Subject& subject, const RunAs& runas, TimePoint now,
                                   const TimeZones& zones) const {
  const bool deny = rule.action == Action::kDeny;
  const Scope& s = rule.scope;
  if (!principal_matches(s.users, s.groups, subject)) return false;
  if (!s.labels.empty() && !intersects(s.labels, subject.labels)) return false;
  if (!s.hosts.empty() && !host_in(s.hosts, subject.host)) return false;
  if (!rule.match.session && !runas_matches(rule, subject, runas)) return false;
  if (s.when) {
    const auto local = zones.local_time(s.when->zone, now);
    if (!local) return deny;  // unknown zone: a deny applies, a grant does not
    if (!s.when->contains(*local)) return false;
  }
  return true;
}

Decision CompiledPolicy::evaluate(const Subject& subject, const CommandLine& command, TimePoint now,
                                  const TimeZones& zones) const {
  if (is_normalized_absolute(command.exe.path)) return evaluate_normalized(subject, command, now, zones);
  // Callers pass realpath()'d paths; anything else is a caller bug or an
  // attack. Deny rules see the lexically normalised path; nothing grants by
  // path on it.
  CommandLine fixed = command;
  auto normal = normalize_absolute_path(command.exe.path);
  fixed.exe.path = normal.ok() ? std::move(*normal) : std::string();
  fixed.exe.trusted_path = false;
  return evaluate_normalized(subject, fixed, now, zones);
}

Decision CompiledPolicy::evaluate_normalized(const Subject& subject, const CommandLine& command, TimePoint now,
                                             const TimeZones& zones) const {
  constexpr std::uint32_t kNone = UINT32_MAX;
  std::uint32_t best[3] = {kNone, kNone, kNone};  // by Action
  const auto consider = [&](const std::vector<std::uint32_t>& ids) {
    for (const std::uint32_t id : ids) {
      const Rule& r = policy_.rules[id];
      auto& slot = best[static_cast<int>(r.action)];
      if (id < slot && rule_matches(r, subject, command, now, zones)) slot = id;
    }
  };
  const Index& ix = *index_;
  const Executable& exe = command.exe;
  if (exe.sha256) {
    if (const auto it = ix.by_sha256.find(*exe.sha256); it != ix.by_sha256.end()) consider(it->second);
  }
  for (const std::string* path : {&exe.path, &exe.real_path}) {
    if (path->empty()) continue;
    if (const auto it = ix.by_path.find(*path); it != ix.by_path.end()) consider(it->second);
    if (!ix.by_folder.empty()) {
      for (std::string_view p = *path; !p.empty(); p = parent_path(p)) {
        if (const auto it = ix.by_folder.find(p); it != ix.by_folder.end()) consider(it->second);
      }
    }
  }
  if (exe.package) {
    if (const auto it = ix.by_package.find(exe.package->name); it != ix.by_package.end()) consider(it->second);
  }
  consider(unindexed_);

  const Rule* rule = nullptr;
  for (const Action a : {Action::kDeny, Action::kAllow, Action::kRequest}) {
    if (best[static_cast<int>(a)] != kNone) {
      rule = &policy_.rules[best[static_cast<int>(a)]];
      break;
    }
  }
  return decision_for(rule, subject);
}

Decision CompiledPolicy::evaluate_edit(const Subject& subject, const std::vector<EditFile>& files, const RunAs& runas,
                                       TimePoint now, const TimeZones& zones) const {
  const auto refuse = [](const Rule* rule, std::string reason) {
    Decision d;
    d.action = Action::kDeny;
    d.rule = rule;
    d.reason = std::move(reason);
    return d;
  };
  if (files.empty()) return refuse(nullptr, "no file to edit");
  const auto pattern_matches = [](const Rule& r, const std::string& path) {
    return std::any_of(r.match.edit.begin(), r.match.edit.end(),
                       [&path](const StringMatcher& m) { return m.matches(path); });
  };
  // Deny rules first: one file they match denies the whole edit.
  for (const std::uint32_t id : edit_rules_) {
    const Rule& r = policy_.rules[id];
    if (r.action != Action::kDeny || !scope_matches(r, subject, runas, now, zones)) continue;
    for (const EditFile& f : files) {
      if (r.match.any_command || pattern_matches(r, f.path)) {
        return refuse(&r, "rule \"" + r.name + "\" denies editing " + f.path);
      }
    }
  }
  const Rule* first = nullptr;
  for (const EditFile& f : files) {
    const Rule* allowing = nullptr;
    for (const std::uint32_t id : edit_rules_) {
      const Rule& r = policy_.rules[id];
      if (r.action != Action::kAllow || r.match.edit.empty()) continue;
      if (pattern_matches(r, f.path) && scope_matches(r, subject, runas, now, zones)) {
        allowing = &r;
        break;
      }
    }
    if (allowing != nullptr && !f.trusted) {
      return refuse(nullptr, f.path +
                                 " is a link, or in a directory someone other than root can change; Hoist allows "
                                 "editing only files in root-owned directories");
    }
    if (allowing == nullptr) {
      return refuse(nullptr, "no rule lets you edit " + f.path + (runas.user == "root" ? "" : " as " + runas.user) +
                                 "; editing a file needs a rule that names it");
    }
    if (first == nullptr) first = allowing;
  }
  Decision d = decision_for(first, subject);
  d.reason = "rule \"" + first->name + "\" allows editing " + (files.size() == 1 ? files.front().path : "these files");
  return d;
}

Decision CompiledPolicy::evaluate_session(const Subject& subject, TimePoint now, const TimeZones& zones) const {
  const CommandLine none;
  const Rule* found[2] = {nullptr, nullptr};  // deny, request
  for (const std::uint32_t id : session_rules_) {
    const Rule& r = policy_.rules[id];
    const int slot = r.action == Action::kDeny ? 0 : 1;
    if (found[slot] == nullptr && rule_matches(r, subject, none, now, zones)) found[slot] = &r;
  }
  const Rule* rule = found[0] != nullptr ? found[0] : found[1];
  if (rule == nullptr || rule->action == Action::kAllow) {
    Decision d;
    d.action = Action::kDeny;
    d.rule = rule;
    d.reason = "the policy offers no temporary admin session to you";
    return d;
  }
  Decision d = decision_for(rule, subject);
  if (rule->action == Action::kDeny) d.reason = "rule \"" + rule->name + "\" denies temporary admin sessions";
  return d;
}

Decision CompiledPolicy::decision_for(const Rule* rule, const Subject& subject) const {
  const Settings& st = policy_.settings;
  Decision d;
  if (rule == nullptr) {
    d.action = st.default_action;
    d.max_duration = st.max_duration;
    d.default_duration = cap_duration(st.default_duration, st.max_duration);
    d.reauthenticate = st.reauthenticate;
    d.reason = st.default_action == Action::kDeny ? "no rule matched and the policy denies by default"
                                                  : "no rule matched; the policy asks for approval by default";
    return d;
  }
  d.action = rule->action;
  d.rule = rule;
  d.approval = rule->approval;
  d.max_duration = cap_duration(rule->max_duration.value_or(st.max_duration), st.max_duration);
  d.default_duration = cap_duration(rule->default_duration.value_or(st.default_duration), d.max_duration);
  d.reauthenticate = rule->reauthenticate;
  d.self_approval_allowed = rule->action == Action::kRequest && rule->approval == ApprovalMode::kSelf &&
                            intersects(rule->self_approval_groups, subject.groups);
  switch (rule->action) {
    case Action::kDeny: d.reason = "rule \"" + rule->name + "\" denies it"; break;
    case Action::kAllow: d.reason = "rule \"" + rule->name + "\" allows it"; break;
    case Action::kRequest: d.reason = "rule \"" + rule->name + "\" requires approval"; break;
  }
  return d;
}

const AutoApproval* CompiledPolicy::find_auto_approval(const Subject& subject, const Rule& rule, Seconds duration,
                                                       TimePoint now, const TimeZones& zones) const {
  if (rule.action != Action::kRequest || rule.approval != ApprovalMode::kAutonomous) return nullptr;
  for (const AutoApproval& a : policy_.auto_approvals) {
    if (!principal_matches(a.users, a.groups, subject)) continue;
    if (!a.rules.empty() && !contains(a.rules, rule.name)) continue;
    if (duration > a.max_duration) continue;
    if (a.when && !a.when->contains(now, zones)) continue;
    return &a;
  }
  return nullptr;
}

}  // namespace hoist
