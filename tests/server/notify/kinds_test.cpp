// The channel kinds' table and what every kind shares: the config merge
// (a change sets fields, null clears one, the result is checked whole),
// the config as audit events record it, and the sealed secrets' plain text.
#include "server/notify/kinds.h"

#include <gtest/gtest.h>

namespace hoist::notify {
namespace {

TEST(ChannelKinds, EveryKindIsFoundByNameAndListed) {
  ASSERT_FALSE(channel_kinds().empty());
  for (const auto& kind : channel_kinds()) {
    EXPECT_EQ(find_channel_kind(kind.name), &kind);
    EXPECT_NE(channel_kind_names().find(kind.name), std::string::npos);
    EXPECT_NE(kind.check_config, nullptr) << kind.name;
    EXPECT_NE(kind.check_secret, nullptr) << kind.name;
    EXPECT_NE(kind.secret_required, nullptr) << kind.name;
    EXPECT_FALSE(kind.secret_is.empty()) << kind.name;
  }
  EXPECT_EQ(find_channel_kind("pagerduty"), nullptr);
  EXPECT_EQ(find_channel_kind(""), nullptr);
}

TEST(ChannelKinds, AChangeSetsFieldsAndNullClearsAnOptionalOne) {
  const auto& webhook = *find_channel_kind("webhook");
  auto created =
      merge_channel_config(webhook, "", R"({"url":"https://h.example/in","ca_file":"/etc/ca.pem","timeout_s":5})");
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto changed = merge_channel_config(webhook, *created, R"({"timeout_s":7,"ca_file":null})");
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(*changed, R"({"url":"https://h.example/in","timeout_s":7})");
  // The result is checked whole: a change cannot clear what the kind needs.
  EXPECT_FALSE(merge_channel_config(webhook, *created, R"({"url":null})").ok());
  EXPECT_FALSE(merge_channel_config(webhook, *created, R"({"url":"http://h.example/in"})").ok());
  EXPECT_FALSE(merge_channel_config(webhook, *created, R"({"colour":"red"})").ok());
  EXPECT_FALSE(merge_channel_config(webhook, *created, R"(["url"])").ok());
  EXPECT_FALSE(merge_channel_config(webhook, *created, "{").ok());
  EXPECT_FALSE(merge_channel_config(webhook, "not json", R"({"timeout_s":7})").ok());
}

TEST(ChannelKinds, TheAuditedConfigKeepsWhereAURLGoesAndNeverItsPathQueryOrUser) {
  struct Case {
    std::string config;
    std::string audited;
  };
  const Case cases[] = {
      // Each kind's URL field, as the kind stores it.
      {R"({"url":"https://hooks.example:8443/in/x?token=SECRET&a=b","timeout_s":10})",
       R"({"url":"https://hooks.example:8443/[redacted]?[redacted]","timeout_s":10})"},
      {R"({"smtp_url":"smtp://mail.example.com:587","from":"hoist@example.com","to":["a@example.com"]})",
       R"({"smtp_url":"smtp://mail.example.com:587","from":"hoist@example.com","to":["a@example.com"]})"},
      {R"({"mode":"bot","channel":"C1","api_url":"https://slack.example/","timeout_s":10})",
       R"({"mode":"bot","channel":"C1","api_url":"https://slack.example/","timeout_s":10})"},
      // The attack pass: receivers that take their token in the path
      // (Zapier, Pipedream), also behind a matrix parameter or encoded.
      {R"({"url":"https://hooks.zapier.com/hooks/catch/123456/SECRETPATH/"})",
       R"({"url":"https://hooks.zapier.com/[redacted]"})"},
      {R"({"url":"https://h.example/webhook/SECRET;token=SECRET"})", R"({"url":"https://h.example/[redacted]"})"},
      {R"({"url":"https://h.example/in%3Ftoken%3DSECRET"})", R"({"url":"https://h.example/[redacted]"})"},
      // What no kind stores today, but a later one might.
      {R"({"url":"https://user:pw@hooks.example/in#frag-SECRET"})",
       R"({"url":"https://[redacted]@hooks.example/[redacted]#[redacted]"})"},
      {R"({"api_url":"https://only-user@[::1]:9/p?q"})",
       R"({"api_url":"https://[redacted]@[::1]:9/[redacted]?[redacted]"})"},
      {R"({"nested":{"list":["smtps://u:pw@m.example:465/?x=SECRET","plain text"]}})",
       R"({"nested":{"list":["smtps://[redacted]@m.example:465/?[redacted]","plain text"]}})"},
      {R"({"odd":"not a url :// SECRET"})", R"x({"odd":"[redacted] (a URL that does not read)"})x"},
      // Not URLs: kept as they are.
      {R"({"ca_file":"/etc/hoist/ca.pem","requester_template":"{user}@example.com","timeout_s":5,"x":null})",
       R"({"ca_file":"/etc/hoist/ca.pem","requester_template":"{user}@example.com","timeout_s":5,"x":null})"},
  };
  for (const auto& c : cases) {
    const auto audited = audited_config(c.config);
    EXPECT_EQ(audited, c.audited) << c.config;
    EXPECT_EQ(audited.find("SECRET"), std::string::npos) << audited;
    EXPECT_EQ(audited.find("pw"), std::string::npos) << audited;
  }
  EXPECT_EQ(audited_config("not json"), R"({"unreadable":"[redacted]"})");

  // Through each kind's own check: what it stores, audited.
  const auto& webhook = *find_channel_kind("webhook");
  auto stored = merge_channel_config(webhook, "", R"({"url":"https://h.example/in?sig=SECRET"})");
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  EXPECT_EQ(audited_config(*stored), R"({"url":"https://h.example/[redacted]?[redacted]","timeout_s":10})");
  // The second attack pass: Postmark's SMTP user name is its server token.
  EXPECT_EQ(audited_config(R"({"smtp_url":"smtp://smtp.postmarkapp.com:587","username":"2b7e1f4c-SECRET",)"
                           R"("to":["ops@example.com"]})"),
            R"({"smtp_url":"smtp://smtp.postmarkapp.com:587","username":"[redacted]","to":["ops@example.com"]})");
}

TEST(ChannelSecrets, RoundTripAndStrictRead) {
  ChannelSecrets s{"xoxb-1", "xoxb-0", AuditTime{std::chrono::milliseconds{42}}};
  auto back = parse_channel_secrets(channel_secrets_json(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->current, "xoxb-1");
  EXPECT_EQ(back->previous, "xoxb-0");
  EXPECT_EQ(back->previous_until, s.previous_until);
  for (const char* bad :
       {"", "{}", "[]", R"({"current":1})", R"({"current":"a","extra":"b"})", R"({"previous":"a"})"}) {
    auto r = parse_channel_secrets(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_FALSE(parse_channel_secrets(channel_secrets_json({std::string(kMaxSecretBytes + 1, 'x'), {}, {}})).ok());
  // An error never repeats the secret.
  auto r = parse_channel_secrets(R"({"current":"s3cr3t-value","x":1})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("s3cr3t"), std::string::npos);
}

}  // namespace
}  // namespace hoist::notify
