#include "core/policy_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#if defined(HOIST_TOML_NO_ASSERT)
// Fuzz build only: see src/core/CMakeLists.txt.
#define TOML_ASSERT(expr) static_assert(true)
#endif
#include <toml++/toml.h>

#include "core/path.h"
#include "core/toml_guard.h"

namespace hoist {

std::string PolicyDiagnostic::to_string() const {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}", line);
  if (line > 0 && column > 0) out += fmt::format(":{}", column);
  out += ": ";
  if (!where.empty()) out += where + ": ";
  out += message;
  return out;
}

namespace {

std::string_view type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "true or false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::none: return "nothing";
  }
  return "a value";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

bool valid_principal(std::string_view s) {
  // Unix user, group and label names: printable, no spaces, no ':' (the
  // passwd separator), at most 256 bytes. NSS names may be UTF-8.
  if (s.empty() || s.size() > 256) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && c != ':' && c != ',';
  });
}

// Reads one table, remembering which keys were used so the rest can be
// reported as unknown.
class Reader {
 public:
  Reader(const toml::table& t, std::string where, std::string_view file, std::vector<PolicyDiagnostic>& errors)
      : t_(t), where_(std::move(where)), file_(file), errors_(errors) {}

  void error(const toml::node* at, std::string_view field, std::string message) {
    PolicyDiagnostic d;
    d.file = std::string(file_);
    const auto& src = at != nullptr ? at->source() : t_.source();
    d.line = static_cast<int>(src.begin.line);
    d.column = static_cast<int>(src.begin.column);
    d.where = field.empty() ? where_ : fmt::format("{} field \"{}\"", where_, field);
    d.message = std::move(message);
    errors_.push_back(std::move(d));
    ++count_;
  }
  [[nodiscard]] int error_count() const { return count_; }
  void set_where(std::string where) { where_ = std::move(where); }

  const toml::node* get(std::string_view key) {
    used_.insert(std::string(key));
    return t_.get(key);
  }

  std::optional<std::string> string(std::string_view key, bool required = false) {
    const toml::node* n = get(key);
    if (n == nullptr) {
      if (required) error(nullptr, key, "is required");
      return std::nullopt;
    }
    if (!n->is_string()) {
      error(n, key, fmt::format("expected a string, got {}", type_name(n->type())));
      return std::nullopt;
    }
    return n->as_string()->get();
  }

