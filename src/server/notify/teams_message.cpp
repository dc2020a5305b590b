// The Teams channel's Adaptive Card (teams.h). Pure.
#include <boost/json.hpp>

#include <array>
#include <string_view>

#include "core/display_text.h"
#include "server/notify/teams.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

// Teams takes a message of up to about 28 KB: each text is cut so that a
// card with every fact stays well under it.
constexpr std::size_t kMaxTitle = 200;
constexpr std::size_t kMaxLabel = 40;
constexpr std::size_t kMaxValue = 600;
constexpr std::size_t kMaxContext = 300;
constexpr std::size_t kMaxFacts = 16;
constexpr std::size_t kMaxUrl = 2048;

json::object text_block(std::string text, bool title) {
  json::object o{{"type", "TextBlock"}, {"text", std::move(text)}, {"wrap", true}};
  if (title) {
    o["size"] = "Medium";
    o["weight"] = "Bolder";
  } else {
    o["size"] = "Small";
    o["isSubtle"] = true;
  }
  return o;
}

}  // namespace

std::string teams_escape(std::string_view text) {
  static constexpr auto kAlways = [] {
    std::array<bool, 256> table{};
    for (const char c : std::string_view("\\`*_~[](){}<>#&|")) table[static_cast<unsigned char>(c)] = true;
    return table;
  }();
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  // What starts a list or a quote only at the start of the text (a typed
  // line break is already an escape: summary.h).
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool leading = (i == 0 && (c == '-' || c == '+')) || (digits > 0 && i == digits && c == '.');
    if (leading || kAlways[static_cast<unsigned char>(c)]) out += '\\';
    out += c;
  }
  return out;
}

json::object teams_message(const Summary& s) {
  json::array facts;
  for (const auto& f : s.facts) {
    if (facts.size() == kMaxFacts) break;
    facts.push_back(json::object{{"title", escape_to_fit(f.label, kMaxLabel, teams_escape)},
                                 {"value", escape_to_fit(f.value, kMaxValue, teams_escape)}});
  }
  json::array body;
  body.push_back(text_block(escape_to_fit(s.title, kMaxTitle, teams_escape), true));
  if (!facts.empty()) body.push_back(json::object{{"type", "FactSet"}, {"facts", std::move(facts)}});
  body.push_back(text_block(escape_to_fit(s.context, kMaxContext, teams_escape), false));
  json::object card{{"$schema", "http://adaptivecards.io/schemas/adaptive-card.json"},
                    {"type", "AdaptiveCard"},
                    {"version", "1.4"},
                    {"body", std::move(body)}};
  if (!s.link.empty() && s.link.size() <= kMaxUrl) {
    card["actions"] =
        json::array{json::object{{"type", "Action.OpenUrl"}, {"title", "Open in Hoist"}, {"url", s.link}}};
  }
  json::object attachment{{"contentType", "application/vnd.microsoft.card.adaptive"},
                          {"contentUrl", nullptr},
                          {"content", std::move(card)}};
  return json::object{{"type", "message"}, {"attachments", json::array{std::move(attachment)}}};
}

}  // namespace hoist::notify
