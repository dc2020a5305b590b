// Policy evaluation: (policy, subject, command, now) -> decision. Pure: no
// I/O, no clock, no globals. Facts about the executable (real path, digest,
// owning package) are gathered by the caller and passed in.
//
// Precedence (docs/policy.md):
//   1. a matching deny rule denies, whatever else matches;
//   2. else a matching allow rule allows;
//   3. else a matching request rule asks for approval with its options;
//   4. else settings.default_action (request or deny).
// Among rules of the same action the first in file order is reported.
//
// MUST: an unknown or missing fact never helps a grant. A path rule other
// than deny needs a trusted, normalised path (every directory up to the file
// is root-owned and not writable by group or others); a package rule other
// than deny needs a verified file; a time window in an unknown zone never
// matches a grant rule. Deny rules resolve the same uncertainty the other
// way: they match the lexically normalised path whatever its trust, a file a
// package owns even if modified, and apply when their zone is unknown.
// MUST: a program reached through a link under another name (its argv[0]
// changes what a multi-call program does) is granted only when that link
// is trusted, and only by a rule whose path criterion names the link's
// path (or any_command), never by content criteria alone nor by the real
// path behind it; deny rules match both paths.
// MUST: a grant holds only for the target users (and -g groups) its rule
// names: root alone when it names none. Deny rules hold for every target
// unless they name some.
// MUST: an edit (sudoedit) is decided on the files only, never on the
// editor, and is allowed only by an edit rule naming each file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/policy.h"
#include "core/sha256.h"
#include "core/time_window.h"

namespace hoist {

struct Subject {
  std::string user;
  std::vector<std::string> groups;  // Unix group names (primary and supplementary)
  std::vector<std::string> labels;  // the endpoint's labels (endpoint groups)
  std::string host{};               // the endpoint's enrolled hostname ("" = unknown)
};

struct PackageFacts {
  std::string name;
  std::string origin;
  std::string maintainer;
  bool verified = false;  // the file's digest matches the package database
};

struct Executable {
  // The path the command is decided on and runs under (its argv[0]): the
  // real path, or, when the name typed reaches the file through a symlink
  // with another name (a multi-call program's personality: reboot ->
  // systemctl), that link's path with its directories resolved.
  std::string path;
  // realpath() of the file when it differs from `path` (such a link), else
  // "". Deny rules match it too.
  std::string real_path{};
  // root-owned, not group/other-writable up to /: the file, and for a link
  // also the link's directories.
  bool trusted_path = false;
  std::optional<Sha256> sha256;
  std::optional<PackageFacts> package;
};

// Whom the command runs as (sudo -u, -g), the names resolved by NSS.
struct RunAs {
  std::string user{"root"};  // the target user (the invoker for sudo -g alone)
  std::string group{};       // -g's group; "" = not given
  std::string user_group{};  // the target user's primary group (a -g naming it needs no rule)
};

struct CommandLine {
  Executable exe;
  std::vector<std::string> args;  // argv[1..]
  RunAs runas{};
};

// One file of an edit (sudo -e / sudoedit).
struct EditFile {
  std::string path;      // absolute, its directories resolved (realpath), the name itself not followed
  bool trusted = false;  // every directory up to / root-owned and not group/other-writable; not a symlink
};

struct Decision {
  Action action = Action::kDeny;
  const Rule* rule = nullptr;  // null: the policy default applied
  // For request decisions (also filled for allow, for the grant length).
  ApprovalMode approval = ApprovalMode::kManual;
  Seconds default_duration{0};
  Seconds max_duration{0};
  bool reauthenticate = false;
  bool self_approval_allowed = false;  // the subject may approve this request
  std::string reason;                  // one line for people
};

class CompiledPolicy {
 public:
  // Builds the lookup index. Fails only on an internally inconsistent
  // policy (a rule whose path is not normalised, say), which the parser
  // never produces.
  static Result<std::shared_ptr<const CompiledPolicy>> compile(Policy policy);

  [[nodiscard]] Decision evaluate(const Subject& subject, const CommandLine& command, TimePoint now,
                                  const TimeZones& zones) const;

  // An edit of `files` (sudo -e) as `runas`: only `edit` rules apply, and
  // deny rules with any_command. Any deny rule that matches one file denies;
  // otherwise each file needs an allow rule whose patterns match it (trusted
  // files only). Anything else is denied, whatever default_action says: an
  // edit is allowed only by a rule that names the file.
  [[nodiscard]] Decision evaluate_edit(const Subject& subject, const std::vector<EditFile>& files, const RunAs& runas,
                                       TimePoint now, const TimeZones& zones) const;

  // A temporary admin session for `subject`: only `session = true` rules
  // apply, first deny then request (a session is never allowed outright).
  // Without a matching rule the answer is deny, whatever default_action
  // says: a session covers every command, so the policy must offer it.
  [[nodiscard]] Decision evaluate_session(const Subject& subject, TimePoint now, const TimeZones& zones) const;

  // The autonomous-approval entry that approves a request for `rule` by
  // `subject` for `duration` at `now`, or null. Only rules in autonomous mode
  // qualify.
  [[nodiscard]] const AutoApproval* find_auto_approval(const Subject& subject, const Rule& rule, Seconds duration,
                                                       TimePoint now, const TimeZones& zones) const;

  [[nodiscard]] const Policy& policy() const { return policy_; }
  [[nodiscard]] const Rule* find_rule(std::string_view name) const;

  // Number of rules no index covers, checked one by one on every decision
  // (tests use it to prove that the index is used).
  [[nodiscard]] std::size_t unindexed_rule_count() const { return unindexed_.size(); }

  struct Index;
  CompiledPolicy();  // use compile(); public only for make_shared
  ~CompiledPolicy();
  CompiledPolicy(const CompiledPolicy&) = delete;
  CompiledPolicy& operator=(const CompiledPolicy&) = delete;

 private:
  [[nodiscard]] bool rule_matches(const Rule& rule, const Subject& subject, const CommandLine& command, TimePoint now,
                                  const TimeZones& zones) const;
  // The rule's scope (who, where, when) and runas hold.
  [[nodiscard]] bool scope_matches(const Rule& rule, const Subject& subject, const RunAs& runas, TimePoint now,
                                   const TimeZones& zones) const;
  // The decision `rule` (null: the policy's default) gives `subject`.
  [[nodiscard]] Decision decision_for(const Rule* rule, const Subject& subject) const;
  // evaluate() for a command whose path is normalised (or not absolute).
  [[nodiscard]] Decision evaluate_normalized(const Subject& subject, const CommandLine& command, TimePoint now,
                                             const TimeZones& zones) const;

  Policy policy_;
  std::unique_ptr<Index> index_;
  std::vector<std::uint32_t> unindexed_;
  std::vector<std::uint32_t> session_rules_;  // never matched against commands
  std::vector<std::uint32_t> edit_rules_;     // edit rules and deny rules with any_command
};

// True when the subject is one of the principals (users or groups) listed,
// or when both lists are empty.
bool principal_matches(const std::vector<std::string>& users, const std::vector<std::string>& groups,
                       const Subject& subject);

}  // namespace hoist