  std::optional<bool> boolean(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) {
      error(n, key, fmt::format("expected true or false, got {}", type_name(n->type())));
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  // A string or an array of strings.
  std::optional<std::vector<std::string>> strings(std::string_view key, bool allow_single = false) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    if (allow_single && n->is_string()) return std::vector<std::string>{n->as_string()->get()};
    if (!n->is_array()) {
      error(n, key,
            fmt::format("expected {}an array of strings, got {}", allow_single ? "a string or " : "",
                        type_name(n->type())));
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (const auto& item : *n->as_array()) {
      if (!item.is_string()) {
        error(&item, key, fmt::format("every element must be a string, got {}", type_name(item.type())));
        return std::nullopt;
      }
      out.push_back(item.as_string()->get());
    }
    return out;
  }

  std::optional<Seconds> duration(std::string_view key) {
    const toml::node* n = get(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) {
      error(n, key, fmt::format("expected a duration string such as \"15m\", got {}", type_name(n->type())));
      return std::nullopt;
    }
    auto d = parse_duration(n->as_string()->get());
    if (!d.ok()) {
      error(n, key, d.error().message);
      return std::nullopt;
    }
    return *d;
  }

  std::vector<std::string> principals(std::string_view key, std::string_view what) {
    auto list = strings(key);
    if (!list) return {};
    for (const auto& s : *list) {
      if (!valid_principal(s)) {
        error(get(key), key,
              fmt::format("\"{}\" is not a valid {} name (no spaces, ':' or ',', at most 256 bytes)", s, what));
      }
    }
    return *list;
  }

  void reject_unknown(std::span<const std::string_view> known) {
    for (const auto& [k, v] : t_) {
      if (used_.count(std::string(k.str())) != 0) continue;
      std::string_view best;
      std::size_t best_d = 3;
      for (const auto cand : known) {
        const std::size_t dist = edit_distance(k.str(), cand);
        if (dist < best_d) {
          best_d = dist;
          best = cand;
        }
      }
      std::string msg = best.empty() ? fmt::format("unknown field; expected one of: {}", fmt::join(known, ", "))
                                     : fmt::format("unknown field; did you mean \"{}\"?", best);
      PolicyDiagnostic d;
      d.file = std::string(file_);
      d.line = static_cast<int>(k.source().begin.line);
      d.column = static_cast<int>(k.source().begin.column);
      d.where = fmt::format("{} field \"{}\"", where_, k.str());
      d.message = std::move(msg);
      errors_.push_back(std::move(d));
      ++count_;
    }
  }

 private:
  const toml::table& t_;
  std::string where_;
  std::string_view file_;
  std::vector<PolicyDiagnostic>& errors_;
  std::set<std::string> used_;
  int count_ = 0;
};

std::optional<TimeWindow> read_window(Reader& r, const TimeZones& zones) {
  const toml::node* days_node = r.get("days");
  const toml::node* hours_node = r.get("hours");
  const toml::node* zone_node = r.get("timezone");
  if (days_node == nullptr && hours_node == nullptr) {
    if (zone_node != nullptr) r.error(zone_node, "timezone", "has no effect without \"days\" or \"hours\"");
    return std::nullopt;
  }
  TimeWindow w;
  bool ok = true;
  if (auto days = r.string("days")) {
    auto mask = parse_days(*days);
    if (mask.ok()) {
      w.days = *mask;
    } else {
      r.error(days_node, "days", mask.error().message);
      ok = false;
    }
  }
  if (auto hours = r.string("hours")) {
    auto range = parse_hours(*hours);
    if (range.ok()) {
      w.start_minute = range->first;
      w.end_minute = range->second;
    } else {
      r.error(hours_node, "hours", range.error().message);
      ok = false;
    }
  }
  if (auto zone = r.string("timezone")) {
    if (!zones.known(*zone)) {
      r.error(
          zone_node, "timezone",
          fmt::format("unknown time zone \"{}\": use a tz database name such as \"UTC\" or \"Europe/Paris\"", *zone));
      ok = false;
    }
    w.zone = *zone;
  }
  if (!ok) return std::nullopt;
  return w;
}

std::optional<ArgsSpec> read_args(Reader& r) {
  const toml::node* glob_node = r.get("args");
  const toml::node* regex_node = r.get("args_regex");
  if (glob_node != nullptr && regex_node != nullptr) {
    r.error(regex_node, "args_regex", "use either \"args\" or \"args_regex\", not both");
    return std::nullopt;
  }
  const bool regex = regex_node != nullptr;
  const std::string_view key = regex ? "args_regex" : "args";
  const auto list = r.strings(key);
  if (!list) return std::nullopt;
  ArgsSpec spec;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string& p = (*list)[i];
    if (p == "...") {
      if (i + 1 != list->size()) {
        r.error(r.get(key), key, "\"...\" (any further arguments) may only be the last element");
        return std::nullopt;
      }
      spec.rest_allowed = true;
      break;
    }
    auto m = regex ? StringMatcher::regex(p) : StringMatcher::glob(p, GlobFlavor::kText);
    if (!m.ok()) {
      r.error(r.get(key), key, m.error().message);
      return std::nullopt;
    }
    spec.patterns.push_back(std::move(*m));
  }
  return spec;
}

std::optional<StringMatcher> read_glob(Reader& r, std::string_view key, GlobFlavor flavor) {
  const auto s = r.string(key);
  if (!s) return std::nullopt;
  if (s->empty()) {
    r.error(r.get(key), key, "must not be empty");
    return std::nullopt;
  }
  auto m = StringMatcher::glob(*s, flavor);
  if (!m.ok()) {
    r.error(r.get(key), key, m.error().message);
    return std::nullopt;
  }
  return std::move(*m);
}

std::optional<std::string> read_abs_path(Reader& r, std::string_view key) {
  const auto s = r.string(key);
  if (!s) return std::nullopt;
  const auto n = normalize_absolute_path(*s);
  if (!n.ok()) {
    r.error(r.get(key), key, n.error().message);
    return std::nullopt;
  }
  if (*n != *s) {
    r.error(r.get(key), key, fmt::format("\"{}\" is not in normal form; write \"{}\"", *s, *n));
    return std::nullopt;
  }
  return *n;
}

