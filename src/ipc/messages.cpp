// Each message is described once, by the table of its fields below (key,
// member, kind, bound, presence); one encoder and one decoder walk the
// tables. A table's order is the order on the wire (tests/ipc pins the
// bytes), and a refusal names the first wrong field in that order, after
// the type and any field the table does not list.
#include "ipc/messages.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <span>
#include <type_traits>
#include <variant>

namespace hoist::ipc {

namespace {

// The values an enum sent by name may take.
constexpr auto enumerators(MessageType) {
  using enum MessageType;
  return std::array{kCheck,         kSubmit,    kWait,       kCancel,    kDecision, kRequestState,
                    kError,         kList,      kListing,    kElevate,   kExec,     kSelfApprove,
                    kCodeChallenge, kChallenge, kCodeRedeem, kCodeGrant, kProgress, kRecorded};
}
constexpr auto enumerators(RunMode) {
  using enum RunMode;
  return std::array{kRun, kShell, kLoginShell, kEdit, kList, kValidate};
}
constexpr auto enumerators(Action) {
  using enum Action;
  return std::array{kAllow, kRequest, kDeny};
}
constexpr auto enumerators(RequestState) {
  using enum RequestState;
  return std::array{kPending, kApproved, kActive, kDenied, kCancelled, kExpired, kRevoked};
}
constexpr auto enumerators(ErrorCode) {
  using enum ErrorCode;
  return std::array{kInvalidArgument, kNotFound,    kPermissionDenied, kUnauthenticated,
                    kConflict,        kRateLimited, kUnavailable,      kInternal};
}

// Codes as typed: letters, digits, '-' and blanks, checked again by the
// code parser; anything longer than this is not a code.
constexpr std::size_t kMaxCodeBytes = 64;
// argv entries: only the frame bounds them.
constexpr std::uint64_t kNoLimit = std::numeric_limits<std::uint64_t>::max();

enum class Presence {
  kRequired,    // exactly once; a list at least once
  kOptional,    // at most once; absent is the default ("", 0, false, no entry)
  kIfReadable,  // a value that cannot be read (absent, repeated, unknown) is the default
};
using enum Presence;

// What a text (or each entry of a list) must be besides short enough and
// free of NUL bytes.
enum class Rule { kAnyText, kNotEmpty, kAbsolutePath, kAbsolutePathOrEmpty, kOneLine };
using enum Rule;

// Where a field lives in message M; its type is the field's kind: text, a
// number, a flag ("1"/"0"), an enum by name, a list (the key repeated), or
// the command context, whose own fields are spelled out in place.
template <class M>
using Member =
    std::variant<std::string M::*, std::uint32_t M::*, std::uint64_t M::*, bool M::*, std::vector<std::string> M::*,
                 RunMode M::*, Action M::*, RequestState M::*, ErrorCode M::*, CommandContext M::*>;

template <class M>
struct Field {
  std::string_view key;
  Member<M> member;
  Presence presence = kOptional;
  std::uint64_t max = 0;  // a text's bytes, a number's largest value, a list's entries
  Rule rule = kAnyText;
  std::uint64_t entry_bytes = 0;  // a list's: each entry's bytes
};

// The kinds of field, as the tables below write them.
template <class M>
consteval Field<M> text(std::string_view key, std::string M::*member, std::uint64_t max, Presence presence = kRequired,
                        Rule rule = kAnyText) {
  return {key, member, presence, max, rule};
}
template <class M, class N>
consteval Field<M> number(std::string_view key, N M::*member, std::uint64_t max, Presence presence = kRequired) {
  if (max > std::numeric_limits<N>::max()) throw "a number's bound does not fit its member";
  return {key, member, presence, max};
}
template <class M>
consteval Field<M> flag(std::string_view key, bool M::*member) {
  return {key, member, kOptional};
}
template <class M, class E>
consteval Field<M> name(std::string_view key, E M::*member, Presence presence = kRequired) {
  return {key, member, presence};
}
template <class M>
consteval Field<M> list(std::string_view key, std::vector<std::string> M::*member, std::uint64_t max_entries,
                        std::uint64_t entry_bytes, Presence presence, Rule rule = kAnyText) {
  return {key, member, presence, max_entries, rule, entry_bytes};
}
template <class M>
consteval Field<M> context(CommandContext M::*member) {
  return {"", member, kRequired};
}

// ---- The messages ----------------------------------------------------------

// What check, submit and exec say about the command (docs/agent-protocol.md).
constexpr std::array kContext = {
    text("user", &CommandContext::user, kMaxNameBytes),
    number("uid", &CommandContext::uid, UINT32_MAX),
    number("gid", &CommandContext::gid, UINT32_MAX),
    text("runas_user", &CommandContext::runas_user, kMaxNameBytes, kOptional),
    text("runas_group", &CommandContext::runas_group, kMaxNameBytes, kOptional),
    text("command", &CommandContext::command, kMaxPathBytes, kRequired, kAbsolutePath),
    list("argv", &CommandContext::argv, kMaxArgs, kNoLimit, kRequired),
    text("cwd", &CommandContext::cwd, kMaxPathBytes, kOptional),
    text("tty", &CommandContext::tty, kMaxNameBytes, kOptional),
    name("mode", &CommandContext::mode),
    flag("noninteractive", &CommandContext::noninteractive),
};

template <class M, std::size_t N>
struct Message {
  MessageType type{};
  std::array<Field<M>, N> fields{};
  // What a frame of this type may hold: "v", "type" and every field's key.
  std::array<std::string_view, 2 + kContext.size() + N> keys{};
  std::size_t key_count = 0;
};

// A message's table; it does not compile when two fields share a key.
template <class M, MessageType T, std::size_t N>
consteval Message<M, N> message(const Field<M> (&fields)[N]) {
  Message<M, N> m{T};
  std::copy(fields, fields + N, m.fields.begin());
  const auto add = [&m](std::string_view key) {
    for (std::size_t i = 0; i < m.key_count; ++i) {
      if (m.keys[i] == key) throw "two fields of a message share a key";
    }
    m.keys[m.key_count++] = key;
  };
  add("v");
  add("type");
  for (const auto& field : m.fields) {
    if (!std::holds_alternative<CommandContext M::*>(field.member)) {
      add(field.key);
      continue;
    }
    for (const auto& c : kContext) add(c.key);
  }
  return m;
}
template <class M, MessageType T>
consteval Message<M, 0> message() {
  return {T, {}, {"v", "type"}, 2};
}

constexpr auto kCheck = message<CheckMessage, MessageType::kCheck>({
    context(&CheckMessage::context),
    flag("record_after", &CheckMessage::record_after),
});

constexpr auto kSubmit = message<SubmitMessage, MessageType::kSubmit>({
    context(&SubmitMessage::context),
    text("justification", &SubmitMessage::justification, kMaxTextBytes),
    number("duration_s", &SubmitMessage::duration_s, kMaxSeconds),
});

constexpr auto kWait = message<WaitMessage, MessageType::kWait>({
    text("request_id", &WaitMessage::request_id, kMaxNameBytes),
    number("wait_ms", &WaitMessage::wait_ms, kMaxWaitMs),
});

constexpr auto kCancel = message<CancelMessage, MessageType::kCancel>({
    text("request_id", &CancelMessage::request_id, kMaxNameBytes),
});

constexpr auto kSelfApprove = message<SelfApproveMessage, MessageType::kSelfApprove>({
    text("request_id", &SelfApproveMessage::request_id, kMaxNameBytes, kRequired, kNotEmpty),
});

constexpr auto kDecision = message<DecisionMessage, MessageType::kDecision>({
    name("action", &DecisionMessage::action),
    text("reason", &DecisionMessage::reason, kMaxTextBytes, kOptional),
    text("rule", &DecisionMessage::rule, kMaxNameBytes, kOptional),
    text("contact", &DecisionMessage::contact, kMaxTextBytes, kOptional),
    flag("reauthenticate", &DecisionMessage::reauthenticate),
    number("default_duration_s", &DecisionMessage::default_duration_s, kMaxSeconds, kOptional),
    number("max_duration_s", &DecisionMessage::max_duration_s, kMaxSeconds, kOptional),
    number("approval_wait_s", &DecisionMessage::approval_wait_s, kMaxSeconds, kOptional),
    text("grant_id", &DecisionMessage::grant_id, kMaxNameBytes, kOptional),
    number("timeout_s", &DecisionMessage::timeout_s, kMaxSeconds, kOptional),
    flag("record_processes", &DecisionMessage::record_processes),
});

constexpr auto kRequestState = message<RequestStateMessage, MessageType::kRequestState>({
    text("request_id", &RequestStateMessage::request_id, kMaxNameBytes),
    name("state", &RequestStateMessage::state),
    text("reviewer", &RequestStateMessage::reviewer, kMaxNameBytes, kOptional),
    text("comment", &RequestStateMessage::comment, kMaxTextBytes, kOptional),
    text("contact", &RequestStateMessage::contact, kMaxTextBytes, kOptional),
    number("time_left_s", &RequestStateMessage::time_left_s, kMaxSeconds, kOptional),
    flag("self_approval_allowed", &RequestStateMessage::self_approval_allowed),
});

constexpr auto kError = message<ErrorMessage, MessageType::kError>({
    // An error category this version does not know still says there was
    // an error: it reads as the default, kInternal, with the message kept.
    name("code", &ErrorMessage::code, kIfReadable),
    text("message", &ErrorMessage::message, kMaxTextBytes),
});

constexpr auto kList = message<ListMessage, MessageType::kList>({
    text("user", &ListMessage::user, kMaxNameBytes),
    number("uid", &ListMessage::uid, UINT32_MAX),
    number("gid", &ListMessage::gid, UINT32_MAX),
    text("list_user", &ListMessage::list_user, kMaxNameBytes),
});

constexpr auto kListing = message<ListingMessage, MessageType::kListing>({
    list("line", &ListingMessage::lines, kMaxListingLines, kMaxTextBytes, kOptional, kOneLine),
});

constexpr auto kElevate = message<ElevateMessage, MessageType::kElevate>({
    text("user", &ElevateMessage::user, kMaxNameBytes),
    number("uid", &ElevateMessage::uid, UINT32_MAX),
    number("gid", &ElevateMessage::gid, UINT32_MAX),
    text("tty", &ElevateMessage::tty, kMaxNameBytes, kOptional),
    text("justification", &ElevateMessage::justification, kMaxTextBytes),
    number("duration_s", &ElevateMessage::duration_s, kMaxSeconds),
});

constexpr auto kExec = message<ExecMessage, MessageType::kExec>({
    context(&ExecMessage::context),
    text("grant_id", &ExecMessage::grant_id, kMaxNameBytes, kRequired, kNotEmpty),
    number("pid", &ExecMessage::pid, UINT32_MAX),
    number("ppid", &ExecMessage::ppid, UINT32_MAX),
    number("exec_uid", &ExecMessage::exec_uid, UINT32_MAX),
});

constexpr auto kCodeChallenge = message<CodeChallengeMessage, MessageType::kCodeChallenge>({
    text("user", &CodeChallengeMessage::user, kMaxNameBytes),
    number("uid", &CodeChallengeMessage::uid, UINT32_MAX),
});

constexpr auto kChallenge = message<ChallengeMessage, MessageType::kChallenge>({
    text("challenge", &ChallengeMessage::challenge, kMaxCodeBytes),
    text("host", &ChallengeMessage::host, kMaxNameBytes),
    text("endpoint_id", &ChallengeMessage::endpoint_id, kMaxNameBytes),
    number("expires_in_s", &ChallengeMessage::expires_in_s, kMaxSeconds),
});

constexpr auto kCodeRedeem = message<CodeRedeemMessage, MessageType::kCodeRedeem>({
    text("user", &CodeRedeemMessage::user, kMaxNameBytes),
    number("uid", &CodeRedeemMessage::uid, UINT32_MAX),
    text("tty", &CodeRedeemMessage::tty, kMaxNameBytes, kOptional),
    text("challenge", &CodeRedeemMessage::challenge, kMaxCodeBytes, kOptional),
    text("code", &CodeRedeemMessage::code, kMaxCodeBytes, kRequired, kNotEmpty),
    text("command", &CodeRedeemMessage::command, kMaxPathBytes, kOptional, kAbsolutePathOrEmpty),
});

constexpr auto kCodeGrant = message<CodeGrantMessage, MessageType::kCodeGrant>({
    text("grant_id", &CodeGrantMessage::grant_id, kMaxNameBytes),
    flag("session", &CodeGrantMessage::session),
    text("command", &CodeGrantMessage::command, kMaxPathBytes, kOptional),
    number("time_left_s", &CodeGrantMessage::time_left_s, kMaxSeconds),
});

// Nothing but "still working".
constexpr auto kProgress = message<ProgressMessage, MessageType::kProgress>();

// Nothing but "the decision is recorded".
constexpr auto kRecorded = message<RecordedMessage, MessageType::kRecorded>();

// ---- The codec -------------------------------------------------------------

template <class M>
void encode(std::span<const Field<M>> fields, const M& m, Fields& out) {
  for (const auto& field : fields) {
    std::visit(
        [&](auto member) {
          const auto& value = m.*member;
          using T = std::remove_cvref_t<decltype(value)>;
          std::string key(field.key);
          if constexpr (std::is_same_v<T, std::string>) {
            out.add(std::move(key), value);
          } else if constexpr (std::is_same_v<T, bool>) {
            out.add_bool(std::move(key), value);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            out.add_all(key, value);
          } else if constexpr (std::is_same_v<T, CommandContext>) {
            encode<CommandContext>(kContext, value, out);
          } else if constexpr (std::is_enum_v<T>) {
            out.add(std::move(key), std::string(to_string(value)));
          } else {
            out.add_uint(std::move(key), value);
          }
        },
        field.member);
  }
}

template <class M, std::size_t N>
Fields encode(const Message<M, N>& message, const M& m) {
  Fields out;
  out.add_uint("v", kProtocolVersion).add("type", std::string(to_string(message.type)));
  encode<M>(message.fields, m, out);
  return out;
}

Error missing(std::string_view key) {
  return invalid_argument(fmt::format("field \"{}\" is missing", key));
}

Status check_text(std::string_view key, std::string_view value, std::uint64_t max, Rule rule) {
  if (value.size() > max) {
    return invalid_argument(fmt::format("field \"{}\" is longer than {} bytes", key, max));
  }
  if (rule == kOneLine && value.find_first_of(std::string_view("\0\n", 2)) != std::string_view::npos) {
    return invalid_argument(fmt::format("field \"{}\" contains a NUL byte or a newline", key));
  }
  if (value.find('\0') != std::string_view::npos) {
    return invalid_argument(fmt::format("field \"{}\" contains a NUL byte", key));
  }
  if (rule == kNotEmpty && value.empty()) {
    return invalid_argument(fmt::format("field \"{}\" is empty", key));
  }
  const bool absolute = !value.empty() && value[0] == '/';
  if ((rule == kAbsolutePath && !absolute) || (rule == kAbsolutePathOrEmpty && !value.empty() && !absolute)) {
    return invalid_argument(fmt::format("field \"{}\" must be an absolute path", key));
  }
  return {};
}

// The enum value named `text`.
template <class E>
Result<E> by_name(std::string_view key, std::string_view text) {
  for (const E e : enumerators(E{})) {
    if (to_string(e) == text) return e;
  }
  return invalid_argument(fmt::format("field \"{}\" has an unknown value", key));
}

// Reads each field into `m`, leaving a field that fails alone.
template <class M>
Status decode(std::span<const Field<M>> fields, const Fields& in, M& m) {
  for (const auto& field : fields) {
    const auto read = [&](auto member) -> Status {
      auto& out = m.*member;
      using T = std::remove_cvref_t<decltype(out)>;
      if constexpr (std::is_same_v<T, CommandContext>) {
        return decode<CommandContext>(kContext, in, out);
      } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
        std::vector<std::string> entries = in.every(field.key);
        if (entries.empty() && field.presence == kRequired) return missing(field.key);
        if (entries.size() > field.max) {
          return invalid_argument(fmt::format("field \"{}\" has more than {} entries", field.key, field.max));
        }
        for (const auto& entry : entries) {
          if (auto st = check_text(field.key, entry, field.entry_bytes, field.rule); !st) return st;
        }
        out = std::move(entries);
        return {};
      } else {
        auto text = in.optional(field.key);
        if (!text) return text.error();
        if (!*text) return field.presence == kRequired ? Status(missing(field.key)) : Status();
        if constexpr (std::is_same_v<T, std::string>) {
          if (auto st = check_text(field.key, **text, field.max, field.rule); !st) return st;
          out = std::move(**text);
        } else if constexpr (std::is_same_v<T, bool>) {
          auto b = in.boolean(field.key);
          if (!b) return b.error();
          out = *b;
        } else if constexpr (std::is_enum_v<T>) {
          auto e = by_name<T>(field.key, **text);
          if (!e) return e.error();
          out = *e;
        } else {
          auto n = in.uint(field.key, field.max);
          if (!n) return n.error();
          out = static_cast<T>(*n);
        }
        return {};
      }
    };
    if (auto st = std::visit(read, field.member); !st && field.presence != kIfReadable) return st;
  }
  return {};
}

template <class M, std::size_t N>
Result<M> decode(const Message<M, N>& message, const Fields& in) {
  auto type = message_type(in);
  if (!type) return type.error();
  if (*type != message.type) {
    return invalid_argument(fmt::format("expected a {} message, got {}", to_string(message.type), to_string(*type)));
  }
  if (auto st = in.only(std::span(message.keys.data(), message.key_count)); !st) return st.error();
  M m;
  if (auto st = decode<M>(message.fields, in, m); !st) return st.error();
  return m;
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
    case MessageType::kRecorded: return "recorded";
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
  auto type = fields.one("type");
  if (!type) {
    return type.error();
  }
  return by_name<MessageType>("type", *type);
}

// clang-format off
Fields to_fields(const CheckMessage& m) { return encode(kCheck, m); }
Fields to_fields(const SubmitMessage& m) { return encode(kSubmit, m); }
Fields to_fields(const WaitMessage& m) { return encode(kWait, m); }
Fields to_fields(const CancelMessage& m) { return encode(kCancel, m); }
Fields to_fields(const DecisionMessage& m) { return encode(kDecision, m); }
Fields to_fields(const RequestStateMessage& m) { return encode(kRequestState, m); }
Fields to_fields(const ErrorMessage& m) { return encode(kError, m); }
Fields to_fields(const ListMessage& m) { return encode(kList, m); }
Fields to_fields(const ListingMessage& m) { return encode(kListing, m); }
Fields to_fields(const ElevateMessage& m) { return encode(kElevate, m); }
Fields to_fields(const ExecMessage& m) { return encode(kExec, m); }
Fields to_fields(const SelfApproveMessage& m) { return encode(kSelfApprove, m); }
Fields to_fields(const CodeChallengeMessage& m) { return encode(kCodeChallenge, m); }
Fields to_fields(const ChallengeMessage& m) { return encode(kChallenge, m); }
Fields to_fields(const CodeRedeemMessage& m) { return encode(kCodeRedeem, m); }
Fields to_fields(const CodeGrantMessage& m) { return encode(kCodeGrant, m); }
Fields to_fields(const ProgressMessage& m) { return encode(kProgress, m); }
Fields to_fields(const RecordedMessage& m) { return encode(kRecorded, m); }

Result<CheckMessage> check_from(const Fields& f) { return decode(kCheck, f); }
Result<SubmitMessage> submit_from(const Fields& f) { return decode(kSubmit, f); }
Result<WaitMessage> wait_from(const Fields& f) { return decode(kWait, f); }
Result<CancelMessage> cancel_from(const Fields& f) { return decode(kCancel, f); }
Result<DecisionMessage> decision_from(const Fields& f) { return decode(kDecision, f); }
Result<RequestStateMessage> request_state_from(const Fields& f) { return decode(kRequestState, f); }
Result<ErrorMessage> error_from(const Fields& f) { return decode(kError, f); }
Result<ListMessage> list_from(const Fields& f) { return decode(kList, f); }
Result<ListingMessage> listing_from(const Fields& f) { return decode(kListing, f); }
Result<ElevateMessage> elevate_from(const Fields& f) { return decode(kElevate, f); }
Result<ExecMessage> exec_from(const Fields& f) { return decode(kExec, f); }
Result<SelfApproveMessage> self_approve_from(const Fields& f) { return decode(kSelfApprove, f); }
Result<CodeChallengeMessage> code_challenge_from(const Fields& f) { return decode(kCodeChallenge, f); }
Result<ChallengeMessage> challenge_from(const Fields& f) { return decode(kChallenge, f); }
Result<CodeRedeemMessage> code_redeem_from(const Fields& f) { return decode(kCodeRedeem, f); }
Result<CodeGrantMessage> code_grant_from(const Fields& f) { return decode(kCodeGrant, f); }
Result<ProgressMessage> progress_from(const Fields& f) { return decode(kProgress, f); }
Result<RecordedMessage> recorded_from(const Fields& f) { return decode(kRecorded, f); }
// clang-format on

}  // namespace hoist::ipc
