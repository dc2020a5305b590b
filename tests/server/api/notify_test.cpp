// The notification routes in process: channels created, changed, rotated,
// tested and deleted by an admin, with every change audited; bad input
// refused with a message that names the problem and never the secret.
#include "api_test_support.h"
#include "server/notify/kinds.h"
#include "server/notify/message.h"
#include "server/siem/siem_format.h"

namespace hoist::api::testing {
namespace {

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

json::object channel_body() {
  return json::object{{"kind", "webhook"},
                      {"name", "approvers"},
                      {"events", json::array{"request.*"}},
                      {"config", json::object{{"url", "https://hooks.example/in"}}},
                      {"secret", kSecret}};
}

class NotifyApi : public ApiTest {};

TEST_F(NotifyApi, BadChannelsAreRefusedSayingWhy) {
  struct Case {
    const char* field;
    json::value value;
    const char* says;
  };
  const Case cases[] = {
      {"kind", "pagerduty", "unknown channel kind"},
      {"filters", json::object{{"labels", json::array{"Bad Label"}}}, "filters.labels"},
      {"filters", json::object{{"rules", json::array{""}}}, "filters.rules"},
      {"filters", json::object{{"hosts", json::array{"h1"}}}, "hosts"},
      {"name", "", "1 to 100 characters"},
      {"events", json::array{}, "events is missing"},
      {"events", json::array{"request.create"}, "is not an audit kind"},
      {"events", json::array{"nothing.*"}, "names no audit kind"},
      {"events", json::array{"Request.*"}, "characters"},
      {"config", json::object{{"url", "http://hooks.example/in"}}, "only https"},
      {"config", json::object{{"url", "https://u:p@hooks.example/in"}}, "user name or password"},
      {"config", json::object{{"url", "https://hooks.example/in"}, {"timeout_s", 0}}, "timeout_s"},
      {"config", json::object{{"url", "https://hooks.example/in"}, {"ca_file", "relative.pem"}}, "absolute path"},
      {"config", json::object{{"url", "https://hooks.example/in"}, {"proxy", "x"}}, "proxy"},
      {"secret", "whsec_c2hvcnQtc2VjcmV0LXRleHQ=", "whsec_"},
      {"secret", "plain-password-1234567890", "whsec_"},
      {"enabled", "yes", "enabled"},
  };
  for (const auto& c : cases) {
    auto body = channel_body();
    body[c.field] = c.value;
    const auto r = call_json("POST", "/api/v1/notify/channels", body, as(store::Role::kAdmin));
    SCOPED_TRACE(c.field);
    EXPECT_EQ(r.status, 400) << json::serialize(r.body);
    EXPECT_NE(r.str("/error/message").find(c.says), std::string::npos) << r.str("/error/message");
    EXPECT_EQ(r.str("/error/message").find("c2hvcnQtc2VjcmV0"), std::string::npos);
    EXPECT_EQ(r.str("/error/message").find("plain-password"), std::string::npos);
  }
  auto missing = channel_body();
  missing.erase("secret");
  EXPECT_EQ(call_json("POST", "/api/v1/notify/channels", missing, as(store::Role::kAdmin)).status, 400);
  EXPECT_TRUE(call("GET", "/api/v1/notify/channels", "", as(store::Role::kAdmin)).array("/channels").empty());
}

TEST_F(NotifyApi, FiltersNarrowRoutingAndAChangeToThemIsAudited) {
  const auto admin = as(store::Role::kAdmin);
  auto body = channel_body();
  body["filters"] = json::object{{"labels", json::array{"paris", "prod"}}, {"rules", json::array{"docker run"}}};
  const auto created = call_json("POST", "/api/v1/notify/channels", body, admin);
  ASSERT_EQ(created.status, 201) << json::serialize(created.body);
  EXPECT_EQ(created.array("/filters/labels").size(), 2U);
  EXPECT_EQ(created.str("/filters/rules/0"), "docker run");
  const std::string id = created.str("/id");
  // A change without filters keeps them; with them, replaces both lists.
  auto kept = call_json("PATCH", "/api/v1/notify/channels/" + id, json::object{{"name", "renamed"}}, admin);
  ASSERT_EQ(kept.status, 200) << json::serialize(kept.body);
  EXPECT_EQ(kept.array("/filters/labels").size(), 2U);
  auto cleared = call_json("PATCH", "/api/v1/notify/channels/" + id,
                           json::object{{"filters", json::object{{"rules", json::array{"apt"}}}}}, admin);
  ASSERT_EQ(cleared.status, 200) << json::serialize(cleared.body);
  EXPECT_TRUE(cleared.array("/filters/labels").empty());
  EXPECT_EQ(cleared.str("/filters/rules/0"), "apt");
  const auto trail = audit_for(id);
  ASSERT_EQ(trail.size(), 3U);
  const std::string last = json::serialize(trail.back());
  EXPECT_NE(last.find(R"("filters":{"labels":[],"rules":["apt"]})"), std::string::npos) << last;
}

TEST_F(NotifyApi, AChannelsLifeIsAuditedAndItsSecretNeverShown) {
  const auto admin = as(store::Role::kAdmin);
  const auto created = call_json("POST", "/api/v1/notify/channels", channel_body(), admin);
  ASSERT_EQ(created.status, 201) << json::serialize(created.body);
  const std::string id = created.str("/id");
  EXPECT_TRUE(id.starts_with("ch-"));
  EXPECT_EQ(created.str("/config/url"), "https://hooks.example/in");
  EXPECT_EQ(created.num("/config/timeout_s"), 10);
  EXPECT_EQ(created.num("/version"), 1);
  // The same name twice is a conflict.
  EXPECT_EQ(call_json("POST", "/api/v1/notify/channels", channel_body(), admin).status, 409);

  const auto changed = call_json(
      "PATCH", "/api/v1/notify/channels/" + id,
      json::object{
          {"enabled", false}, {"events", json::array{"*"}}, {"config", json::object{{"timeout_s", 3}}}, {"version", 1}},
      admin);
  ASSERT_EQ(changed.status, 200) << json::serialize(changed.body);
  EXPECT_EQ(changed.num("/config/timeout_s"), 3);
  EXPECT_EQ(changed.str("/config/url"), "https://hooks.example/in");
  // A stale version is refused.
  EXPECT_EQ(
      call_json("PATCH", "/api/v1/notify/channels/" + id, json::object{{"name", "x"}, {"version", 1}}, admin).status,
      409);
  // Disabled: no test message.
  EXPECT_EQ(call("POST", "/api/v1/notify/channels/" + id + "/test", "", admin).status, 409);
  const auto rotated = call_json(
      "PATCH", "/api/v1/notify/channels/" + id,
      json::object{
          {"enabled", true}, {"secret", "whsec_" + std::string(43, 'A') + "="}, {"previous_secret_valid_for_s", 3600}},
      admin);
  ASSERT_EQ(rotated.status, 200) << json::serialize(rotated.body);
  EXPECT_NE(rotated.str("/secret/previous_valid_until"), "<missing>");
  const auto tested = call("POST", "/api/v1/notify/channels/" + id + "/test", "", admin);
  ASSERT_EQ(tested.status, 202) << json::serialize(tested.body);
  EXPECT_EQ(tested.str("/state"), "pending");
  EXPECT_EQ(tested.str("/event/kind"), "notify.channel_tested");
  const auto delivery = std::to_string(tested.num("/id"));
  EXPECT_EQ(call("GET", "/api/v1/notify/deliveries/" + delivery, "", admin).str("/state"), "pending");
  // Only a dead letter is re-driven.
  EXPECT_EQ(call("POST", "/api/v1/notify/deliveries/" + delivery + "/redrive", "", admin).status, 409);
  EXPECT_EQ(call("POST", "/api/v1/notify/deliveries/x1/redrive", "", admin).status, 400);
  EXPECT_EQ(call("GET", "/api/v1/notify/deliveries?state=lost", "", admin).status, 400);
  const auto removed = call("DELETE", "/api/v1/notify/channels/" + id, "", admin);
  ASSERT_EQ(removed.status, 200);
  // The channel takes "*": the rotation's own event and the test message.
  EXPECT_EQ(removed.num("/pending_dropped"), 2);
  EXPECT_EQ(call("GET", "/api/v1/notify/channels/" + id, "", admin).status, 404);

  const auto trail = audit_for(id);
  std::vector<std::string> kinds;
  for (const auto& e : trail) kinds.emplace_back(e.at("action").as_string());
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"notify.channel_created", "notify.channel_updated", "notify.channel_updated",
                                      "notify.channel_tested", "notify.channel_deleted"}));
  const std::string all = json::serialize(trail) + json::serialize(created.body) + json::serialize(rotated.body);
  EXPECT_EQ(all.find("MfKQ9r8G"), std::string::npos);
  EXPECT_EQ(all.find(std::string(43, 'A')), std::string::npos);
  EXPECT_NE(all.find("\"secret_rotated\":true"), std::string::npos);
}