// `edit = "/etc/hosts"` or `edit = ["/etc/hosts", "/etc/nginx/*.conf"]`:
// kPath globs, absolute and normalised, as path_glob. True when present.
bool read_edit(Reader& r, CommandMatch& m) {
  const toml::node* node = r.get("edit");
  if (node == nullptr) return false;
  const auto list = r.strings("edit", true);
  if (!list) return true;
  if (list->empty()) r.error(node, "edit", "must name at least one file");
  for (const auto& p : *list) {
    const auto normal = normalize_absolute_path(p);
    if (p.empty() || p.front() != '/') {
      r.error(node, "edit", fmt::format("\"{}\" must be an absolute path or pattern starting with '/'", p));
      continue;
    }
    if (!normal.ok() || *normal != p) {
      r.error(node, "edit",
              fmt::format("\"{}\" is not in normal form (no \"//\", \".\", \"..\" or trailing '/'){}", p,
                          normal.ok() ? fmt::format("; write \"{}\"", *normal) : std::string()));
      continue;
    }
    auto g = StringMatcher::glob(p, GlobFlavor::kPath);
    if (!g.ok()) {
      r.error(node, "edit", g.error().message);
      continue;
    }
    m.edit.push_back(std::move(*g));
  }
  return true;
}

// runas = ["root", "postgres"] / ["*"], runas_groups = [...] (rule.h RunAsSpec).
RunAsSpec read_runas(Reader& r, Action action) {
  RunAsSpec spec;
  spec.users = r.principals("runas", "user");
  spec.groups = r.principals("runas_groups", "group");
  for (const auto* key : {"runas", "runas_groups"}) {
    const auto& list = std::string_view(key) == "runas" ? spec.users : spec.groups;
    if (r.get(key) != nullptr && list.empty()) {
      r.error(r.get(key), key, "must name at least one; leave it out for the default");
    }
    if (list.size() > 1 && std::find(list.begin(), list.end(), "*") != list.end()) {
      r.error(r.get(key), key, "\"*\" (anyone) stands alone");
    }
  }
  if (action == Action::kDeny && r.get("runas_groups") != nullptr) {
    r.error(r.get("runas_groups"), "runas_groups",
            "a deny rule holds whatever group the command runs with; runas_groups is for allow and request rules");
  }
  return spec;
}

constexpr std::array<std::string_view, 31> kRuleFields = {"name",           "description",
                                                          "action",         "sha256",
                                                          "path",           "folder",
                                                          "path_glob",      "package",
                                                          "origin",         "maintainer",
                                                          "verified",       "args",
                                                          "args_regex",     "any_command",
                                                          "session",        "edit",
                                                          "runas",          "runas_groups",
                                                          "users",          "groups",
                                                          "labels",         "hosts",
                                                          "days",           "hours",
                                                          "timezone",       "approval",
                                                          "max_duration",   "default_duration",
                                                          "reauthenticate", "self_approval_groups",
                                                          "clsid"};

constexpr std::array<std::string_view, 9> kSettingsFields = {
    "default_action", "default_duration",     "max_duration",   "approval_wait",        "request_expiry",
    "contact",        "self_approval_groups", "reauthenticate", "end_session_processes"};

constexpr std::array<std::string_view, 9> kAutoFields = {"name", "users", "groups",   "rules",      "max_duration",
                                                         "days", "hours", "timezone", "description"};

constexpr std::array<std::string_view, 4> kTopFields = {"version", "settings", "rule", "auto_approval"};

