// The Teams channel: its settings (strict, the URL only as the secret,
// never repeated), its Adaptive Card (every text escaped so Markdown,
// mentions and expressions show as typed; limits held), and its sender
// against a real HTTPS Workflows imitation on loopback
// (tests/support/chat_receiver.py, which checks the card and the escaping).
#include "server/notify/teams.h"

#include <gtest/gtest.h>

#include "core/display_text.h"
#include "server/notify/kinds.h"
#include "server/notify/senders.h"
#include "support/chat_receiver.h"
#include "support/temp_dir.h"

namespace hoist::notify {
namespace {

namespace json = boost::json;

// Shaped like a Workflows URL: long, with its signature in the query.
const std::string kPath =
    "/workflows/4f8e2c1a9b7d4e6f8a0b1c2d3e4f5a6b/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SiGnAtUrE0123456789abcdefABCDEF_xyz-42";

TEST(TeamsConfig, RoundTripsAndIsStrict) {
  auto set = parse_teams_config(R"({"timeout_s":5,"ca_file":"/etc/ca.pem"})");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(teams_config_json(*set), R"({"ca_file":"/etc/ca.pem","timeout_s":5})");
  auto empty = parse_teams_config("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(teams_config_json(*empty), R"({"timeout_s":10})");
  struct Case {
    const char* json;
    const char* says;
  };
  for (const Case& c : {
           Case{R"({"url":"https://x.logic.azure.com/workflows/SiGnAtUrE"})", "its secret"},
           Case{R"({"webhook":"x"})", "no setting \"webhook\""},
           Case{R"({"timeout_s":0})", "timeout_s"},
           Case{R"({"timeout_s":"5"})", "timeout_s"},
           Case{R"({"ca_file":"ca.pem"})", "absolute path"},
           Case{"[]", "JSON object"},
       }) {
    auto r = parse_teams_config(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("SiGnAtUrE"), std::string::npos);
  }
}

TEST(TeamsSecret, AWorkflowsUrlNeverRepeated) {
  const std::string url = "https://prod-42.westeurope.logic.azure.com:443" + kPath;
  EXPECT_GT(url.size(), 200U);
  EXPECT_TRUE(check_teams_secret(url).ok());
  for (const std::string& bad :
       {"http://prod-42.westeurope.logic.azure.com:443" + kPath, std::string("https://u:SiGnAtUrE@example.com/x"),
        std::string("https://example.com/x#SiGnAtUrE"), std::string("SiGnAtUrE"),
        "https://example.com/" + std::string(3000, 'S')}) {
    auto st = check_teams_secret(bad);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_EQ(st.error().message.find("SiGnAtUrE"), std::string::npos) << st.error().message;
  }
  const auto& kind = *find_channel_kind("teams");
  EXPECT_FALSE(kind.secret_rotates);
  EXPECT_TRUE(kind.check_secret("{}", url).ok());
}

TEST(TeamsEscape, MarkdownMentionsAndExpressionsBecomeText) {
  EXPECT_EQ(teams_escape("<at>Alex</at>"), "\\<at\\>Alex\\</at\\>");
  EXPECT_EQ(teams_escape("*bold* _it_ ~x~ `c`"), "\\*bold\\* \\_it\\_ \\~x\\~ \\`c\\`");
  EXPECT_EQ(teams_escape("[x](http://e)"), "\\[x\\]\\(http://e\\)");
  EXPECT_EQ(teams_escape("${expr} {{DATE(2017-02-14T06:08:39Z, SHORT)}}"),
            "$\\{expr\\} \\{\\{DATE\\(2017-02-14T06:08:39Z, SHORT\\)\\}\\}");
  EXPECT_EQ(teams_escape("&lt; &#42; # | \\"), "\\&lt; \\&\\#42; \\# \\| \\\\");
  // What would start a list, only at the start.
  EXPECT_EQ(teams_escape("- item"), "\\- item");
  EXPECT_EQ(teams_escape("+ item"), "\\+ item");
  EXPECT_EQ(teams_escape("12. item"), "12\\. item");
  EXPECT_EQ(teams_escape("apt-get 1.2 - x"), "apt-get 1.2 - x");
  EXPECT_EQ(teams_escape("plain words, 42"), "plain words, 42");
  for (const std::string text : {"${a}", "{{DATE(x)}}", "$${a}", "a${{b}}"}) {
    const auto out = teams_escape(text);
    EXPECT_EQ(out.find("${"), std::string::npos) << out;
    EXPECT_EQ(out.find("{{"), std::string::npos) << out;
  }
}

Summary summary() {
  Summary s;
  s.title = "alice on laptop-7 asks for root <at>Alex</at>";
  s.facts = {{"User", "alice"},
             {"Justification", "<at>Alex</at> *bold* [x](http://e) ${expr} <script>", true},
             {"Command", "- rm -rf '/tmp/*'", true}};
  s.context = "request.created \xC2\xB7 audit event 42";
  s.link = "https://hoist.example/#/requests/req-1";
  return s;
}

TEST(TeamsMessage, AnAdaptiveCardWithEveryTextEscaped) {
  const auto m = teams_message(summary());
  EXPECT_EQ(m.at("type"), "message");
  const auto& att = m.at("attachments").at(0);
  EXPECT_EQ(att.at("contentType"), "application/vnd.microsoft.card.adaptive");
  EXPECT_TRUE(att.at("contentUrl").is_null());
  const auto& card = att.at("content");
  EXPECT_EQ(card.at("$schema"), "http://adaptivecards.io/schemas/adaptive-card.json");
  EXPECT_EQ(card.at("type"), "AdaptiveCard");
  EXPECT_EQ(card.at("version"), "1.4");
  const auto& body = card.at("body").as_array();
  ASSERT_EQ(body.size(), 3U);
  EXPECT_EQ(body[0].at("type"), "TextBlock");
  EXPECT_EQ(body[0].at("text").as_string(), "alice on laptop-7 asks for root \\<at\\>Alex\\</at\\>");
  EXPECT_EQ(body[1].at("type"), "FactSet");
  const auto& facts = body[1].at("facts").as_array();
  ASSERT_EQ(facts.size(), 3U);
  EXPECT_EQ(facts[0].at("title"), "User");
  EXPECT_EQ(facts[0].at("value"), "alice");
  EXPECT_EQ(facts[1].at("value").as_string(),
            "\\<at\\>Alex\\</at\\> \\*bold\\* \\[x\\]\\(http://e\\) $\\{expr\\} \\<script\\>");
  EXPECT_EQ(facts[2].at("value").as_string(), "\\- rm -rf '/tmp/\\*'");
  EXPECT_EQ(body[2].at("isSubtle"), true);
  const auto& action = card.at("actions").at(0);
  EXPECT_EQ(action.at("type"), "Action.OpenUrl");
  EXPECT_EQ(action.at("title"), "Open in Hoist");
  EXPECT_EQ(action.at("url"), "https://hoist.example/#/requests/req-1");
  auto s = summary();
  s.link.clear();
  EXPECT_FALSE(teams_message(s).at("attachments").at(0).at("content").as_object().contains("actions"));
}

TEST(TeamsMessage, LongTextIsCutOnWholeCharactersAndTheCardStaysSmall) {
  Summary s;
  std::string long_text;
  for (int i = 0; i < 2000; ++i) long_text += "*\xe2\x82\xac\xf0\x9f\x98\x80";
  s.title = long_text;
  for (int i = 0; i < 40; ++i) s.facts.push_back({long_text, long_text});
  s.context = long_text;
  const auto m = teams_message(s);
  EXPECT_LT(json::serialize(m).size(), 28U * 1024U);
  const auto& body = m.at("attachments").at(0).at("content").at("body").as_array();
  EXPECT_LE(body[1].at("facts").as_array().size(), 16U);
  for (const auto& f : body[1].at("facts").as_array()) {
    const std::string_view v = f.at("value").as_string();
    EXPECT_TRUE(is_valid_utf8(v));
    EXPECT_LE(utf16_length(v), 600U);
    EXPECT_TRUE(v.ends_with("\xe2\x80\xa6")) << v.substr(v.size() - 8);
  }
}

TEST(TeamsSender, AWorkflowGetsAValidCardAndItsRefusalsAreReported) {
  hoist::testing::TempDir dir;
  hoist::testing::ChatReceiver rx(dir.path(), "xoxb-unused");
  ASSERT_TRUE(rx.start()) << rx.error();
  store::ChannelRecord c;
  c.id = "ch-teams";
  c.kind = "teams";
  c.config = R"({"timeout_s":5,"ca_file":")" + rx.ca_file() + "\"}";
  const std::string secrets = channel_secrets_json({rx.url(kPath), {}, {}});
  auto sender = make_sender(c, secrets);
  ASSERT_TRUE(sender.ok()) << sender.error().message;

  Message m;
  m.event.seq = 7;
  m.event.action = "request.created";
  m.event.target = "req-1";
  m.event.actor = "agent:ep-1";
  m.event.hash = sha256("7");
  m.id = event_id(m.event);
  store::RequestRecord r;
  r.request.id = "req-1";
  r.request.requester = "alice";
  r.request.host = "laptop-7";
  r.request.justification = "<at>Alex</at> *bold* [x](http://e) ${expr} {{DATE(2017-02-14T06:08:39Z, SHORT)}}";
  r.command.path = "/usr/bin/apt-get";
  r.command.argv = {"apt-get", "install", "-y", "curl"};
  m.request = r;
  m.link = "https://hoist.example/#/requests/req-1";
  auto out = (*sender)->send(m, AuditTime{});
  EXPECT_EQ(out.status, 202) << out.error;
  EXPECT_EQ(out.error, "");
  EXPECT_FALSE(out.message_ref.has_value());

  rx.plan(R"([{"status":429,"retry_after":"7"},{"status":400,"body":"bad card"}])");
  out = (*sender)->send(m, AuditTime{});
  EXPECT_EQ(out.status, 429);
  EXPECT_EQ(out.retry_after, "7");
  out = (*sender)->send(m, AuditTime{});
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(out.error, "HTTP 400: bad card");

  const auto got = rx.received();
  ASSERT_EQ(got.size(), 3U);
  EXPECT_TRUE(got[0].problems.empty()) << got[0].problems.front();
  EXPECT_EQ(got[0].path, kPath);
  EXPECT_EQ(got[0].content_type, "application/json");
  const auto& card = got[0].json.at("attachments").at(0).at("content");
  EXPECT_NE(json::serialize(card).find(R"(\\<at\\>Alex\\</at\\>)"), std::string::npos) << json::serialize(card);
  // The secret URL shows nowhere but in the request line.
  EXPECT_EQ(got[0].body.find("SiGnAtUrE"), std::string::npos);
}

}  // namespace
}  // namespace hoist::notify