// A token in a webhook URL's query (some services take one there) is
// the admin's to see, not the auditors', the SIEMs' or a notify.*
// channel's: the audit trail keeps where the URL goes (scheme, host,
// port), never its path, query or user part.
TEST_F(NotifyApi, TheAuditTrailKeepsAChannelURLsHostNeverItsPathQueryOrUser) {
  const auto admin = as(store::Role::kAdmin);
  auto body = channel_body();
  body["config"] = json::object{{"url", "https://hooks.example:8443/in?token=SECRET-ONE"}};
  const auto created = call_json("POST", "/api/v1/notify/channels", body, admin);
  ASSERT_EQ(created.status, 201) << json::serialize(created.body);
  const std::string id = created.str("/id");
  // Admins see it whole, in answers and listings.
  EXPECT_EQ(created.str("/config/url"), "https://hooks.example:8443/in?token=SECRET-ONE");
  EXPECT_EQ(call("GET", "/api/v1/notify/channels/" + id, "", admin).str("/config/url"),
            "https://hooks.example:8443/in?token=SECRET-ONE");
  const auto moved = call_json(
      "PATCH", "/api/v1/notify/channels/" + id,
      json::object{{"config", json::object{{"url", "https://hooks.example/catch/SECRET-FOUR?sig=SECRET-TWO&v=1"}}}},
      admin);
  ASSERT_EQ(moved.status, 200) << json::serialize(moved.body);
  EXPECT_EQ(moved.str("/config/url"), "https://hooks.example/catch/SECRET-FOUR?sig=SECRET-TWO&v=1");
  // A user and password in a URL are refused, not echoed, not audited.
  const auto userinfo = call_json(
      "PATCH", "/api/v1/notify/channels/" + id,
      json::object{{"config", json::object{{"url", "https://user:pw-SECRET-THREE@hooks.example/in"}}}}, admin);
  EXPECT_EQ(userinfo.status, 400) << json::serialize(userinfo.body);
  EXPECT_EQ(json::serialize(userinfo.body).find("SECRET-THREE"), std::string::npos);

  // What an auditor reads: the API, the CSV export.
  const auto auditor = as(store::Role::kAuditor);
  const auto trail = call("GET", "/api/v1/audit?target=" + id, "", auditor);
  ASSERT_EQ(trail.status, 200);
  ASSERT_EQ(trail.array("/events").size(), 2U) << json::serialize(trail.body);
  EXPECT_EQ(trail.str("/events/0/details/config/url"), "https://hooks.example:8443/[redacted]?[redacted]");
  EXPECT_EQ(trail.str("/events/1/details/config/url"), "https://hooks.example/[redacted]?[redacted]");
  std::vector<std::string> texts = {json::serialize(trail.body),
                                    call("GET", "/api/v1/audit/export.csv", "", auditor).raw.body};
  // What SIEMs and notify.* channels get: the stored event, formatted.
  store::AuditFilter filter;
  filter.target = id;
  auto stored = store_->audit_events(filter);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 2U);
  for (const auto& e : *stored) {
    texts.push_back(e.details);
    texts.push_back(siem::to_ecs_json(e));
    texts.push_back(siem::to_rfc5424(e, siem::SyslogOptions{}));
    notify::Message m;
    m.id = notify::event_id(e);
    m.event = e;
    texts.push_back(notify::json_body(m));
  }
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_NE(texts[i].find("hooks.example"), std::string::npos) << texts[i];
    for (const char* secret : {"SECRET-ONE", "SECRET-TWO", "SECRET-THREE", "SECRET-FOUR", "pw-"}) {
      EXPECT_EQ(texts[i].find(secret), std::string::npos) << secret << " in " << texts[i];
    }
  }
}