void read_settings(const toml::table& t, std::string_view file, std::vector<PolicyDiagnostic>& errors, Settings& s) {
  Reader r(t, "[settings]", file, errors);
  if (auto a = r.string("default_action")) {
    if (*a == "request") {
      s.default_action = Action::kRequest;
    } else if (*a == "deny") {
      s.default_action = Action::kDeny;
    } else {
      r.error(r.get("default_action"), "default_action",
              fmt::format("expected \"request\" or \"deny\", got \"{}\" (an allow-everything default is not "
                          "supported)",
                          *a));
    }
  }
  if (auto d = r.duration("default_duration")) s.default_duration = *d;
  if (auto d = r.duration("max_duration")) s.max_duration = *d;
  if (auto d = r.duration("approval_wait")) s.approval_wait = *d;
  if (auto d = r.duration("request_expiry")) s.request_expiry = *d;
  if (auto c = r.string("contact")) s.contact = *c;
  s.self_approval_groups = r.principals("self_approval_groups", "group");
  if (auto b = r.boolean("reauthenticate")) s.reauthenticate = *b;
  if (auto b = r.boolean("end_session_processes")) s.end_session_processes = *b;
  if (r.get("default_duration") == nullptr) s.default_duration = cap_duration(s.default_duration, s.max_duration);
  if (s.default_duration > s.max_duration) {
    r.error(r.get("default_duration"), "default_duration",
            fmt::format("{} is longer than max_duration {}", format_duration(s.default_duration),
                        format_duration(s.max_duration)));
  }
  r.reject_unknown(kSettingsFields);
}

// Reads the required "name" of a [[rule]] or [[auto_approval]] and names
// the table after it in later messages.
std::string read_name(Reader& r, std::string_view kind) {
  const auto name = r.string("name", true);
  if (!name) return {};
  if (!valid_name(*name)) {
    r.error(r.get("name"), "name", "use 1-64 characters from A-Z a-z 0-9 . _ -");
    return {};
  }
  r.set_where(fmt::format("{} \"{}\"", kind, *name));
  return *name;
}

