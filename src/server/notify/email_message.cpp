#include "server/notify/email_message.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <span>

#include "core/audit_kind.h"
#include "core/display_text.h"
#include "core/duration.h"
#include "core/timestamp.h"
#include "core/webhook_signature.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // U+2026
constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kFoldAt = 78;
constexpr std::size_t kMaxHeaderValueBytes = 900;  // with the name, under SMTP's 998
constexpr std::size_t kEncodedWordBytes = 39;      // 52 base64 characters: a word of 64
constexpr std::size_t kSubjectBytes = 150;
constexpr std::size_t kNameBytes = 100;
constexpr std::size_t kCommandSubjectBytes = 100;
constexpr std::size_t kFieldBytes = 2000;
constexpr std::size_t kDetailBytes = 300;
constexpr std::size_t kMaxDetailFields = 30;
constexpr std::size_t kLabelWidth = 15;

// Only what an RFC 5322 msg-id's dot-atom may hold, so an id from the
// store can never break the header: anything else becomes '_'.
std::string id_part(std::string_view s) {
  std::string out;
  for (const char c : s.substr(0, 100)) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  while (!out.empty() && out.front() == '.') out.erase(out.begin());
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out.empty() ? std::string("_") : out;
}

// Shell-like quoting of one argument for reading, not for running.
std::string quote_argument(std::string_view arg) {
  const bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_./:=@%+,-").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(arg);
  std::string out = "'";
  for (const char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// The command as typed: its path, then the arguments after argv[0]; no
// longer than a field shows.
std::string command_line(const store::RequestRecord& r) {
  std::string out = quote_argument(std::string_view(r.command.path).substr(0, kFieldBytes));
  for (std::size_t i = 1; i < r.command.argv.size() && out.size() <= kFieldBytes; ++i) {
    out += ' ';
    out += quote_argument(std::string_view(r.command.argv[i]).substr(0, kFieldBytes));
  }
  return out;
}

json::object details_of(const AuditEvent& e) {
  boost::system::error_code ec;
  auto v = json::parse(e.details, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

std::string detail(const json::object& d, std::string_view key) {
  const auto* v = d.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string time_text(TimePoint t) {
  return format_timestamp(t);
}

// "root", or "root:adm" with a group.
std::string runas_text(const store::RequestRecord& r) {
  std::string who = r.command.runas_user.empty() ? std::string("root") : r.command.runas_user;
  if (!r.command.runas_group.empty()) who += ":" + r.command.runas_group;
  return shown_text(who, kNameBytes);
}

// "alice requests root on laptop-7: /usr/bin/apt-get install curl".
std::string request_title(const store::RequestRecord& r) {
  const Request& q = r.request;
  const auto user = shown_text(q.requester, kNameBytes);
  const auto host = shown_text(q.host, kNameBytes);
  if (q.kind == RequestKind::kSession) {
    return fmt::format("{} requests a {} session on {}", user, runas_text(r), host);
  }
  return fmt::format("{} requests {} on {}: {}", user, runas_text(r), host,
                     shown_text(command_line(r), kCommandSubjectBytes));
}

// The word a later event puts before a request's title; "" for none.
std::string_view outcome_word(std::string_view action) {
  struct Word {
    AuditKind kind;
    std::string_view word;
  };
  static constexpr std::array kWords = {
      Word{AuditKind::kRequestApproved, "Approved"},   Word{AuditKind::kRequestDenied, "Denied"},
      Word{AuditKind::kRequestCancelled, "Cancelled"}, Word{AuditKind::kRequestExpired, "Expired"},
      Word{AuditKind::kGrantRevoked, "Revoked"},       Word{AuditKind::kGrantExpired, "Ended"},
  };
  for (const auto& w : kWords) {
    if (to_string(w.kind) == action) return w.word;
  }
  return "";
}

std::string subject_of(const Message& m) {
  const auto action = shown_text(m.event.action, kNameBytes);
  std::string s;
  if (m.request) {
    const auto word = outcome_word(m.event.action);
    const auto title = request_title(*m.request);
    if (m.event.action == to_string(AuditKind::kRequestCreated)) {
      s = title;
    } else {
      s = fmt::format("{}: {}", word.empty() ? std::string_view(action) : word, title);
    }
  } else {
    s = action;
    if (!m.event.target.empty()) s += ": " + shown_text(m.event.target, kNameBytes);
    if (!m.event.actor.empty()) s += " (by " + shown_text(m.event.actor, kNameBytes) + ")";
  }
  return "[Hoist] " + shown_text(s, kSubjectBytes);
}

// The first line: what happened, for whom the mail is.
std::string lead_of(const Message& m, const json::object& d, MailAudience audience) {
  const std::string& action = m.event.action;
  const auto actor = shown_text(m.event.actor, kNameBytes);
  const bool you = audience == MailAudience::kRequester;
  if (!m.request) return fmt::format("{} by {}.", shown_text(action, kNameBytes), actor);
  const Request& q = m.request->request;
  const auto user = shown_text(q.requester, kNameBytes);
  if (action == to_string(AuditKind::kRequestCreated)) {
    return fmt::format("{} asks for {} on {} and waits for an answer until {}.", user, runas_text(*m.request),
                       shown_text(q.host, kNameBytes), time_text(q.pending_deadline));
  }
  const std::string subject = you ? "Your request" : fmt::format("{}'s request", user);
  if (action == to_string(AuditKind::kRequestApproved)) {
    const auto by = detail(d, "by");
    std::string who = fmt::format("by {}", actor);
    if (by == "autonomous") {
      who = fmt::format("automatically (auto-approval {})", shown_text(detail(d, "auto_approval"), kNameBytes));
    } else if (by == "self") {
      who = fmt::format("by {} (self-approval)", user);
    }
    std::string until = shown_text(detail(d, "grant_deadline"), kNameBytes);
    if (until.empty() && q.grant_deadline) until = time_text(*q.grant_deadline);
    return fmt::format("{} was approved {}{}.", subject, who, until.empty() ? "" : ", until " + until);
  }
  if (action == to_string(AuditKind::kRequestDenied)) return fmt::format("{} was denied by {}.", subject, actor);
  if (action == to_string(AuditKind::kRequestCancelled)) {
    const auto by = detail(d, "user");
    return fmt::format("{} was cancelled by {}.", subject, by.empty() ? actor : shown_text(by, kNameBytes));
  }
  if (action == to_string(AuditKind::kRequestExpired)) {
    return fmt::format("{} expired: nobody answered before {}.", subject, time_text(q.pending_deadline));
  }
  const std::string grant = you ? "Your grant" : fmt::format("{}'s grant", user);
  if (action == to_string(AuditKind::kGrantRevoked)) return fmt::format("{} was revoked by {}.", grant, actor);
  if (action == to_string(AuditKind::kGrantExpired)) {
    std::string at = shown_text(detail(d, "grant_deadline"), kNameBytes);
    if (at.empty() && q.grant_deadline) at = time_text(*q.grant_deadline);
    return fmt::format("{} ended{}.", grant, at.empty() ? "" : " at " + at);
  }
  return fmt::format("{}: {} by {}.", subject, shown_text(action, kNameBytes), actor);
}

struct Field {
  std::string label;
  std::string value;  // shown: visible, valid UTF-8, bounded
  bool code = false;  // a command, a digest: monospace in HTML
};

std::vector<Field> request_fields(const store::RequestRecord& r, const json::object& d) {
  const Request& q = r.request;
  std::vector<Field> f;
  f.push_back({"User", shown_text(q.requester, kNameBytes)});
  f.push_back({"Host", shown_text(q.host, kNameBytes)});
  if (q.kind == RequestKind::kSession) {
    f.push_back({"Asks for", "a temporary admin session (every process recorded)"});
  } else {
    f.push_back({"Command", shown_text(command_line(r), kFieldBytes), true});
  }
  f.push_back({"Run as", runas_text(r)});
  if (r.command.sha256) f.push_back({"SHA-256", r.command.sha256->hex(), true});
  if (!r.command.package.empty()) f.push_back({"Package", shown_text(r.command.package, kNameBytes)});
  f.push_back({"Justification", shown_text(q.justification, kFieldBytes)});
  f.push_back({"Duration", format_duration(q.requested_duration)});
  f.push_back({"Rule", q.rule.empty() ? std::string("(the policy's default)") : shown_text(q.rule, kNameBytes)});
  f.push_back({"Approval", std::string(to_string(q.approval_mode))});
  f.push_back({"Requested at", time_text(q.created_at)});
  f.push_back({"Answer by", time_text(q.pending_deadline)});
  if (const auto comment = detail(d, "comment"); !comment.empty()) {
    f.push_back({"Comment", shown_text(comment, kFieldBytes)});
  }
  if (const auto reason = detail(d, "reason"); !reason.empty()) {
    f.push_back({"Reason", shown_text(reason, kFieldBytes)});
  }
  f.push_back({"Request", shown_text(q.id, kNameBytes), true});
  return f;
}

std::vector<Field> event_fields(const AuditEvent& e, const json::object& d) {
  std::vector<Field> f;
  f.push_back({"Event", shown_text(e.action, kNameBytes)});
  f.push_back({"By", shown_text(e.actor, kNameBytes)});
  if (!e.target.empty()) f.push_back({"Target", shown_text(e.target, kNameBytes)});
  if (!e.host.empty()) f.push_back({"Host", shown_text(e.host, kNameBytes)});
  std::size_t n = 0;
  for (const auto& [key, value] : d) {
    if (++n > kMaxDetailFields) break;
    f.push_back({shown_text(key, 40),
                 shown_text(value.is_string() ? std::string(value.as_string()) : json::serialize(value), kDetailBytes),
                 !value.is_string()});
  }
  return f;
}

// An address list, folded after a comma near 78 characters.
std::string address_field(std::string_view name, const std::vector<std::string>& addresses) {
  std::string out(name);
  out += ':';
  std::size_t line = out.size();
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const std::string piece = addresses[i] + (i + 1 < addresses.size() ? "," : "");
    if (i > 0 && line + 1 + piece.size() > kFoldAt) {
      out += kCrlf;
      line = 0;
    }
    out += ' ';
    out += piece;
    line += 1 + piece.size();
  }
  return out;
}

bool is_link(std::string_view s) {
  return s.starts_with("https://") || s.starts_with("http://");
}

std::string text_body(const std::string& lead, const std::vector<Field>& fields, const Message& m,
                      const std::string& footer) {
  std::string out = lead;
  out += kCrlf;
  out += kCrlf;
  for (const auto& f : fields) {
    const std::string label = f.label + ":";
    out += label;
    out.append(label.size() < kLabelWidth ? kLabelWidth - label.size() : 1, ' ');
    out += f.value;
    out += kCrlf;
  }
  if (!m.link.empty()) {
    out += kCrlf;
    out += "Open in the console: " + shown_text(m.link, kFieldBytes);
    out += kCrlf;
  }
  out += kCrlf;
  out += "-- ";
  out += kCrlf;
  out += footer;
  out += kCrlf;
  return out;
}

std::string html_body(const std::string& subject, const std::string& lead, const std::vector<Field>& fields,
                      const Message& m, const std::string& footer) {
  std::string out = "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(subject) +
                    "</title></head>\r\n<body style=\"font-family: sans-serif\">\r\n<p><strong>" + html_escape(lead) +
                    "</strong></p>\r\n<table cellpadding=\"3\">\r\n";
  for (const auto& f : fields) {
    out += "<tr><th align=\"left\" valign=\"top\">" + html_escape(f.label) + "</th><td>";
    out += f.code ? "<code>" + html_escape(f.value) + "</code>" : html_escape(f.value);
    out += "</td></tr>\r\n";
  }
  out += "</table>\r\n";
  if (!m.link.empty()) {
    const auto link = shown_text(m.link, kFieldBytes);
    out += is_link(link) ? "<p><a href=\"" + html_escape(link) + "\">Open in the console</a></p>\r\n"
                         : "<p>" + html_escape(link) + "</p>\r\n";
  }
  out += "<p style=\"color: #666666; font-size: smaller\">" + html_escape(footer) + "</p>\r\n</body></html>\r\n";
  return out;
}

}  // namespace

std::string shown_text(std::string_view text, std::size_t max_bytes) {
  // Every byte shows as one or more: a prefix a little longer than the
  // limit decides, and what a sequence broken at its end shows is cut off.
  const auto prefix = text.substr(0, max_bytes + 4);
  const std::string visible = visible_text(prefix);
  if (visible.size() <= max_bytes && prefix.size() == text.size()) return visible;
  const std::size_t room = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  return valid_utf8(visible, room) + std::string(kEllipsis);
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string header_field(std::string_view name, std::string_view value) {
  value = value.substr(0, kMaxHeaderValueBytes);
  std::string out(name);
  out += ':';
  std::size_t line = out.size();
  const bool plain = std::all_of(value.begin(), value.end(), [](char c) { return c >= ' ' && c < 0x7f; }) &&
                     value.find("=?") == std::string_view::npos;
  if (plain) {
    // Folding puts CRLF before a space: unfolding takes it out again.
    std::size_t start = 0;
    for (bool first = true;; first = false) {
      const auto space = value.find(' ', start);
      const auto word = value.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
      if (!first && line + 1 + word.size() > kFoldAt) {
        out += kCrlf;
        line = 0;
      }
      out += ' ';
      out += word;
      line += 1 + word.size();
      if (space == std::string_view::npos) break;
      start = space + 1;
    }
    return out;
  }
  // RFC 2047: whitespace between encoded-words is not part of the text, so
  // every space is inside a word; a word never splits a UTF-8 sequence.
  for (bool first = true; !value.empty(); first = false) {
    std::size_t n = std::min(value.size(), kEncodedWordBytes);
    while (n > 1 && n < value.size() && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;
    const auto piece = value.substr(0, n);
    out += first ? " " : "\r\n ";
    out += "=?UTF-8?B?";
    out += webhook::base64_encode(std::span(reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size()));
    out += "?=";
    value.remove_prefix(n);
  }
  return out;
}

std::string mail_date(AuditTime t) {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::weekday wd{day};
  const std::chrono::hh_mm_ss hms{std::chrono::floor<std::chrono::seconds>(t - day)};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[wd.c_encoding()],
                     static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

Mail compose_mail(const Message& m, std::string_view from, const std::vector<std::string>& to, MailAudience audience) {
  const json::object d = details_of(m.event);
  Mail mail;
  const std::string event_part = id_part(m.id);
  mail.message_id = audience == MailAudience::kRequester ? fmt::format("<{}.requester@hoist>", event_part)
                                                         : fmt::format("<{}@hoist>", event_part);
  if (m.request) mail.thread_id = fmt::format("<{}@hoist>", id_part(m.request->request.id));
  mail.subject = subject_of(m);
  mail.recipients = to;
  const std::string lead = lead_of(m, d, audience);
  const std::vector<Field> fields = m.request ? request_fields(*m.request, d) : event_fields(m.event, d);
  const std::string footer = fmt::format("hoistd, event {} ({}) at {}", shown_text(m.id, kNameBytes),
                                         shown_text(m.event.action, kNameBytes), format_event_time(m.event.time));
  mail.headers.push_back("Date: " + mail_date(m.event.time));
  mail.headers.push_back(fmt::format("From: Hoist <{}>", from));
  mail.headers.push_back(address_field("To", to));
  mail.headers.push_back(header_field("Subject", mail.subject));
  mail.headers.push_back("Message-ID: " + mail.message_id);
  if (!mail.thread_id.empty()) {
    mail.headers.push_back("In-Reply-To: " + mail.thread_id);
    mail.headers.push_back("References: " + mail.thread_id);
  }
  mail.headers.push_back("Auto-Submitted: auto-generated");  // RFC 3834: no auto-replies
  mail.headers.push_back("X-Hoist-Event: " + id_part(m.event.action));
  mail.text = text_body(lead, fields, m, footer);
  mail.html = html_body(mail.subject, lead, fields, m, footer);
  return mail;
}

}  // namespace hoist::notify
