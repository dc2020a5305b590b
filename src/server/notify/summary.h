// What a person reads about one event in a chat (Slack, Teams): a title,
// labelled facts, a line of context and the console's link. The text is
// plain: valid UTF-8 with every control, invalid byte and character that
// hides or reorders text shown as an escape (core/display_text.h), not yet
// escaped for any markup and not cut; each kind escapes and cuts it for its
// own (slack.h, teams.h). Pure: no I/O, no clock.
//
// For a request: who (user, host), what (the command and its arguments,
// the program, its SHA-256 and package, whom it runs as), why (the
// justification), for how long, which rule, by when it should be answered
// (the 2-minute target) and until when it waits; once decided, the
// outcome instead (who approved or denied it, with their comment, until
// when the grant runs, who cancelled or revoked it).
//
// MUST: every field that comes from the event or the request (typed by a
// user, an approver or an agent) is data for the kinds to escape, never
// markup; the kinds escape every field, these words included.
// MUST: no secret: only what the Message holds (message.h).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "server/notify/message.h"

namespace hoist::notify {

struct Fact {
  std::string label;
  std::string value;
  // Long text (a command line, a justification, an outcome with a
  // comment): a block of its own where a kind lays facts out in columns.
  bool wide = false;
};

struct Summary {
  std::string title;  // "Root requested by alice on laptop-7"
  std::vector<Fact> facts;
  std::string context;  // the event: kind, seq, time, actor
  std::string link;     // the console's page; "" for none
};

// How soon a technician should answer a request (the console's queue bar,
// docs/metrics.md's "two-minute promise").
inline constexpr std::chrono::minutes kAnswerTarget{2};

Summary summarize(const Message& message);

// argv as a person reads it in a shell: each argument made visible, and
// quoted '...' when it is empty or has anything but letters, digits and
// @%+=:,./_- ("'\''" for a quote inside); after about 8 KiB, " ..." (the
// console has it all). Each fact is made visible up to 8 KiB of it too:
// more than any kind shows.
std::string command_line(const std::vector<std::string>& argv);

// `text` escaped with `escape` and cut so that the result is at most
// `max_units` UTF-16 units (core/display_text.h): the text is cut before
// it is escaped, so an escape is never split.
std::string escape_to_fit(std::string_view text, std::size_t max_units, std::string (*escape)(std::string_view));

}  // namespace hoist::notify
