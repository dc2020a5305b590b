// The Slack channel's Block Kit message (slack.h). Pure.
#include <boost/json.hpp>

#include <algorithm>

#include "core/display_text.h"
#include "server/notify/slack.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

// Block Kit's limits (docs.slack.dev, "Blocks" and "Composition objects").
constexpr std::size_t kMaxBlocks = 50;
constexpr std::size_t kMaxHeaderText = 150;
constexpr std::size_t kMaxSectionText = 3000;
constexpr std::size_t kMaxFieldText = 2000;
constexpr std::size_t kMaxFields = 10;
constexpr std::size_t kMaxContextText = 2000;
constexpr std::size_t kMaxButtonText = 75;
constexpr std::size_t kMaxButtonUrl = 3000;
// The fallback is for a notification's one line: Slack takes far more.
constexpr std::size_t kMaxFallbackText = 3000;

std::string as_is(std::string_view text) {
  return std::string(text);
}

// A plain_text object: Slack shows it as it is (no mrkdwn, no mentions, no
// links; emoji codes such as :x: stay text).
json::object plain(std::string_view text, std::size_t max_units) {
  std::string fitted = escape_to_fit(text, max_units, as_is);
  if (fitted.empty()) fitted = "-";  // Slack refuses an empty text
  return json::object{{"type", "plain_text"}, {"text", fitted}, {"emoji", false}};
}

std::string labelled(const Fact& f) {
  return f.label + "\n" + f.value;
}

}  // namespace

std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      default: out += c;
    }
  }
  return out;
}

json::object slack_message(const Summary& s) {
  // Facts in order: a run of short ones as one section's fields (two
  // columns, at most ten a section), a long one as a section of its own.
  json::array facts;
  std::vector<Fact> run;
  const auto flush = [&] {
    for (std::size_t i = 0; i < run.size(); i += kMaxFields) {
      json::array fields;
      for (std::size_t k = i; k < std::min(run.size(), i + kMaxFields); ++k) {
        fields.push_back(plain(labelled(run[k]), kMaxFieldText));
      }
      facts.push_back(json::object{{"type", "section"}, {"fields", std::move(fields)}});
    }
    run.clear();
  };
  for (const auto& f : s.facts) {
    if (!f.wide) {
      run.push_back(f);
      continue;
    }
    flush();
    facts.push_back(json::object{{"type", "section"}, {"text", plain(labelled(f), kMaxSectionText)}});
  }
  flush();
  // The header, the context and the button take three of the 50 blocks.
  while (facts.size() > kMaxBlocks - 3) facts.pop_back();

  json::array blocks;
  blocks.push_back(json::object{{"type", "header"}, {"text", plain(s.title, kMaxHeaderText)}});
  for (auto& b : facts) blocks.push_back(std::move(b));
  blocks.push_back(json::object{{"type", "context"}, {"elements", json::array{plain(s.context, kMaxContextText)}}});
  if (!s.link.empty() && utf16_length(s.link) <= kMaxButtonUrl) {
    json::object button{{"type", "button"},
                        {"text", plain("Open in Hoist", kMaxButtonText)},
                        {"url", s.link},
                        {"action_id", "hoist_open"}};
    blocks.push_back(json::object{{"type", "actions"}, {"elements", json::array{std::move(button)}}});
  }
  std::string fallback = escape_to_fit(s.title, kMaxFallbackText, slack_escape);
  if (fallback.empty()) fallback = "Hoist";
  return json::object{{"text", std::move(fallback)}, {"blocks", std::move(blocks)}};
}

}  // namespace hoist::notify