const std::string kSmtpPassword = "mail-pass-7Qx2";

json::object email_body() {
  return json::object{{"kind", "email"},
                      {"name", "mail"},
                      {"events", json::array{"request.*"}},
                      {"config", json::object{{"smtp_url", "smtp://mail.example.com:587"},
                                              {"from", "hoist@example.com"},
                                              {"to", json::array{"approvers@example.com"}},
                                              {"username", "hoist"}}},
                      {"secret", kSmtpPassword}};
}

TEST_F(NotifyApi, AnEmailChannelsConfigAndPasswordAreChecked) {
  const auto admin = as(store::Role::kAdmin);
  struct Case {
    const char* field;
    json::value config;
    const char* says;
  };
  const auto config = [](json::object change) {
    json::object c{{"smtp_url", "smtp://mail.example.com:587"},
                   {"from", "hoist@example.com"},
                   {"to", json::array{"approvers@example.com"}},
                   {"username", "hoist"}};
    for (const auto& [k, v] : change) c[k] = v;
    return c;
  };
  const Case cases[] = {
      {"smtp_url", config({{"smtp_url", "https://mail.example.com"}}), "only smtp and smtps"},
      {"smtp_url", config({{"smtp_url", "smtp://hoist:pw@mail.example.com"}}), "user name or password"},
      {"to", config({{"to", json::array{"Eve <eve@x.example>"}}}), "to[0]"},
      {"to", config({{"to", json::array{"a@example.com\r\nBcc: eve@x.example"}}}), "to[0]"},
      {"to", config({{"to", json::array{}}}), "at least one address in to"},
      {"from", config({{"from", "hoist"}}), "from"},
      {"password", config({{"password", "hunter2-in-config"}}), "no setting \"password\""},
      {"timeout_s", config({{"timeout_s", 120}}), "timeout_s"},
      {"requester_template", config({{"requester_template", "alice@example.com"}}), "no {user}"},
  };
  for (const auto& c : cases) {
    auto body = email_body();
    body["config"] = c.config;
    const auto r = call_json("POST", "/api/v1/notify/channels", body, admin);
    SCOPED_TRACE(c.field);
    EXPECT_EQ(r.status, 400) << json::serialize(r.body);
    EXPECT_NE(r.str("/error/message").find(c.says), std::string::npos) << r.str("/error/message");
    EXPECT_EQ(r.str("/error/message").find("hunter2"), std::string::npos);
  }
  // A username needs its password; the password is checked, never echoed.
  auto no_secret = email_body();
  no_secret.erase("secret");
  auto r = call_json("POST", "/api/v1/notify/channels", no_secret, admin);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.str("/error/message").find("secret is missing"), std::string::npos) << r.str("/error/message");
  auto bad_secret = email_body();
  bad_secret["secret"] = "pass\r\nword-9Zk";
  r = call_json("POST", "/api/v1/notify/channels", bad_secret, admin);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.str("/error/message").find("control characters"), std::string::npos) << r.str("/error/message");
  EXPECT_EQ(r.str("/error/message").find("word-9Zk"), std::string::npos);
  EXPECT_TRUE(call("GET", "/api/v1/notify/channels", "", admin).array("/channels").empty());

  // Created: the config as stored, the password only as "set".
  const auto created = call_json("POST", "/api/v1/notify/channels", email_body(), admin);
  ASSERT_EQ(created.status, 201) << json::serialize(created.body);
  const std::string id = created.str("/id");
  EXPECT_EQ(created.str("/kind"), "email");
  EXPECT_EQ(created.str("/config/smtp_url"), "smtp://mail.example.com:587");
  EXPECT_EQ(created.num("/config/timeout_s"), 10);
  EXPECT_TRUE(created.body.at("secret").at("set").as_bool());
  // Without a username, no password is needed.
  auto open_relay = email_body();
  open_relay["name"] = "relay";
  open_relay["config"].as_object().erase("username");
  open_relay.erase("secret");
  const auto relay = call_json("POST", "/api/v1/notify/channels", open_relay, admin);
  ASSERT_EQ(relay.status, 201) << json::serialize(relay.body);
  EXPECT_FALSE(relay.body.at("secret").at("set").as_bool());
  // ... until one is named: then the change needs the password with it.
  const std::string relay_id = relay.str("/id");
  r = call_json("PATCH", "/api/v1/notify/channels/" + relay_id,
                json::object{{"config", json::object{{"username", "hoist"}}}}, admin);
  EXPECT_EQ(r.status, 400) << json::serialize(r.body);
  EXPECT_NE(r.str("/error/message").find("secret is missing"), std::string::npos) << r.str("/error/message");
  r = call_json("PATCH", "/api/v1/notify/channels/" + relay_id,
                json::object{{"config", json::object{{"username", "hoist"}}}, {"secret", kSmtpPassword}}, admin);
  EXPECT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_EQ(r.str("/config/username"), "hoist");
  EXPECT_TRUE(r.body.at("secret").at("previous_valid_until").is_null()) << "an SMTP password does not rotate";

  std::string all = json::serialize(created.body) + json::serialize(r.body) +
                    json::serialize(call("GET", "/api/v1/notify/channels", "", admin).body) +
                    json::serialize(audit_for(id)) + json::serialize(audit_for(relay_id));
  EXPECT_EQ(all.find(kSmtpPassword), std::string::npos);
  EXPECT_NE(all.find("notify.channel_created"), std::string::npos);
}

