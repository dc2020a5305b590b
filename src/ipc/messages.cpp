#include "ipc/messages.h"

#include <fmt/format.h>

#include <array>

namespace hoist::ipc {

namespace {

constexpr std::array kTypes = {MessageType::kCheck,         MessageType::kSubmit,    MessageType::kWait,
                               MessageType::kCancel,        MessageType::kDecision,  MessageType::kRequestState,
                               MessageType::kError,         MessageType::kList,      MessageType::kListing,
                               MessageType::kElevate,       MessageType::kExec,      MessageType::kSelfApprove,
                               MessageType::kCodeChallenge, MessageType::kChallenge, MessageType::kCodeRedeem,
                               MessageType::kCodeGrant,     MessageType::kProgress};
constexpr std::array kModes = {RunMode::kRun,  RunMode::kShell, RunMode::kLoginShell,
                               RunMode::kEdit, RunMode::kList,  RunMode::kValidate};
constexpr std::array kActions = {Action::kAllow, Action::kRequest, Action::kDeny};
constexpr std::array kStates = {RequestState::kPending, RequestState::kApproved,  RequestState::kActive,
                                RequestState::kDenied,  RequestState::kCancelled, RequestState::kExpired,
                                RequestState::kRevoked};
constexpr std::array kCodes = {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kPermissionDenied,
                               ErrorCode::kUnauthenticated, ErrorCode::kConflict, ErrorCode::kRateLimited,
                               ErrorCode::kUnavailable,     ErrorCode::kInternal};

// The enum value whose name is the field's value.
template <class E, std::size_t N>
Result<E> named(const Fields& f, std::string_view key, const std::array<E, N>& values) {
  auto text = f.one(key);
  if (!text) {
    return text.error();
  }
  for (const E v : values) {
    if (to_string(v) == *text) {
      return v;
    }
  }
  return invalid_argument(fmt::format("field \"{}\" has an unknown value", key));
}

Fields header(MessageType type) {
  Fields f;
  f.add_uint("v", kProtocolVersion).add("type", std::string(to_string(type)));
  return f;
}

// A text field of at most `max` bytes; "" when absent and !required.
Result<std::string> text(const Fields& f, std::string_view key, std::size_t max, bool required) {
  auto v = f.optional(key);
  if (!v) {
    return v.error();
  }
  if (required && !*v) {
    return invalid_argument(fmt::format("field \"{}\" is missing", key));
  }
  std::string out = v->value_or("");
  if (out.size() > max) {
    return invalid_argument(fmt::format("field \"{}\" is longer than {} bytes", key, max));
  }
  if (out.find('\0') != std::string::npos) {
    return invalid_argument(fmt::format("field \"{}\" contains a NUL byte", key));
  }
  return out;
}

Status expect(const Fields& f, MessageType type) {
  auto t = message_type(f);
  if (!t) {
    return t.error();
  }
  if (*t != type) {
    return invalid_argument(fmt::format("expected a {} message, got {}", to_string(type), to_string(*t)));
  }
  return {};
}

void add_context(Fields& f, const CommandContext& c) {
  f.add("user", c.user).add_uint("uid", c.uid).add_uint("gid", c.gid);
  f.add("runas_user", c.runas_user).add("runas_group", c.runas_group);
  f.add("command", c.command).add_all("argv", c.argv);
  f.add("cwd", c.cwd).add("tty", c.tty).add("mode", std::string(to_string(c.mode)));
  f.add_bool("noninteractive", c.noninteractive);
}

Result<CommandContext> context_from(const Fields& f) {
  CommandContext c;
  auto user = text(f, "user", kMaxNameBytes, true);
  auto uid = f.uint("uid", UINT32_MAX);
  auto gid = f.uint("gid", UINT32_MAX);
  auto runas_user = text(f, "runas_user", kMaxNameBytes, false);
  auto runas_group = text(f, "runas_group", kMaxNameBytes, false);
  auto command = text(f, "command", kMaxPathBytes, true);
  auto cwd = text(f, "cwd", kMaxPathBytes, false);
  auto tty = text(f, "tty", kMaxNameBytes, false);
  auto mode = named(f, "mode", kModes);
  auto noninteractive = f.boolean("noninteractive");
  for (const Error* e :
       {user ? nullptr : &user.error(), uid ? nullptr : &uid.error(), gid ? nullptr : &gid.error(),
        runas_user ? nullptr : &runas_user.error(), runas_group ? nullptr : &runas_group.error(),
        command ? nullptr : &command.error(), cwd ? nullptr : &cwd.error(), tty ? nullptr : &tty.error(),
        mode ? nullptr : &mode.error(), noninteractive ? nullptr : &noninteractive.error()}) {
    if (e != nullptr) {
      return *e;
    }
  }
  if (command->empty() || (*command)[0] != '/') {
    return invalid_argument("field \"command\" must be an absolute path");
  }
  c.user = std::move(*user);
  c.uid = static_cast<std::uint32_t>(*uid);
  c.gid = static_cast<std::uint32_t>(*gid);
  c.runas_user = std::move(*runas_user);
  c.runas_group = std::move(*runas_group);
  c.command = std::move(*command);
  c.argv = f.every("argv");
  if (c.argv.empty()) {
    return invalid_argument("field \"argv\" is missing (it holds at least the command's name)");
  }
  if (c.argv.size() > kMaxArgs) {
    return invalid_argument(fmt::format("field \"argv\" has more than {} entries", kMaxArgs));
  }
  for (const auto& a : c.argv) {
    if (a.find('\0') != std::string::npos) {
      return invalid_argument("field \"argv\" contains a NUL byte");
    }
  }
  c.cwd = std::move(*cwd);
  c.tty = std::move(*tty);
  c.mode = *mode;
  c.noninteractive = *noninteractive;
  return c;
}

}  // namespace

std::string_view to_string(MessageType t) {
  switch (t) {
    case MessageType::kCheck: return "check";
    case MessageType::kSubmit: return "submit";
    case MessageType::kWait: return "wait";
    case MessageType::kCancel: return "cancel";
    case MessageType::kDecision: return "decision";
    case MessageType::kRequestState: return "request_state";
    case MessageType::kError: return "error";
    case MessageType::kList: return "list";
    case MessageType::kListing: return "listing";
    case MessageType::kElevate: return "elevate";
    case MessageType::kExec: return "exec";
    case MessageType::kSelfApprove: return "self_approve";
    case MessageType::kCodeChallenge: return "code_challenge";
    case MessageType::kChallenge: return "challenge";
    case MessageType::kCodeRedeem: return "code_redeem";
    case MessageType::kCodeGrant: return "code_grant";
    case MessageType::kProgress: return "progress";
  }
  return "?";
}

std::string_view to_string(RunMode m) {
  switch (m) {
    case RunMode::kRun: return "run";
    case RunMode::kShell: return "shell";
    case RunMode::kLoginShell: return "login_shell";
    case RunMode::kEdit: return "edit";
    case RunMode::kList: return "list";
    case RunMode::kValidate: return "validate";
  }
  return "?";
}

Result<MessageType> message_type(const Fields& fields) {
  auto v = fields.uint("v", UINT32_MAX);
  if (!v) {
    return v.error();
  }
  if (*v != kProtocolVersion) {
    return invalid_argument(
        fmt::format("protocol version {} is not spoken here (this side speaks version {}); update hoist-agent and "
                    "hoist_sudo.so together",
                    *v, kProtocolVersion));
  }
  return named(fields, "type", kTypes);
}

Fields to_fields(const CheckMessage& m) {
  Fields f = header(MessageType::kCheck);
  add_context(f, m.context);
  return f;
}

Fields to_fields(const SubmitMessage& m) {
  Fields f = header(MessageType::kSubmit);
  add_context(f, m.context);
  f.add("justification", m.justification).add_uint("duration_s", m.duration_s);
  return f;
}

Fields to_fields(const WaitMessage& m) {
  Fields f = header(MessageType::kWait);
  f.add("request_id", m.request_id).add_uint("wait_ms", m.wait_ms);
  return f;
}

Fields to_fields(const CancelMessage& m) {
  Fields f = header(MessageType::kCancel);
  f.add("request_id", m.request_id);
  return f;
}

Fields to_fields(const DecisionMessage& m) {
  Fields f = header(MessageType::kDecision);
  f.add("action", std::string(to_string(m.action))).add("reason", m.reason).add("rule", m.rule);
  f.add("contact", m.contact).add_bool("reauthenticate", m.reauthenticate);
  f.add_uint("default_duration_s", m.default_duration_s).add_uint("max_duration_s", m.max_duration_s);
  f.add_uint("approval_wait_s", m.approval_wait_s).add("grant_id", m.grant_id).add_uint("timeout_s", m.timeout_s);
  f.add_bool("record_processes", m.record_processes);
  return f;
}

Fields to_fields(const RequestStateMessage& m) {
  Fields f = header(MessageType::kRequestState);
  f.add("request_id", m.request_id).add("state", std::string(to_string(m.state)));
  f.add("reviewer", m.reviewer).add("comment", m.comment).add("contact", m.contact);
  f.add_uint("time_left_s", m.time_left_s).add_bool("self_approval_allowed", m.self_approval_allowed);
  return f;
}

Fields to_fields(const SelfApproveMessage& m) {
  Fields f = header(MessageType::kSelfApprove);
  f.add("request_id", m.request_id);
  return f;
}

Fields to_fields(const ErrorMessage& m) {
  Fields f = header(MessageType::kError);
  f.add("code", std::string(to_string(m.code))).add("message", m.message);
  return f;
}

Fields to_fields(const ListMessage& m) {
  Fields f = header(MessageType::kList);
  f.add("user", m.user).add_uint("uid", m.uid).add_uint("gid", m.gid).add("list_user", m.list_user);
  return f;
}

Fields to_fields(const ListingMessage& m) {
  Fields f = header(MessageType::kListing);
  f.add_all("line", m.lines);
  return f;
}

Fields to_fields(const ElevateMessage& m) {
  Fields f = header(MessageType::kElevate);
  f.add("user", m.user).add_uint("uid", m.uid).add_uint("gid", m.gid).add("tty", m.tty);
  f.add("justification", m.justification).add_uint("duration_s", m.duration_s);
  return f;
}

Fields to_fields(const ExecMessage& m) {
  Fields f = header(MessageType::kExec);
  add_context(f, m.context);
  f.add("grant_id", m.grant_id).add_uint("pid", m.pid).add_uint("ppid", m.ppid);
  f.add_uint("exec_uid", m.exec_uid);
  return f;
}

Result<CheckMessage> check_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kCheck); !st) return st.error();
  if (auto st = f.only({"v", "type", "user", "uid", "gid", "runas_user", "runas_group", "command", "argv", "cwd", "tty",
                        "mode", "noninteractive"});
      !st) {
    return st.error();
  }
  auto c = context_from(f);
  if (!c) return c.error();
  return CheckMessage{std::move(*c)};
}

