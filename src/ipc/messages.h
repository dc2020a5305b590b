// The typed messages of the agent protocol (docs/agent-protocol.md), over
// the fields of ipc/frame.h. One request, one reply, per connection turn:
//
//   check   -> decision        may this command run now? (the executable's
//                              descriptor travels with it, SCM_RIGHTS)
//   submit  -> request_state   ask for approval, with justification and duration
//   wait    -> request_state   the request's state, waiting up to wait_ms
//   cancel  -> request_state   the requester withdraws a pending request
//   list    -> listing         what may the user run here? (sudo -l, hoist status), as lines of text
//   elevate -> request_state   ask for a temporary admin session (hoist elevate)
//   exec    -> decision        a process starting inside a recorded session
//                              (sudo's intercept): may it run? it is recorded
//   self_approve -> request_state  the requester approves their own pending
//                              request, where the policy allows it
//   code_challenge -> challenge  a fresh challenge for an offline admin
//                              code (docs/admin-codes.md), to read to the
//                              help desk
//   code_redeem -> code_grant  a response to that challenge, or a
//                              pre-issued code: the agent checks it and
//                              grants a session (or the one command)
//   any     -> error           refused, with an error category and a message
//   progress                   hoist-agent, before the reply of a turn that
//                              takes a moment: still working (the client
//                              skips it; silence means a hung agent)
//
// Decoding is strict: a field this version does not define, a missing or
// repeated one, or a value out of range is an InvalidArgument naming it.
// The caller's identity is never taken from a message alone: the agent
// checks `uid` against the kernel's account of the peer (SO_PEERCRED, and
// the real uid of the sudo process behind a root peer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/decide.h"
#include "core/policy.h"
#include "core/request.h"
#include "core/result.h"
#include "ipc/frame.h"