TEST_F(NotifyApi, MovingWhereASecretGoesNeedsTheSecretAgain) {
  // An admin who may change a channel but was never given its secret
  // cannot send it to a server of theirs (found by the attack pass).
  const auto admin = as(store::Role::kAdmin);
  const auto created = call_json("POST", "/api/v1/notify/channels", email_body(), admin);
  ASSERT_EQ(created.status, 201) << json::serialize(created.body);
  const std::string id = created.str("/id");
  for (const auto& [field, value] : std::vector<std::pair<std::string, json::value>>{
           {"smtp_url", "smtp://evil.example.net:587"}, {"username", "other"}, {"ca_file", "/tmp/evil-ca.pem"}}) {
    SCOPED_TRACE(field);
    const auto r = call_json("PATCH", "/api/v1/notify/channels/" + id,
                             json::object{{"config", json::object{{field, value}}}}, admin);
    EXPECT_EQ(r.status, 400) << json::serialize(r.body);
    EXPECT_NE(r.str("/error/message").find("give the secret again"), std::string::npos) << r.str("/error/message");
  }
  // Whatever is not a destination changes freely.
  auto r = call_json("PATCH", "/api/v1/notify/channels/" + id,
                     json::object{{"config", json::object{{"to", json::array{"ops@example.com"}}}}}, admin);
  EXPECT_EQ(r.status, 200) << json::serialize(r.body);
  // With the secret given again, the move is allowed.
  r = call_json(
      "PATCH", "/api/v1/notify/channels/" + id,
      json::object{{"config", json::object{{"smtp_url", "smtp://mail2.example.com:587"}}}, {"secret", kSmtpPassword}},
      admin);
  EXPECT_EQ(r.status, 200) << json::serialize(r.body);
  EXPECT_EQ(r.str("/config/smtp_url"), "smtp://mail2.example.com:587");
}

