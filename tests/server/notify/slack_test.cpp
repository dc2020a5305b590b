// The Slack channel: its settings (strict, never repeating a secret), its
// Block Kit message (typed text only in plain_text, the mrkdwn fallback
// escaped, every limit held), and its sender against a real HTTPS Slack
// imitation on loopback (tests/support/chat_receiver.py, which checks each
// message strictly): an incoming webhook, and a bot that posts a request's
// first event and edits that message for the later ones, through the
// outbox over a real store.
#include "server/notify/slack.h"
#include "server/notify/ca_file.h"

#include <gtest/gtest.h>

#include <atomic>

#include "core/display_text.h"
#include "server/notify/kinds.h"
#include "server/notify/outbox_sender.h"
#include "server/notify/senders.h"
#include "store/sqlite_store.h"
#include "support/chat_receiver.h"
#include "support/temp_dir.h"

namespace hoist::notify {
namespace {

namespace json = boost::json;
using outbox::DeliveryState;
using std::chrono::milliseconds;

const std::string kToken = "xoxb-1234-5678-AbCdEfGhIjKl";
const std::string kHostile = "<!channel> <@U123> @here <script>alert(1)</script> *bold* [x](http://e) ${expr} &amp;";

// --- settings ------------------------------------------------------------

TEST(SlackConfig, RoundTripsPerModeAndIsStrict) {
  auto web = parse_slack_config(R"({"mode":"webhook","timeout_s":5,"ca_file":"/etc/ca.pem"})");
  ASSERT_TRUE(web.ok()) << web.error().message;
  EXPECT_EQ(web->mode, SlackMode::kWebhook);
  EXPECT_EQ(slack_config_json(*web), R"({"mode":"webhook","ca_file":"/etc/ca.pem","timeout_s":5})");
  auto bot = parse_slack_config(R"({"mode":"bot","channel":"C0123ABC"})");
  ASSERT_TRUE(bot.ok()) << bot.error().message;
  EXPECT_EQ(bot->api_url, kSlackDefaultApiUrl);
  EXPECT_EQ(slack_config_json(*bot),
            R"({"mode":"bot","channel":"C0123ABC","api_url":"https://slack.com/api","timeout_s":10})");
  auto again = parse_slack_config(slack_config_json(*bot));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(slack_config_json(*again), slack_config_json(*bot));

  struct Case {
    const char* json;
    const char* says;
  };
  for (const Case& c : {
           Case{R"({})", "needs mode"},
           Case{R"({"mode":"rtm"})", "mode must be"},
           Case{R"({"mode":"webhook","colour":"red"})", "no setting \"colour\""},
           Case{R"({"mode":"webhook","channel":"C0123ABC"})", "channel is for mode bot"},
           Case{R"({"mode":"webhook","api_url":"https://slack.com/api"})", "api_url is for mode bot"},
           Case{R"({"mode":"bot"})", "needs channel"},
           Case{R"({"mode":"bot","channel":"#general"})", "channel ID"},
           Case{R"({"mode":"bot","channel":"c0123abc"})", "channel ID"},
           Case{R"({"mode":"bot","channel":"C0123ABC","api_url":"http://slack.com/api"})", "only https"},
           Case{R"({"mode":"bot","channel":"C0123ABC","api_url":"https://slack.com/api?x=1"})", "query"},
           Case{R"({"mode":"bot","channel":"C0123ABC","timeout_s":0})", "timeout_s"},
           Case{R"({"mode":"bot","channel":"C0123ABC","timeout_s":61})", "timeout_s"},
           Case{R"({"mode":"bot","channel":"C0123ABC","ca_file":"rel.pem"})", "absolute path"},
           Case{R"({"mode":"bot","channel":"C0123ABC","token":"xoxb-1"})", "no setting \"token\""},
           Case{"[]", "JSON object"},
           Case{"not json", "JSON object"},
       }) {
    auto r = parse_slack_config(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << c.json << ": " << r.error().message;
  }
}

TEST(SlackSecret, TheSecretThatFitsTheModeAndNeverInAnError) {
  const SlackConfig web{SlackMode::kWebhook, "", "", std::nullopt, std::chrono::seconds{10}};
  const SlackConfig bot{SlackMode::kBot, "C0123ABC", std::string(kSlackDefaultApiUrl), std::nullopt,
                        std::chrono::seconds{10}};
  const std::string hook = "https://hooks.slack.com/services/T000/B000/Zq9sEcReTzQ9sEcReT";
  EXPECT_TRUE(check_slack_secret(web, hook).ok());
  EXPECT_TRUE(check_slack_secret(bot, kToken).ok());
  struct Case {
    const SlackConfig& config;
    std::string secret;
    const char* says;
  };
  for (const Case& c : {
           Case{web, "http://hooks.slack.com/services/T000/B000/Zq9sEcReTzQ9sEcReT", "only https"},
           Case{web, "https://u:Zq9sEcReT@hooks.slack.com/x", "user name or password"},
           Case{web, kToken, "not a token"},
           Case{bot, hook, "not a URL"},
           Case{bot, "xoxp-Zq9sEcReT-user-token", "not a bot token"},
           Case{bot, "xoxb-Zq9sEcReT with space", "xoxb- then letters"},
           Case{bot, "xoxb-Zq9sEcReT\n", "xoxb- then letters"},
           Case{bot, "xoxb-", "xoxb- then letters"},
           Case{bot, "xoxb-" + std::string(kMaxSlackTokenBytes, 'Z'), "xoxb- then letters"},
           Case{bot, "Zq9sEcReT", "xoxb- then letters"},
       }) {
    auto st = check_slack_secret(c.config, c.secret);
    ASSERT_FALSE(st.ok()) << c.secret;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(st.error().message.find(c.says), std::string::npos) << st.error().message;
    EXPECT_EQ(st.error().message.find("Zq9sEcReT"), std::string::npos) << st.error().message;
  }
  // Through the kinds' table, as the API checks it.
  const auto& kind = *find_channel_kind("slack");
  auto config = kind.check_config(R"({"mode":"bot","channel":"C0123ABC"})");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(kind.check_secret(*config, kToken).ok());
  auto wrong = kind.check_secret(*config, hook);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message.find("Zq9sEcReT"), std::string::npos);
}

TEST(SlackRef, RoundTripAndStrictRead) {
  const SlackMessageRef ref{"C0123ABC", "1712345678.000100"};
  auto back = parse_slack_ref(slack_ref_json(ref));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->channel, "C0123ABC");
  EXPECT_EQ(back->ts, "1712345678.000100");
  for (const char* bad :
       {"", "{}", "[]", R"({"channel":"C1"})", R"({"channel":"#x","ts":"1.2"})", R"({"channel":"C1","ts":"12"})",
        R"({"channel":"C1","ts":"1.2x"})", R"({"channel":"C1","ts":"1.2","x":1})", R"({"channel":1,"ts":"1.2"})"}) {
    EXPECT_FALSE(parse_slack_ref(bad).has_value()) << bad;
  }
}

TEST(SlackAnswer, OkOrAnErrorAndTheErrorsThatLast) {
  auto ok = parse_slack_answer(R"({"ok":true,"channel":"C0123ABC","ts":"1.000200","message":{}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->ok);
  EXPECT_EQ(ok->channel, "C0123ABC");
  EXPECT_EQ(ok->ts, "1.000200");
  auto refused = parse_slack_answer(R"({"ok":false,"error":"channel_not_found"})");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->ok);
  EXPECT_EQ(refused->error, "channel_not_found");
  // Odd values are cleaned or dropped, never passed on.
  auto odd = parse_slack_answer(R"({"ok":false,"error":"bad\nthing )" + std::string(300, 'x') +
                                R"(","channel":"<!here>","ts":"x"})");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->error.size(), 100U);
  EXPECT_EQ(odd->error.find('\n'), std::string::npos);
  EXPECT_EQ(odd->channel, "");
  EXPECT_EQ(odd->ts, "");
  EXPECT_EQ(parse_slack_answer(R"({"ok":false})")->error, "unknown_error");
  for (const char* bad : {"ok", "", "[]", R"({"ok":"true"})", R"({"error":"x"})"}) {
    EXPECT_FALSE(parse_slack_answer(bad).ok()) << bad;
  }
  for (const char* e : {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "missing_scope",
                        "channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long"}) {
    EXPECT_TRUE(slack_error_is_permanent(e)) << e;
  }
  for (const char* e : {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
                        "an_error_slack_adds_later"}) {
    EXPECT_FALSE(slack_error_is_permanent(e)) << e;
  }
  EXPECT_TRUE(slack_message_is_gone("message_not_found"));
  EXPECT_TRUE(slack_message_is_gone("cant_update_message"));
  EXPECT_FALSE(slack_message_is_gone("channel_not_found"));
}

// --- the message -----------------------------------------------------------

// Every text object in the blocks, with where it is.
void text_objects(const json::value& v, const std::string& where,
                  std::vector<std::pair<std::string, json::object>>& out) {
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.contains("type") && (o.at("type") == "plain_text" || o.at("type") == "mrkdwn")) {
      out.emplace_back(where, o);
      return;
    }
    for (const auto& [k, child] : o) text_objects(child, where + "." + std::string(k), out);
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.as_array().size(); ++i) {
      text_objects(v.as_array()[i], where + "[" + std::to_string(i) + "]", out);
    }
  }
}

Summary hostile_summary() {
  Summary s;
  s.title = "alice on laptop-7 asks for root " + kHostile;
  s.facts = {{"User", "alice"}, {"Justification", kHostile, true}, {"Command", "echo " + kHostile, true}};
  s.context = "request.created " + kHostile;
  s.link = "https://hoist.example/#/requests/req-1";
  return s;
}

TEST(SlackMessage, TypedTextIsOnlyInPlainTextAndTheFallbackIsEscaped) {
  const auto m = slack_message(hostile_summary());
  const std::string text(m.at("text").as_string());
  EXPECT_EQ(text,
            "alice on laptop-7 asks for root &lt;!channel&gt; &lt;@U123&gt; @here &lt;script&gt;alert(1)&lt;/"
            "script&gt; *bold* [x](http://e) ${expr} &amp;amp;");
  EXPECT_FALSE(m.contains("link_names"));
  EXPECT_FALSE(m.contains("parse"));
  std::vector<std::pair<std::string, json::object>> texts;
  text_objects(m.at("blocks"), "blocks", texts);
  ASSERT_GE(texts.size(), 6U);
  for (const auto& [where, t] : texts) {
    EXPECT_EQ(t.at("type"), "plain_text") << where;
    EXPECT_EQ(t.at("emoji"), false) << where;
  }
  const auto& blocks = m.at("blocks").as_array();
  EXPECT_EQ(blocks.front().at("type"), "header");
  EXPECT_EQ(blocks.front().at("text").at("text").as_string(), "alice on laptop-7 asks for root " + kHostile);
  // Facts in order: the short ones as fields, the long ones as sections.
  EXPECT_EQ(blocks.at(1).at("fields").at(0).at("text"), "User\nalice");
  EXPECT_EQ(blocks.at(2).at("text").at("text").as_string(), "Justification\n" + kHostile);
  EXPECT_EQ(blocks.at(4).at("type"), "context");
  const auto& button = blocks.back().at("elements").at(0);
  EXPECT_EQ(blocks.back().at("type"), "actions");
  EXPECT_EQ(button.at("type"), "button");
  EXPECT_EQ(button.at("text").at("text"), "Open in Hoist");
  EXPECT_EQ(button.at("url"), "https://hoist.example/#/requests/req-1");
  // Without a link, no button.
  auto s = hostile_summary();
  s.link.clear();
  EXPECT_NE(slack_message(s).at("blocks").as_array().back().at("type"), "actions");
}

TEST(SlackMessage, BlockKitLimitsHoldAndLongTextIsCutOnWholeCharacters) {
  Summary s;
  const std::string euro = "\xe2\x82\xac";
  const std::string emoji = "\xf0\x9f\x98\x80";
  std::string long_text;
  for (int i = 0; i < 3000; ++i) long_text += "a" + euro + emoji;  // 12000 units
  s.title = long_text;
  for (int i = 0; i < 30; ++i) s.facts.push_back({"Short " + std::to_string(i), long_text});
  for (int i = 0; i < 60; ++i) s.facts.push_back({"Wide " + std::to_string(i), long_text, true});
  s.context = long_text;
  s.link = "https://hoist.example/#/requests/" + std::string(3100, 'r');  // too long for a button
  const auto m = slack_message(s);
  const auto& blocks = m.at("blocks").as_array();
  EXPECT_LE(blocks.size(), 50U);
  EXPECT_EQ(blocks.back().at("type"), "context");  // kept; the button dropped
  EXPECT_LE(utf16_length(blocks.front().at("text").at("text").as_string()), 150U);
  std::size_t fields = 0;
  for (const auto& b : blocks) {
    if (!b.as_object().contains("fields")) continue;
    EXPECT_LE(b.at("fields").as_array().size(), 10U);
    for (const auto& f : b.at("fields").as_array()) {
      ++fields;
      EXPECT_LE(utf16_length(f.at("text").as_string()), 2000U);
    }
  }
  EXPECT_EQ(fields, 30U);
  std::vector<std::pair<std::string, json::object>> texts;
  text_objects(m.at("blocks"), "blocks", texts);
  for (const auto& [where, t] : texts) {
    const std::string_view text = t.at("text").as_string();
    EXPECT_TRUE(is_valid_utf8(text)) << where;
    EXPECT_LE(utf16_length(text), 3000U) << where;
    EXPECT_FALSE(text.empty()) << where;
  }
  // The header: cut before a character that does not fit, then "...".
  const std::string header(blocks.front().at("text").at("text").as_string());
  EXPECT_TRUE(header.ends_with("\xe2\x80\xa6")) << header;
}

// --- the sender ------------------------------------------------------------

class SlackSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(rx_.start()) << rx_.error();
    auto s = store::open_sqlite_store(dir_.path() + "/hoist.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    OutboxOptions options;
    options.schedule.jitter = 0;
    options.schedule.delays = {milliseconds{0}, milliseconds{1000}};
    options.public_url = "https://hoist.example";
    outbox_ = std::make_unique<OutboxSender>(
        *store_, *log_, make_sender,
        [this](const store::ChannelRecord&) -> Result<std::string> {
          return channel_secrets_json({secret_, std::nullopt, std::nullopt});
        },
        [this] { return AuditTime{milliseconds{now_ms_.load()}}; }, options);
  }