Result<SubmitMessage> submit_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kSubmit); !st) return st.error();
  if (auto st = f.only({"v", "type", "user", "uid", "gid", "runas_user", "runas_group", "command", "argv", "cwd", "tty",
                        "mode", "noninteractive", "justification", "duration_s"});
      !st) {
    return st.error();
  }
  auto c = context_from(f);
  if (!c) return c.error();
  auto why = text(f, "justification", kMaxTextBytes, true);
  if (!why) return why.error();
  auto duration = f.uint("duration_s", kMaxSeconds);
  if (!duration) return duration.error();
  return SubmitMessage{std::move(*c), std::move(*why), *duration};
}

Result<WaitMessage> wait_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kWait); !st) return st.error();
  if (auto st = f.only({"v", "type", "request_id", "wait_ms"}); !st) return st.error();
  auto id = text(f, "request_id", kMaxNameBytes, true);
  if (!id) return id.error();
  auto ms = f.uint("wait_ms", kMaxWaitMs);
  if (!ms) return ms.error();
  return WaitMessage{std::move(*id), *ms};
}

Result<CancelMessage> cancel_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kCancel); !st) return st.error();
  if (auto st = f.only({"v", "type", "request_id"}); !st) return st.error();
  auto id = text(f, "request_id", kMaxNameBytes, true);
  if (!id) return id.error();
  return CancelMessage{std::move(*id)};
}

