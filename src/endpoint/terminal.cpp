#include "endpoint/terminal.h"

#include <algorithm>

#include "core/display_text.h"

namespace hoist::endpoint {

namespace {

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b < 0x20 || b == 0x7F;
  });
}

std::string with_contact(std::string text, std::string_view contact) {
  if (!contact.empty()) {
    text += "\n";
    text += contact;
  }
  return text;
}

}  // namespace

std::string safe_for_terminal(std::string_view text) {
  return visible_text(text, "\n\t");
}

Result<std::uint64_t> parse_duration(std::string_view text) {
  const std::string_view t = trim(text);
  const auto bad = [&] {
    return invalid_argument("\"" + std::string(t.substr(0, 32)) +
                            "\" is not a duration; write it like 30m, 1h, 1h30m or 90s");
  };
  if (t.empty() || t.size() > 32) return bad();
  std::uint64_t total = 0;
  std::size_t i = 0;
  int last_rank = 5;  // units must go from larger to smaller, each once
  while (i < t.size()) {
    std::uint64_t n = 0;
    const std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      n = n * 10 + static_cast<std::uint64_t>(t[i] - '0');
      if (n > ipc::kMaxSeconds) return bad();
      ++i;
    }
    if (i == start) return bad();
    std::uint64_t unit = 0;
    int rank = 0;
    if (i == t.size()) {
      if (start != 0) return bad();  // "1h30" is ambiguous
      unit = 60;                     // a bare number is minutes
      rank = 2;
    } else {
      switch (t[i]) {
        case 'd': unit = 86400, rank = 4; break;
        case 'h': unit = 3600, rank = 3; break;
        case 'm': unit = 60, rank = 2; break;
        case 's': unit = 1, rank = 1; break;
        default: return bad();
      }
      ++i;
    }
    if (rank >= last_rank) return bad();
    last_rank = rank;
    total += n * unit;
    if (total > ipc::kMaxSeconds) {
      return invalid_argument("a request lasts at most " + format_duration(ipc::kMaxSeconds));
    }
  }
  if (total == 0) return invalid_argument("a request must last longer than 0 seconds");
  return total;
}

std::string format_duration(std::uint64_t seconds) {
  if (seconds == 0) return "0s";
  std::string out;
  const std::uint64_t d = seconds / 86400;
  const std::uint64_t h = seconds % 86400 / 3600;
  const std::uint64_t m = seconds % 3600 / 60;
  const std::uint64_t s = seconds % 60;
  if (d != 0) out += std::to_string(d) + "d";
  if (h != 0) out += std::to_string(h) + "h";
  if (m != 0) out += std::to_string(m) + "m";
  if (s != 0) out += std::to_string(s) + "s";
  return out;
}