namespace hoist::ipc {

enum class MessageType {
  kCheck,
  kSubmit,
  kWait,
  kCancel,
  kDecision,
  kRequestState,
  kError,
  kList,
  kListing,
  kElevate,
  kExec,
  kSelfApprove,
  kCodeChallenge,
  kChallenge,
  kCodeRedeem,
  kCodeGrant,
  kProgress,
  kRecorded,
};
std::string_view to_string(MessageType t);

// The frame's "v" and "type": InvalidArgument for another protocol version
// (saying which versions each side speaks) or an unknown type.
Result<MessageType> message_type(const Fields& fields);

// How sudo was asked to run the command.
enum class RunMode {
  kRun,         // sudo CMD
  kShell,       // sudo -s [CMD]
  kLoginShell,  // sudo -i [CMD]
  kEdit,        // sudo -e FILE / sudoedit
  kList,        // sudo -l [CMD]
  kValidate,    // sudo -v
};
std::string_view to_string(RunMode m);

// Longest values the agent accepts, so one field cannot fill the frame.
inline constexpr std::size_t kMaxNameBytes = 256;          // user, group, tty, ids
inline constexpr std::size_t kMaxPathBytes = 4096;         // PATH_MAX
inline constexpr std::size_t kMaxArgs = 4096;              // argv entries
inline constexpr std::size_t kMaxTextBytes = 2000;         // justification, reason, comment
inline constexpr std::uint64_t kMaxWaitMs = 10'000;        // one wait turn
inline constexpr std::uint64_t kMaxSeconds = 366 * 86400;  // any duration
inline constexpr std::size_t kMaxListingLines = 1000;      // lines of one listing

// What the plugin knows about one sudo invocation.
struct CommandContext {
  std::string user;  // the invoking user's name
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string runas_user;   // -u; "" = root
  std::string runas_group;  // -g; "" = the target user's
  std::string command;      // absolute path, resolved through the secure path
  std::vector<std::string> argv;
  std::string cwd;
  std::string tty;  // "" when there is none
  RunMode mode = RunMode::kRun;
  bool noninteractive = false;  // sudo -n, or no terminal to ask on
  friend bool operator==(const CommandContext&, const CommandContext&) = default;
};

struct CheckMessage {
  CommandContext context;
  // Answer an allow before its event is durably recorded, and send a
  // `recorded` frame (or an `error`) once it is: the plugin overlaps the
  // record with sudo's PAM session and refuses the command without it.
  // Never for an edit (sudo copies the files before the session): the
  // agent refuses that combination.
  bool record_after = false;
  friend bool operator==(const CheckMessage&, const CheckMessage&) = default;
};

struct SubmitMessage {
  CommandContext context;
  std::string justification;
  std::uint64_t duration_s = 0;
  friend bool operator==(const SubmitMessage&, const SubmitMessage&) = default;
};

struct WaitMessage {
  std::string request_id;
  std::uint64_t wait_ms = 0;
  friend bool operator==(const WaitMessage&, const WaitMessage&) = default;
};

struct CancelMessage {
  std::string request_id;
  friend bool operator==(const CancelMessage&, const CancelMessage&) = default;
};

// The requester approves their own pending request (the policy's approval
// = "self", the requester in a self-approval group: the request_state said
// self_approval_allowed). Only the uid that submitted it may send it.
struct SelfApproveMessage {
  std::string request_id;
  friend bool operator==(const SelfApproveMessage&, const SelfApproveMessage&) = default;
};

// sudo -l without a command: what may this user run here? The caller is
// the invoker (uid is checked against the peer like every message);
// list_user is sudo -U's user, "" for the invoker.
struct ListMessage {
  std::string user;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string list_user;
  friend bool operator==(const ListMessage&, const ListMessage&) = default;
};

// The agent's answer to list: lines of text for the terminal, in order
// (each at most kMaxTextBytes, without newlines; at most kMaxListingLines).
struct ListingMessage {
  std::vector<std::string> lines;
  friend bool operator==(const ListingMessage&, const ListingMessage&) = default;
};

// hoist elevate: a temporary admin session for the caller, who then runs
// any command through sudo until the grant ends, every process recorded.
struct ElevateMessage {
  std::string user;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string tty;  // "" when there is none
  std::string justification;
  std::uint64_t duration_s = 0;  // 0 = the policy's default
  friend bool operator==(const ElevateMessage&, const ElevateMessage&) = default;
};

// One execve inside a recorded session, as sudo's intercept reports it to
// the plugin (check_policy called again in the same sudo process). The
// context is the session's, with the new command and argv; the process
// facts come from /proc (0 when they could not be read).
struct ExecMessage {
  CommandContext context;
  std::string grant_id;        // the session grant the sudo run was allowed under
  std::uint32_t pid = 0;       // the process calling execve
  std::uint32_t ppid = 0;      // its parent
  std::uint32_t exec_uid = 0;  // its effective uid
  friend bool operator==(const ExecMessage&, const ExecMessage&) = default;
};

// The agent's answer to check and exec: the endpoint's decision as core
// decides it (core/decide.h).
using DecisionMessage = EndpointDecision;

// The agent's answer to submit, elevate, wait, cancel and self_approve.
struct RequestStateMessage {
  std::string request_id;
  RequestState state = RequestState::kPending;
  std::string reviewer;
  std::string comment;
  std::string contact;
  std::uint64_t time_left_s = 0;  // of the grant, when approved
  // hoistd lets the requester approve it themselves (self_approve).
  bool self_approval_allowed = false;
  friend bool operator==(const RequestStateMessage&, const RequestStateMessage&) = default;
};

// hoist code, or "code" at sudo's prompt: a fresh challenge for the caller.
struct CodeChallengeMessage {
  std::string user;
  std::uint32_t uid = 0;
  friend bool operator==(const CodeChallengeMessage&, const CodeChallengeMessage&) = default;
};

// The agent's answer to code_challenge: what the user reads to the help
// desk (the challenge, and which computer it is).
struct ChallengeMessage {
  std::string challenge;  // XXXX-XXXX
  std::string host;       // the enrolled hostname
  std::string endpoint_id;
  std::uint64_t expires_in_s = 0;  // the challenge is good for this long
  friend bool operator==(const ChallengeMessage&, const ChallengeMessage&) = default;
};

// An admin code entered on this computer: the response to `challenge`
// (which this agent issued to this uid), or a pre-issued code (challenge
// ""). command: the absolute path being run at a sudo prompt, "" from
// hoist code (a session).
struct CodeRedeemMessage {
  std::string user;
  std::uint32_t uid = 0;
  std::string tty;
  std::string challenge;
  std::string code;
  std::string command;
  friend bool operator==(const CodeRedeemMessage&, const CodeRedeemMessage&) = default;
};

// The agent's answer to code_redeem: the grant the code started.
struct CodeGrantMessage {
  std::string grant_id;
  bool session = false;  // else the one command
  std::string command;   // for a command grant
  std::uint64_t time_left_s = 0;
  friend bool operator==(const CodeGrantMessage&, const CodeGrantMessage&) = default;
};

// Sent by hoist-agent every few hundred milliseconds while it works on a
// turn, before the reply; it carries nothing but "still working".
struct ProgressMessage {
  friend bool operator==(const ProgressMessage&, const ProgressMessage&) = default;
};

// Sent after an allowing `decision` to a `check` with record_after, once
// the decision's event is in the durable outbox; an `error` instead when it
// could not be recorded (the command must not run then).
struct RecordedMessage {
  friend bool operator==(const RecordedMessage&, const RecordedMessage&) = default;
};

struct ErrorMessage {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

Fields to_fields(const CheckMessage& m);
Fields to_fields(const SubmitMessage& m);
Fields to_fields(const WaitMessage& m);
Fields to_fields(const CancelMessage& m);
Fields to_fields(const DecisionMessage& m);
Fields to_fields(const RequestStateMessage& m);
Fields to_fields(const ErrorMessage& m);
Fields to_fields(const ListMessage& m);
Fields to_fields(const ListingMessage& m);
Fields to_fields(const ElevateMessage& m);
Fields to_fields(const ExecMessage& m);
Fields to_fields(const SelfApproveMessage& m);
Fields to_fields(const CodeChallengeMessage& m);
Fields to_fields(const ChallengeMessage& m);
Fields to_fields(const CodeRedeemMessage& m);
Fields to_fields(const CodeGrantMessage& m);
Fields to_fields(const ProgressMessage& m);
Fields to_fields(const RecordedMessage& m);

// Each checks "v" and "type" too.
Result<CheckMessage> check_from(const Fields& f);
Result<SubmitMessage> submit_from(const Fields& f);
Result<WaitMessage> wait_from(const Fields& f);
Result<CancelMessage> cancel_from(const Fields& f);
Result<DecisionMessage> decision_from(const Fields& f);
Result<RequestStateMessage> request_state_from(const Fields& f);
Result<ErrorMessage> error_from(const Fields& f);
Result<ListMessage> list_from(const Fields& f);
Result<ListingMessage> listing_from(const Fields& f);
Result<ElevateMessage> elevate_from(const Fields& f);
Result<ExecMessage> exec_from(const Fields& f);
Result<SelfApproveMessage> self_approve_from(const Fields& f);
Result<CodeChallengeMessage> code_challenge_from(const Fields& f);
Result<ChallengeMessage> challenge_from(const Fields& f);
Result<CodeRedeemMessage> code_redeem_from(const Fields& f);
Result<CodeGrantMessage> code_grant_from(const Fields& f);
Result<ProgressMessage> progress_from(const Fields& f);
Result<RecordedMessage> recorded_from(const Fields& f);

}  // namespace hoist::ipc
