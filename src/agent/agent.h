// hoist-agent's logic, without sockets or threads: answering the plugin's
// messages (check, submit, wait, cancel, self_approve, list, and the
// offline admin codes: code_challenge, code_redeem), keeping the policy, grants
// and requests current from hoistd's push channel, and uploading the event
// outbox. The daemon (daemon.h) runs it; tests drive it with a fake server
// and a fake state.
//
// MUST: the caller's uid is the kernel's (peer.h); a message naming another
// uid is refused, and a request can be waited on or cancelled only by the
// uid that submitted it.
// MUST: `check`, which queues a decision event, is taken only from sudo's
// plugin (a sudo process) or root, and `exec` only from sudo's plugin: a
// plain process cannot put a command that never ran into the audit trail.
// MUST: every decision, request and grant use is queued as an event before
// the answer leaves (durable outbox), so it reaches the server's audit trail
// even if the agent dies right after. The one exception is asked for by
// the plugin (check's record_after, never for an edit): an allow leaves
// first and a `recorded` frame follows once its event is durable; the
// plugin runs nothing without that frame.
// MUST: no event can stop the outbox: every event's details are bounded
// (event_bounds.h), and one hoistd refuses for good is quarantined and
// reported, never sent again and again.
// MUST: fail closed: without a policy, or when facts about the command
// cannot be established, the answer is deny with a clear reason.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <boost/json.hpp>

#include "agent/denial_budget.h"
#include "agent/endpoint_events.h"
#include "agent/peer.h"
#include "agent/server_api.h"
#include "agent/state/agent_state.h"
#include "agent/turn.h"
#include "core/decide.h"
#include "core/evaluator.h"
#include "ipc/frame.h"
#include "ipc/messages.h"
#include "platform/executable.h"

namespace hoist::agent {

// A sudo process running a command under a temporary admin session: the
// peer that asked (the plugin lives in sudo) and whose user it runs for.
struct SessionRun {
  pid_t sudo_pid = 0;
  std::uint32_t uid = 0;
  friend bool operator==(const SessionRun&, const SessionRun&) = default;
};

// What the user of a session's sudo runs reads on their terminal when the
// session ends and its processes are stopped: revoked (by whom, why) or
// expired. Text from hoistd, made safe where it is written.
std::string session_end_notice(const ServerRequest& request);

struct AgentDeps {
  AgentState& state;
  ServerApi& server;
  const TimeZones& zones;
  const platform::ExecutableInspector& inspector;
  std::function<std::chrono::system_clock::time_point()> clock;
  std::function<Result<Account>(std::uint32_t uid)> accounts;
  std::string hostname;
  std::vector<std::string> labels;  // the endpoint's groups (from enrolment)
  // Stops the elevated processes of a temporary admin session's sudo runs
  // (the policy's end_session_processes), first showing `notice` on their
  // terminals (session_end_notice); must not block. Null: never.
  std::function<void(const std::vector<SessionRun>& runs, const std::string& notice)> end_session_runs;
  // The target of sudo -u / -g from NSS (peer.h run_as_of). Null: the
  // names as given, without a primary group (tests).
  std::function<Result<RunAs>(std::string_view user, std::string_view group, const Account& invoker)> run_as{};
  // The connection the outbox is uploaded on, so that a slow upload holds
  // up nothing else. Null: `server`.
  ServerApi* uploads = nullptr;
  // The agent's own uid (root in production): a caller with it may do what
  // sudo's plugin may, as it can write the agent's state anyway.
  std::uint32_t own_uid = static_cast<std::uint32_t>(::geteuid());
  // Told of each event queued in the outbox (the daemon's metrics). Null: nobody.
  std::function<void()> event_queued = nullptr;
};

// What one upload_events() did.
struct UploadOutcome {
  std::size_t acknowledged = 0;
  // Events hoistd refused for good, now in the quarantine (each reported
  // to hoistd by an "event.quarantined" event).
  std::vector<QuarantinedEvent> quarantined;
  // How many events left the outbox.
  [[nodiscard]] std::size_t moved() const { return acknowledged + quarantined.size(); }
};

// What the agent answers a request with, when it does not refuse it: a
// decision (check, exec), a request's state (submit, elevate, wait, cancel,
// self_approve), a listing (list), a challenge (code_challenge) or a grant
// (code_redeem).
using AgentReply = std::variant<ipc::DecisionMessage, ipc::RequestStateMessage, ipc::ListingMessage,
                                ipc::ChallengeMessage, ipc::CodeGrantMessage>;

class Agent {
 public:
  explicit Agent(AgentDeps deps);

  // Loads the last good policy from the state (if any). Call once at start.
  Status load();
  // Fetches the effective policy (If-None-Match); stores and uses a new one
  // only when it compiles. Unavailable when hoistd cannot be reached: the
  // last good policy stays in force.
  Status sync_policy();
  [[nodiscard]] bool has_policy() const;
  // Fetches this endpoint's admin-code key and stores it when it changed
  // (a rotation). The stored key stays on any error.
  Status sync_codes_key();

  // One request frame from a caller, with the executable's descriptor when
  // one came with it (-1 otherwise; the caller keeps ownership). Always
  // returns a reply frame: the handler's typed reply, or an error frame
  // with its Error's category and message (an exception is an internal
  // error); the only place the agent's answers become frames. An allow to
  // a check with record_after comes with its follow_up (turn.h): record
  // the event, then `recorded` or an error frame.
  Turn handle(const Caller& caller, const ipc::Fields& request, int exe_fd);