std::optional<Rule> read_rule(const toml::table& t, std::size_t index, std::string_view file,
                              std::vector<PolicyDiagnostic>& errors, const Settings& settings, const TimeZones& zones) {
  Reader r(t, fmt::format("rule #{}", index + 1), file, errors);
  Rule rule;
  rule.line = static_cast<int>(t.source().begin.line);
  rule.name = read_name(r, "rule");
  if (auto d = r.string("description")) rule.description = *d;
  if (auto a = r.string("action", true)) {
    if (*a == "allow") {
      rule.action = Action::kAllow;
    } else if (*a == "request") {
      rule.action = Action::kRequest;
    } else if (*a == "deny") {
      rule.action = Action::kDeny;
    } else {
      r.error(r.get("action"), "action", fmt::format("expected \"allow\", \"request\" or \"deny\", got \"{}\"", *a));
    }
  }

  CommandMatch& m = rule.match;
  if (auto hashes = r.strings("sha256", true)) {
    if (hashes->empty()) r.error(r.get("sha256"), "sha256", "must list at least one digest");
    for (const auto& h : *hashes) {
      auto d = Sha256::from_hex(h);
      if (d.ok()) {
        m.sha256.push_back(*d);
      } else {
        r.error(r.get("sha256"), "sha256", d.error().message);
      }
    }
  }
  m.path = read_abs_path(r, "path");
  m.folder = read_abs_path(r, "folder");
  if (auto g = read_glob(r, "path_glob", GlobFlavor::kPath)) {
    // Real paths are normalised before matching, so a pattern with "//",
    // "." or ".." components could never match: a deny rule would silently
    // do nothing.
    const auto normal = normalize_absolute_path(g->source());
    if (g->source().front() != '/') {
      r.error(r.get("path_glob"), "path_glob", "must be an absolute pattern starting with '/'");
    } else if (!normal.ok() || *normal != g->source()) {
      r.error(r.get("path_glob"), "path_glob",
              fmt::format("\"{}\" is not in normal form (no \"//\", \".\", \"..\" or trailing '/'){}", g->source(),
                          normal.ok() ? fmt::format("; write \"{}\"", *normal) : std::string()));
    } else {
      m.path_glob = std::move(g);
    }
  }
  const int path_kinds = (r.get("path") != nullptr) + (r.get("folder") != nullptr) + (r.get("path_glob") != nullptr);
  if (path_kinds > 1) r.error(nullptr, "", "use only one of \"path\", \"folder\" and \"path_glob\"");
  m.package = read_glob(r, "package", GlobFlavor::kText);
  m.origin = read_glob(r, "origin", GlobFlavor::kText);
  m.maintainer = read_glob(r, "maintainer", GlobFlavor::kText);
  if (auto v = r.boolean("verified")) {
    if (!*v) {
      r.error(r.get("verified"), "verified",
              "\"verified = false\" means nothing (package, origin and maintainer rules always require a verified "
              "file); remove it");
    }
    m.verified = *v;
  }
  // Windows policies name COM objects by CLSID; the model keeps the rule
  // type so an imported policy gets a clear answer rather than "unknown".
  if (const toml::node* clsid = r.get("clsid")) {
    r.error(clsid, "clsid",
            "CLSID rules identify Windows COM objects and do not apply on Linux; use sha256, path, folder or "
            "package instead");
  }
  m.args = read_args(r);
  if (auto any = r.boolean("any_command")) m.any_command = *any;
  const int errors_before_criterion_check = r.error_count();
  const bool has_exe_criterion = !m.sha256.empty() || m.uses_path() || m.needs_verified();
  const bool exe_keys_present = r.get("sha256") != nullptr || path_kinds > 0 || r.get("package") != nullptr ||
                                r.get("origin") != nullptr || r.get("maintainer") != nullptr ||
                                r.get("verified") != nullptr;
  if (auto session = r.boolean("session")) m.session = *session;
  const bool edit_rule = read_edit(r, m);
  if (edit_rule) {
    if (exe_keys_present || r.get("any_command") != nullptr || r.get("args") != nullptr ||
        r.get("args_regex") != nullptr || r.get("session") != nullptr) {
      r.error(r.get("edit"), "edit",
              "an edit rule covers files edited with sudoedit, not programs: it takes no sha256, path, folder, "
              "path_glob, package, args, any_command or session");
    }
    if (rule.action == Action::kRequest) {
      r.error(r.get("action"), "action",
              "an edit rule allows or denies; a request for an edit is not supported (use action = \"allow\" "
              "with the users who may edit, or a temporary admin session)");
    }
  } else if (r.get("session") != nullptr && !m.session) {
    r.error(r.get("session"), "session", "\"session = false\" means nothing; remove it");
  } else if (m.session) {
    if (exe_keys_present || r.get("any_command") != nullptr || r.get("args") != nullptr ||
        r.get("args_regex") != nullptr) {
      r.error(r.get("session"), "session",
              "a session rule covers temporary admin sessions, not programs: it takes no sha256, path, folder, "
              "path_glob, package, args or any_command");
    }
    if (rule.action == Action::kAllow) {
      r.error(r.get("action"), "action",
              "a temporary admin session is always requested: use action = \"request\" (with approval = "
              "\"autonomous\" or \"self\" for sessions nobody has to approve by hand) or \"deny\"");
    }
  } else if (m.any_command && exe_keys_present) {
    r.error(r.get("any_command"), "any_command",
            "cannot be combined with sha256, path, folder, path_glob or package "
            "criteria");
  } else if (r.get("any_command") != nullptr && !m.any_command) {
    r.error(r.get("any_command"), "any_command", "\"any_command = false\" means nothing; remove it");
  } else if (!has_exe_criterion && !m.any_command && errors_before_criterion_check == 0) {
    // (When a criterion was written but is invalid, that error is enough.)
    r.error(nullptr, "",
            "says nothing about which programs it covers: add sha256, path, folder, path_glob, package, origin, "
            "maintainer or verified, or write any_command = true to cover every program");
  }

  rule.scope.users = r.principals("users", "user");
  rule.scope.groups = r.principals("groups", "group");
  rule.scope.labels = r.principals("labels", "label");
  rule.scope.hosts = r.principals("hosts", "host");
  for (auto& h : rule.scope.hosts) {
    for (char& c : h) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  rule.scope.when = read_window(r, zones);
  rule.runas = read_runas(r, rule.action);
  if (m.session && (r.get("runas") != nullptr || r.get("runas_groups") != nullptr)) {
    r.error(r.get("runas") != nullptr ? r.get("runas") : r.get("runas_groups"), "runas",
            "a temporary admin session is root, who may become anyone: a session rule takes no runas");
  }

  const bool is_request = rule.action == Action::kRequest;
  const auto request_only = [&](std::string_view key) {
    if (r.get(key) != nullptr && !is_request) {
      r.error(r.get(key), key, "applies only to rules with action = \"request\"");
    }
  };
  for (const auto key : {"approval", "max_duration", "default_duration", "self_approval_groups"}) request_only(key);
  if (auto a = r.string("approval"); a && is_request) {
    if (*a == "manual") {
      rule.approval = ApprovalMode::kManual;
    } else if (*a == "autonomous") {
      rule.approval = ApprovalMode::kAutonomous;
    } else if (*a == "self") {
      rule.approval = ApprovalMode::kSelf;
    } else {
      r.error(r.get("approval"), "approval",
              fmt::format("expected \"manual\", \"autonomous\" or \"self\", got \"{}\"", *a));
    }
  }
  rule.max_duration = r.duration("max_duration");
  rule.default_duration = r.duration("default_duration");
  if (rule.max_duration && *rule.max_duration > settings.max_duration) {
    r.error(r.get("max_duration"), "max_duration",
            fmt::format("{} is longer than the policy-wide [settings] max_duration {}",
                        format_duration(*rule.max_duration), format_duration(settings.max_duration)));
  }
  const Seconds eff_max = rule.max_duration.value_or(settings.max_duration);
  if (rule.default_duration && *rule.default_duration > eff_max) {
    r.error(r.get("default_duration"), "default_duration",
            fmt::format("{} is longer than this rule's maximum {}", format_duration(*rule.default_duration),
                        format_duration(eff_max)));
  }
  rule.reauthenticate = r.boolean("reauthenticate").value_or(settings.reauthenticate);
  const bool own_groups = r.get("self_approval_groups") != nullptr;
  rule.self_approval_groups = r.principals("self_approval_groups", "group");
  if (!own_groups) rule.self_approval_groups = settings.self_approval_groups;
  if (is_request && rule.approval == ApprovalMode::kSelf && rule.self_approval_groups.empty()) {
    r.error(
        r.get("approval"), "approval",
        "\"self\" needs self_approval_groups, in the rule or in [settings]: nobody could approve their own request");
  }
  r.reject_unknown(kRuleFields);
  if (r.error_count() > 0) return std::nullopt;
  return rule;
}

std::optional<AutoApproval> read_auto(const toml::table& t, std::size_t index, std::string_view file,
                                      std::vector<PolicyDiagnostic>& errors, const std::vector<Rule>& rules,
                                      const TimeZones& zones) {
  Reader r(t, fmt::format("auto_approval #{}", index + 1), file, errors);
  AutoApproval a;
  a.line = static_cast<int>(t.source().begin.line);
  a.name = read_name(r, "auto_approval");
  (void)r.string("description");
  a.users = r.principals("users", "user");
  a.groups = r.principals("groups", "group");
  if (auto list = r.strings("rules")) {
    for (const auto& name : *list) {
      const auto it = std::find_if(rules.begin(), rules.end(), [&](const Rule& x) { return x.name == name; });
      if (it == rules.end()) {
        r.error(r.get("rules"), "rules", fmt::format("no rule is named \"{}\"", name));
      } else if (it->action != Action::kRequest || it->approval != ApprovalMode::kAutonomous) {
        r.error(r.get("rules"), "rules",
                fmt::format("rule \"{}\" is not a request rule with approval = \"autonomous\"", name));
      }
    }
    a.rules = *list;
  }
  if (auto d = r.duration("max_duration")) {
    a.max_duration = *d;
  } else if (r.get("max_duration") == nullptr) {
    r.error(nullptr, "max_duration", "is required: the longest grant this entry may approve on its own");
  }
  a.when = read_window(r, zones);
  if (a.users.empty() && a.groups.empty() && a.rules.empty() && r.error_count() == 0) {
    r.error(nullptr, "",
            "names no users, groups or rules, so it would approve every autonomous request from anyone; "
            "list users, groups or rules");
  }
  r.reject_unknown(kAutoFields);
  if (r.error_count() > 0) return std::nullopt;
  return a;
}

const toml::array* array_of_tables(const toml::table& doc, std::string_view key, std::string_view file,
                                   std::vector<PolicyDiagnostic>& errors) {
  const toml::node* n = doc.get(key);
  if (n == nullptr) return nullptr;
  const toml::array* arr = n->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    errors.push_back({std::string(file), static_cast<int>(n->source().begin.line),
                      static_cast<int>(n->source().begin.column), std::string(key),
                      fmt::format("expected [[{}]] tables", key)});
    return nullptr;
  }
  return arr;
}

}  // namespace

