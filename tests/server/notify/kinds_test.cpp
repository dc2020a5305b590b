// The channel kinds' table and what every kind shares: the config merge
// (a change sets fields, null clears one, the result is checked whole)
// and the sealed secrets' plain text.
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