Result<SelfApproveMessage> self_approve_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kSelfApprove); !st) return st.error();
  if (auto st = f.only({"v", "type", "request_id"}); !st) return st.error();
  auto id = text(f, "request_id", kMaxNameBytes, true);
  if (!id) return id.error();
  if (id->empty()) return invalid_argument("field \"request_id\" is empty");
  return SelfApproveMessage{std::move(*id)};
}

Result<DecisionMessage> decision_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kDecision); !st) return st.error();
  if (auto st = f.only({"v", "type", "action", "reason", "rule", "contact", "reauthenticate", "default_duration_s",
                        "max_duration_s", "approval_wait_s", "grant_id", "timeout_s", "record_processes"});
      !st) {
    return st.error();
  }
  DecisionMessage m;
  auto action = named(f, "action", kActions);
  if (!action) return action.error();
  m.action = *action;
  for (auto [key, out, max] :
       {std::tuple{"reason", &m.reason, kMaxTextBytes}, std::tuple{"rule", &m.rule, kMaxNameBytes},
        std::tuple{"contact", &m.contact, kMaxTextBytes}, std::tuple{"grant_id", &m.grant_id, kMaxNameBytes}}) {
    auto v = text(f, key, max, false);
    if (!v) return v.error();
    *out = std::move(*v);
  }
  for (auto [key, out] :
       {std::pair{"default_duration_s", &m.default_duration_s}, std::pair{"max_duration_s", &m.max_duration_s},
        std::pair{"approval_wait_s", &m.approval_wait_s}, std::pair{"timeout_s", &m.timeout_s}}) {
    auto v = f.optional_uint(key, kMaxSeconds);
    if (!v) return v.error();
    *out = v->value_or(0);
  }
  auto reauth = f.boolean("reauthenticate");
  if (!reauth) return reauth.error();
  m.reauthenticate = *reauth;
  auto record = f.boolean("record_processes");
  if (!record) return record.error();
  m.record_processes = *record;
  return m;
}

