// What a person reads about an event in a chat: the title, the facts in
// order, the outcome once decided; typed text made visible, never cut here.
#include "server/notify/summary.h"

#include <gtest/gtest.h>

#include "core/display_text.h"

namespace hoist::notify {
namespace {

AuditEvent event(const std::string& action, const std::string& target = "req-1") {
  AuditEvent e;
  e.seq = 42;
  e.time = AuditTime{std::chrono::milliseconds{1'800'000'000'123}};
  e.actor = "agent:ep-1";
  e.action = action;
  e.target = target;
  e.host = "laptop-7";
  e.details = R"({"requester":"alice"})";
  e.hash = sha256("event 42");
  return e;
}

store::RequestRecord request() {
  store::RequestRecord r;
  r.request.id = "req-1";
  r.request.requester = "alice";
  r.request.host = "laptop-7";
  r.request.rule = "installs";
  r.request.justification = "ticket 4711 <!channel> @here \xff";
  r.request.requested_duration = Seconds{1800};
  r.request.created_at = TimePoint{Seconds{1'800'000'000}};
  r.request.pending_deadline = TimePoint{Seconds{1'800'003'600}};
  r.command.path = "/usr/bin/apt-get";
  r.command.argv = {"apt-get", "install", "curl"};
  r.command.sha256 = sha256("apt-get");
  r.command.package = "apt";
  return r;
}

Message message(const std::string& action, std::optional<store::RequestRecord> rec = request()) {
  return Message{"evt_42_x", event(action), std::move(rec), "https://hoist.example/#/requests/req-1"};
}

std::vector<std::string> labels(const Summary& s) {
  std::vector<std::string> out;
  for (const auto& f : s.facts) out.push_back(f.label);
  return out;
}

std::string value(const Summary& s, const std::string& label) {
  for (const auto& f : s.facts) {
    if (f.label == label) return f.value;
  }
  return "<missing>";
}

TEST(NotifySummary, APendingRequestSaysWhoWhatWhyAndByWhen) {
  const auto s = summarize(message("request.created"));
  EXPECT_EQ(s.title, "alice on laptop-7 asks for root");
  EXPECT_EQ(labels(s), (std::vector<std::string>{"User", "Host", "Command", "Justification", "Program", "SHA-256",
                                                 "Package", "Run as", "Duration", "Rule", "Answer by", "Waits until"}));
  EXPECT_EQ(value(s, "Command"), "apt-get install curl");
  EXPECT_EQ(value(s, "Program"), "/usr/bin/apt-get");
  EXPECT_EQ(value(s, "SHA-256"), sha256("apt-get").hex());
  EXPECT_EQ(value(s, "Package"), "apt");
  EXPECT_EQ(value(s, "Run as"), "root");
  EXPECT_EQ(value(s, "Duration"), "30m");
  EXPECT_EQ(value(s, "Rule"), "installs");
  // The two-minute target counts from the request's creation.
  EXPECT_EQ(value(s, "Answer by"), "2027-01-15T08:02:00Z, the 2-minute target");
  EXPECT_EQ(value(s, "Waits until"), "2027-01-15T09:00:00Z");
  // Typed text is data: not escaped for any markup here, but an invalid
  // byte is shown as one.
  EXPECT_EQ(value(s, "Justification"), "ticket 4711 <!channel> @here \\xff");
  EXPECT_TRUE(s.facts[2].wide && s.facts[3].wide);
  EXPECT_FALSE(s.facts[0].wide);
  EXPECT_EQ(s.link, "https://hoist.example/#/requests/req-1");
  EXPECT_EQ(s.context,
            "request.created \xC2\xB7 audit event 42 \xC2\xB7 2027-01-15T08:00:00.123Z \xC2\xB7 by agent:ep-1");
}

TEST(NotifySummary, TextThatHidesOrReordersIsShownEscaped) {
  auto r = request();
  r.command.argv = {"rm", "-rf", "/tmp/x\xe2\x80\xae/etc", "a b", "it's", ""};
  r.request.justification = "line one\nline two\x1b[31m";
  r.request.requester = "al\xe2\x80\x8bice";
  const auto s = summarize(message("request.created", r));
  EXPECT_EQ(value(s, "Command"), "rm -rf '/tmp/x\\u{202E}/etc' 'a b' 'it'\\''s' ''");
  EXPECT_EQ(value(s, "Justification"), "line one\\x0aline two\\x1b[31m");
  EXPECT_EQ(value(s, "User"), "al\\u{200B}ice");
  EXPECT_EQ(s.title, "al\\u{200B}ice on laptop-7 asks for root");
}

TEST(NotifySummary, HugeFieldsAreMadeVisibleOnlyAsFarAsAnyKindShows) {
  auto r = request();
  std::string huge;
  for (int i = 0; i < 30000; ++i) huge += "\xe2\x82\xac";  // 90 KB of 3-byte characters
  r.request.justification = huge;
  r.command.argv = std::vector<std::string>(20000, "arg");
  const auto s = summarize(message("request.created", r));
  const auto justification = value(s, "Justification");
  EXPECT_LT(justification.size(), 8200U);
  EXPECT_TRUE(is_valid_utf8(justification));
  EXPECT_TRUE(justification.ends_with("\xe2\x82\xac\xe2\x80\xa6")) << "cut between characters";
  const auto command = value(s, "Command");
  EXPECT_LT(command.size(), 8300U);
  EXPECT_TRUE(command.starts_with("arg arg arg"));
  EXPECT_TRUE(command.ends_with(" \xe2\x80\xa6"));
}

TEST(NotifySummary, LaterEventsSayTheOutcome) {
  auto r = request();
  r.request.state = RequestState::kApproved;
  r.request.review = Review{Review::By::kApprover, "bob", true, "ok *for* today", TimePoint{Seconds{1'800'000'060}}};
  r.request.grant_deadline = TimePoint{Seconds{1'800'001'860}};
  auto s = summarize(message("request.approved", r));
  EXPECT_EQ(s.title, "Approved: root for alice on laptop-7");
  EXPECT_EQ(value(s, "Outcome"), "Approved by bob; the grant runs until 2027-01-15T08:31:00Z; comment: ok *for* today");
  EXPECT_EQ(value(s, "Answer by"), "<missing>");
  EXPECT_TRUE(s.facts.back().wide);

  r.request.state = RequestState::kDenied;
  r.request.review = Review{Review::By::kApprover, "bob", false, "use the package", {}};
  r.request.grant_deadline.reset();
  s = summarize(message("request.denied", r));
  EXPECT_EQ(s.title, "Denied: root for alice on laptop-7");
  EXPECT_EQ(value(s, "Outcome"), "Denied by bob; comment: use the package");

  r.request.state = RequestState::kCancelled;
  r.request.review.reset();
  r.request.ended_by = "alice";
  r.request.ended_at = TimePoint{Seconds{1'800'000'030}};
  s = summarize(message("request.cancelled", r));
  EXPECT_EQ(value(s, "Outcome"), "Cancelled by alice at 2027-01-15T08:00:30Z");

  r.request.state = RequestState::kExpired;
  r.request.ended_by.clear();
  r.request.ended_at = r.request.pending_deadline;
  s = summarize(message("request.expired", r));
  EXPECT_EQ(s.title, "Expired unanswered: root for alice on laptop-7");
  EXPECT_EQ(value(s, "Outcome"), "Expired unanswered at 2027-01-15T09:00:00Z");

  r.request.state = RequestState::kRevoked;
  r.request.review = Review{Review::By::kSelf, "alice", true, "", {}};
  r.request.ended_by = "carol";
  r.request.ended_at = TimePoint{Seconds{1'800'000'600}};
  r.request.end_reason = "done <@U123>";
  s = summarize(message("grant.revoked", r));
  EXPECT_EQ(s.title, "Revoked: root for alice on laptop-7");
  EXPECT_EQ(value(s, "Outcome"), "Revoked by carol at 2027-01-15T08:10:00Z; reason: done <@U123>");

  r.request.state = RequestState::kExpired;
  r.request.grant_deadline = TimePoint{Seconds{1'800'001'800}};
  s = summarize(message("grant.expired", r));
  EXPECT_EQ(s.title, "Ended: root for alice on laptop-7");
  EXPECT_EQ(value(s, "Outcome"), "The grant ended at 2027-01-15T08:30:00Z");
}

TEST(NotifySummary, RunAsASessionAndEventsWithoutARequest) {
  auto r = request();
  r.command.runas_user = "postgres";
  r.command.runas_group = "dba";
  auto s = summarize(message("request.created", r));
  EXPECT_EQ(s.title, "alice on laptop-7 asks for sudo -u postgres -g dba");
  EXPECT_EQ(value(s, "Run as"), "postgres:dba");

  r = request();
  r.request.kind = RequestKind::kSession;
  r.command = {};
  s = summarize(message("request.created", r));
  EXPECT_EQ(s.title, "alice on laptop-7 asks for an admin session");
  EXPECT_EQ(value(s, "Command"), "an admin session, every process recorded");
  EXPECT_EQ(value(s, "Program"), "<missing>");

  s = summarize(message("request.approved", std::nullopt));
  EXPECT_EQ(s.title, "request.approved: req-1");
  s = summarize(Message{"evt", event("policy.deleted", "fleet"), std::nullopt, ""});
  EXPECT_EQ(s.title, "Hoist: policy.deleted");
  EXPECT_EQ(labels(s), (std::vector<std::string>{"By", "Target", "Host", "Details"}));
  EXPECT_EQ(value(s, "Details"), R"({"requester":"alice"})");
  s = summarize(Message{"evt", event("notify.channel_tested", "ch-1"), std::nullopt, ""});
  EXPECT_EQ(s.title, "Test message from Hoist");
  EXPECT_EQ(s.link, "");
}

// Escapes as the kinds' do: an entity for one, a backslash for another.
std::string entities(std::string_view text) {
  std::string out;
  for (const char c : text) out += c == '&' ? std::string("&amp;") : std::string(1, c);
  return out;
}
std::string backslashes(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '*' || c == '<' || c == '{') out += '\\';
    out += c;
  }
  return out;
}

TEST(NotifySummary, EscapeToFitNeverSplitsAnEscapeNorACharacter) {
  EXPECT_EQ(escape_to_fit("&&&&", 12, entities), "&amp;&amp;\xE2\x80\xA6");  // and the ellipsis
  EXPECT_EQ(escape_to_fit("a&b", 100, entities), "a&amp;b");
  const std::string text = "<!channel> & <@U123> *bold* [x](http://e) ${expr} \xe2\x82\xac\xf0\x9f\x98\x80 &lt;";
  for (auto* escape : {entities, backslashes}) {
    for (std::size_t limit = 0; limit < 120; ++limit) {
      const auto out = escape_to_fit(text, limit, escape);
      EXPECT_LE(utf16_length(out), limit);
      EXPECT_TRUE(is_valid_utf8(out));
      // It is the escape of a cut of the text (the longest that fits): no
      // escape was split.
      bool found = false;
      for (std::size_t budget = 0; budget <= limit && !found; ++budget) {
        found = out == escape(cut_text(text, budget));
      }
      EXPECT_TRUE(found) << limit << ": " << out;
    }
  }
}

}  // namespace
}  // namespace hoist::notify