std::string format_countdown(std::uint64_t seconds) {
  const std::uint64_t h = seconds / 3600;
  const std::uint64_t m = seconds % 3600 / 60;
  const std::uint64_t s = seconds % 60;
  const auto two = [](std::uint64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (h != 0) return std::to_string(h) + ":" + two(m) + ":" + two(s);
  return std::to_string(m) + ":" + two(s);
}

std::string shortened_text(std::uint64_t requested_s, std::uint64_t granted_left_s) {
  constexpr std::uint64_t kSlackS = 60;
  if (granted_left_s == 0 || granted_left_s + kSlackS >= requested_s) return "";
  // To the minute: "29m59s" would be noise.
  const std::uint64_t shown = granted_left_s >= 60 ? (granted_left_s + 30) / 60 * 60 : granted_left_s;
  return "The grant is shorter than you asked for: " + format_duration(shown) + ", not " +
         format_duration(requested_s) + ".";
}

std::string countdown_line(std::string_view request_id, std::uint64_t seconds_left) {
  return "Waiting for approval " + format_countdown(seconds_left) + " (" + visible_text(request_id) +
         ") \u2014 Ctrl-C to cancel ";
}

Result<std::string> ask_justification(Conversation& conv, int attempts) {
  for (int i = 0; i < attempts; ++i) {
    auto answer = conv.prompt("Why do you need it? ", true);
    if (!answer) return conflict("no answer was read; no request was sent");
    const std::string_view text = trim(*answer);
    if (text.empty()) {
      conv.error("A reason is required, for example a ticket number.");
      continue;
    }
    if (text.size() > kMaxAnswerBytes) {
      conv.error("That is too long; keep it under " + std::to_string(kMaxAnswerBytes) + " characters.");
      continue;
    }
    if (has_control(text) || !is_valid_utf8(text)) {
      conv.error("Please use plain text only.");
      continue;
    }
    return std::string(text);
  }
  return permission_denied("no reason was given; no request was sent");
}

Result<std::uint64_t> ask_duration(Conversation& conv, std::uint64_t default_s, std::uint64_t max_s, int attempts) {
  const std::uint64_t cap = max_s == 0 ? ipc::kMaxSeconds : std::min(max_s, ipc::kMaxSeconds);
  const std::uint64_t dflt = std::min(default_s == 0 ? std::uint64_t{3600} : default_s, cap);
  const std::string question =
      "For how long? [" + format_duration(dflt) + (max_s != 0 ? ", at most " + format_duration(cap) : "") + "] ";
  for (int i = 0; i < attempts; ++i) {
    auto answer = conv.prompt(question, true);
    if (!answer) return conflict("no answer was read; no request was sent");
    if (trim(*answer).empty()) return dflt;
    auto seconds = parse_duration(*answer);
    if (!seconds) {
      conv.error(seconds.error().message + ".");
      continue;
    }
    if (*seconds > cap) {
      conv.error("That is longer than allowed: at most " + format_duration(cap) + ".");
      continue;
    }
    return *seconds;
  }
  return permission_denied("no valid duration was given; no request was sent");
}

bool is_yes(std::string_view answer) {
  const std::string_view t = trim(answer);
  if (t.empty() || t.size() > 3) return false;
  std::string lower;
  for (const char c : t) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  return lower == "y" || lower == "yes";
}

std::string_view trim(std::string_view s) {
  const auto start = s.find_first_not_of(" \t");
  if (start == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(" \t");
  return s.substr(start, end - start + 1);
}

bool is_code_word(std::string_view answer) {
  const std::string_view t = trim(answer);
  if (t.size() != 4) return false;
  std::string lower;
  for (const char c : t) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  return lower == "code";
}

std::string admin_code_instructions(const ipc::ChallengeMessage& c) {
  return "Call your help desk and read them:\n  computer:  " + c.host + " (" + c.endpoint_id +
         ")\n  challenge: " + c.challenge + "\nThey read back a 12-character admin code (good for " +
         std::to_string(c.expires_in_s / 60) + " min); a 20-character pre-issued code works too.";
}

std::string admin_code_accepted_text(const ipc::CodeGrantMessage& g) {
  if (g.session) {
    return "Admin code accepted: a temporary admin session for " + format_duration(g.time_left_s) +
           "; every command run with sudo is recorded.";
  }
  return "Admin code accepted: " + g.command + " for " + format_duration(g.time_left_s) + ".";
}

Result<bool> ask_self_approval(Conversation& conv) {
  auto answer = conv.prompt(kSelfApprovalQuestion, true);
  if (!answer) return conflict("no answer was read");
  return is_yes(*answer);
}

std::string deny_text(const ipc::DecisionMessage& d) {
  std::string text = "Sorry, you may not run this";
  text += d.reason.empty() ? std::string(".") : ": " + d.reason;
  return with_contact(std::move(text), d.contact);
}

std::string noninteractive_request_text(const ipc::DecisionMessage& d, std::string_view command_line) {
  std::string text = "This command needs approval";
  if (!d.rule.empty()) text += " (rule \"" + d.rule + "\" accepts a request)";
  text +=
      ", and sudo cannot ask you here (sudo -n or no terminal).\nRun it again from a terminal, without -n, to "
      "ask for approval: sudo ";
  text += command_line;
  return with_contact(std::move(text), d.contact);
}

std::string noninteractive_sent_text(const ipc::RequestStateMessage& s, std::string_view command_line) {
  std::string text = "This command needs approval, and sudo cannot wait for it here (sudo -n or no terminal).\n";
  text += "Request " + s.request_id + " is waiting for a technician; check it with \"hoist status " + s.request_id +
          "\" and run the command again once it is approved: sudo ";
  text += command_line;
  return with_contact(std::move(text), s.contact);
}

std::string noninteractive_justification(std::string_view hoist_reason) {
  std::string printable;
  for (const char c : trim(hoist_reason)) {
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) printable.push_back(c);
  }
  // Cut on a character boundary, broken sequences replaced: hoistd takes
  // only valid UTF-8.
  const std::string reason = valid_utf8(printable, ipc::kMaxTextBytes);
  if (reason.empty())
    return "(no reason given: asked with sudo -n or without a terminal; set HOIST_REASON to give one)";
  return reason;
}

std::string denied_request_text(const ipc::RequestStateMessage& s, std::string_view fallback_contact) {
  std::string text;
  switch (s.state) {
    case RequestState::kDenied:
      text = "Your request was denied";
      text += s.reviewer.empty() ? std::string() : " by " + s.reviewer;
      break;
    case RequestState::kCancelled: text = "Your request was cancelled"; break;
    case RequestState::kExpired: text = "Your request expired"; break;
    case RequestState::kRevoked: text = "Your access was revoked"; break;
    case RequestState::kPending:
    case RequestState::kApproved:
    case RequestState::kActive: text = "Your request was not approved"; break;
  }
  text += s.comment.empty() ? std::string(".") : ": " + s.comment;
  return with_contact(std::move(text), s.contact.empty() ? fallback_contact : std::string_view(s.contact));
}

std::string pending_text(std::string_view request_id) {
  return "No answer yet. Your request " + std::string(request_id) + " stays pending; check it with \"hoist status " +
         std::string(request_id) + "\" and run the command again once it is approved.";
}

std::string cancelled_text(std::string_view request_id) {
  return "Cancelled. Request " + std::string(request_id) + " was withdrawn.";
}

}  // namespace hoist::endpoint
