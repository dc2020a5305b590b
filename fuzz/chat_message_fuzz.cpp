// Fuzzes what hoistd writes to Slack and Teams from text other people
// typed (src/server/notify: summary.h, slack.h, teams.h): the input, split
// at NUL bytes, becomes a request's user, host, justification, arguments,
// rule, package and a reviewer's comment. Checks, for any text: every
// Block Kit text object is plain_text within its limit and valid UTF-8,
// the mrkdwn fallback has &, < and > escaped, at most 50 blocks; every
// text of the Adaptive Card is escaped (no Markdown, mention or template
// left) and the card stays under Teams' 28 KB.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/display_text.h"
#include "server/notify/slack.h"
#include "server/notify/summary.h"
#include "server/notify/teams.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

bool mrkdwn_escaped(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<' || text[i] == '>') return false;
    if (text[i] == '&' && !text.substr(i).starts_with("&amp;") && !text.substr(i).starts_with("&lt;") &&
        !text.substr(i).starts_with("&gt;")) {
      return false;
    }
  }
  return true;
}

bool markdown_escaped(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
      continue;
    }
    if (std::string_view("`*_~[](){}<>#&|").find(text[i]) != std::string_view::npos) return false;
  }
  return text.find("${") == std::string_view::npos && text.find("{{") == std::string_view::npos &&
         !text.starts_with('-') && !text.starts_with('+');
}

void check_slack_texts(const boost::json::value& v) {
  if (v.is_array()) {
    for (const auto& e : v.as_array()) check_slack_texts(e);
  } else if (v.is_object()) {
    const auto& o = v.as_object();
    if (const auto* type = o.if_contains("type"); type != nullptr && (*type == "plain_text" || *type == "mrkdwn")) {
      check(*type == "plain_text");
      const auto& text = o.at("text").as_string();
      check(!text.empty() && hoist::utf16_length(text) <= 3000 && hoist::is_valid_utf8(text));
      return;
    }
    for (const auto& [key, e] : o) check_slack_texts(e);
  }
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\0') {
      parts.emplace_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parts = split(text);
  parts.resize(std::max<std::size_t>(parts.size(), 8));
  hoist::store::RequestRecord r;
  r.request.id = "req-1";
  r.request.requester = parts[0];
  r.request.host = parts[1];
  r.request.justification = parts[2];
  r.request.rule = parts[3];
  r.command.path = "/usr/bin/" + parts[4];
  r.command.package = parts[5];
  r.command.runas_user = parts[6];
  r.command.argv.assign(parts.begin() + 4, parts.end());
  if (!parts[7].empty()) {
    r.request.state = hoist::RequestState::kDenied;
    r.request.review = hoist::Review{hoist::Review::By::kApprover, parts[0], false, parts[7], {}};
  }
  hoist::notify::Message m;
  m.id = "evt_1_0";
  m.event.action = parts[7].empty() ? "request.created" : "request.denied";
  m.event.target = "req-1";
  m.event.actor = parts[1];
  m.request = r;
  m.link = "https://hoist.example/#/requests/req-1";
  const auto summary = hoist::notify::summarize(m);

  const auto slack = hoist::notify::slack_message(summary);
  check(mrkdwn_escaped(slack.at("text").as_string()));
  check(slack.at("blocks").as_array().size() <= 50);
  check(hoist::utf16_length(slack.at("blocks").at(0).at("text").at("text").as_string()) <= 150);
  check_slack_texts(slack.at("blocks"));

  const auto teams = hoist::notify::teams_message(summary);
  const auto& card = teams.at("attachments").at(0).at("content");
  for (const auto& element : card.at("body").as_array()) {
    if (element.at("type") == "TextBlock") check(markdown_escaped(element.at("text").as_string()));
    if (element.at("type") != "FactSet") continue;
    for (const auto& fact : element.at("facts").as_array()) {
      check(markdown_escaped(fact.at("title").as_string()) && markdown_escaped(fact.at("value").as_string()));
      check(hoist::is_valid_utf8(fact.at("value").as_string()));
    }
  }
  check(boost::json::serialize(teams).size() < 28 * 1024);
  return 0;
}
