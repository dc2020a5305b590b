// Policy's side of a command that needs approval: the questions (reason,
// duration, self-approval), the request, the shared wait
// (endpoint/approval.h), and an offline admin code instead.
#include <signal.h>
#include <syslog.h>

#include <utility>

#include "endpoint/approval.h"
#include "plugin/auth_log.h"
#include "plugin/policy.h"

namespace hoist::plugin {

namespace {
constexpr std::uint64_t kDefaultApprovalWaitS = 120;
}  // namespace

using endpoint::is_approved;
using endpoint::WaitResult;

// sudo -n, or no terminal: nobody can answer questions here. The request
// goes out (with the user's HOIST_REASON, if any) and the user is told at
// once how to follow it.
Outcome Policy::request_noninteractive(const ipc::DecisionMessage& decision) {
  std::string reason;
  for (const auto& v : user_env_) {
    if (v.name == "HOIST_REASON") reason = v.value;
  }
  auto state = agent_->submit(
      ipc::SubmitMessage{context_, endpoint::noninteractive_justification(reason), decision.default_duration_s});
  if (state.lost()) {
    return Outcome::deny(endpoint::noninteractive_request_text(decision, join_command(plan_.argv)) + "\n" +
                         endpoint::agent_unreachable_message(options_.agent_socket) + " (the request was not sent)");
  }
  if (!state) {
    return Outcome::deny("This command needs approval, but the request could not be sent: " + state.error().message);
  }
  if (state->contact.empty()) state->contact = decision.contact;
  log_auth(LOG_NOTICE,
           user_.user + " asked for " + command_.path + " without a terminal (request " + state->request_id + ")");
  return Outcome::deny(endpoint::noninteractive_sent_text(*state, join_command(plan_.argv)));
}

Outcome Policy::request(const ipc::DecisionMessage& decision) {
  if (context_.noninteractive) return request_noninteractive(decision);
  if (decision.reauthenticate) {
    if (auto st = authenticate(true); !st) return Outcome::deny(st.error().message);
  }
  io_.info("This needs approval" + (decision.reason.empty() ? std::string(".") : ": " + decision.reason));
  io_.info(std::string(endpoint::kAdminCodeHint));
  auto why = endpoint::ask_justification(io_);
  if (!why) return Outcome::deny(why.error().message);
  if (endpoint::is_code_word(*why)) return use_admin_code();
  auto duration = endpoint::ask_duration(io_, decision.default_duration_s, decision.max_duration_s);
  if (!duration) return Outcome::deny(duration.error().message);
  auto state = agent_->submit(ipc::SubmitMessage{context_, *why, *duration});
  if (state.refused() && state.error().code == ErrorCode::kUnavailable) {
    // hoistd is out of reach (a laptop on a plane): an admin code from
    // the help desk still works.
    io_.error(state.error().message + ".");
    return use_admin_code();
  }
  if (state.lost()) {
    return Outcome::deny(endpoint::agent_unreachable_message(options_.agent_socket) + " (the request was not sent)");
  }
  if (!state) return Outcome::deny(state.error().message);
  const std::string id = state->request_id;
  log_auth(LOG_NOTICE, user_.user + " asked for " + command_.path + " (request " + id + ")");
  // approval = "self" and the user in a self-approval group: they may
  // approve it here (already re-authenticated above when the rule asks
  // for it). No: the usual wait for a technician. No answer at all
  // (EOF, Ctrl-C at the prompt): nobody is there; the request is withdrawn.
  bool self_approved = false;
  if (state->state == RequestState::kPending && state->self_approval_allowed) {
    auto yes = endpoint::ask_self_approval(io_);
    if (!yes) return cancel(id);
    if (*yes) {
      auto now = agent_->self_approve(id);
      if (now.lost()) {
        return Outcome::deny("Lost contact with hoist-agent (" + now.error().message + ").\n" +
                             endpoint::pending_text(id));
      }
      if (now) {
        state = std::move(now);
        self_approved = is_approved(state->state);
        if (self_approved) log_auth(LOG_NOTICE, user_.user + " approved their own request " + id);
      } else {
        io_.error("You could not approve it yourself (" + now.error().message +
                  "); it waits for a technician instead.");
      }
    }
  }

  const std::uint64_t wait_s = decision.approval_wait_s == 0 ? kDefaultApprovalWaitS : decision.approval_wait_s;
  WaitResult waited;
  {
    // Ctrl-C, a kill or a closed terminal withdraws the request.
    const endpoint::InterruptGuard guard(endpoint::kWithdrawSignals);
    waited = endpoint::wait_for_decision(*agent_, std::move(*state), wait_s, io_, guard);
  }
  switch (waited.end) {
    case WaitResult::End::kApproved: break;
    case WaitResult::End::kClosed: return Outcome::deny(endpoint::denied_request_text(waited.state, decision.contact));
    case WaitResult::End::kTimedOut: return Outcome::deny(endpoint::pending_text(id));
    case WaitResult::End::kInterrupted: return cancel(id);
    case WaitResult::End::kLost:
      if (!waited.no_reply) {
        return Outcome::deny(waited.error.message + "\n" + endpoint::pending_text(id));
      }
      return Outcome::deny("Lost contact with hoist-agent while waiting (" + waited.error.message + ").\n" +
                           endpoint::pending_text(id));
  }
  if (self_approved) {
    io_.info("Approved by you.");
  } else {
    io_.info("Approved" + (waited.state.reviewer.empty() ? std::string() : " by " + waited.state.reviewer) +
             (waited.state.comment.empty() ? std::string(".") : ": " + waited.state.comment));
  }
  if (const auto shorter = endpoint::shortened_text(*duration, waited.state.time_left_s); !shorter.empty()) {
    io_.info(shorter);
  }
  return run_granted("The request was approved");
}

// After an approval or an accepted code: the agent is asked again (it now
// finds the grant) and only its allow runs the command.
Outcome Policy::run_granted(const std::string& what) {
  auto again = ask_check();
  if (!again) return Outcome::deny(again.error().message);
  if (again->action != Action::kAllow) {
    return Outcome::deny(what + ", but hoist-agent does not allow the command now: " +
                         (again->reason.empty() ? std::string("no reason given") : again->reason));
  }
  return finish(*again);
}

// An offline admin code (docs/admin-codes.md) at the prompt: a fresh
// challenge to read to the help desk, then the code they read back (or
// a pre-issued one); the agent checks it for this command and grants it.
Outcome Policy::use_admin_code() {
  auto challenge = agent_->code_challenge(context_.user, context_.uid);
  if (challenge.refused()) return Outcome::deny("No admin code can be used here: " + challenge.error().message);
  if (challenge.garbled()) return Outcome::deny(challenge.error().message);
  if (!challenge) return Outcome::deny(endpoint::agent_unreachable_message(options_.agent_socket));
  io_.info(endpoint::admin_code_instructions(*challenge));
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto code = io_.prompt(std::string(endpoint::kAdminCodePrompt), true);
    if (!code || endpoint::trim(*code).empty()) return Outcome::deny("No admin code was entered.");
    auto granted =
        agent_->code_redeem(ipc::CodeRedeemMessage{context_.user, context_.uid, context_.tty, challenge->challenge,
                                                   std::string(endpoint::trim(*code)), command_.path});
    if (granted.refused()) {
      log_auth(LOG_WARNING, user_.user + ": admin code refused for " + command_.path + ": " + granted.error().message);
      if (granted.error().code == ErrorCode::kRateLimited || granted.error().code == ErrorCode::kUnavailable) {
        return Outcome::deny("The admin code was not accepted: " + granted.error().message);
      }
      io_.error("Not accepted: " + granted.error().message + ".");
      continue;
    }
    if (granted.garbled()) return Outcome::deny(granted.error().message);
    if (!granted) return Outcome::deny(endpoint::agent_unreachable_message(options_.agent_socket));
    log_auth(LOG_NOTICE,
             user_.user + " used an admin code for " + command_.path + " (grant " + granted->grant_id + ")");
    io_.info(endpoint::admin_code_accepted_text(*granted));
    return run_granted("The admin code was accepted");
  }
  return Outcome::deny("The admin code was not accepted.");
}

}  // namespace hoist::plugin
