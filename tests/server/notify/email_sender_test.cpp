// The email channel's sender against a real SMTP server on loopback
// (tests/support/smtp_receiver.py: aiosmtpd with its own certificate,
// STARTTLS, AUTH LOGIN/PLAIN), each mail read back as Python's email
// package parses it: what arrives, what never does (in the clear, to an
// unverified server, to a recipient a user's text names), and what the
// outbox makes of each failure (core/outbox.h's decide()).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/audit_kind.h"
#include "server/notify/ca_file.h"
#include "server/notify/email.h"
#include "server/notify/email_message.h"
#include "server/notify/kinds.h"
#include "support/smtp_receiver.h"

namespace hoist::notify {
namespace {

using std::chrono::milliseconds;

const std::string kUser = "hoist-mailer";
const std::string kPassword = "correct horse battery staple";
const std::vector<std::string> kTo = {"approvers@example.com", "audit@example.com"};

AuditTime now() {
  return std::chrono::time_point_cast<milliseconds>(std::chrono::system_clock::now());
}

store::RequestRecord request_record() {
  store::RequestRecord r;
  r.request.id = "req-0194a2b3c4d5-ab12cd";
  r.request.requester = "alice";
  r.request.host = "laptop-7";
  r.request.rule = "installs";
  r.request.justification = "ticket 4711 <b>bold</b> & \"quotes\" 'x'";
  r.request.requested_duration = Seconds{1800};
  r.request.created_at = TimePoint{Seconds{1'800'000'000}};
  r.request.pending_deadline = TimePoint{Seconds{1'800'000'120}};
  r.command.path = "/usr/bin/apt-get";
  r.command.argv = {"apt-get", "install", "vim"};
  r.command.sha256 = sha256("apt-get");
  r.command.package = "apt";
  return r;
}

Message request_message(AuditKind kind, std::uint64_t seq, store::RequestRecord record = request_record()) {
  Message m;
  m.event.seq = seq;
  m.event.time = AuditTime{milliseconds{1'800'000'005'000 + static_cast<std::int64_t>(seq)}};
  m.event.actor = kind == AuditKind::kRequestCreated ? "agent:ep-7f3a" : "bob";
  m.event.action = std::string(to_string(kind));
  m.event.target = record.request.id;
  m.event.host = record.request.host;
  m.event.details = kind == AuditKind::kRequestApproved
                        ? R"({"by":"approver","comment":"ok <i>go</i>","state":"approved","requester":"alice",)"
                          R"("grant_deadline":"2027-01-15T08:30:05Z"})"
                        : R"({})";
  m.event.hash = sha256("event " + std::to_string(seq));
  m.id = event_id(m.event);
  m.request = std::move(record);
  m.link = "https://hoist.example.com/#/requests/" + m.request->request.id;
  return m;
}

// Every line within 78 characters (our folding, the parts' quoted-printable
// 76), but libcurl's own Content-Type with its boundary; all within SMTP's
// 998.
void expect_short_lines(const hoist::testing::ReceivedMail& m) {
  EXPECT_LE(m.max_line, 998U);
  std::size_t start = 0;
  while (start < m.raw.size()) {
    auto end = m.raw.find("\r\n", start);
    if (end == std::string::npos) end = m.raw.size();
    const auto line = std::string_view(m.raw).substr(start, end - start);
    if (!line.starts_with("Content-Type: multipart/alternative; boundary=")) {
      EXPECT_LE(line.size(), 78U) << line;
    }
    start = end + 2;
  }
}

class EmailSenderTest : public ::testing::Test {
 protected:
  EmailConfig config(const std::string& scheme = "smtp") const {
    EmailConfig c;
    c.smtp_url = rx_.url(scheme);
    c.from = "hoist@example.com";
    c.to = kTo;
    c.username = kUser;
    c.ca_file = rx_.ca_file();
    c.timeout = std::chrono::seconds{5};
    return c;
  }
  static store::ChannelRecord channel(const EmailConfig& c) {
    store::ChannelRecord ch;
    ch.id = "ch-mail";
    ch.kind = "email";
    ch.name = "mail";
    ch.config = email_config_json(c);
    return ch;
  }
  static std::string secrets(const std::string& password = kPassword) {
    return channel_secrets_json(ChannelSecrets{password, {}, {}});
  }
  static std::unique_ptr<Sender> sender(const EmailConfig& c, const std::string& s = secrets()) {
    auto made = make_email_sender(channel(c), s);
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made.ok() ? std::move(*made) : nullptr;
  }
  static outbox::Verdict verdict(const outbox::AttemptOutcome& out) {
    return outbox::decide(out, 1, now(), now(), outbox::RetrySchedule{}, 0.5).verdict;
  }

  hoist::testing::PrivateDir dir_;
  hoist::testing::SmtpReceiver rx_{dir_.path(), {kUser, kPassword}};
};

TEST_F(EmailSenderTest, AMailArrivesOverStartTlsWithBothPartsItsHeadersAndThreadIds) {
  ASSERT_TRUE(rx_.start("starttls")) << rx_.error();
  auto s = sender(config());
  ASSERT_NE(s, nullptr);
  const auto created = request_message(AuditKind::kRequestCreated, 41);
  auto out = s->send(created, now());
  EXPECT_EQ(out.status, kEmailDelivered) << out.error;
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(verdict(out), outbox::Verdict::kDelivered);
  const auto approved = request_message(AuditKind::kRequestApproved, 42);
  out = s->send(approved, now());
  EXPECT_EQ(out.status, kEmailDelivered) << out.error;

  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 2U) << rx_.log();
  const auto& m = got[0];
  EXPECT_TRUE(m.tls);
  EXPECT_EQ(m.auth_login, kUser);
  EXPECT_EQ(m.mail_from, "hoist@example.com");
  EXPECT_EQ(m.rcpt_tos, kTo);
  EXPECT_TRUE(m.defects.empty()) << m.defects.front();
  EXPECT_FALSE(m.bare_lf);
  expect_short_lines(m);
  EXPECT_EQ(m.content_type, "multipart/alternative");
  ASSERT_EQ(m.parts.size(), 2U) << m.raw;
  EXPECT_EQ(m.parts[0].type, "text/plain");
  EXPECT_EQ(m.parts[1].type, "text/html");
  for (const auto& p : m.parts) {
    EXPECT_EQ(p.charset, "utf-8");
    EXPECT_EQ(p.cte, "quoted-printable");
  }
  EXPECT_EQ(m.header("Subject"), "[Hoist] alice requests root on laptop-7: /usr/bin/apt-get install vim");
  EXPECT_EQ(m.header("From"), "Hoist <hoist@example.com>");
  EXPECT_EQ(m.header("To"), "approvers@example.com, audit@example.com");
  EXPECT_EQ(m.header("Date"), mail_date(created.event.time));
  EXPECT_EQ(m.header("Message-ID"), "<" + created.id + "@hoist>");
  EXPECT_EQ(m.header("In-Reply-To"), "<req-0194a2b3c4d5-ab12cd@hoist>");
  EXPECT_EQ(m.header("References"), "<req-0194a2b3c4d5-ab12cd@hoist>");
  EXPECT_EQ(m.header("Auto-Submitted"), "auto-generated");
  for (const char* once : {"Subject", "From", "To", "Date", "Message-ID", "Content-Type", "MIME-Version"}) {
    EXPECT_EQ(m.all(once).size(), 1U) << once << "\n" << m.raw;
  }
  EXPECT_TRUE(m.all("Bcc").empty());
  EXPECT_TRUE(m.all("Cc").empty());

  const std::string& text = m.part("text/plain")->body;
  for (const std::string& want : std::vector<std::string>{
           "alice asks for root on laptop-7 and waits for an answer until 2027-01-15T08:02:00Z.", "User:", "alice",
           "Host:", "laptop-7", "Command:", "/usr/bin/apt-get install vim", sha256("apt-get").hex(), "Package:", "apt",
           "Justification: ticket 4711 <b>bold</b> & \"quotes\" 'x'", "Duration:", "30m", "Rule:", "installs",
           "Answer by:", "2027-01-15T08:02:00Z", "https://hoist.example.com/#/requests/req-0194a2b3c4d5-ab12cd"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  const std::string& html = m.part("text/html")->body;
  EXPECT_NE(html.find("ticket 4711 &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quotes&quot; &#39;x&#39;"), std::string::npos)
      << html;
  EXPECT_EQ(html.find("<b>bold</b>"), std::string::npos) << html;
  EXPECT_NE(html.find("<a href=\"https://hoist.example.com/#/requests/req-0194a2b3c4d5-ab12cd\">"), std::string::npos);

  // The approval: another Message-ID, the same thread, the outcome said.
  const auto& a = got[1];
  EXPECT_EQ(a.header("Message-ID"), "<" + approved.id + "@hoist>");
  EXPECT_NE(a.header("Message-ID"), m.header("Message-ID"));
  EXPECT_EQ(a.header("In-Reply-To"), m.header("In-Reply-To"));
  EXPECT_EQ(a.header("References"), m.header("References"));
  EXPECT_EQ(a.header("Subject"), "[Hoist] Approved: alice requests root on laptop-7: /usr/bin/apt-get install vim");
  const std::string& atext = a.part("text/plain")->body;
  EXPECT_NE(atext.find("alice's request was approved by bob, until 2027-01-15T08:30:05Z."), std::string::npos) << atext;
  EXPECT_NE(atext.find("Comment:       ok <i>go</i>"), std::string::npos) << atext;
  EXPECT_NE(a.part("text/html")->body.find("ok &lt;i&gt;go&lt;/i&gt;"), std::string::npos);
  // Sent again by this sender (its attempt was not recorded, say): it
  // remembers the mail went. By another one (after a restart): the same
  // Message-ID, so the reader's client can drop the duplicate.
  ASSERT_EQ(s->send(approved, now()).status, kEmailDelivered);
  ASSERT_EQ(rx_.received().size(), 2U);
  auto restarted = sender(config());
  ASSERT_NE(restarted, nullptr);
  ASSERT_EQ(restarted->send(approved, now()).status, kEmailDelivered);
  ASSERT_EQ(rx_.received().size(), 3U);
  EXPECT_EQ(rx_.received()[2].header("Message-ID"), a.header("Message-ID"));
}

TEST_F(EmailSenderTest, SmtpsIsTlsFromTheFirstByte) {
  ASSERT_TRUE(rx_.start("smtps")) << rx_.error();
  auto s = sender(config("smtps"));
  ASSERT_NE(s, nullptr);
  const auto out = s->send(request_message(AuditKind::kRequestDenied, 7), now());
  EXPECT_EQ(out.status, kEmailDelivered) << out.error;
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 1U) << rx_.log();
  EXPECT_TRUE(got[0].tls);
  EXPECT_EQ(got[0].auth_login, kUser);
  EXPECT_EQ(got[0].header("Subject"), "[Hoist] Denied: alice requests root on laptop-7: /usr/bin/apt-get install vim");
}

TEST_F(EmailSenderTest, TextATypedCrLfCannotTurnIntoAHeaderOrARecipient) {
  ASSERT_TRUE(rx_.start("starttls")) << rx_.error();
  auto record = request_record();
  record.request.justification = "urgent\r\nBcc: evil@x.example\r\n\r\n.\r\nMAIL FROM:<evil@x.example>";
  record.request.requester = "alice\r\nBcc: evil@x.example";
  record.request.host = "laptop-7\nCc: evil@x.example";
  record.command.argv = {"apt-get", "install", "vim\r\nTo: evil@x.example"};
  auto s = sender(config());
  ASSERT_NE(s, nullptr);
  const auto out = s->send(request_message(AuditKind::kRequestCreated, 9, record), now());
  ASSERT_EQ(out.status, kEmailDelivered) << out.error;
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 1U);
  const auto& m = got[0];
  EXPECT_EQ(m.rcpt_tos, kTo);
  EXPECT_TRUE(m.all("Bcc").empty()) << m.raw;
  EXPECT_TRUE(m.all("Cc").empty()) << m.raw;
  EXPECT_EQ(m.all("To").size(), 1U) << m.raw;
  EXPECT_EQ(m.header("To"), "approvers@example.com, audit@example.com");
  EXPECT_TRUE(m.defects.empty()) << m.raw;
  for (const auto& [name, value] : m.headers) {
    EXPECT_EQ(name.find("evil"), std::string::npos) << name;
    EXPECT_EQ(value.find('\n'), std::string::npos) << name << ": " << value;
  }
  // Shown, visibly, where it was typed.
  EXPECT_NE(m.header("Subject").find("alice\\x0d\\x0aBcc: evil@x.example requests root"), std::string::npos)
      << m.header("Subject");
  EXPECT_NE(m.part("text/plain")->body.find("urgent\\x0d\\x0aBcc: evil@x.example\\x0d\\x0a\\x0d\\x0a.\\x0d\\x0aMAIL"),
            std::string::npos)
      << m.part("text/plain")->body;
}

TEST_F(EmailSenderTest, LongLinesDotsAndOtherScriptsSurviveTheWire) {
  ASSERT_TRUE(rx_.start("starttls")) << rx_.error();
  auto record = request_record();
  // Dots land at the start of quoted-printable lines: libcurl dot-stuffs
  // them, the server takes the stuffing out.
  const std::string dots(300, '.');
  record.request.justification = dots + std::string(1500, 'j') + " Zoë's naïve café ☕";
  record.request.requester = "zoë";
  record.command.argv = {"apt-get", "install", std::string(400, 'v') + "—ünïcode"};
  auto s = sender(config());
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->send(request_message(AuditKind::kRequestCreated, 10, record), now()).status, kEmailDelivered);
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 1U);
  const auto& m = got[0];
  expect_short_lines(m);
  EXPECT_FALSE(m.bare_lf);
  EXPECT_TRUE(m.defects.empty()) << m.raw;
  EXPECT_NE(m.part("text/plain")->body.find(record.request.justification), std::string::npos);
  EXPECT_NE(m.part("text/html")->body.find("Zoë&#39;s naïve café ☕"), std::string::npos);
  // The subject: encoded-words, decoded back to the text, cut with "…".
  const std::string subject = m.header("Subject");
  EXPECT_TRUE(subject.starts_with("[Hoist] zoë requests root on laptop-7: /usr/bin/apt-get install 'vvvv")) << subject;
  EXPECT_TRUE(subject.ends_with("…")) << subject;
  EXPECT_LE(subject.size(), 160U);
  EXPECT_NE(m.raw.find("Subject: =?UTF-8?B?"), std::string::npos) << m.raw;
}

TEST_F(EmailSenderTest, AWrongPasswordIsRefusedForGoodAndNeverQuoted) {
  ASSERT_TRUE(rx_.start("starttls")) << rx_.error();
  auto s = sender(config(), secrets("not the password"));
  ASSERT_NE(s, nullptr);
  const auto out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_EQ(out.status, kEmailRefused) << out.error;
  EXPECT_NE(out.error.find("535"), std::string::npos) << out.error;
  EXPECT_EQ(out.error.find("not the password"), std::string::npos) << out.error;
  EXPECT_EQ(verdict(out), outbox::Verdict::kDead);
  EXPECT_TRUE(rx_.received().empty());
  const auto attempts = rx_.auth_attempts();
  ASSERT_FALSE(attempts.empty());
  EXPECT_FALSE(attempts.front().success);
  EXPECT_TRUE(attempts.front().tls) << "AUTH before STARTTLS";
  EXPECT_EQ(attempts.front().login, kUser);
}

TEST_F(EmailSenderTest, AServerThatIsDownIsRetried) {
  ASSERT_TRUE(rx_.start("starttls")) << rx_.error();
  const auto c = config();
  rx_.kill();
  auto s = sender(c);
  ASSERT_NE(s, nullptr);
  const auto out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_FALSE(out.status.has_value()) << *out.status;
  EXPECT_NE(out.error.find(c.smtp_url), std::string::npos) << out.error;
  EXPECT_EQ(out.error.find(kPassword), std::string::npos);
  EXPECT_EQ(verdict(out), outbox::Verdict::kRetry);
}

TEST_F(EmailSenderTest, AServerWithoutStartTlsGetsNothingInTheClear) {
  ASSERT_TRUE(rx_.start("no-starttls")) << rx_.error();
  auto s = sender(config());
  ASSERT_NE(s, nullptr);
  const auto out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_FALSE(out.status.has_value()) << out.error;
  EXPECT_NE(out.error.find("STARTTLS"), std::string::npos) << out.error;
  EXPECT_EQ(verdict(out), outbox::Verdict::kRetry);
  EXPECT_TRUE(rx_.received().empty()) << "a mail went in the clear";
  EXPECT_TRUE(rx_.auth_attempts().empty()) << "the password went in the clear";
}

TEST_F(EmailSenderTest, ACertificateForAnotherHostOrAnUnknownCaIsRefused) {
  hoist::testing::PrivateDir other_dir;
  hoist::testing::SmtpReceiver other(other_dir.path(), {kUser, kPassword, "DNS:other.example"});
  ASSERT_TRUE(other.start("starttls")) << other.error();
  auto c = config();
  c.smtp_url = other.url();
  c.ca_file = other.ca_file();
  auto s = sender(c);
  ASSERT_NE(s, nullptr);
  auto out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_FALSE(out.status.has_value()) << out.error;
  EXPECT_EQ(verdict(out), outbox::Verdict::kRetry);
  EXPECT_TRUE(other.received().empty());
  EXPECT_TRUE(other.auth_attempts().empty());
  // The right name, but the system's CAs do not know the test CA.
  ASSERT_TRUE(rx_.start("smtps")) << rx_.error();
  c = config("smtps");
  c.ca_file.reset();
  s = sender(c);
  ASSERT_NE(s, nullptr);
  out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_FALSE(out.status.has_value()) << out.error;
  EXPECT_TRUE(rx_.received().empty());
  EXPECT_TRUE(rx_.auth_attempts().empty());
}

TEST_F(EmailSenderTest, TemporaryRefusalsAreRetriedPermanentOnesDead) {
  ASSERT_TRUE(rx_.start("tempfail")) << rx_.error();
  auto s = sender(config());
  ASSERT_NE(s, nullptr);
  auto out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_EQ(out.status, kEmailRefusedForNow) << out.error;
  EXPECT_NE(out.error.find("451 4.3.0 Try again later"), std::string::npos) << out.error;
  EXPECT_EQ(verdict(out), outbox::Verdict::kRetry);
  ASSERT_TRUE(rx_.start("reject-rcpt", rx_.port())) << rx_.error();
  out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_EQ(out.status, kEmailRefused) << out.error;
  EXPECT_NE(out.error.find("550 5.1.1 No such user here"), std::string::npos) << out.error;
  EXPECT_EQ(verdict(out), outbox::Verdict::kDead);
  EXPECT_TRUE(rx_.received().empty());
}

TEST_F(EmailSenderTest, TheRequesterHearsTheOutcomeNotTheRequest) {
  ASSERT_TRUE(rx_.start("starttls")) << rx_.error();
  auto c = config();
  c.to = {"approvers@example.com"};
  c.requester_template = "{user}@example.com";
  auto s = sender(c);
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->send(request_message(AuditKind::kRequestCreated, 1), now()).status, kEmailDelivered);
  auto got = rx_.received();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].rcpt_tos, std::vector<std::string>{"approvers@example.com"});

