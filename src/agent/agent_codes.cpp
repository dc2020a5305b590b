// Offline temporary admin codes on the endpoint (docs/admin-codes.md): the
// challenge a user reads to the help desk, and the check of the response
// (or of a pre-issued code) that starts a temporary admin session, or
// allows one command, with hoistd out of reach.
//
// MUST: a code is good once: its use is stored in the same transaction as
// the grant it starts and the event that reports it, so no crash can leave
// a grant without a recorded use, or a use twice.
// MUST: wrong codes are counted per uid before the answer leaves, and the
// back-off (codes::code_backoff) is read from the state, so a restart of
// the agent does not reset it.
// MUST: the user a code is checked for is the kernel's account of the
// caller, never a name from the message.
#include <sys/random.h>

#include <fmt/format.h>

#include <cerrno>

#include "agent/agent.h"
#include "core/admin_code.h"

namespace hoist::agent {

namespace {

Result<std::uint32_t> random_nonce() {
  std::uint32_t v = 0;
  for (;;) {
    const ssize_t n = ::getrandom(&v, sizeof v, 0);
    if (n == static_cast<ssize_t>(sizeof v)) return v & ((1U << 30) - 1);
    if (n < 0 && errno == EINTR) continue;
    return unavailable("no randomness for a challenge (getrandom)");
  }
}

Result<codes::HostKey> host_key(const Identity& id) {
  codes::HostKey key{};
  if (id.codes_key.size() != key.size() || id.codes_key_generation == 0) {
    return unavailable(
        "this computer has no admin-code key: it gets one from hoistd at enrolment or when next online (hoistd "
        "needs a code master key, docs/admin-codes.md)");
  }
  std::copy(id.codes_key.begin(), id.codes_key.end(), key.begin());
  return key;
}

// This computer's identity and admin-code key, or why there is none.
struct Enrolment {
  Identity identity;
  codes::HostKey key{};
};
Result<Enrolment> enrolment(AgentState& state) {
  auto id = state.identity();
  if (!id) return id.error();
  if (!*id) return unavailable("this computer is not enrolled");
  auto key = host_key(**id);
  if (!key) return key.error();
  return Enrolment{std::move(**id), *key};
}

std::uint32_t day_of(TimePoint t) {
  return static_cast<std::uint32_t>(t.time_since_epoch().count() / 86400);
}

}  // namespace

Status Agent::sync_codes_key() {
  auto fetched = deps_.server.codes_key();
  if (!fetched) return fetched.error();
  if (fetched->key.size() != 32) return invalid_argument("hoistd sent an admin-code key that is not 32 bytes");
  const std::lock_guard lock(codes_mu_);
  auto id = deps_.state.identity();
  if (!id) return id.error();
  if (!*id) return not_found("this computer is not enrolled");
  if ((*id)->codes_key == fetched->key && (*id)->codes_key_generation == fetched->generation) return {};
  Identity updated = **id;
  const std::uint32_t before = updated.codes_key_generation;
  updated.codes_key = fetched->key;
  updated.codes_key_generation = fetched->generation;
  if (auto st = deps_.state.set_identity(updated); !st) return st;
  return enqueue(events::CodesKeyInstalled{.generation = fetched->generation, .previous_generation = before});
}

Result<ipc::ChallengeMessage> Agent::code_challenge(std::uint32_t uid, const ipc::CodeChallengeMessage& m) {
  if (auto st = speaks_for(m.uid, uid); !st) return st.error();
  auto enrolled = enrolment(deps_.state);
  if (!enrolled) return enrolled.error();
  const Identity& id = enrolled->identity;
  const auto now = now_s();
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto nonce = random_nonce();
    if (!nonce) return nonce.error();
    const CodeChallengeRecord record{*nonce, uid, now, now + codes::kChallengeLifetime};
    auto st = deps_.state.add_code_challenge(record, now);
    if (!st && st.error().code == ErrorCode::kConflict) continue;  // drawn before: draw again
    if (!st) return st.error();
    ipc::ChallengeMessage out;
    out.challenge = codes::format_challenge(codes::Challenge{codes::host_tag(id.endpoint_id), *nonce});
    out.host = id.hostname;
    out.endpoint_id = id.endpoint_id;
    out.expires_in_s = static_cast<std::uint64_t>(codes::kChallengeLifetime.count());
    return out;
  }
  return internal_error("no fresh challenge could be drawn (this is a bug)");
}

