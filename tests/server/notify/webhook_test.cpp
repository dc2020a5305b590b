// The webhook channel: its settings, and its sender against a real HTTPS
// receiver on loopback (tests/support/webhook_receiver.py) that checks each
// signature with the code docs/notifications.md gives receivers.
#include "server/notify/webhook.h"
#include "server/notify/ca_file.h"

#include <gtest/gtest.h>

#include "core/webhook_signature.h"
#include "support/webhook_receiver.h"

namespace hoist::notify {
namespace {

using std::chrono::milliseconds;

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kOldSecret = webhook::format_secret(std::vector<std::uint8_t>(32, 7));

TEST(WebhookUrl, AcceptsHttpsWithPathAndQueryOnly) {
  auto u = check_webhook_url("https://hooks.example.com:8443/hoist/in?tenant=7");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->origin, "https://hooks.example.com:8443");
  EXPECT_EQ(u->target, "/hoist/in?tenant=7");
  u = check_webhook_url("https://[::1]");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->origin, "https://[::1]");
  EXPECT_EQ(u->target, "/");
  for (const char* bad : {"http://hooks.example.com/x", "ftp://x/y", "https://user:pw@hooks.example.com/x",
                          "https://hooks.example.com/x#frag", "https:///x", "hooks.example.com/x",
                          "https://hooks.example.com/a b", "https://hooks.example.com:0/x",
                          "https://hooks.example.com:99999/x", "file:///etc/passwd", "", "https://exa\x01mple.com/"}) {
    auto r = check_webhook_url(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(check_webhook_url("https://h.example/" + std::string(kMaxUrlBytes, 'a')).ok());
}

TEST(WebhookConfig, RoundTripsAndIsStrict) {
  WebhookConfig c{"https://h.example/x", "/etc/ssl/receiver.pem", std::chrono::seconds{5}};
  auto back = parse_webhook_config(webhook_config_json(c));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->url, c.url);
  EXPECT_EQ(back->ca_file, c.ca_file);
  EXPECT_EQ(back->timeout, c.timeout);
  for (const char* bad : {R"([])", R"({})", R"({"url":"http://h/x"})", R"({"url":"https://h/x","timeout_s":0})",
                          R"({"url":"https://h/x","timeout_s":61})", R"({"url":"https://h/x","ca_file":"rel.pem"})",
                          R"({"url":"https://h/x","secret":"whsec_x"})", R"({"url":7})", "not json"}) {
    EXPECT_FALSE(parse_webhook_config(bad).ok()) << bad;
  }
}

TEST(WebhookSecrets, RoundTripAndNeverEchoed) {
  WebhookSecrets s{kSecret, kOldSecret, AuditTime{milliseconds{5}}};
  auto back = parse_webhook_secrets(webhook_secrets_json(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->current, kSecret);
  EXPECT_EQ(back->previous, kOldSecret);
  EXPECT_EQ(back->previous_until, AuditTime{milliseconds{5}});
  auto bad = parse_webhook_secrets(R"({"current":"whsec_short"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("whsec_short"), std::string::npos);
}

class WebhookSenderTest : public ::testing::Test {
 protected:
  store::ChannelRecord channel(const std::string& url, int timeout_s = 5, bool with_ca = true) const {
    store::ChannelRecord c;
    c.id = "ch-test";
    c.kind = "webhook";
    c.name = "test";
    c.config = webhook_config_json(WebhookConfig{
        url, with_ca ? std::optional<std::string>(rx_.ca_file()) : std::nullopt, std::chrono::seconds{timeout_s}});
    return c;
  }
  static std::string secrets(const std::string& current, std::optional<std::string> previous = std::nullopt,
                             std::optional<AuditTime> until = std::nullopt) {
    return webhook_secrets_json(WebhookSecrets{current, std::move(previous), until});
  }
  static AuditTime now() { return std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now()); }
  static Message message(std::uint64_t seq) {
    Message m;
    m.event.seq = seq;
    m.event.time = now();
    m.event.actor = "alice";
    m.event.action = "request.created";
    m.event.target = "req-1";
    m.event.details = R"({"justification":"ticket 4711"})";
    m.event.hash = sha256(std::to_string(seq));
    m.id = event_id(m.event);
    return m;
  }

  hoist::testing::PrivateDir dir_;
  hoist::testing::WebhookReceiver rx_{dir_.path(), kSecret};
};

TEST_F(WebhookSenderTest, ASignedMessageIsVerifiedByTheDocumentedReceiverCode) {
  ASSERT_TRUE(rx_.start()) << rx_.error();
  auto sender = make_webhook_sender(channel(rx_.url("/hook?x=1")), secrets(kSecret));
  ASSERT_TRUE(sender.ok()) << sender.error().message;
  const auto m = message(7);
  const auto out = (*sender)->send(m, now());
  EXPECT_EQ(out.status, 204) << out.error;
  EXPECT_EQ(out.error, "");
  // Kept alive: a second one on the same connection.
  EXPECT_EQ((*sender)->send(message(8), now()).status, 204);
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 2U);
  EXPECT_TRUE(got[0].verified);
  EXPECT_EQ(got[0].id, m.id);
  EXPECT_EQ(got[0].path, "/hook?x=1");
  EXPECT_EQ(got[0].body, json_body(m));
  EXPECT_EQ(got[0].signature.find(' '), std::string::npos) << "one signature without a rotation";
  EXPECT_EQ(got[0].json.at("data").at("id"), boost::json::value(m.id));
}

TEST_F(WebhookSenderTest, DuringARotationBothSecretsSignThenOnlyTheNewOne) {
  // The receiver still knows only the old secret.
  hoist::testing::PrivateDir old_dir;
  hoist::testing::WebhookReceiver old_rx(old_dir.path(), kOldSecret);
  ASSERT_TRUE(old_rx.start()) << old_rx.error();
  auto c = channel(old_rx.url());
  c.config = webhook_config_json(WebhookConfig{old_rx.url(), old_rx.ca_file(), std::chrono::seconds{5}});
  auto rotating = make_webhook_sender(c, secrets(kSecret, kOldSecret, now() + std::chrono::hours(1)));
  ASSERT_TRUE(rotating.ok()) << rotating.error().message;
  EXPECT_EQ((*rotating)->send(message(1), now()).status, 204);
  auto after = make_webhook_sender(c, secrets(kSecret, kOldSecret, now() - std::chrono::seconds(1)));
  ASSERT_TRUE(after.ok());
  EXPECT_EQ((*after)->send(message(2), now()).status, 400);  // the old secret no longer signs
  const auto got = old_rx.received();
  ASSERT_EQ(got.size(), 2U);
  EXPECT_TRUE(got[0].verified);
  EXPECT_NE(got[0].signature.find(' '), std::string::npos) << got[0].signature;
  EXPECT_FALSE(got[1].verified);
  // The new key verifies the rotating message too (the receiver's switch).
  const auto key = webhook::parse_secret(kSecret);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(webhook::verify(got[0].signature, got[0].id, std::stoll(got[0].timestamp), got[0].body, *key));
}

TEST_F(WebhookSenderTest, AReceiverThatHangsIsCutAtTheTimeout) {
  ASSERT_TRUE(rx_.start("hang")) << rx_.error();
  auto sender = make_webhook_sender(channel(rx_.url(), 1), secrets(kSecret));
  ASSERT_TRUE(sender.ok());
  const auto started = std::chrono::steady_clock::now();
  const auto out = (*sender)->send(message(1), now());
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(out.status.has_value());
  EXPECT_NE(out.error.find("no answer within 1 s"), std::string::npos) << out.error;
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(rx_.received().size(), 1U);  // it got there; the answer never came
}

TEST_F(WebhookSenderTest, AnOversizedAnswerIsCutAndCountsAsAFailure) {
  ASSERT_TRUE(rx_.start("big")) << rx_.error();
  auto sender = make_webhook_sender(channel(rx_.url()), secrets(kSecret), WebhookOptions{64 * 1024});
  ASSERT_TRUE(sender.ok());
  const auto out = (*sender)->send(message(1), now());
  EXPECT_FALSE(out.status.has_value()) << "a 4 MiB answer was read whole";
  EXPECT_NE(out.error.find("reading the response"), std::string::npos) << out.error;
}

TEST_F(WebhookSenderTest, StatusRetryAfterAndRefusalsAreReported) {
  ASSERT_TRUE(rx_.start("retry-after:7")) << rx_.error();
  auto sender = make_webhook_sender(channel(rx_.url()), secrets(kSecret));
  ASSERT_TRUE(sender.ok());
  auto out = (*sender)->send(message(1), now());
  EXPECT_EQ(out.status, 429);
  EXPECT_EQ(out.retry_after, "7");
  ASSERT_TRUE(rx_.start("status:400", rx_.port())) << rx_.error();
  out = (*sender)->send(message(2), now());
  EXPECT_EQ(out.status, 400);
  EXPECT_EQ(out.error, "HTTP 400");
}

TEST_F(WebhookSenderTest, AReceiverNotSignedByTheCaOrNotListeningIsNoAnswer) {
  ASSERT_TRUE(rx_.start()) << rx_.error();
  // The system's CAs do not know the test CA.
  auto untrusted = make_webhook_sender(channel(rx_.url(), 5, false), secrets(kSecret));
  ASSERT_TRUE(untrusted.ok());
  auto out = untrusted.value()->send(message(1), now());
  EXPECT_FALSE(out.status.has_value());
  EXPECT_NE(out.error.find("not trusted"), std::string::npos) << out.error;
  EXPECT_TRUE(rx_.received().empty()) << "a byte of the message reached an untrusted server";
  const auto port = rx_.port();
  rx_.stop();
  auto down = make_webhook_sender(channel("https://127.0.0.1:" + std::to_string(port) + "/hook"), secrets(kSecret));
  ASSERT_TRUE(down.ok());
  out = down.value()->send(message(1), now());
  EXPECT_FALSE(out.status.has_value());
  EXPECT_EQ(out.error.find(kSecret.substr(6)), std::string::npos);
}

TEST_F(WebhookSenderTest, BadSettingsAreRefusedWhenTheSenderIsMade) {
  EXPECT_EQ(make_webhook_sender(channel("https://127.0.0.1:1/x"), "{}").error().code, ErrorCode::kInvalidArgument);
  auto c = channel("https://127.0.0.1:1/x");
  c.config = R"({"url":"https://127.0.0.1:1/x","ca_file":"/no/such/ca.pem","timeout_s":5})";
  EXPECT_EQ(make_webhook_sender(c, secrets(kSecret)).error().message, kUnusableCaFile);  // ca_file_test.cpp
}

}  // namespace
}  // namespace hoist::notify