  const auto approved = request_message(AuditKind::kRequestApproved, 2);
  const auto out = s->send(approved, now());
  ASSERT_EQ(out.status, kEmailDelivered) << out.error;
  got = rx_.received();
  ASSERT_EQ(got.size(), 3U);
  EXPECT_EQ(got[1].rcpt_tos, std::vector<std::string>{"approvers@example.com"});
  const auto& mine = got[2];
  EXPECT_EQ(mine.rcpt_tos, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(mine.header("To"), "alice@example.com");
  EXPECT_EQ(mine.header("Message-ID"), "<" + approved.id + ".requester@hoist>");
  EXPECT_EQ(mine.header("In-Reply-To"), "<req-0194a2b3c4d5-ab12cd@hoist>");
  EXPECT_NE(mine.part("text/plain")->body.find("Your request was approved by bob, until 2027-01-15T08:30:05Z."),
            std::string::npos)
      << mine.part("text/plain")->body;

  // Only the requester: nothing for request.created, a mail for the outcome.
  c.to.clear();
  s = sender(c);
  ASSERT_NE(s, nullptr);
  auto nobody = s->send(request_message(AuditKind::kRequestCreated, 3), now());
  EXPECT_EQ(nobody.status, kEmailNobodyToMail) << nobody.error;
  EXPECT_EQ(verdict(nobody), outbox::Verdict::kDelivered);
  EXPECT_EQ(rx_.received().size(), 3U);
  std::uint64_t seq = 10;
  for (const auto kind : {AuditKind::kRequestDenied, AuditKind::kRequestExpired, AuditKind::kRequestCancelled,
                          AuditKind::kGrantRevoked}) {
    ASSERT_EQ(s->send(request_message(kind, ++seq), now()).status, kEmailDelivered) << to_string(kind);
    EXPECT_EQ(rx_.received().back().rcpt_tos, std::vector<std::string>{"alice@example.com"}) << to_string(kind);
  }
  EXPECT_EQ(rx_.received().size(), 7U);
  // A test message on such a channel has nobody to go to: it says so.
  Message tested;
  tested.event.seq = 5;
  tested.event.action = std::string(to_string(AuditKind::kNotifyChannelTested));
  tested.event.actor = "admin";
  tested.event.target = "ch-mail";
  tested.id = event_id(tested.event);
  const auto test_out = s->send(tested, now());
  EXPECT_EQ(test_out.status, kEmailRefused);
  EXPECT_NE(test_out.error.find("nothing was sent"), std::string::npos) << test_out.error;
}

TEST_F(EmailSenderTest, ARequesterNameThatMakesNoAddressIsNotMailed) {
  ASSERT_TRUE(rx_.start("starttls")) << rx_.error();
  auto c = config();
  c.to.clear();
  c.requester_template = "{user}@example.com";
  auto s = sender(c);
  ASSERT_NE(s, nullptr);
  for (const std::string& name : std::vector<std::string>{"bob smith", "eve%evil.example", "eve@evil.example",
                                                          "alice\r\nBcc: evil@x.example", "", "+x"}) {
    auto record = request_record();
    record.request.requester = name;
    const auto out = s->send(request_message(AuditKind::kRequestApproved, 1, record), now());
    EXPECT_EQ(out.status, kEmailRefused) << name;
    EXPECT_NE(out.error.find("nothing was sent"), std::string::npos) << out.error;
    EXPECT_EQ(out.error.find('\r'), std::string::npos) << out.error;
    EXPECT_EQ(verdict(out), outbox::Verdict::kDead);
  }
  EXPECT_TRUE(rx_.received().empty());
  // With a list, the list is mailed and the bad name is left out.
  c.to = {"approvers@example.com"};
  s = sender(c);
  ASSERT_NE(s, nullptr);
  auto record = request_record();
  record.request.requester = "eve%evil.example";
  const auto out = s->send(request_message(AuditKind::kRequestApproved, 2, record), now());
  EXPECT_EQ(out.status, kEmailDelivered) << out.error;
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].rcpt_tos, std::vector<std::string>{"approvers@example.com"});
}