Result<ipc::CodeGrantMessage> Agent::code_redeem(std::uint32_t uid, const ipc::CodeRedeemMessage& m) {
  if (auto st = speaks_for(m.uid, uid); !st) return st.error();
  auto account = deps_.accounts(uid);
  if (!account) return account.error();
  const std::string& user = account->name;
  const std::lock_guard lock(codes_mu_);
  auto enrolled = enrolment(deps_.state);
  if (!enrolled) return enrolled.error();
  const Identity& id = enrolled->identity;
  const codes::HostKey& key = enrolled->key;
  const std::uint32_t generation = id.codes_key_generation;
  const auto now = now_s();

  // The back-off first: a locked-out user's tries are not even checked.
  auto attempts = deps_.state.code_attempts(uid);
  if (!attempts) return attempts.error();
  const Seconds wait = codes::code_backoff(attempts->failures);
  if (attempts->failures > 0 && now < attempts->last_failure + wait) {
    const auto left = (attempts->last_failure + wait - now).count();
    return rate_limited(fmt::format("too many wrong codes: try again in {} second{}", left, left == 1 ? "" : "s"));
  }

  auto kind = codes::kind_of(m.code);
  if (!kind) return kind.error();  // a typing slip, not a guess
  if (*kind == codes::CodeKind::kChallenge) {
    return invalid_argument(
        "that is a challenge (8 characters): read it to the help desk, then enter the code they give back");
  }

  // Wrong-code events and the count: stored before the answer leaves.
  auto refuse = [&](const Error& why, std::string_view code_kind) -> Error {
    CodeAttempts next{attempts->failures + 1, now};
    const events::CodeRefused refused{.user = user,
                                      .uid = uid,
                                      .tty = m.tty,
                                      .code_kind = std::string(code_kind),
                                      .command = m.command,
                                      .failures = next.failures,
                                      .reason = why.message};
    auto event_id = new_event_id();
    if (!event_id) return event_id.error();
    const OutboxEvent event{*event_id, events::outbox_kind(refused),
                            std::chrono::time_point_cast<std::chrono::milliseconds>(deps_.clock()),
                            events::details_text(refused)};
    if (auto st = deps_.state.record_code_failure(uid, next, event); !st) {
      return unavailable("hoist-agent cannot record the attempt (" + st.error().message +
                         "); no code is checked until it can");
    }
    std::string text = why.message;
    const Seconds next_wait = codes::code_backoff(next.failures);
    if (next_wait.count() > 0) text += fmt::format(" (next try in {} s)", next_wait.count());
    return Error{why.code, text};
  };

  CodeUse use;
  codes::CodeTerms terms;
  if (*kind == codes::CodeKind::kResponse) {
    if (m.challenge.empty()) {
      return invalid_argument(
          "a 12-character code answers a challenge: run \"hoist code\" to see one and read it to the help desk");
    }
    auto challenge = codes::parse_challenge(m.challenge);
    if (!challenge) return challenge.error();
    auto stored = deps_.state.code_challenge(challenge->nonce);
    if (!stored) return stored.error();
    if (challenge->host_tag != codes::host_tag(id.endpoint_id) || !*stored || (*stored)->uid != uid ||
        now >= (*stored)->expires_at) {
      return permission_denied(
          fmt::format("challenge {} is not one this computer gave you, or it expired (after {} min): ask for a new "
                      "one with \"hoist code\"",
                      m.challenge, codes::kChallengeLifetime.count() / 60));
    }
    auto verified = codes::verify_response(key, *challenge, user, m.command, m.code);
    if (!verified) {
      if (codes::does_not_fit(verified.error())) return refuse(verified.error(), "response");
      return verified.error();
    }
    terms = std::move(*verified);
    use.kind = "response";
    use.ref = challenge->nonce;
  } else {
    auto verified = codes::verify_preissued(key, user, m.command, day_of(now), m.code);
    if (!verified) {
      if (codes::does_not_fit(verified.error())) return refuse(verified.error(), "preissued");
      return verified.error();  // outside its days: the MAC fit, so it is no guess
    }
    terms = std::move(verified->terms);
    use.kind = "preissued";
    use.ref = verified->code.id;
  }
  use.generation = generation;
  use.uid = uid;
  use.user = user;
  use.used_at = now;
  use.grant_id = fmt::format("code-{}-{:08x}-g{}", use.kind, use.ref, generation);

  Grant g;
  g.id = use.grant_id;
  g.user = user;
  g.uid = uid;
  g.kind = terms.command.empty() ? GrantKind::kSession : GrantKind::kCommand;
  if (g.kind == GrantKind::kCommand) g.scope.command_path = terms.command;
  g.start = now;
  g.deadline = now + terms.duration;
  g.record_processes = g.kind == GrantKind::kSession;
  g.origin = GrantOrigin::kOfflineCode;

  const events::CodeUsed used{.code_kind = use.kind,
                              .ref = use.ref,
                              .generation = generation,
                              .user = user,
                              .uid = uid,
                              .tty = m.tty,
                              .duration = terms.duration,
                              .command = terms.command,
                              .grant_id = g.id,
                              .used_at = now,
                              .until = g.deadline};
  auto event_id = new_event_id();
  if (!event_id) return event_id.error();
  const OutboxEvent event{*event_id, events::outbox_kind(used),
                          std::chrono::time_point_cast<std::chrono::milliseconds>(deps_.clock()),
                          events::details_text(used)};
  if (auto st = deps_.state.redeem_code(use, g, event); !st) {
    if (st.error().code == ErrorCode::kConflict) {
      return permission_denied("this code was used already: a code is good once; ask the help desk for a new one");
    }
    return st.error();
  }
  ipc::CodeGrantMessage out;
  out.grant_id = g.id;
  out.session = g.kind == GrantKind::kSession;
  out.command = terms.command;
  out.time_left_s = static_cast<std::uint64_t>(terms.duration.count());
  return out;
}

}  // namespace hoist::agent
