// What the person at the terminal sees and types: prompts for a request's
// justification and duration, the approval countdown, and the words of
// every outcome. Talks through an injected Conversation (sudo_conv and
// sudo_printf in the plugin, a script in tests); no I/O of its own.
//
// MUST: nothing here prompts when the invocation is non-interactive (the
// caller checks first; sudo's front end does not enforce -n). MUST: a
// failed or interrupted prompt ends the flow with no request sent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "ipc/messages.h"

namespace hoist::endpoint {

class Conversation {
 public:
  virtual ~Conversation() = default;
  // A line (or lines) for the user; a '\n' is added.
  virtual void info(std::string_view text) = 0;
  virtual void error(std::string_view text) = 0;
  // Overwrites the current terminal line (a '\r' goes first), preferring
  // the tty; no newline.
  virtual void status_line(std::string_view text) = 0;
  // Asks one question; nullopt when no answer could be read (no tty, EOF,
  // Ctrl-C at the prompt). echo=false hides what is typed (passwords).
  virtual std::optional<std::string> prompt(std::string_view question, bool echo) = 0;
};

// Text from elsewhere (the agent, a remote reviewer's comment) made safe
// for a terminal (core/display_text.h visible_text): control characters
// other than '\n' and '\t' (ESC above all, which could rewrite the screen
// or the title), C1 controls, invalid UTF-8 and the characters that reorder
// or hide text are shown escaped.
std::string safe_for_terminal(std::string_view text);

// "30m", "1h", "90s", "2d", "1h30m", or a bare number of minutes ("45"),
// as seconds. InvalidArgument for anything else, zero, or more than
// ipc::kMaxSeconds.
Result<std::uint64_t> parse_duration(std::string_view text);

// 5400 -> "1h30m", 90 -> "1m30s", 3600 -> "1h".
std::string format_duration(std::uint64_t seconds);

// 107 -> "1:47"; 3725 -> "1:02:05".
std::string format_countdown(std::uint64_t seconds);

// When an approval granted less time than was asked for (a shorter
// duration chosen by the approver, or a policy's cap), the sentence that
// says so; "" when the grant is about what was asked (a minute's slack
// for the time the wait took).
std::string shortened_text(std::uint64_t requested_s, std::uint64_t granted_left_s);

// The countdown line, without the leading '\r', naming the request (so the
// id is on screen for "hoist status" or a call to the help desk).
std::string countdown_line(std::string_view request_id, std::uint64_t seconds_left);

// The longest answer taken at a prompt. sudo's conversation reads at most
// 1023 bytes and leaves the rest on the terminal, so a longer line is cut
// short: the Conversation flushes the terminal's input then (so the rest
// does not answer the next question), and an answer this long is refused.
inline constexpr std::size_t kMaxAnswerBytes = 1000;

// Asks for the justification until one is given: required, at most
// kMaxAnswerBytes, valid UTF-8 without control characters. Gives up after
// `attempts` (PermissionDenied) or when a prompt fails (Conflict: nothing
// sent).
Result<std::string> ask_justification(Conversation& conv, int attempts = 3);

// The request's duration: empty = default_s; above max_s or malformed:
// says why and asks again. max_s == 0 reads as ipc::kMaxSeconds,
// default_s == 0 as min(1h, max).
Result<std::uint64_t> ask_duration(Conversation& conv, std::uint64_t default_s, std::uint64_t max_s, int attempts = 3);

// The question put to a requester who may approve their own request
// (approval = "self"), asked with echo.
// Offline admin codes at the approval prompt (docs/admin-codes.md).
inline constexpr std::string_view kAdminCodeHint =
    "No network, or no one to approve? Answer \"code\" to use an admin code from your help desk.";
inline constexpr std::string_view kAdminCodePrompt = "Admin code: ";
// `s` without leading and trailing blanks and tabs.
std::string_view trim(std::string_view s);
// The answer "code" (any case, spaces around) to the justification prompt.
bool is_code_word(std::string_view answer);
// What to read to the help desk, and what to enter.
std::string admin_code_instructions(const ipc::ChallengeMessage& c);
// What the accepted code grants.
std::string admin_code_accepted_text(const ipc::CodeGrantMessage& g);

inline constexpr std::string_view kSelfApprovalQuestion = "You may approve this yourself. Approve it now? [y/N] ";

// "y" or "yes" (any case, spaces around) is yes; anything else, an empty
// answer included, is no.
bool is_yes(std::string_view answer);

// Asks kSelfApprovalQuestion once: true for yes, false for no. Conflict
// when no answer could be read (EOF, Ctrl-C at the prompt).
Result<bool> ask_self_approval(Conversation& conv);

// The words for outcomes, in one place.
std::string deny_text(const ipc::DecisionMessage& d);
std::string noninteractive_request_text(const ipc::DecisionMessage& d, std::string_view command_line);
// sudo -n / no terminal: the request was sent (or one was already waiting).
std::string noninteractive_sent_text(const ipc::RequestStateMessage& s, std::string_view command_line);
// The justification of a request sent without a terminal: the user's
// HOIST_REASON when given (trimmed, printable, at most kMaxTextBytes), else
// a fixed text saying that nobody gave one.
std::string noninteractive_justification(std::string_view hoist_reason);
std::string denied_request_text(const ipc::RequestStateMessage& s, std::string_view fallback_contact);
std::string pending_text(std::string_view request_id);
std::string cancelled_text(std::string_view request_id);

}  // namespace hoist::endpoint