TEST_F(EmailSenderTest, ARetryResendsOnlyTheMailThatDidNotGo) {
  ASSERT_TRUE(rx_.start("tempfail-rcpt:alice@example.com")) << rx_.error();
  auto c = config();
  c.to = {"approvers@example.com"};
  c.requester_template = "{user}@example.com";
  auto s = sender(c);
  ASSERT_NE(s, nullptr);
  const auto approved = request_message(AuditKind::kRequestApproved, 2);
  auto out = s->send(approved, now());
  EXPECT_EQ(out.status, kEmailRefusedForNow) << out.error;
  EXPECT_NE(out.error.find("to the requester: "), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("450"), std::string::npos) << out.error;
  ASSERT_EQ(rx_.received().size(), 1U);
  ASSERT_TRUE(rx_.start("starttls", rx_.port())) << rx_.error();
  out = s->send(approved, now());
  EXPECT_EQ(out.status, kEmailDelivered) << out.error;
  const auto got = rx_.received();
  ASSERT_EQ(got.size(), 2U) << "the list's mail went twice";
  EXPECT_EQ(got[1].rcpt_tos, std::vector<std::string>{"alice@example.com"});
  // A permanent refusal of the requester's address is a dead letter.
  ASSERT_TRUE(rx_.start("reject-rcpt:alice@example.com", rx_.port())) << rx_.error();
  out = s->send(request_message(AuditKind::kRequestDenied, 3), now());
  EXPECT_EQ(out.status, kEmailRefused) << out.error;
  EXPECT_NE(out.error.find("to the requester: "), std::string::npos) << out.error;
  EXPECT_EQ(rx_.received().size(), 3U);  // the list has it
}