Result<RequestStateMessage> request_state_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kRequestState); !st) return st.error();
  if (auto st = f.only({"v", "type", "request_id", "state", "reviewer", "comment", "contact", "time_left_s",
                        "self_approval_allowed"});
      !st) {
    return st.error();
  }
  RequestStateMessage m;
  auto state = named(f, "state", kStates);
  if (!state) return state.error();
  m.state = *state;
  for (auto [key, out, max, required] : {std::tuple{"request_id", &m.request_id, kMaxNameBytes, true},
                                         std::tuple{"reviewer", &m.reviewer, kMaxNameBytes, false},
                                         std::tuple{"comment", &m.comment, kMaxTextBytes, false},
                                         std::tuple{"contact", &m.contact, kMaxTextBytes, false}}) {
    auto v = text(f, key, max, required);
    if (!v) return v.error();
    *out = std::move(*v);
  }
  auto left = f.optional_uint("time_left_s", kMaxSeconds);
  if (!left) return left.error();
  m.time_left_s = left->value_or(0);
  auto self = f.boolean("self_approval_allowed");
  if (!self) return self.error();
  m.self_approval_allowed = *self;
  return m;
}

Result<ErrorMessage> error_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kError); !st) return st.error();
  if (auto st = f.only({"v", "type", "code", "message"}); !st) return st.error();
  // An error category this version does not know still says there was an
  // error: it reads as Internal, with the message kept.
  ErrorMessage m;
  auto code = named(f, "code", kCodes);
  m.code = code ? *code : ErrorCode::kInternal;
  auto message = text(f, "message", kMaxTextBytes, true);
  if (!message) return message.error();
  m.message = std::move(*message);
  return m;
}