PolicyParseResult parse_policy(std::string_view text, std::string_view file_name, const TimeZones& zones) {
  PolicyParseResult out;
  auto& errors = out.errors;
  const std::string file(file_name);
  if (text.size() > kMaxPolicyBytes) {
    errors.push_back(
        {file, 0, 0, "",
         fmt::format("the file is {} bytes; policies are limited to {} bytes", text.size(), kMaxPolicyBytes)});
    return out;
  }
  // toml++ 3.3.0 has undefined behaviour on some non-ASCII input (see
  // non_ascii_outside_strings). First let toml++ judge the structure of an
  // all-ASCII copy in which every non-ASCII byte is '~': valid inside
  // strings and comments, invalid anywhere else. Only a document that parses
  // that way, and passes the line-ending-backslash check, is parsed for real.
  const auto toml_error = [&](const toml::parse_error& e, std::string_view source) {
    const auto line = static_cast<int>(e.source().begin.line);
    auto column = static_cast<int>(e.source().begin.column);
    std::string message = fmt::format("not valid TOML: {}", e.description());
    if (const auto off = byte_offset(source, line, column)) {
      if (static_cast<unsigned char>(text[*off]) >= 0x80) message = kTomlNonAsciiMessage;
      column = utf8_column(text, *off);
    }
    errors.push_back({file, line, column, "", std::move(message)});
  };
  const std::string ascii = ascii_stand_in(text);
  try {
    (void)toml::parse(ascii, file_name);
  } catch (const toml::parse_error& e) {
    toml_error(e, ascii);
    return out;
  }
  if (const auto at = non_ascii_outside_strings(text)) {
    errors.push_back({file, at->first, at->second, "", std::string(kTomlNonAsciiMessage)});
    return out;
  }
  toml::table doc;
  try {
    doc = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    toml_error(e, {});
    return out;
  }

  Policy policy;
  Reader top(doc, "policy", file_name, errors);
  const toml::node* version = top.get("version");
  if (version == nullptr) {
    top.error(nullptr, "version", fmt::format("is required; write version = {} at the top", kPolicyFormatVersion));
  } else if (!version->is_integer() || version->as_integer()->get() != kPolicyFormatVersion) {
    top.error(version, "version",
              fmt::format("this Hoist reads policy format version {}; got {}", kPolicyFormatVersion,
                          version->is_integer() ? std::to_string(version->as_integer()->get())
                                                : std::string(type_name(version->type()))));
  }
  if (const toml::node* s = top.get("settings")) {
    if (s->is_table()) {
      read_settings(*s->as_table(), file_name, errors, policy.settings);
    } else {
      top.error(s, "settings", "expected a [settings] table");
    }
  }
  (void)top.get("rule");
  (void)top.get("auto_approval");
  top.reject_unknown(kTopFields);

  if (const toml::array* rules = array_of_tables(doc, "rule", file_name, errors)) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < rules->size(); ++i) {
      const toml::table& t = *rules->get(i)->as_table();
      auto rule = read_rule(t, i, file_name, errors, policy.settings, zones);
      if (!rule) continue;
      if (!names.insert(rule->name).second) {
        errors.push_back({file, rule->line, 0, fmt::format("rule \"{}\"", rule->name),
                          "another rule has the same name; rule names must be unique"});
        continue;
      }
      policy.rules.push_back(std::move(*rule));
    }
  }
  if (const toml::array* autos = array_of_tables(doc, "auto_approval", file_name, errors)) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < autos->size(); ++i) {
      auto a = read_auto(*autos->get(i)->as_table(), i, file_name, errors, policy.rules, zones);
      if (!a) continue;
      if (!names.insert(a->name).second) {
        errors.push_back({file, a->line, 0, fmt::format("auto_approval \"{}\"", a->name),
                          "another auto_approval has the same name; names must be unique"});
        continue;
      }
      policy.auto_approvals.push_back(std::move(*a));
    }
  }
  std::stable_sort(errors.begin(), errors.end(),
                   [](const PolicyDiagnostic& a, const PolicyDiagnostic& b) { return a.line < b.line; });
  if (errors.empty()) out.policy = std::move(policy);
  return out;
}

}  // namespace hoist
