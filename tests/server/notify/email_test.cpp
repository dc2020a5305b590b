// The email channel's settings (strict, the password never echoed), its
// address rules, and what a mail says, without a server: header encoding
// and folding, HTML escaping, cutting on character boundaries, the
// outcome's words for the list and for the requester.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/audit_kind.h"
#include "core/display_text.h"
#include "core/webhook_signature.h"
#include "server/notify/email.h"
#include "server/notify/email_message.h"
#include "server/notify/kinds.h"

namespace hoist::notify {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

TEST(EmailAddress, OnlyPlainAddressesPass) {
  for (const char* good : {"a@b", "alice@example.com", "first.last+tag@mail.example.co.uk", "x_y-z@a-b.example",
                           "o'brien@example.com", "{user}@example.com"}) {
    EXPECT_TRUE(check_email_address(good).ok()) << good;
  }
  for (const std::string& bad : std::vector<std::string>{"",
                                                         "alice",
                                                         "@example.com",
                                                         "alice@",
                                                         "a@b@c",
                                                         "alice @example.com",
                                                         "alice@exa mple.com",
                                                         "Alice <alice@example.com>",
                                                         "alice@example.com, bob@example.com",
                                                         "alice@example.com\r\nBcc: x@y",
                                                         "alice@example.com\n",
                                                         "\"quoted\"@example.com",
                                                         ".alice@example.com",
                                                         "alice.@example.com",
                                                         "al..ice@example.com",
                                                         "alice@-example.com",
                                                         "alice@example-.com",
                                                         "alice@example..com",
                                                         "alice@[127.0.0.1]",
                                                         "alice@exa_mple.com",
                                                         "zoë@example.com",
                                                         "alice@example.com;x",
                                                         "alice(comment)@example.com",
                                                         std::string(65, 'a') + "@example.com",
                                                         "a@" + std::string(64, 'b') + ".com",
                                                         "a@" + std::string(250, 'b')}) {
    auto st = check_email_address(bad);
    EXPECT_FALSE(st.ok()) << bad;
    if (!st.ok()) {
      EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(EmailSmtpUrl, OnlySmtpAndSmtpsToAHost) {
  auto u = check_smtp_url("smtp://mail.example.com:587");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_FALSE(u->implicit_tls);
  EXPECT_EQ(u->origin, "smtp://mail.example.com:587");
  u = check_smtp_url("smtps://mail.example.com");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_TRUE(u->implicit_tls);
  EXPECT_EQ(u->origin, "smtps://mail.example.com:465");
  u = check_smtp_url("smtp://[::1]:2525/");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->origin, "smtp://[::1]:2525");
  EXPECT_EQ(check_smtp_url("smtp://10.0.0.1").value().origin, "smtp://10.0.0.1:25");
  for (const char* bad :
       {"", "http://mail.example.com", "https://mail.example.com", "mail.example.com:25",
        "smtp://user:pw@mail.example.com", "smtp://mail.example.com/helo", "smtp://mail.example.com?x",
        "smtp://mail.example.com#x", "smtp://mail.example.com:0", "smtp://mail.example.com:70000", "smtp://",
        "smtp://mail example.com", "smtp://mail%41.example.com", "file:///etc/passwd", "smtp://mail.exa\x01mple.com"}) {
    auto r = check_smtp_url(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.error().message.find("smtp_url"), std::string::npos) << r.error().message;
    }
  }
}

TEST(EmailConfig, RoundTripsAndIsStrict) {
  EmailConfig c;
  c.smtp_url = "smtp://mail.example.com:587";
  c.from = "hoist@example.com";
  c.to = {"approvers@example.com", "audit@example.com"};
  c.username = "hoist";
  c.ca_file = "/etc/hoist/mail-ca.pem";
  c.timeout = std::chrono::seconds{20};
  c.requester_template = "{user}@example.com";
  const auto text = email_config_json(c);
  EXPECT_EQ(text, R"({"smtp_url":"smtp://mail.example.com:587","from":"hoist@example.com",)"
                  R"("to":["approvers@example.com","audit@example.com"],"username":"hoist",)"
                  R"("ca_file":"/etc/hoist/mail-ca.pem","timeout_s":20,"requester_template":"{user}@example.com"})");
  auto back = parse_email_config(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(email_config_json(*back), text);
  // The minimum, with the defaults.
  back = parse_email_config(R"({"smtp_url":"smtps://m.example","from":"h@example.com","to":["a@example.com"]})");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->timeout, std::chrono::seconds{10});
  EXPECT_FALSE(back->username);
  EXPECT_FALSE(back->ca_file);
  // Only a requester template: to may be empty.
  EXPECT_TRUE(parse_email_config(R"({"smtp_url":"smtps://m.example","from":"h@example.com",)"
                                 R"("requester_template":"{user}@example.com"})")
                  .ok());

  struct Case {
    std::string json;
    const char* says;
  };
  const std::string base = R"("smtp_url":"smtp://m.example","from":"h@example.com")";
  const std::vector<Case> cases = {
      {"[]", "JSON object"},
      {"not json", "JSON object"},
      {R"({"from":"h@example.com","to":["a@example.com"]})", "smtp_url"},
      {R"({"smtp_url":"smtp://m.example","to":["a@example.com"]})", "from"},
      {"{" + base + "}", "at least one address in to"},
      {"{" + base + R"(,"to":[]})", "at least one address in to"},
      {"{" + base + R"(,"to":["a@example.com"],"password":"hunter2"})", "no setting \"password\""},
      {"{" + base + R"(,"to":["a@example.com"],"cc":["b@example.com"]})", "no setting \"cc\""},
      {"{" + base + R"(,"to":"a@example.com"})", "list"},
      {"{" + base + R"(,"to":["a@example.com","Eve <e@x.example>"]})", "to[1]"},
      {"{" + base + R"(,"to":["a@example.com\r\nBcc: e@x.example"]})", "to[0]"},
      {"{" + base + R"(,"to":[7]})", "to[0]"},
      {R"({"smtp_url":"smtp://m.example","from":"h@@example.com","to":["a@example.com"]})", "from"},
      {R"({"smtp_url":"http://m.example","from":"h@example.com","to":["a@example.com"]})", "smtp_url"},
      {"{" + base + R"(,"to":["a@example.com"],"timeout_s":0})", "timeout_s"},
      {"{" + base + R"(,"to":["a@example.com"],"timeout_s":61})", "timeout_s"},
      {"{" + base + R"(,"to":["a@example.com"],"timeout_s":"5"})", "timeout_s"},
      {"{" + base + R"(,"to":["a@example.com"],"ca_file":"ca.pem"})", "absolute path"},
      {"{" + base + R"(,"to":["a@example.com"],"username":""})", "username"},
      {"{" + base + R"(,"to":["a@example.com"],"username":"a\nb"})", "username"},
      {"{" + base + R"(,"requester_template":"alice@example.com"})", "no {user}"},
      {"{" + base + R"(,"requester_template":"{user}.{user}@example.com"})", "twice"},
      {"{" + base + R"(,"requester_template":"{user}@{domain}"})", "brace"},
      {"{" + base + R"(,"requester_template":"{user}@exa mple.com"})", "requester_template"},
      {"{" + base + R"(,"requester_template":"{user}"})", ""},  // allowed: the names are addresses
  };
  for (const auto& c2 : cases) {
    auto r = parse_email_config(c2.json);
    if (std::string_view(c2.says).empty()) {
      EXPECT_TRUE(r.ok()) << c2.json;
      continue;
    }
    ASSERT_FALSE(r.ok()) << c2.json;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find(c2.says), std::string::npos) << c2.json << " -> " << r.error().message;
  }
  std::string many = "{" + base + R"(,"to":[)";
  for (std::size_t i = 0; i <= kMaxEmailRecipients; ++i)
    many += (i ? ",\"" : "\"") + std::to_string(i) + "@e.example\"";
  EXPECT_NE(parse_email_config(many + "]}").error().message.find("at most 50"), std::string::npos);
}

TEST(EmailRequester, TheTemplateMakesAnAddressOnlyFromAPlainName) {
  EXPECT_EQ(requester_address("{user}@example.com", "alice").value(), "alice@example.com");
  EXPECT_EQ(requester_address("{user}@example.com", "first.last_2-x").value(), "first.last_2-x@example.com");
  EXPECT_EQ(requester_address("hoist-{user}@example.com", "bob").value(), "hoist-bob@example.com");
  EXPECT_EQ(requester_address("{user}", "alice@corp.example").value(), "alice@corp.example");
  for (const std::string& bad :
       std::vector<std::string>{"", "bob smith", "eve%evil.example", "eve!evil", "eve+x", "eve@evil.example",
                                "alice\r\nBcc: x@y", "zoë", "CORP\\alice", ".alice", std::string(65, 'a'), "<a>"}) {
    auto r = requester_address("{user}@example.com", bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message.find('\r'), std::string::npos);
      EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
    }
  }
  EXPECT_FALSE(requester_address("{user}", "alice").ok()) << "a bare name is no address";
  EXPECT_TRUE(tells_requester("request.approved"));
  EXPECT_TRUE(tells_requester("request.denied"));
  EXPECT_TRUE(tells_requester("request.expired"));
  EXPECT_TRUE(tells_requester("request.cancelled"));
  EXPECT_TRUE(tells_requester("grant.revoked"));
  for (const char* no : {"request.created", "request.refused", "grant.expired", "notify.channel_tested", ""}) {
    EXPECT_FALSE(tells_requester(no)) << no;
  }
}

TEST(EmailPassword, NeededWithAUsernameAndNeverEchoed) {
  const std::string with_user =
      R"({"smtp_url":"smtp://m.example","from":"h@example.com","to":["a@example.com"],"username":"hoist"})";
  const std::string without = R"({"smtp_url":"smtp://m.example","from":"h@example.com","to":["a@example.com"]})";
  EXPECT_TRUE(email_needs_password(with_user));
  EXPECT_FALSE(email_needs_password(without));
  const auto& kind = *find_channel_kind("email");
  EXPECT_TRUE(kind.secret_required(*kind.check_config(with_user)));
  EXPECT_FALSE(kind.secret_required(*kind.check_config(without)));
  EXPECT_FALSE(kind.secret_rotates);
  EXPECT_TRUE(check_smtp_password(with_user, "correct horse battery staple").ok());
  EXPECT_TRUE(check_smtp_password(with_user, std::string(kMaxSmtpPasswordBytes, 'p')).ok());
  for (const std::string& bad :
       std::vector<std::string>{std::string(), std::string("s3cr3t\r\nRCPT"), std::string("s3cr3t\0x", 8),
                                std::string("s3cr3t\x7f"), std::string(kMaxSmtpPasswordBytes + 1, 'p')}) {
    auto st = kind.check_secret(with_user, bad);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().message.find("s3cr3t"), std::string::npos) << st.error().message;
  }
  // The password is a secret: no config field takes it.
  auto r = kind.check_config(
      R"({"smtp_url":"smtp://m.example","from":"h@example.com","to":["a@example.com"],"password":"s3cr3t"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("s3cr3t"), std::string::npos);
}

TEST(EmailMerge, AChangeSetsFieldsAndNullClearsOne) {
  const auto& email = *find_channel_kind("email");
  auto created = merge_channel_config(
      email, "", R"({"smtp_url":"smtp://m.example:587","from":"h@example.com","to":["a@example.com"],"username":"u"})");
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto changed =
      merge_channel_config(email, *created, R"({"username":null,"requester_template":"{user}@example.com"})");
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_EQ(*changed,
            R"({"smtp_url":"smtp://m.example:587","from":"h@example.com","to":["a@example.com"],"timeout_s":10,)"
            R"("requester_template":"{user}@example.com"})");
  EXPECT_TRUE(merge_channel_config(email, *changed, R"({"to":null})").ok()) << "the template is left";
  EXPECT_FALSE(merge_channel_config(email, *created, R"({"to":null})").ok());
  EXPECT_FALSE(merge_channel_config(email, *created, R"({"smtp_url":null})").ok());
}

// --- what a mail says ---

// The text of a header field as a reader decodes it: unfolded, each
// encoded-word's bytes.
std::string decoded_value(const std::string& field) {
  std::string v = field.substr(field.find(':') + 1);
  std::string unfolded;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v.compare(i, 2, "\r\n") == 0) {
      ++i;
      continue;
    }
    unfolded += v[i];
  }
  if (unfolded.find("=?UTF-8?B?") == std::string::npos) return unfolded.substr(1);
  std::string out;
  std::size_t at = 0;
  while ((at = unfolded.find("=?UTF-8?B?", at)) != std::string::npos) {
    const auto end = unfolded.find("?=", at + 10);
    auto bytes = webhook::base64_decode(unfolded.substr(at + 10, end - at - 10));
    out.append(bytes->begin(), bytes->end());
    at = end + 2;
  }
  return out;
}

void expect_well_formed(const std::string& field) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < field.size(); ++i) {
    const char c = field[i];
    if (c == '\r') {
      ASSERT_EQ(field.compare(i, 3, "\r\n "), 0) << "a CR that is not a fold: " << field;
      line = 0;
      i += 1;
      continue;
    }
    ASSERT_TRUE(c >= ' ' && c < 0x7f) << "not printable ASCII: " << field;
    ++line;
    ASSERT_LE(line, 78U) << field;
  }
}

TEST(EmailHeader, PlainAsciiStaysAndIsFoldedAtSpaces) {
  const std::string value =
      "[Hoist] alice requests root on laptop-7: /usr/bin/apt-get install vim curl git make gcc g++ and more";
  const auto field = header_field("Subject", value);
  expect_well_formed(field);
  EXPECT_NE(field.find("\r\n "), std::string::npos) << field;
  EXPECT_EQ(field.find("=?"), std::string::npos);
  EXPECT_EQ(decoded_value(field), value);
  EXPECT_EQ(header_field("Subject", "short one"), "Subject: short one");
}

TEST(EmailHeader, AnythingElseIsEncodedWordsOfWholeCharacters) {
  for (const std::string& value : std::vector<std::string>{
           std::string("zoë requests root on café-7: /usr/bin/naïve ☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕☕ 𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞𝄞"),
           std::string("looks like =?UTF-8?B?ZXZpbA==?= but is text"), std::string("tab\tand \x7f del")}) {
    const auto field = header_field("Subject", value);
    expect_well_formed(field);
    EXPECT_TRUE(field.starts_with("Subject: =?UTF-8?B?")) << field;
    EXPECT_EQ(decoded_value(field), value) << field;
    // Every word decodes to whole UTF-8 characters on its own.
    std::size_t at = 0;
    while ((at = field.find("=?UTF-8?B?", at)) != std::string::npos) {
      const auto end = field.find("?=", at + 10);
      auto bytes = webhook::base64_decode(field.substr(at + 10, end - at - 10));
      ASSERT_TRUE(bytes.ok());
      EXPECT_TRUE(is_valid_utf8(std::string(bytes->begin(), bytes->end()))) << field;
      at = end + 2;
    }
  }
}

TEST(EmailText, ShownTextIsVisibleAndCutOnACharacterBoundary) {
  EXPECT_EQ(shown_text("a\r\nb", 100), "a\\x0d\\x0ab");
  EXPECT_EQ(shown_text("ok", 100), "ok");
  const std::string euros = "€€€€€€€€€€";  // 3 bytes each
  for (std::size_t max = 4; max < 30; ++max) {
    const auto s = shown_text(euros, max);
    EXPECT_LE(s.size(), max) << max;
    EXPECT_TRUE(is_valid_utf8(s)) << max;
    EXPECT_TRUE(s.ends_with("…")) << max;
  }
  EXPECT_EQ(shown_text(euros, 30), euros);
  EXPECT_EQ(shown_text("\xff\xfe", 100), "\\xff\\xfe");
  EXPECT_EQ(html_escape(R"(<a href="x">Tom & 'Jerry'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(mail_date(AuditTime{milliseconds{1'800'000'000'999}}), "Fri, 15 Jan 2027 08:00:00 +0000");
  EXPECT_EQ(mail_date(AuditTime{milliseconds{0}}), "Thu, 01 Jan 1970 00:00:00 +0000");
}

Message message(const std::string& action, const std::string& details = "{}") {
  Message m;
  m.event.seq = 42;
  m.event.time = AuditTime{milliseconds{1'800'000'000'123}};
  m.event.actor = "bob";
  m.event.action = action;
  m.event.target = "req-1";
  m.event.details = details;
  m.event.hash = sha256("event 42");
  m.id = event_id(m.event);
  store::RequestRecord r;
  r.request.id = "req-1";
  r.request.requester = "alice";
  r.request.host = "laptop-7";
  r.request.justification = "</td><script>alert(1)</script>";
  r.request.requested_duration = Seconds{5400};
  r.request.created_at = TimePoint{Seconds{1'800'000'000}};
  r.request.pending_deadline = TimePoint{Seconds{1'800'000'120}};
  r.command.path = "/usr/bin/rm";
  r.command.argv = {"rm", "-rf", "/tmp/a b", "it's"};
  m.request = r;
  m.link = "https://hoist.example/#/requests/req-1";
  return m;
}

TEST(EmailCompose, TheListsMailAndTheRequestersSayTheOutcomeTheirWay) {
  const auto m = message("request.denied", R"({"comment":"not <now>","state":"denied","requester":"alice"})");
  const auto list = compose_mail(m, "hoist@example.com", {"a@example.com", "b@example.com"}, MailAudience::kChannel);
  EXPECT_EQ(list.message_id, "<" + m.id + "@hoist>");
  EXPECT_EQ(list.thread_id, "<req-1@hoist>");
  EXPECT_EQ(list.recipients, (std::vector<std::string>{"a@example.com", "b@example.com"}));
  EXPECT_EQ(list.subject, "[Hoist] Denied: alice requests root on laptop-7: /usr/bin/rm -rf '/tmp/a b' 'it'\\''s'");
  EXPECT_EQ(list.headers.at(0), "Date: Fri, 15 Jan 2027 08:00:00 +0000");
  EXPECT_EQ(list.headers.at(1), "From: Hoist <hoist@example.com>");
  EXPECT_EQ(list.headers.at(2), "To: a@example.com, b@example.com");
  EXPECT_EQ(list.headers.at(4), "Message-ID: " + list.message_id);
  EXPECT_EQ(list.headers.at(5), "In-Reply-To: <req-1@hoist>");
  EXPECT_EQ(list.headers.at(6), "References: <req-1@hoist>");
  EXPECT_EQ(list.headers.at(8), "X-Hoist-Event: request.denied");
  for (const auto& h : list.headers) expect_well_formed(h);
  EXPECT_TRUE(list.text.starts_with("alice's request was denied by bob.\r\n\r\n")) << list.text;
  EXPECT_NE(list.text.find("Duration:      1h30m\r\n"), std::string::npos) << list.text;
  EXPECT_NE(list.text.find("Rule:          (the policy's default)\r\n"), std::string::npos) << list.text;
  EXPECT_NE(list.text.find("Comment:       not <now>\r\n"), std::string::npos) << list.text;
  EXPECT_EQ(list.html.find("<script>"), std::string::npos) << list.html;
  EXPECT_NE(list.html.find("&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(list.html.find("not &lt;now&gt;"), std::string::npos);
  // CRLF lines only.
  for (const auto* body : {&list.text, &list.html}) {
    for (std::size_t i = 0; i < body->size(); ++i) {
      if ((*body)[i] == '\n') {
        ASSERT_TRUE(i > 0 && (*body)[i - 1] == '\r');
      }
    }
  }
  const auto mine = compose_mail(m, "hoist@example.com", {"alice@example.com"}, MailAudience::kRequester);
  EXPECT_EQ(mine.message_id, "<" + m.id + ".requester@hoist>");
  EXPECT_EQ(mine.thread_id, list.thread_id);
  EXPECT_EQ(mine.subject, list.subject);
  EXPECT_EQ(mine.headers.at(2), "To: alice@example.com");
  EXPECT_TRUE(mine.text.starts_with("Your request was denied by bob.\r\n")) << mine.text;
}

TEST(EmailCompose, EachOutcomeHasItsSentence) {
  struct Case {
    std::string action;
    std::string details;
    std::string list;
    std::string requester;
  };
  const std::vector<Case> cases = {
      {"request.approved", R"({"by":"approver","comment":"","grant_deadline":"2027-01-15T09:00:00Z"})",
       "alice's request was approved by bob, until 2027-01-15T09:00:00Z.",
       "Your request was approved by bob, until 2027-01-15T09:00:00Z."},
      {"request.approved", R"({"by":"autonomous","auto_approval":"night-ops","grant_deadline":null})",
       "alice's request was approved automatically (auto-approval night-ops).",
       "Your request was approved automatically (auto-approval night-ops)."},
      {"request.approved", R"({"by":"self","via":"agent:ep-1"})",
       "alice's request was approved by alice (self-approval).", "Your request was approved by alice (self-approval)."},
      {"request.cancelled", R"({"user":"alice"})", "alice's request was cancelled by alice.",
       "Your request was cancelled by alice."},
      {"request.expired", "{}", "alice's request expired: nobody answered before 2027-01-15T08:02:00Z.",
       "Your request expired: nobody answered before 2027-01-15T08:02:00Z."},
      {"grant.revoked", R"({"reason":"incident 12"})", "alice's grant was revoked by bob.",
       "Your grant was revoked by bob."},
      {"grant.expired", R"({"grant_deadline":"2027-01-15T09:00:00Z"})", "alice's grant ended at 2027-01-15T09:00:00Z.",
       "Your grant ended at 2027-01-15T09:00:00Z."},
  };
  for (const auto& c : cases) {
    const auto m = message(c.action, c.details);
    EXPECT_TRUE(compose_mail(m, "h@example.com", {"a@example.com"}, MailAudience::kChannel).text.starts_with(c.list))
        << c.action << "\n"
        << compose_mail(m, "h@example.com", {"a@example.com"}, MailAudience::kChannel).text;
    EXPECT_TRUE(
        compose_mail(m, "h@example.com", {"a@example.com"}, MailAudience::kRequester).text.starts_with(c.requester))
        << c.action;
  }
  const auto revoked = compose_mail(message("grant.revoked", R"({"reason":"incident 12"})"), "h@example.com",
                                    {"a@example.com"}, MailAudience::kChannel);
  EXPECT_NE(revoked.text.find("Reason:        incident 12"), std::string::npos);
  EXPECT_EQ(revoked.subject.rfind("[Hoist] Revoked: alice requests", 0), 0U) << revoked.subject;
}

TEST(EmailCompose, AnEventWithoutARequestListsItsDetails) {
  Message m;
  m.event.seq = 7;
  m.event.time = AuditTime{milliseconds{1'800'000'000'000}};
  m.event.actor = "admin";
  m.event.action = "notify.channel_tested";
  m.event.target = "ch-abc";
  m.event.details = R"({"name":"mail <ops>","n":3})";
  m.id = event_id(m.event);
  const auto mail = compose_mail(m, "h@example.com", {"a@example.com"}, MailAudience::kChannel);
  EXPECT_EQ(mail.subject, "[Hoist] notify.channel_tested: ch-abc (by admin)");
  EXPECT_TRUE(mail.thread_id.empty());
  for (const auto& h : mail.headers) {
    EXPECT_FALSE(h.starts_with("In-Reply-To") || h.starts_with("References")) << h;
  }
  EXPECT_TRUE(mail.text.starts_with("notify.channel_tested by admin.\r\n")) << mail.text;
  EXPECT_NE(mail.text.find("name:          mail <ops>\r\n"), std::string::npos) << mail.text;
  EXPECT_NE(mail.text.find("n:             3\r\n"), std::string::npos) << mail.text;
  EXPECT_NE(mail.html.find("mail &lt;ops&gt;"), std::string::npos);
}

TEST(EmailCompose, IdsFromTheStoreCannotBreakTheHeaders) {
  auto m = message("request.created");
  m.id = "evt_1_x>\r\nBcc: e@x";
  m.request->request.id = "req-1>\r\nBcc: e@x";
  m.event.action = "endpoint.whatever\r\nBcc: e@x";
  const auto mail = compose_mail(m, "h@example.com", {"a@example.com"}, MailAudience::kChannel);
  for (const auto& h : mail.headers) {
    expect_well_formed(h);
    EXPECT_FALSE(h.starts_with("Bcc")) << h;
  }
  EXPECT_EQ(mail.message_id, "<evt_1_x___Bcc__e_x@hoist>");
  EXPECT_EQ(mail.thread_id, "<req-1___Bcc__e_x@hoist>");
}

}  // namespace
}  // namespace hoist::notify
