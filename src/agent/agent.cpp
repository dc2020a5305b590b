#include "agent/agent.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <span>
#include <utility>

#include "agent/event_bounds.h"
#include "core/decide.h"
#include "core/display_text.h"
#include "core/policy_file.h"
#include "core/policy_merge.h"
#include "core/rule_summary.h"
#include "ipc/frame.h"

namespace hoist::agent {

namespace {

namespace json = boost::json;

constexpr std::size_t kUploadEvents = 100;
constexpr std::size_t kUploadBytes = std::size_t{256} * 1024;
constexpr std::size_t kEventOverheadBytes = 256;  // id, kind, time and target around the details

// The reply frame for an answer: the typed reply, or an error frame with
// the Error's category and message.
ipc::Fields frame_of(const Result<AgentReply>& answer) {
  if (!answer) return ipc::to_fields(ipc::ErrorMessage{answer.error().code, answer.error().message});
  return std::visit([](const auto& reply) { return ipc::to_fields(reply); }, *answer);
}

// A decoded message's answer from `handler`; a message that did not decode
// is refused with the decoder's error.
template <class Message, class Handler>
Result<AgentReply> handled(const Result<Message>& message, Handler&& handler) {
  if (!message) return message.error();
  auto reply = std::forward<Handler>(handler)(*message);
  if (!reply) return reply.error();
  return AgentReply(std::move(*reply));
}

// hoistd's error for `what` the caller asked of it, saying so when it could
// not be reached.
Error server_error(const Error& e, std::string_view what) {
  if (e.code != ErrorCode::kUnavailable) return e;
  return unavailable(fmt::format("cannot reach the Hoist server to {}; try again later ({})", what, e.message));
}

ipc::DecisionMessage deny(std::string reason) {
  ipc::DecisionMessage out;
  out.action = Action::kDeny;
  out.reason = std::move(reason);
  return out;
}

ipc::DecisionMessage grants_unreadable(const Error& e) {
  return deny("hoist-agent cannot read its grants: " + e.message);
}

// "PATH ARG... [(as USER[:GROUP])]": how `hoist status` shows a command,
// and how a waiting request is found again for the same command.
std::string command_summary(const std::string& path, std::span<const std::string> args, const std::string& runas_user,
                            const std::string& runas_group) {
  std::string out = path;
  for (const auto& a : args) {
    out += ' ';
    out += a;
  }
  if (runas_user != "root" || !runas_group.empty()) {
    out += " (as " + runas_user + (runas_group.empty() ? "" : ":" + runas_group) + ")";
  }
  return out.substr(0, kMaxSummaryBytes);
}

std::string summary_of(const ServerRequest& r) {
  if (r.kind == RequestKind::kSession) return "temporary admin session";
  return command_summary(r.command_path, r.argv.empty() ? std::span<const std::string>() : std::span(r.argv).subspan(1),
                         r.runas_user, r.runas_group);
}

Result<std::shared_ptr<const CompiledPolicy>> compile_documents(const std::vector<PolicyDocument>& documents,
                                                                const TimeZones& zones) {
  std::vector<NamedPolicy> named;
  for (const auto& doc : documents) {
    auto parsed = parse_policy(doc.text, fmt::format("{}@{}", doc.name, doc.version), zones);
    if (!parsed.policy) {
      return invalid_argument(fmt::format("policy {} version {} does not parse here: {}", doc.name, doc.version,
                                          parsed.errors.empty() ? "" : parsed.errors.front().to_string()));
    }
    named.push_back(NamedPolicy{doc.name, doc.version, std::move(*parsed.policy)});
  }
  auto merged = merge_policies(named);
  if (!merged) return merged.error();
  return CompiledPolicy::compile(std::move(*merged));
}

bool ends(RequestState s) {
  return s == RequestState::kDenied || s == RequestState::kCancelled || s == RequestState::kExpired ||
         s == RequestState::kRevoked;
}

}  // namespace

events::Command Agent::command_event(const Facts& facts, const ipc::CommandContext& context,
                                     const ipc::DecisionMessage& decision) {
  const RunAs& runas = facts.input.command.runas;
  events::Command out{.grant_id = decision.grant_id,
                      .user = facts.account.name,
                      .uid = facts.account.uid,
                      .runas = runas.user,
                      .runas_group = runas.group,
                      .argv = context.argv,
                      .action = decision.action,
                      .rule = decision.rule,
                      .reason = decision.reason,
                      .tty = context.tty};
  if (facts.input.edit) {
    // An edit: the files, as decided; the editor runs as the user.
    out.edit_files.emplace();
    for (const auto& f : *facts.input.edit) out.edit_files->push_back(f.path);
    out.editor = context.command;
    return out;
  }
  out.command = facts.input.command.exe.path;
  out.real_path = facts.input.command.exe.real_path;
  out.sha256 = facts.input.command.exe.sha256;
  return out;
}

Agent::Agent(AgentDeps deps) : deps_(std::move(deps)) {}

TimePoint Agent::now_s() const {
  return std::chrono::time_point_cast<Seconds>(deps_.clock());
}

Status Agent::load() {
  auto snapshot = deps_.state.policy();
  if (!snapshot) return snapshot.error();
  if (!*snapshot) return {};
  auto compiled = compile_documents((*snapshot)->documents, deps_.zones);
  if (!compiled) return compiled.error();
  const std::lock_guard lock(mu_);
  policy_ = *compiled;
  etag_ = (*snapshot)->etag;
  return {};
}

bool Agent::has_policy() const {
  const std::lock_guard lock(mu_);
  return policy_ != nullptr;
}

Status Agent::sync_policy() {
  std::string etag;
  {
    const std::lock_guard lock(mu_);
    etag = etag_;
  }
  auto fetched = deps_.server.fetch_policy(etag);
  if (!fetched) return fetched.error();
  if (!*fetched) return {};  // 304: still current
  auto compiled = compile_documents((*fetched)->documents, deps_.zones);
  if (!compiled) return compiled.error();  // the last good policy stays in force
  PolicySnapshot snapshot{(*fetched)->etag, now_s(), (*fetched)->labels, (*fetched)->documents};
  if (auto st = deps_.state.set_policy(snapshot); !st) return st;
  const std::lock_guard lock(mu_);
  policy_ = *compiled;
  etag_ = snapshot.etag;
  return {};
}

Turn Agent::handle(const Caller& caller, const ipc::Fields& request, int exe_fd) {
  std::optional<OutboxEvent> later;
  Turn turn;
  try {
    turn.reply = frame_of(answer(caller, request, exe_fd, later));
  } catch (const std::exception& e) {
    later.reset();
    turn.reply = frame_of(internal_error(fmt::format("hoist-agent failed to answer (this is a bug): {}", e.what())));
  } catch (...) {
    later.reset();
    turn.reply = frame_of(internal_error("hoist-agent failed to answer (this is a bug)"));
  }
  if (later) turn.follow_up = [this, event = std::move(*later)] { return record_frame(event); };
  return turn;
}

ipc::Fields Agent::record_frame(const OutboxEvent& event) {
  try {
    if (auto st = deps_.state.enqueue(event); !st) {
      return frame_of(
          unavailable("hoist-agent cannot record this decision (" + st.error().message + "); nothing runs"));
    }
    if (deps_.event_queued) deps_.event_queued();
    return ipc::to_fields(ipc::RecordedMessage{});
  } catch (const std::exception& e) {
    return frame_of(
        internal_error(fmt::format("hoist-agent cannot record this decision (this is a bug): {}", e.what())));
  } catch (...) {
    return frame_of(internal_error("hoist-agent cannot record this decision (this is a bug)"));
  }
}

Result<AgentReply> Agent::answer(const Caller& caller, const ipc::Fields& request, int exe_fd,
                                 std::optional<OutboxEvent>& later) {
  auto type = ipc::message_type(request);
  if (!type) return type.error();
  const std::uint32_t uid = caller.uid;
  switch (*type) {
    case ipc::MessageType::kCheck:
      return handled(ipc::check_from(request), [&](const auto& m) { return check(caller, m, exe_fd, later); });
    case ipc::MessageType::kExec:
      return handled(ipc::exec_from(request), [&](const auto& m) { return exec(caller, m, exe_fd); });
    case ipc::MessageType::kElevate:
      return handled(ipc::elevate_from(request), [&](const auto& m) { return elevate(uid, m); });
    case ipc::MessageType::kSubmit:
      return handled(ipc::submit_from(request), [&](const auto& m) { return submit(uid, m); });
    case ipc::MessageType::kWait: return handled(ipc::wait_from(request), [&](const auto& m) { return wait(uid, m); });
    case ipc::MessageType::kCancel:
      return handled(ipc::cancel_from(request), [&](const auto& m) { return cancel(uid, m); });
    case ipc::MessageType::kCodeChallenge:
      return handled(ipc::code_challenge_from(request), [&](const auto& m) { return code_challenge(uid, m); });
    case ipc::MessageType::kCodeRedeem:
      return handled(ipc::code_redeem_from(request), [&](const auto& m) { return code_redeem(uid, m); });
    case ipc::MessageType::kSelfApprove:
      return handled(ipc::self_approve_from(request), [&](const auto& m) { return self_approve(uid, m); });
    case ipc::MessageType::kList: return handled(ipc::list_from(request), [&](const auto& m) { return list(uid, m); });
    default: return invalid_argument(fmt::format("hoist-agent does not take \"{}\" messages", ipc::to_string(*type)));
  }
}

Status Agent::speaks_for(std::uint32_t claimed, std::uint32_t uid) {
  if (claimed == uid) return {};
  return permission_denied(fmt::format("the message speaks for uid {}, but it comes from uid {}", claimed, uid));
}

Result<Agent::Facts> Agent::gather(std::uint32_t uid, const ipc::CommandContext& context, int exe_fd) {
  if (auto st = speaks_for(context.uid, uid); !st) return st.error();
  auto account = deps_.accounts(uid);
  if (!account) return account.error();
  Facts out;
  if (deps_.run_as) {
    auto target = deps_.run_as(context.runas_user, context.runas_group, *account);
    if (!target) return target.error();
    out.input.command.runas = std::move(*target);
  } else {
    out.input.command.runas.user = !context.runas_user.empty()   ? context.runas_user
                                   : context.runas_group.empty() ? std::string("root")
                                                                 : account->name;
    out.input.command.runas.group = context.runas_group;
  }
  out.account = std::move(*account);
  out.input.subject = Subject{out.account.name, out.account.groups, deps_.labels, deps_.hostname};
  out.input.now = now_s();
  if (context.mode == ipc::RunMode::kEdit) {
    // sudoedit: the files decide; the editor (context.command) runs as the
    // user and is only recorded.
    if (context.argv.size() < 2) return invalid_argument("an edit names no file");
    std::vector<EditFile> files;
    for (std::size_t i = 1; i < context.argv.size(); ++i) {
      auto file = platform::inspect_edit_file(context.cwd, context.argv[i]);
      if (!file) return file.error();
      // The plugin hands sudo the resolved path: decide on exactly that,
      // never on a name that resolves through directories since changed.
      if (file->path != context.argv[i]) {
        return permission_denied(fmt::format("{} is not the resolved path of the file to edit ({}); run sudoedit again",
                                             context.argv[i], file->path));
      }
      files.push_back(std::move(*file));
    }
    out.input.edit = std::move(files);
    return out;
  }
  if (context.command.empty() || context.command.front() != '/') {
    return invalid_argument("the command must be an absolute path, resolved through the secure path");
  }
  auto inspected = deps_.inspector.inspect(context.command);
  if (!inspected) return inspected.error();
  if (exe_fd >= 0) {
    struct stat st {};
    if (fstat(exe_fd, &st) != 0 || !(platform::FileIdentity::of(st) == inspected->identity)) {
      return permission_denied(
          fmt::format("{} changed while it was being checked; run the command again", context.command));
    }
  }
  out.input.command.exe = std::move(inspected->facts);
  if (context.argv.size() > 1) {
    out.input.command.args.assign(context.argv.begin() + 1, context.argv.end());
  }
  return out;
}

Result<OutboxEvent> Agent::make_event(std::string kind, const std::string& details_json) {
  auto id = new_event_id();
  if (!id) return id.error();
  return OutboxEvent{*id, std::move(kind), std::chrono::time_point_cast<std::chrono::milliseconds>(deps_.clock()),
                     bound_event_details(details_json)};
}

Status Agent::enqueue(std::string kind, const std::string& details_json) {
  auto e = make_event(std::move(kind), details_json);
  if (!e) return e.error();
  auto st = deps_.state.enqueue(*e);
  if (st && deps_.event_queued) deps_.event_queued();
  return st;
}

std::shared_ptr<const CompiledPolicy> Agent::current_policy() const {
  const std::lock_guard lock(mu_);
  return policy_;
}

Result<ipc::DecisionMessage> Agent::decide_now(std::uint32_t uid, const Facts& facts) const {
  auto grants = deps_.state.active_grants(uid, facts.input.now);
  if (!grants) return grants.error();
  return decide(current_policy().get(), *grants, facts.input, deps_.zones);
}

Result<ipc::DecisionMessage> Agent::check(const Caller& caller, const ipc::CheckMessage& m, int exe_fd,
                                          std::optional<OutboxEvent>& later) {
  if (!caller.sudo && caller.uid != 0 && caller.uid != deps_.own_uid) {
    return permission_denied("only sudo asks hoist-agent to check a command: run it with sudo");
  }
  const std::uint32_t uid = caller.uid;
  // Another uid's message is refused; facts that cannot be had deny.
  if (auto st = speaks_for(m.context.uid, uid); !st) return st.error();
  if (m.record_after && m.context.mode == ipc::RunMode::kEdit) {
    // sudo copies the files before the session starts: an edit's decision
    // is recorded before it is answered.
    return invalid_argument("an edit's decision is recorded before it is answered: record_after is refused");
  }
  auto facts = gather(uid, m.context, exe_fd);
  if (!facts) return deny(facts.error().message);
  auto decided = decide_now(uid, *facts);
  if (!decided) return grants_unreadable(decided.error());
  ipc::DecisionMessage decision = std::move(*decided);
  const events::Command event = command_event(*facts, m.context, decision);
  // `sudo -l CMD` runs nothing and asks no password, whatever it answers:
  // like a deny, it goes through the user's budget (the third attack pass:
  // listing an allowed command in a loop queued events without a budget).
  const bool runs_nothing = decision.action != Action::kAllow || m.context.mode == ipc::RunMode::kList;
  const auto now_ms = std::chrono::time_point_cast<std::chrono::milliseconds>(deps_.clock());
  if (m.record_after && decision.action == Action::kAllow) {
    // Answered first; handle() records it after the reply, and the plugin
    // runs nothing until it hears that it is recorded.
    auto e = make_event(events::outbox_kind(event), events::details_text(event));
    if (!e) return deny("hoist-agent cannot record this decision (" + e.error().message + "); nothing runs");
    later = std::move(*e);
  } else if (runs_nothing && !denials_.admit(uid, event.user, now_ms)) {
    // Over this user's budget of decisions that run nothing: counted, and
    // recorded as one decisions.counted event a minute (denial_budget.h).
  } else if (auto st = enqueue(event); !st) {
    if (!runs_nothing) {
      // Nothing runs that the audit trail would not hear of.
      decision = deny("hoist-agent cannot record this decision (" + st.error().message + "); nothing runs");
    } else {
      denials_.count(uid, event.user, now_ms);  // not lost: counted with the ones held back
    }
  }
  if (runs_nothing) (void)queue_denial_counts(false);
  if (decision.action == Action::kAllow && decision.record_processes) remember_run(decision.grant_id, caller);
  return decision;
}

Status Agent::queue_denial_counts(bool all) {
  Status result;
  for (const auto& s : denials_.due(std::chrono::time_point_cast<std::chrono::milliseconds>(deps_.clock()), all)) {
    const events::DecisionsCounted counted{.user = s.user,
                                           .uid = s.uid,
                                           .count = s.count,
                                           .first_ms = s.first_at.time_since_epoch().count(),
                                           .last_ms = s.last_at.time_since_epoch().count()};
    if (auto st = enqueue(counted); !st) {
      denials_.give_back(s);
      if (result) result = st;
    }
  }
  return result;
}

Status Agent::flush_denials() {
  return queue_denial_counts(true);
}

Result<ipc::DecisionMessage> Agent::exec(const Caller& caller, const ipc::ExecMessage& m, int exe_fd) {
  if (!caller.sudo) {
    // Only sudo's intercept reports the processes of an elevated tree.
    return permission_denied("exec messages come from sudo's plugin only");
  }
  const std::uint32_t uid = caller.uid;
  if (auto st = speaks_for(m.context.uid, uid); !st) return st.error();
  auto facts = gather(uid, m.context, exe_fd);
  ipc::DecisionMessage decision;
  std::optional<events::Command> checked;  // nullopt: no facts, so nothing was checked
  if (!facts) {
    decision = deny(facts.error().message);
  } else {
    auto decided = decide_now(uid, *facts);
    decision = decided ? std::move(*decided) : grants_unreadable(decided.error());
    if (decision.action == Action::kRequest) {
      // Nobody can be asked from inside a running command.
      decision.action = Action::kDeny;
      decision.reason = "the temporary admin session has ended, and this program needs approval";
    }
    checked = command_event(*facts, m.context, decision);
  }
  const events::Process process{.command = checked ? events::Process::Asked{std::move(*checked)}
                                                   : events::UncheckedCommand{.user = m.context.user,
                                                                              .uid = uid,
                                                                              .command = m.context.command,
                                                                              .argv = m.context.argv,
                                                                              .action = decision.action,
                                                                              .reason = decision.reason},
                                .session = m.grant_id,
                                .pid = m.pid,
                                .ppid = m.ppid,
                                .exec_uid = m.exec_uid,
                                .sudo_pid = caller.pid,
                                .cwd = m.context.cwd};
  if (auto st = enqueue(process); !st && decision.action == Action::kAllow) {
    decision = deny("hoist-agent cannot record this process (" + st.error().message + "); it does not run");
  }
  if (decision.action == Action::kAllow && decision.record_processes) remember_run(decision.grant_id, caller);
  return decision;
}

void Agent::remember_run(const std::string& grant_id, const Caller& caller) {
  if (grant_id.empty() || caller.pid <= 0) return;
  const std::lock_guard lock(mu_);
  auto& runs = session_runs_[grant_id];
  const SessionRun run{caller.pid, caller.uid};
  if (std::find(runs.begin(), runs.end(), run) != runs.end()) return;
  constexpr std::size_t kMaxRuns = 256;  // per session; the oldest are most likely gone
  if (runs.size() == kMaxRuns) runs.erase(runs.begin());
  runs.push_back(run);
}

std::string session_end_notice(const ServerRequest& request) {
  std::string text;
  if (request.state == RequestState::kRevoked) {
    text = fmt::format("hoist: your temporary admin session {} was revoked", request.id);
    if (!request.ended_by.empty()) text += " by " + request.ended_by;
    if (!request.end_reason.empty()) text += ": " + request.end_reason;
  } else {
    text = fmt::format("hoist: your temporary admin session {} has ended (its time is up)", request.id);
  }
  return text + ". What it still runs is being stopped.";
}

void Agent::end_runs(const ServerRequest& request) {
  const std::string& grant_id = request.id;
  std::vector<SessionRun> runs;
  bool stop = false;
  {
    const std::lock_guard lock(mu_);
    const auto it = session_runs_.find(grant_id);
    if (it == session_runs_.end()) return;
    runs = std::move(it->second);
    session_runs_.erase(it);
    stop = policy_ && policy_->policy().settings.end_session_processes;
  }
  if (stop && deps_.end_session_runs && !runs.empty()) deps_.end_session_runs(runs, session_end_notice(request));
}

Result<ipc::RequestStateMessage> Agent::elevate(std::uint32_t uid, const ipc::ElevateMessage& m) {
  if (auto st = speaks_for(m.uid, uid); !st) return st.error();
  if (m.justification.empty()) return invalid_argument("a temporary admin session needs a reason");
  auto account = deps_.accounts(uid);
  if (!account) return account.error();
  SubmitFacts f;
  f.kind = RequestKind::kSession;
  f.user = account->name;
  f.groups = account->groups;
  f.justification = m.justification;
  if (m.duration_s > 0) f.duration_s = static_cast<std::int64_t>(m.duration_s);
  auto outcome = deps_.server.submit(f);
  if (!outcome) return server_error(outcome.error(), "ask for the session");
  if (outcome->decision != Action::kRequest || !outcome->request) {
    std::string why = outcome->reason.empty() ? "the Hoist server refused the session" : outcome->reason;
    if (!outcome->contact.empty()) why += ". " + outcome->contact;
    return permission_denied(why);
  }
  if (auto st = record(*outcome->request, uid); !st) return st.error();
  (void)enqueue(
      events::SessionRequested{.request = outcome->request->id, .user = account->name, .uid = uid, .tty = m.tty});
  auto reply = state_message(*outcome->request);
  if (!outcome->contact.empty()) reply.contact = outcome->contact.substr(0, ipc::kMaxTextBytes);
  return reply;
}

Status Agent::record(const ServerRequest& request, std::uint32_t uid) {
  const auto now = now_s();
  Status result;
  if (ends(request.state)) {
    if (auto g = deps_.state.grant(request.id); g && *g && !(*g)->revoked_at) {
      result = deps_.state.revoke_grant(request.id, now);
    }
    end_runs(request);
    if (auto removed = deps_.state.remove_pending_request(request.id); !removed && result) {
      result = removed.error();
    }
  } else {
    auto existing = deps_.state.pending_request(request.id);
    PendingRequest p{request.id,
                     uid,
                     request.requester,
                     summary_of(request),
                     existing && *existing ? (*existing)->submitted_at : now,
                     std::string(to_string(request.state))};
    result = deps_.state.upsert_pending_request(p);
    if (result && (request.state == RequestState::kApproved || request.state == RequestState::kActive) &&
        request.grant_deadline) {
      Grant g;
      g.id = request.id;
      g.user = request.requester;
      g.uid = uid;
      g.kind = request.kind == RequestKind::kSession ? GrantKind::kSession : GrantKind::kCommand;
      if (g.kind == GrantKind::kCommand) {
        g.scope.command_path = request.command_path;
        g.scope.sha256 = request.command_sha256;
        if (request.argv.size() > 1) g.scope.argv_patterns.assign(request.argv.begin() + 1, request.argv.end());
        g.scope.runas_user = request.runas_user;
        g.scope.runas_group = request.runas_group;
      }
      g.start = now;
      g.deadline = *request.grant_deadline;
      g.record_processes = g.kind == GrantKind::kSession;
      g.origin = GrantOrigin::kServer;
      result = deps_.state.upsert_grant(g);
    }
  }
  {
    // Only now may a waiter see the new state: the grant it implies is in
    // the state already, so the check that follows finds it.
    const std::lock_guard lock(mu_);
    requests_[request.id] = request;
  }
  changed_.notify_all();
  return result;
}

ipc::RequestStateMessage Agent::state_message(const ServerRequest& r) {
  ipc::RequestStateMessage out;
  out.request_id = r.id;
  out.state = r.state;
  out.reviewer = r.reviewer.substr(0, ipc::kMaxNameBytes);
  out.comment = r.comment.substr(0, ipc::kMaxTextBytes);
  out.self_approval_allowed = r.self_approval_allowed && r.state == RequestState::kPending;
  {
    const std::lock_guard lock(mu_);
    if (policy_) out.contact = policy_->policy().settings.contact.substr(0, ipc::kMaxTextBytes);
  }
  if ((r.state == RequestState::kApproved || r.state == RequestState::kActive) && r.grant_deadline) {
    const auto now = now_s();
    out.time_left_s = *r.grant_deadline > now ? static_cast<std::uint64_t>((*r.grant_deadline - now).count()) : 0;
  }
  return out;
}

Result<ipc::RequestStateMessage> Agent::submit(std::uint32_t uid, const ipc::SubmitMessage& m) {
  auto facts = gather(uid, m.context, -1);
  if (!facts) return facts.error();
  if (facts->input.edit) {
    return permission_denied("an edit is allowed by an edit rule or a temporary admin session; it is never requested");
  }
  if (m.justification.empty()) return invalid_argument("a request needs a justification");
  const RunAs& runas = facts->input.command.runas;
  if (m.context.noninteractive) {
    // A script retrying `sudo -n` must not queue a request per try: the
    // same command still waiting from this user is answered again.
    const std::string summary =
        command_summary(facts->input.command.exe.path, facts->input.command.args, runas.user, runas.group);
    if (auto pending = deps_.state.pending_requests_for(uid); pending) {
      for (const auto& p : *pending) {
        if (p.state != "pending" || p.command_summary != summary) continue;
        std::unique_lock lock(mu_);
        const auto it = requests_.find(p.id);
        if (it == requests_.end() || it->second.state != RequestState::kPending) continue;
        const ServerRequest known = it->second;
        lock.unlock();
        return state_message(known);
      }
    }
  }
  SubmitFacts f;
  f.kind = RequestKind::kCommand;
  f.user = facts->account.name;
  f.groups = facts->account.groups;
  f.justification = m.justification;
  if (m.duration_s > 0) f.duration_s = static_cast<std::int64_t>(m.duration_s);
  const auto& exe = facts->input.command.exe;
  f.path = exe.path;
  f.real_path = exe.real_path;
  f.argv = m.context.argv;
  f.runas = runas;
  if (exe.sha256) f.sha256 = exe.sha256->hex();
  f.trusted_path = exe.trusted_path;
  if (exe.package) {
    f.package =
        SubmitFacts::Package{exe.package->name, exe.package->origin, exe.package->maintainer, exe.package->verified};
  }
  auto outcome = deps_.server.submit(f);
  if (!outcome) return server_error(outcome.error(), "send the request");
  if (outcome->decision == Action::kDeny) {
    return permission_denied(outcome->reason.empty() ? "the Hoist server refused this request" : outcome->reason);
  }
  if (outcome->decision == Action::kAllow || !outcome->request) {
    (void)sync_policy();  // the server's policy is newer than this one
    return conflict("the policy changed meanwhile; run the command again");
  }
  if (auto st = record(*outcome->request, uid); !st) return st.error();
  auto reply = state_message(*outcome->request);
  if (!outcome->contact.empty()) reply.contact = outcome->contact.substr(0, ipc::kMaxTextBytes);
  return reply;
}

Result<ServerRequest> Agent::refresh(const std::string& id, std::uint32_t uid) {
  auto fresh = deps_.server.request(id);
  if (!fresh) return fresh.error();
  if (auto st = record(*fresh, uid); !st) return st.error();
  return fresh;
}

Result<PendingRequest> Agent::own_pending(const std::string& id, std::uint32_t uid) {
  auto pending = deps_.state.pending_request(id);
  if (!pending) return pending.error();
  if (!*pending) return not_found(fmt::format("there is no pending request {} of yours on this computer", id));
  if ((*pending)->uid != uid) return permission_denied("that request is someone else's");
  return std::move(**pending);
}

Result<ipc::RequestStateMessage> Agent::wait(std::uint32_t uid, const ipc::WaitMessage& m) {
  auto pending = deps_.state.pending_request(m.request_id);
  if (!pending) return pending.error();
  std::unique_lock lock(mu_);
  const bool known = requests_.count(m.request_id) != 0;
  lock.unlock();
  if (*pending && (*pending)->uid != uid) return permission_denied("that request is someone else's");
  if (!*pending && !known) {
    return not_found(fmt::format("there is no request {} of yours on this computer", m.request_id));
  }
  if (!known) {
    // After a restart: ask the server once.
    if (auto fresh = refresh(m.request_id, uid); !fresh) return fresh.error();
  }
  lock.lock();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(m.wait_ms);
  changed_.wait_until(lock, deadline, [&] {
    const auto it = requests_.find(m.request_id);
    return it == requests_.end() || it->second.state != RequestState::kPending;
  });
  const auto it = requests_.find(m.request_id);
  if (it == requests_.end()) return not_found(fmt::format("request {} is gone", m.request_id));
  const ServerRequest current = it->second;
  lock.unlock();
  return state_message(current);
}

Result<ipc::RequestStateMessage> Agent::cancel(std::uint32_t uid, const ipc::CancelMessage& m) {
  if (auto pending = own_pending(m.request_id, uid); !pending) return pending.error();
  auto account = deps_.accounts(uid);
  if (!account) return account.error();
  auto cancelled = deps_.server.cancel(m.request_id, account->name);
  if (!cancelled) return cancelled.error();
  if (auto st = record(*cancelled, uid); !st) return st.error();
  return state_message(*cancelled);
}

Result<ipc::RequestStateMessage> Agent::self_approve(std::uint32_t uid, const ipc::SelfApproveMessage& m) {
  if (auto pending = own_pending(m.request_id, uid); !pending) return pending.error();
  std::optional<ServerRequest> known;
  {
    const std::lock_guard lock(mu_);
    if (const auto it = requests_.find(m.request_id); it != requests_.end()) known = it->second;
  }
  if (!known) {
    // After a restart: ask the server once.
    auto fresh = refresh(m.request_id, uid);
    if (!fresh) return fresh.error();
    known = std::move(*fresh);
  }
  if (known->state != RequestState::kPending) {
    return conflict(fmt::format("request {} is no longer pending (it is {})", m.request_id, to_string(known->state)));
  }
  if (!known->self_approval_allowed) {
    return permission_denied(
        fmt::format("request {} needs a technician's approval; you may not approve it yourself", m.request_id));
  }
  auto account = deps_.accounts(uid);
  if (!account) return account.error();
  auto approved = deps_.server.self_approve(m.request_id, account->name, std::nullopt, "");
  if (!approved) return server_error(approved.error(), "approve the request");
  if (auto st = record(*approved, uid); !st) return st.error();
  (void)enqueue(events::RequestSelfApproved{
      .request = m.request_id, .user = account->name, .uid = uid, .state = approved->state});
  return state_message(*approved);
}

Result<ipc::ListingMessage> Agent::list(std::uint32_t uid, const ipc::ListMessage& m) {
  if (auto st = speaks_for(m.uid, uid); !st) return st.error();
  if (!m.list_user.empty()) {
    return permission_denied("listing another user's rules is for administrators, in the console");
  }
  auto account = deps_.accounts(uid);
  if (!account) return account.error();
  ipc::ListingMessage out;
  // Every line made safe to show (a policy's description may hold a newline
  // or an escape sequence: sudo -l prints the lines as they come) and
  // within the protocol's limits, whatever the policy's size: rules past
  // the budget are counted, not listed (from the attack pass).
  constexpr std::size_t kRuleLines = ipc::kMaxListingLines - 100;  // room for requests and grants
  constexpr std::size_t kBytes = ipc::kMaxFrameBytes / 2;
  std::size_t bytes = 0;
  const auto add = [&](const std::string& text) {
    std::string line = valid_utf8(visible_text(text), ipc::kMaxTextBytes);
    bytes += line.size() + 16;
    out.lines.push_back(std::move(line));
  };
  const auto room = [&] { return out.lines.size() < ipc::kMaxListingLines - 1 && bytes < kBytes; };
  const auto policy = current_policy();
  if (!policy) {
    add("This computer has no Hoist policy yet.");
    return out;
  }
  const Subject subject{account->name, account->groups, deps_.labels, deps_.hostname};
  add(fmt::format("Hoist rules for {} on {}:", account->name, deps_.hostname));
  std::size_t shown = 0;
  std::size_t unlisted = 0;
  for (const auto& rule : policy->policy().rules) {
    if (!principal_matches(rule.scope.users, rule.scope.groups, subject)) continue;
    ++shown;
    if (out.lines.size() >= kRuleLines || bytes >= kBytes / 2) {
      ++unlisted;
      continue;
    }
    // As `sudo -l` lists commands: what the rule covers, then what happens.
    const bool edit = !rule.match.edit.empty();
    const char* verb = rule.action == Action::kAllow  ? (edit ? "may edit" : "runs at once")
                       : rule.action == Action::kDeny ? (edit ? "never edits" : "never runs")
                                                      : "needs approval";
    std::string as;
    if (!rule.runas.users.empty()) as = fmt::format(", as {}", fmt::join(rule.runas.users, " or "));
    if (!rule.runas.groups.empty()) as += fmt::format(", with group {}", fmt::join(rule.runas.groups, " or "));
    add(fmt::format("  {}: {}{} (rule {}{}{})", verb, command_summary(rule.match), as, rule.name,
                    rule.description.empty() ? "" : ": ", rule.description));
  }
  if (unlisted > 0) add(fmt::format("  ... and {} more rules naming you (the console lists them all)", unlisted));
  if (shown == 0) add("  (no rule names you)");
  add(policy->policy().settings.default_action == Action::kDeny
          ? "Anything else is refused."
          : "Anything else can be requested: run it with sudo and give a reason.");
  if (auto pending = deps_.state.pending_requests_for(uid); pending && !pending->empty()) {
    bool header = false;
    for (const auto& p : *pending) {
      if (p.state != "pending") continue;
      if (!room()) break;
      if (!header) add("Waiting for approval:");
      header = true;
      add(fmt::format("  {} {}", p.id, p.command_summary));
    }
  }
  if (auto grants = deps_.state.active_grants(uid, now_s()); grants && !grants->empty()) {
    if (room()) add("In force now:");
    for (const auto& g : *grants) {
      if (!room()) break;
      const auto left = std::chrono::duration_cast<std::chrono::minutes>(g.deadline - now_s()).count();
      add(fmt::format("  {} {} ({} min left)", g.id,
                      g.kind == GrantKind::kSession ? "temporary admin session" : g.scope.command_path, left));
    }
  }
  return out;
}

Status Agent::apply_push(const PushPage& page) {
  bool policy_changed = false;
  for (const auto& message : page.messages) {
    if (message.kind == "policy") {
      policy_changed = true;
      continue;
    }
    if (message.kind == "codes_key") {
      // Rotated: fetch the new key. Failing that, the page comes again.
      if (auto st = sync_codes_key(); !st) return st;
      continue;
    }
    if (message.kind != "request") continue;  // a newer server's kinds: not ours to act on
    json::error_code ec;
    const auto payload = json::parse(message.payload, ec);
    const auto* id = !ec && payload.is_object() ? payload.as_object().if_contains("request_id") : nullptr;
    if (id == nullptr || !id->is_string()) continue;
    auto request = deps_.server.request(std::string(id->as_string()));
    if (!request) return request.error();  // the cursor stays: the page comes again
    auto pending = deps_.state.pending_request(request->id);
    if (!pending) return pending.error();
    std::uint32_t uid = 0;
    if (*pending) {
      uid = (*pending)->uid;
    } else if (auto g = deps_.state.grant(request->id); g && *g) {
      uid = (*g)->uid;
    } else {
      continue;  // not a request this agent knows of (submitted before a re-enrolment)
    }
    if (auto st = record(*request, uid); !st) return st;
  }
  if (policy_changed) {
    if (auto st = sync_policy(); !st) return st;
  }
  return deps_.state.set_push_cursor(page.cursor);
}

Result<UploadOutcome> Agent::upload_events() {
  auto batch = deps_.state.next_batch(kUploadEvents);
  if (!batch) return batch.error();
  // Bounded in bytes too, so the body stays far below hoistd's limit.
  std::size_t bytes = 0;
  std::size_t count = 0;
  for (; count < batch->size(); ++count) {
    bytes += std::min((*batch)[count].payload.size(), kMaxEventDetailsBytes) + kEventOverheadBytes;
    if (count > 0 && bytes > kUploadBytes) break;
  }
  batch->resize(count);
  UploadOutcome outcome;
  if (batch->empty()) return outcome;
  if (auto st = deliver(*batch, outcome); !st && outcome.moved() == 0) return st.error();
  return outcome;
}

Status Agent::deliver(std::span<const OutboxEvent> events, UploadOutcome& outcome) {
  ServerApi& server = deps_.uploads != nullptr ? *deps_.uploads : deps_.server;
  auto reply = server.upload_events(std::vector<OutboxEvent>(events.begin(), events.end()));
  if (!reply) return reply.error();
  if (!reply->refused) {
    if (auto st = deps_.state.acknowledge(reply->acknowledged); !st) return st;
    outcome.acknowledged += reply->acknowledged.size();
    return {};
  }
  if (events.size() > 1) {
    // hoistd refuses a body for one bad event: halve until it is alone.
    const std::size_t half = events.size() / 2;
    if (auto st = deliver(events.first(half), outcome); !st) return st;
    return deliver(events.subspan(half), outcome);
  }
  const OutboxEvent& refused = events.front();
  std::string reason = reply->refused->substr(0, kMaxReasonBytes);
  std::erase(reason, '\0');
  const auto now = now_s();
  std::optional<OutboxEvent> report;
  // A refused report is not reported again.
  if (parse_endpoint_event_kind(refused.kind) != AuditKind::kEndpointEventQuarantined) {
    auto id = new_event_id();
    if (!id) return id.error();
    const events::EventQuarantined quarantined{.event_id = refused.id,
                                               .event_kind = refused.kind,
                                               .event_time_ms = refused.time.time_since_epoch().count(),
                                               .payload_bytes = refused.payload.size(),
                                               .reason = reason};
    report = OutboxEvent{*id, events::outbox_kind(quarantined),
                         std::chrono::time_point_cast<std::chrono::milliseconds>(deps_.clock()),
                         bound_event_details(events::details_text(quarantined))};
  }
  if (auto st = deps_.state.quarantine(refused.id, reason, now, report); !st) return st;
  outcome.quarantined.push_back(QuarantinedEvent{refused, reason, now});
  return {};
}

Status Agent::tidy() {
  auto counts = queue_denial_counts(false);
  auto deleted = deps_.state.delete_grants_ended_before(now_s() - Seconds{24 * 3600});
  if (!deleted) return deleted.error();
  return counts;
}

}  // namespace hoist::agent