Result<ListMessage> list_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kList); !st) return st.error();
  if (auto st = f.only({"v", "type", "user", "uid", "gid", "list_user"}); !st) return st.error();
  auto user = text(f, "user", kMaxNameBytes, true);
  if (!user) return user.error();
  auto uid = f.uint("uid", UINT32_MAX);
  if (!uid) return uid.error();
  auto gid = f.uint("gid", UINT32_MAX);
  if (!gid) return gid.error();
  auto list_user = text(f, "list_user", kMaxNameBytes, true);
  if (!list_user) return list_user.error();
  return ListMessage{std::move(*user), static_cast<std::uint32_t>(*uid), static_cast<std::uint32_t>(*gid),
                     std::move(*list_user)};
}

Result<ListingMessage> listing_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kListing); !st) return st.error();
  if (auto st = f.only({"v", "type", "line"}); !st) return st.error();
  ListingMessage m;
  m.lines = f.every("line");
  if (m.lines.size() > kMaxListingLines) {
    return invalid_argument(fmt::format("field \"line\" has more than {} entries", kMaxListingLines));
  }
  for (const auto& line : m.lines) {
    if (line.size() > kMaxTextBytes) {
      return invalid_argument(fmt::format("field \"line\" is longer than {} bytes", kMaxTextBytes));
    }
    if (line.find_first_of(std::string_view("\0\n", 2)) != std::string::npos) {
      return invalid_argument("field \"line\" contains a NUL byte or a newline");
    }
  }
  return m;
}

Result<ElevateMessage> elevate_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kElevate); !st) return st.error();
  if (auto st = f.only({"v", "type", "user", "uid", "gid", "tty", "justification", "duration_s"}); !st) {
    return st.error();
  }
  ElevateMessage m;
  auto user = text(f, "user", kMaxNameBytes, true);
  if (!user) return user.error();
  auto uid = f.uint("uid", UINT32_MAX);
  if (!uid) return uid.error();
  auto gid = f.uint("gid", UINT32_MAX);
  if (!gid) return gid.error();
  auto tty = text(f, "tty", kMaxNameBytes, false);
  if (!tty) return tty.error();
  auto why = text(f, "justification", kMaxTextBytes, true);
  if (!why) return why.error();
  auto duration = f.uint("duration_s", kMaxSeconds);
  if (!duration) return duration.error();
  m.user = std::move(*user);
  m.uid = static_cast<std::uint32_t>(*uid);
  m.gid = static_cast<std::uint32_t>(*gid);
  m.tty = std::move(*tty);
  m.justification = std::move(*why);
  m.duration_s = *duration;
  return m;
}

Result<ExecMessage> exec_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kExec); !st) return st.error();
  if (auto st = f.only({"v", "type", "user", "uid", "gid", "runas_user", "runas_group", "command", "argv", "cwd", "tty",
                        "mode", "noninteractive", "grant_id", "pid", "ppid", "exec_uid"});
      !st) {
    return st.error();
  }
  auto c = context_from(f);
  if (!c) return c.error();
  auto grant = text(f, "grant_id", kMaxNameBytes, true);
  if (!grant) return grant.error();
  if (grant->empty()) return invalid_argument("field \"grant_id\" is empty");
  ExecMessage m;
  m.context = std::move(*c);
  m.grant_id = std::move(*grant);
  for (auto [key, out] : {std::pair{"pid", &m.pid}, std::pair{"ppid", &m.ppid}, std::pair{"exec_uid", &m.exec_uid}}) {
    auto v = f.uint(key, UINT32_MAX);
    if (!v) return v.error();
    *out = static_cast<std::uint32_t>(*v);
  }
  return m;
}

Fields to_fields(const CodeChallengeMessage& m) {
  Fields f = header(MessageType::kCodeChallenge);
  f.add("user", m.user).add_uint("uid", m.uid);
  return f;
}

Fields to_fields(const ChallengeMessage& m) {
  Fields f = header(MessageType::kChallenge);
  f.add("challenge", m.challenge).add("host", m.host).add("endpoint_id", m.endpoint_id);
  f.add_uint("expires_in_s", m.expires_in_s);
  return f;
}

Fields to_fields(const CodeRedeemMessage& m) {
  Fields f = header(MessageType::kCodeRedeem);
  f.add("user", m.user).add_uint("uid", m.uid).add("tty", m.tty);
  f.add("challenge", m.challenge).add("code", m.code).add("command", m.command);
  return f;
}