TEST_F(NotifyApi, SlackAndTeamsChannelsCheckConfigAndSecretAndNeverShowTheSecret) {
  const auto admin = as(store::Role::kAdmin);
  const std::string hook = "https://hooks.slack.com/services/T000/B000/SeCrEtPaTh0123";
  const std::string token = "xoxb-1234-SeCrEtToKeN";
  const std::string workflow =
      "https://prod-42.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/"
      "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SeCrEtSiG0123";
  const auto body = [](const char* kind, json::object config, const std::string& secret) {
    return json::object{{"kind", kind},
                        {"name", std::string(kind) + "-approvers"},
                        {"events", json::array{"request.*"}},
                        {"config", std::move(config)},
                        {"secret", secret}};
  };
  struct Case {
    json::object body;
    const char* says;
  };
  const Case bad[] = {
      {body("slack", {}, hook), "needs mode"},
      {body("slack", {{"mode", "webhook"}, {"colour", "red"}}, hook), "no setting \"colour\""},
      {body("slack", {{"mode", "webhook"}, {"channel", "C0123ABC"}}, hook), "channel is for mode bot"},
      {body("slack", {{"mode", "webhook"}}, "http://hooks.slack.com/services/SeCrEtPaTh0123"), "only https"},
      {body("slack", {{"mode", "webhook"}}, token), "not a token"},
      {body("slack", {{"mode", "bot"}}, token), "needs channel"},
      {body("slack", {{"mode", "bot"}, {"channel", "#general"}}, token), "channel ID"},
      {body("slack", {{"mode", "bot"}, {"channel", "C0123ABC"}}, hook), "not a URL"},
      {body("slack", {{"mode", "bot"}, {"channel", "C0123ABC"}}, "xoxp-SeCrEtToKeN"), "not a bot token"},
      {body("slack", {{"mode", "bot"}, {"channel", "C0123ABC"}, {"api_url", "http://slack.example/api"}}, token),
       "only https"},
      {body("teams", {{"url", workflow}}, workflow), "its secret"},
      {body("teams", {}, "http://prod-42.westeurope.logic.azure.com/workflows/SeCrEtSiG0123"), "only https"},
      {body("teams", {}, "SeCrEtSiG0123"), "webhook URL"},
  };
  for (const auto& c : bad) {
    const auto r = call_json("POST", "/api/v1/notify/channels", c.body, admin);
    SCOPED_TRACE(json::serialize(c.body));
    EXPECT_EQ(r.status, 400) << json::serialize(r.body);
    EXPECT_NE(r.error_message().find(c.says), std::string::npos) << r.error_message();
    EXPECT_EQ(json::serialize(r.body).find("SeCrEt"), std::string::npos) << r.error_message();
  }
  auto missing = body("teams", {}, workflow);
  missing.erase("secret");
  EXPECT_NE(call_json("POST", "/api/v1/notify/channels", missing, admin).error_message().find("Workflows webhook URL"),
            std::string::npos);
  EXPECT_TRUE(call("GET", "/api/v1/notify/channels", "", admin).array("/channels").empty());

  const auto slack_hook =
      call_json("POST", "/api/v1/notify/channels", body("slack", {{"mode", "webhook"}}, hook), admin);
  ASSERT_EQ(slack_hook.status, 201) << json::serialize(slack_hook.body);
  EXPECT_EQ(slack_hook.str("/config/mode"), "webhook");
  EXPECT_EQ(slack_hook.body.at("secret").at("set"), true);
  auto bot = body("slack", {{"mode", "bot"}, {"channel", "C0123ABC"}}, token);
  bot["name"] = "slack-bot";
  const auto slack_bot = call_json("POST", "/api/v1/notify/channels", bot, admin);
  ASSERT_EQ(slack_bot.status, 201) << json::serialize(slack_bot.body);
  EXPECT_EQ(slack_bot.str("/config/api_url"), "https://slack.com/api");
  EXPECT_EQ(slack_bot.str("/config/channel"), "C0123ABC");
  const auto teams = call_json("POST", "/api/v1/notify/channels", body("teams", {}, workflow), admin);
  ASSERT_EQ(teams.status, 201) << json::serialize(teams.body);
  EXPECT_EQ(teams.num("/config/timeout_s"), 10);

  // Moving the bot to an incoming webhook needs the secret that fits it.
  const std::string bot_id = slack_bot.str("/id");
  const auto moved = call_json(
      "PATCH", "/api/v1/notify/channels/" + bot_id,
      json::object{{"config", json::object{{"mode", "webhook"}, {"channel", nullptr}, {"api_url", nullptr}}}}, admin);
  EXPECT_EQ(moved.status, 400) << json::serialize(moved.body);
  EXPECT_NE(moved.error_message().find("give the secret again"), std::string::npos) << moved.error_message();
  const auto rotated =
      call_json("PATCH", "/api/v1/notify/channels/" + bot_id,
                json::object{{"config", json::object{{"mode", "webhook"}, {"channel", nullptr}, {"api_url", nullptr}}},
                             {"secret", hook + "2"}},
                admin);
  ASSERT_EQ(rotated.status, 200) << json::serialize(rotated.body);
  EXPECT_EQ(rotated.str("/config/mode"), "webhook");
  EXPECT_EQ(rotated.str("/config/channel"), "<missing>");
  // A chat URL or token replaced is not kept valid: only webhooks' signing secrets rotate.
  EXPECT_TRUE(rotated.body.at("secret").at("previous_valid_until").is_null());

  std::string all = json::serialize(slack_hook.body) + json::serialize(slack_bot.body) + json::serialize(teams.body) +
                    json::serialize(moved.body) + json::serialize(rotated.body) +
                    json::serialize(call("GET", "/api/v1/notify/channels", "", admin).body);
  for (const auto& id : {slack_hook.str("/id"), bot_id, teams.str("/id")}) {
    all += json::serialize(call("GET", "/api/v1/notify/channels/" + id, "", admin).body);
    all += json::serialize(audit_for(id));
  }
  EXPECT_EQ(all.find("SeCrEt"), std::string::npos);
  EXPECT_EQ(all.find("hooks.slack.com"), std::string::npos);
  EXPECT_EQ(all.find("logic.azure.com"), std::string::npos);
}

}  // namespace
}  // namespace hoist::api::testing