  void add_channel(const std::string& config, const std::string& secret) {
    secret_ = secret;
    store::ChannelRecord c;
    c.id = "ch-slack";
    c.kind = "slack";
    c.name = "approvers";
    auto canonical = find_channel_kind("slack")->check_config(config);
    ASSERT_TRUE(canonical.ok()) << canonical.error().message;
    c.config = *canonical;
    c.secrets = "sealed";
    c.events = {"*"};
    auto st = store_->write([&](store::StoreTx& tx) -> Status {
      auto r = tx.insert_channel(c);
      return r ? Status{} : Status{r.error()};
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  std::string bot_config() const {
    return R"({"mode":"bot","channel":"C0123ABC","timeout_s":5,"api_url":")" + rx_.url("/api") + R"(","ca_file":")" +
           rx_.ca_file() + "\"}";
  }

  void add_request(const std::string& id, RequestState state = RequestState::kPending) {
    store::RequestRecord r;
    r.request.id = id;
    r.request.requester = "alice";
    r.request.host = "laptop-7 <!here> & co";  // agents name their host: in the title, so in the fallback
    r.request.justification = kHostile;
    r.request.requested_duration = Seconds{1800};
    r.request.state = state;
    r.request.created_at = TimePoint{Seconds{1'800'000'000}};
    r.request.pending_deadline = TimePoint{Seconds{1'800'003'600}};
    r.command.path = "/usr/bin/apt-get";
    r.command.argv = {"apt-get", "install", "curl", "<!channel>"};
    auto st = store_->write([&](store::StoreTx& tx) -> Status {
      auto existing = tx.get_request(id);
      if (!existing) return existing.error();
      if (*existing) {
        r.version = (*existing)->version;
        auto u = tx.update_request(r);
        return u ? Status{} : Status{u.error()};
      }
      auto i = tx.insert_request(r);
      return i ? Status{} : Status{i.error()};
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  void audit(const std::string& action, const std::string& target) {
    auto st = store_->write([&](store::StoreTx& tx) -> Status {
      store::AuditDraft d;
      d.time = AuditTime{milliseconds{now_ms_.load()}};
      d.actor = "bob";
      d.action = action;
      d.target = target;
      auto e = tx.append_audit(d);
      return e ? Status{} : Status{e.error()};
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  std::vector<store::DeliveryRecord> deliveries() {
    auto rows = store_->deliveries(store::DeliveryFilter{"ch-slack", std::nullopt, 0, 100});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<store::DeliveryRecord>{};
  }
  std::optional<SlackMessageRef> stored_ref(const std::string& request) {
    auto r = store_->message_ref("ch-slack", request);
    EXPECT_TRUE(r.ok());
    if (!r.ok() || !*r) return std::nullopt;
    return parse_slack_ref((*r)->ref);
  }
  // The receiver found nothing wrong with any message.
  void expect_all_valid() {
    for (const auto& r : rx_.received()) {
      EXPECT_TRUE(r.problems.empty()) << r.path << ": " << (r.problems.empty() ? "" : r.problems.front());
    }
  }

  hoist::testing::TempDir dir_;
  hoist::testing::ChatReceiver rx_{dir_.path(), kToken};
  std::string secret_;
  std::unique_ptr<log::Logger> log_ = log::make_null_logger();
  std::unique_ptr<store::Store> store_;
  std::atomic<std::int64_t> now_ms_{1'800'000'000'000};
  std::unique_ptr<OutboxSender> outbox_;
};

TEST_F(SlackSenderTest, AnIncomingWebhookGetsValidBlockKitWithTypedTextAsText) {
  add_channel(R"({"mode":"webhook","timeout_s":5,"ca_file":")" + rx_.ca_file() + "\"}",
              rx_.url("/services/T000/B000/XXXXsecret"));
  add_request("req-1");
  audit("request.created", "req-1");
  audit("request.approved", "req-1");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 2U);
  for (const auto& d : deliveries()) {
    EXPECT_EQ(d.state, DeliveryState::kDelivered) << d.last_error;
    EXPECT_EQ(d.last_status, 200);
  }
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 2U);  // a webhook cannot edit: one message per event
  expect_all_valid();
  EXPECT_EQ(got[0].path, "/services/T000/B000/XXXXsecret");
  EXPECT_EQ(got[0].auth, "");
  // Typed text arrives as typed, in plain_text only; nothing in mrkdwn can ping.
  const std::string body = got[0].body;
  EXPECT_NE(body.find("Justification\\n<!channel> <@U123> @here <script>"), std::string::npos) << body;
  EXPECT_EQ(got[0].json.at("text"), "alice on laptop-7 &lt;!here&gt; &amp; co asks for root");
  EXPECT_FALSE(stored_ref("req-1").has_value());
  // The link button leads to the console's page for the request.
  EXPECT_NE(body.find("https://hoist.example/#/requests/req-1"), std::string::npos);
}

TEST_F(SlackSenderTest, ABotPostsTheFirstEventAndEditsThatMessageForTheNext) {
  add_channel(bot_config(), kToken);
  add_request("req-1");
  audit("request.created", "req-1");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  add_request("req-1", RequestState::kDenied);
  audit("request.denied", "req-1");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  for (const auto& d : deliveries()) EXPECT_EQ(d.state, DeliveryState::kDelivered) << d.last_error;

  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 2U);
  expect_all_valid();
  EXPECT_EQ(got[0].path, "/api/chat.postMessage");
  EXPECT_EQ(got[0].auth, "Bearer " + kToken);
  EXPECT_EQ(got[0].content_type, "application/json; charset=utf-8");
  EXPECT_EQ(got[0].json.at("channel"), "C0123ABC");
  EXPECT_EQ(got[1].path, "/api/chat.update");
  EXPECT_EQ(got[1].json.at("channel"), got[0].answer.at("channel"));
  EXPECT_EQ(got[1].json.at("ts"), got[0].answer.at("ts"));
  EXPECT_EQ(got[1].answer.at("ok"), true);
  EXPECT_NE(got[1].body.find("Denied: root for alice on laptop-7 <!here> & co"), std::string::npos);
  auto ref = stored_ref("req-1");
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->ts, std::string(got[0].answer.at("ts").as_string()));

  // Another request: a message of its own.
  add_request("req-2");
  audit("request.created", "req-2");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  const auto third = rx_.received().at(2);
  EXPECT_EQ(third.path, "/api/chat.postMessage");
  EXPECT_NE(third.answer.at("ts"), got[0].answer.at("ts"));

  // The message was deleted in Slack (here: the receiver forgot it): the
  // edit is refused, and the event is posted anew, its ref kept.
  rx_.stop();
  ASSERT_TRUE(rx_.start(rx_.port())) << rx_.error();
  audit("grant.revoked", "req-1");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  const auto all = rx_.received();
  ASSERT_EQ(all.size(), 5U);
  EXPECT_EQ(all[3].path, "/api/chat.update");
  EXPECT_EQ(all[3].answer.at("error"), "message_not_found");
  EXPECT_EQ(all[4].path, "/api/chat.postMessage");
  EXPECT_EQ(deliveries().back().state, DeliveryState::kDelivered);
  EXPECT_EQ(stored_ref("req-1")->ts, std::string(all[4].answer.at("ts").as_string()));

  // Created and approved before the outbox ran: one run posts, then edits
  // that same message.
  add_request("req-3", RequestState::kApproved);
  audit("request.created", "req-3");
  audit("request.approved", "req-3");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 2U);
  const auto run = rx_.received();
  ASSERT_EQ(run.size(), 7U);
  EXPECT_EQ(run[5].path, "/api/chat.postMessage");
  EXPECT_EQ(run[6].path, "/api/chat.update");
  EXPECT_EQ(run[6].json.at("ts"), run[5].answer.at("ts"));
  EXPECT_EQ(run[6].answer.at("ok"), true);
  expect_all_valid();
}

TEST_F(SlackSenderTest, APermanentOkFalseDeadLettersAndTheNextEventPostsAnew) {
  add_channel(bot_config(), kToken);
  add_request("req-1");
  rx_.plan(R"([{"slack_error":"channel_not_found"}])");
  audit("request.created", "req-1");
  audit("request.approved", "req-1");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 2U);
  const auto rows = deliveries();
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].state, DeliveryState::kDead);
  EXPECT_EQ(rows[0].attempts, 1);
  EXPECT_EQ(rows[0].last_status, 400);
  EXPECT_NE(rows[0].last_error.find("channel_not_found"), std::string::npos) << rows[0].last_error;
  EXPECT_EQ(rows[0].last_error.find(kToken), std::string::npos);
  // Nothing was posted for the request: its next event is a new message.
  EXPECT_EQ(rows[1].state, DeliveryState::kDelivered);
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[1].path, "/api/chat.postMessage");
  EXPECT_TRUE(stored_ref("req-1").has_value());
}

TEST_F(SlackSenderTest, AWrongTokenIsDeadAtOnceAndNeverShown) {
  add_channel(bot_config(), "xoxb-wrong-token-0000");
  audit("request.created", "req-1");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  const auto rows = deliveries();
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].state, DeliveryState::kDead);
  EXPECT_NE(rows[0].last_error.find("invalid_auth"), std::string::npos) << rows[0].last_error;
  EXPECT_EQ(rows[0].last_error.find("wrong-token"), std::string::npos);
}

