// The Privileged Application List as data: rules, their scopes and options,
// autonomous-approval conditions and policy-wide settings. Built by the
// policy file parser (policy_file.h) or, later, from the server's API; turned
// into a CompiledPolicy (evaluator.h) for fast decisions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"
#include "core/pattern.h"
#include "core/sha256.h"
#include "core/time_window.h"

namespace hoist {

inline constexpr int kPolicyFormatVersion = 1;

enum class Action { kAllow, kRequest, kDeny };
enum class ApprovalMode { kManual, kAutonomous, kSelf };

std::string_view to_string(Action a);
std::string_view to_string(ApprovalMode m);

// Who and where a rule applies to. Empty lists mean "anyone" / "anywhere".
// users and groups together form one list of principals (a user matches when
// named or a member of a named group); labels and the time window narrow it
// further.
struct Scope {
  std::vector<std::string> users;
  std::vector<std::string> groups;
  std::vector<std::string> labels;   // endpoint groups
  std::vector<std::string> hosts{};  // endpoints by enrolled hostname, lower case
  std::optional<TimeWindow> when;
};

// Argument patterns, one per argument, matched against argv[1..]. With
// rest_allowed the listed patterns are a prefix and any further arguments
// are accepted ("..." at the end in the policy file).
struct ArgsSpec {
  std::vector<StringMatcher> patterns;
  bool rest_allowed = false;
};

// What a rule matches. Every criterion that is set must hold (AND).
struct CommandMatch {
  std::vector<Sha256> sha256;               // any of these digests
  std::optional<std::string> path;          // exact, normalised
  std::optional<std::string> folder;        // the folder and everything below it
  std::optional<StringMatcher> path_glob;   // kPath glob over the whole path
  std::optional<StringMatcher> package;     // owning Debian package name
  std::optional<StringMatcher> origin;      // package Origin field
  std::optional<StringMatcher> maintainer;  // package Maintainer field
  bool verified = false;                    // package-owned and digest matches dpkg's
  std::optional<ArgsSpec> args;
  bool any_command = false;  // explicit "matches every command"
  // A temporary admin session (hoist elevate), never a command: such a rule
  // has no other criterion and is consulted only for session requests.
  bool session = false;
  // Files edited with sudoedit (sudo -e), never a program: kPath globs over
  // the file's absolute path (directories resolved). Such a rule has no
  // other criterion and is consulted only for edits; an edit is never
  // decided on the editor, which the user chooses and which runs as them.
  std::vector<StringMatcher> edit{};

  // Rules that name a package, origin or maintainer also require the file to
  // be verified: a modified binary at a package's path is not that package.
  [[nodiscard]] bool needs_verified() const { return verified || package || origin || maintainer; }
  [[nodiscard]] bool uses_path() const { return path || folder || path_glob; }
};

// Whom a rule lets the command run as (sudo -u, sudo -g). "*" alone in a
// list means anyone.
struct RunAsSpec {
  // Target users. Empty: root only for allow and request rules (the
  // invoker only when `groups` is given: sudoers' "(:grp)"); anyone for
  // deny rules (a deny holds whoever the command would run as).
  std::vector<std::string> users;
  // Groups sudo -g may name (allow and request rules). Empty: none, except
  // the target user's own primary group.
  std::vector<std::string> groups;
};

struct Rule {
  std::string name;
  std::string description;
  Action action = Action::kRequest;
  CommandMatch match;
  Scope scope;
  RunAsSpec runas{};
  // Options for request rules.
  ApprovalMode approval = ApprovalMode::kManual;
  std::optional<Seconds> max_duration;            // defaults to settings.max_duration
  std::optional<Seconds> default_duration;        // defaults to settings.default_duration
  bool reauthenticate = false;                    // PAM authentication before elevating
  std::vector<std::string> self_approval_groups;  // for approval = self
  // Where the rule was written (file line), for messages; 0 when unknown.
  int line = 0;
};

// Conditions under which a request for a rule in autonomous mode is
// approved without a technician.
struct AutoApproval {
  std::string name;
  std::vector<std::string> users;
  std::vector<std::string> groups;
  std::vector<std::string> rules;  // names of request rules; empty = any autonomous rule
  Seconds max_duration{3600};
  std::optional<TimeWindow> when;
  int line = 0;
};

struct Settings {
  Action default_action = Action::kRequest;  // when no rule matches: request or deny
  Seconds default_duration{15 * 60};
  Seconds max_duration{8 * 3600};
  Seconds approval_wait{120};                     // how long the terminal waits for a decision
  Seconds request_expiry{24 * 3600};              // a pending request expires after this
  std::string contact;                            // shown to users on denial
  std::vector<std::string> self_approval_groups;  // default for approval = self rules
  bool reauthenticate = false;                    // default for rules
  // When a temporary admin session is revoked or expires, stop its running
  // elevated processes (otherwise they run on; nothing new starts).
  bool end_session_processes = false;
};

struct Policy {
  int version = kPolicyFormatVersion;
  Settings settings;
  std::vector<Rule> rules;
  std::vector<AutoApproval> auto_approvals;
};

}  // namespace hoist