  // Applies one page of push messages (request state changes, policy
  // changes) and records the cursor once they are applied.
  Status apply_push(const PushPage& page);
  // Uploads the oldest events of the outbox (at most 100, and at most
  // 256 KiB of details). An event hoistd refuses for good (HTTP 400, 409,
  // 413, 422; a batch it refuses is halved until the event is alone) goes to the
  // quarantine, reported by an event of its own, and the outbox moves on.
  // An error (hoistd unreachable, any other status) leaves everything queued.
  Result<UploadOutcome> upload_events();
  // Deletes grants that ended more than a day ago, and queues the counts of
  // denials held back by a user's budget once they are due.
  Status tidy();
  // Queues every count of denials held back (at stop).
  Status flush_denials();

 private:
  // The typed answer to one request frame, or why it is refused; handle()
  // alone turns it into the reply frame.
  // `later`: set by a check with record_after that allows: the event to
  // record once the answer is sent.
  Result<AgentReply> answer(const Caller& caller, const ipc::Fields& request, int exe_fd,
                            std::optional<OutboxEvent>& later);
  Result<ipc::DecisionMessage> check(const Caller& caller, const ipc::CheckMessage& m, int exe_fd,
                                     std::optional<OutboxEvent>& later);
  Result<ipc::DecisionMessage> exec(const Caller& caller, const ipc::ExecMessage& m, int exe_fd);
  Result<ipc::RequestStateMessage> elevate(std::uint32_t uid, const ipc::ElevateMessage& m);
  Result<ipc::RequestStateMessage> submit(std::uint32_t uid, const ipc::SubmitMessage& m);
  Result<ipc::RequestStateMessage> wait(std::uint32_t uid, const ipc::WaitMessage& m);
  Result<ipc::RequestStateMessage> cancel(std::uint32_t uid, const ipc::CancelMessage& m);
  Result<ipc::RequestStateMessage> self_approve(std::uint32_t uid, const ipc::SelfApproveMessage& m);
  Result<ipc::ListingMessage> list(std::uint32_t uid, const ipc::ListMessage& m);
  Result<ipc::ChallengeMessage> code_challenge(std::uint32_t uid,
                                               const ipc::CodeChallengeMessage& m);               // agent_codes.cpp
  Result<ipc::CodeGrantMessage> code_redeem(std::uint32_t uid, const ipc::CodeRedeemMessage& m);  // agent_codes.cpp

  // Refuses a message that speaks for another uid than the caller's (the
  // kernel's).
  static Status speaks_for(std::uint32_t claimed, std::uint32_t uid);

  struct Facts {
    Account account;
    CheckFacts input;
  };
  // The account and the command's facts; the descriptor, when given, must
  // be the very file at the command's path.
  Result<Facts> gather(std::uint32_t uid, const ipc::CommandContext& context, int exe_fd);
  // The event for a decision on a command.
  static events::Command command_event(const Facts& facts, const ipc::CommandContext& context,
                                       const ipc::DecisionMessage& decision);
  // Records a server request's state locally: the pending record, and the
  // grant when it is approved or ended. Wakes waiters.
  Status record(const ServerRequest& request, std::uint32_t uid);
  // Queues an event; its details are bounded first (event_bounds.h).
  Status enqueue(const events::EndpointEvent auto& event) {
    return enqueue(events::outbox_kind(event), events::details_text(event));
  }
  Status enqueue(std::string kind, const std::string& details_json);
  // The outbox event for `kind` and its details (bounded), not yet queued.
  Result<OutboxEvent> make_event(std::string kind, const std::string& details_json);
  // The frame that follows an early allow: `recorded` once `event` is in
  // the outbox, else an error saying nothing runs.
  ipc::Fields record_frame(const OutboxEvent& event);
  Status deliver(std::span<const OutboxEvent> events, UploadOutcome& outcome);
  ipc::RequestStateMessage state_message(const ServerRequest& request);
  // Asks hoistd for request `id` and records it for `uid` (the agent did not
  // know it: after a restart).
  Result<ServerRequest> refresh(const std::string& id, std::uint32_t uid);
  // The pending request `id`, refused unless it is `uid`'s.
  Result<PendingRequest> own_pending(const std::string& id, std::uint32_t uid);
  // The policy in force (null: none yet).
  [[nodiscard]] std::shared_ptr<const CompiledPolicy> current_policy() const;
  // decide() for `facts` with `uid`'s grants; the state's error when the
  // grants cannot be read.
  Result<ipc::DecisionMessage> decide_now(std::uint32_t uid, const Facts& facts) const;
  // Remembers a sudo run under a session grant, to stop it when the grant ends.
  void remember_run(const std::string& grant_id, const Caller& caller);
  // The grant ended: stop its runs when the policy says so.
  void end_runs(const ServerRequest& request);
  [[nodiscard]] TimePoint now_s() const;
  // Queues a decisions.counted event for each user whose count is due
  // (every one when `all`); a count that cannot be queued is kept.
  Status queue_denial_counts(bool all);

  AgentDeps deps_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::shared_ptr<const CompiledPolicy> policy_;
  std::string etag_;
  std::map<std::string, ServerRequest> requests_;                // the latest seen of each request, by id
  std::map<std::string, std::vector<SessionRun>> session_runs_;  // by session grant id
  // One code check at a time: the rate limit reads, then writes, a count.
  std::mutex codes_mu_;
  // Each user's events of decisions that ran nothing (denial_budget.h).
  DenialBudget denials_;
};

}  // namespace hoist::agent