TEST_F(SlackSenderTest, RateLimitsAndPassingErrorsAreTriedAgain) {
  add_channel(bot_config(), kToken);
  add_request("req-1");
  rx_.plan(R"([{"status":429,"retry_after":"3"},{"slack_error":"internal_error"}])");
  audit("request.created", "req-1");
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  auto rows = deliveries();
  ASSERT_EQ(rows.size(), 1U);
  EXPECT_EQ(rows[0].state, DeliveryState::kPending);
  EXPECT_EQ(rows[0].last_status, 429);
  // Retry-After: 3 s, not the schedule's 1 s.
  EXPECT_EQ(rows[0].next_attempt_at, AuditTime{milliseconds{now_ms_.load() + 3000}});
  now_ms_ += 3000;
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  rows = deliveries();
  EXPECT_EQ(rows[0].state, DeliveryState::kPending);
  EXPECT_EQ(rows[0].last_status, 503);
  EXPECT_NE(rows[0].last_error.find("internal_error"), std::string::npos);
  now_ms_ += 1000;
  EXPECT_EQ(outbox_->run_channel("ch-slack"), 1U);
  rows = deliveries();
  EXPECT_EQ(rows[0].state, DeliveryState::kDelivered) << rows[0].last_error;
  EXPECT_EQ(rows[0].attempts, 3);
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 3U);
  for (const auto& r : got) EXPECT_EQ(r.path, "/api/chat.postMessage");
  EXPECT_TRUE(stored_ref("req-1").has_value());
}

TEST_F(SlackSenderTest, BadSettingsAreRefusedWhenTheSenderIsMade) {
  store::ChannelRecord c;
  c.id = "ch-x";
  c.kind = "slack";
  c.config = R"({"mode":"bot","channel":"C0123ABC","api_url":"https://127.0.0.1:1/api","timeout_s":5})";
  // A webhook URL where the bot mode wants a token: refused, never shown.
  auto r = make_slack_sender(c, channel_secrets_json({"https://hooks.example/services/SECRETPATH", {}, {}}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message.find("SECRETPATH"), std::string::npos);
  c.config = R"({"mode":"bot","channel":"C0123ABC","ca_file":"/no/such/ca.pem","timeout_s":5})";
  EXPECT_EQ(make_slack_sender(c, channel_secrets_json({kToken, {}, {}})).error().message, kUnusableCaFile);
  EXPECT_EQ(make_sender(c, "{}").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace hoist::notify