TEST_F(EmailSenderTest, AServerThatSaysNothingIsCutAtTheTimeoutOrByInterrupt) {
  ASSERT_TRUE(rx_.start("hang")) << rx_.error();
  auto c = config();
  c.timeout = std::chrono::seconds{1};
  auto s = sender(c);
  ASSERT_NE(s, nullptr);
  auto started = std::chrono::steady_clock::now();
  auto out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
  EXPECT_FALSE(out.status.has_value()) << out.error;
  EXPECT_NE(out.error.find("timed out"), std::string::npos) << out.error;

  c.timeout = std::chrono::seconds{30};
  s = sender(c);
  ASSERT_NE(s, nullptr);
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds(300));
    s->interrupt();
  });
  started = std::chrono::steady_clock::now();
  out = s->send(request_message(AuditKind::kRequestCreated, 1), now());
  const auto took = std::chrono::steady_clock::now() - started;
  stopper.join();
  EXPECT_LT(took, milliseconds(1500));
  EXPECT_FALSE(out.status.has_value());
  // Interrupted stays interrupted: nothing more goes through this sender.
  started = std::chrono::steady_clock::now();
  out = s->send(request_message(AuditKind::kRequestCreated, 2), now());
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(200));
  EXPECT_FALSE(out.status.has_value());
}

TEST_F(EmailSenderTest, BadSettingsAreRefusedWhenTheSenderIsMade) {
  auto c = config();
  c.smtp_url = "smtp://127.0.0.1:2525";
  EXPECT_EQ(make_email_sender(channel(c), "").error().code, ErrorCode::kInvalidArgument)
      << "a username without a password";
  EXPECT_EQ(make_email_sender(channel(c), "not json").error().code, ErrorCode::kInvalidArgument);
  c.ca_file = "/no/such/ca.pem";
  EXPECT_EQ(make_email_sender(channel(c), secrets()).error().message, kUnusableCaFile);  // ca_file_test.cpp
  auto ch = channel(config());
  ch.config = R"({"smtp_url":"http://127.0.0.1:25","from":"a@b.c","to":["d@e.f"]})";
  EXPECT_EQ(make_email_sender(ch, "").error().code, ErrorCode::kInvalidArgument);
  // Without a username, no password is needed.
  c.ca_file.reset();
  c.username.reset();
  EXPECT_TRUE(make_email_sender(channel(c), "").ok());
}

}  // namespace
}  // namespace hoist::notify