Fields to_fields(const CodeGrantMessage& m) {
  Fields f = header(MessageType::kCodeGrant);
  f.add("grant_id", m.grant_id).add_bool("session", m.session).add("command", m.command);
  f.add_uint("time_left_s", m.time_left_s);
  return f;
}

namespace {

// Codes as typed: letters, digits, '-' and blanks, checked again by the
// code parser; anything longer than this is not a code.
constexpr std::size_t kMaxCodeBytes = 64;

}  // namespace

Result<CodeChallengeMessage> code_challenge_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kCodeChallenge); !st) return st.error();
  if (auto st = f.only({"v", "type", "user", "uid"}); !st) return st.error();
  auto user = text(f, "user", kMaxNameBytes, true);
  if (!user) return user.error();
  auto uid = f.uint("uid", UINT32_MAX);
  if (!uid) return uid.error();
  return CodeChallengeMessage{std::move(*user), static_cast<std::uint32_t>(*uid)};
}

Result<ChallengeMessage> challenge_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kChallenge); !st) return st.error();
  if (auto st = f.only({"v", "type", "challenge", "host", "endpoint_id", "expires_in_s"}); !st) return st.error();
  auto challenge = text(f, "challenge", kMaxCodeBytes, true);
  if (!challenge) return challenge.error();
  auto host = text(f, "host", kMaxNameBytes, true);
  if (!host) return host.error();
  auto endpoint = text(f, "endpoint_id", kMaxNameBytes, true);
  if (!endpoint) return endpoint.error();
  auto expires = f.uint("expires_in_s", kMaxSeconds);
  if (!expires) return expires.error();
  return ChallengeMessage{std::move(*challenge), std::move(*host), std::move(*endpoint), *expires};
}

Result<CodeRedeemMessage> code_redeem_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kCodeRedeem); !st) return st.error();
  if (auto st = f.only({"v", "type", "user", "uid", "tty", "challenge", "code", "command"}); !st) return st.error();
  CodeRedeemMessage m;
  auto user = text(f, "user", kMaxNameBytes, true);
  if (!user) return user.error();
  auto uid = f.uint("uid", UINT32_MAX);
  if (!uid) return uid.error();
  auto tty = text(f, "tty", kMaxNameBytes, false);
  if (!tty) return tty.error();
  auto challenge = text(f, "challenge", kMaxCodeBytes, false);
  if (!challenge) return challenge.error();
  auto code = text(f, "code", kMaxCodeBytes, true);
  if (!code) return code.error();
  if (code->empty()) return invalid_argument("field \"code\" is empty");
  auto command = text(f, "command", kMaxPathBytes, false);
  if (!command) return command.error();
  if (!command->empty() && (*command)[0] != '/') {
    return invalid_argument("field \"command\" must be an absolute path");
  }
  m.user = std::move(*user);
  m.uid = static_cast<std::uint32_t>(*uid);
  m.tty = std::move(*tty);
  m.challenge = std::move(*challenge);
  m.code = std::move(*code);
  m.command = std::move(*command);
  return m;
}

Fields to_fields(const ProgressMessage& /*m*/) {
  return header(MessageType::kProgress);
}

Result<ProgressMessage> progress_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kProgress); !st) return st.error();
  if (auto st = f.only({"v", "type"}); !st) return st.error();
  return ProgressMessage{};
}

Result<CodeGrantMessage> code_grant_from(const Fields& f) {
  if (auto st = expect(f, MessageType::kCodeGrant); !st) return st.error();
  if (auto st = f.only({"v", "type", "grant_id", "session", "command", "time_left_s"}); !st) return st.error();
  CodeGrantMessage m;
  auto grant = text(f, "grant_id", kMaxNameBytes, true);
  if (!grant) return grant.error();
  auto session = f.boolean("session");
  if (!session) return session.error();
  auto command = text(f, "command", kMaxPathBytes, false);
  if (!command) return command.error();
  auto left = f.uint("time_left_s", kMaxSeconds);
  if (!left) return left.error();
  m.grant_id = std::move(*grant);
  m.session = *session;
  m.command = std::move(*command);
  m.time_left_s = *left;
  return m;
}

}  // namespace hoist::ipc
