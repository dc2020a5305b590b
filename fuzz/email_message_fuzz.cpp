// Fuzzes what an email channel does with text it did not write: the
// address rules (a `to` entry, a requester's name under the template, the
// SMTP URL), and the mail made of a request whose every typed field, and
// an event whose every field, is the input. Checks: no crash, no UB; an
// accepted address has one '@' and none of the characters that would end
// or add a header or a recipient; a mail's header fields are printable
// ASCII lines (CR only in a fold, no line past SMTP's 998), its subject
// bounded, its parts valid UTF-8, and its HTML part holds no '<' the input
// brought (every tag in it is the template's).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/display_text.h"
#include "server/notify/email.h"
#include "server/notify/email_message.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

void check_header_field(const std::string& field) {
  std::size_t line = 0;
  for (std::size_t i = 0; i < field.size(); ++i) {
    const char c = field[i];
    if (c == '\r') {
      check(field.compare(i, 3, "\r\n ") == 0);
      line = 0;
      ++i;
      continue;
    }
    check(c >= ' ' && c < 0x7f);
    check(++line <= 998);
  }
}

// The template's tags, and nothing else that starts with '<'.
void check_html(const std::string& html) {
  static constexpr std::string_view kTags[] = {
      "<!DOCTYPE html>", "<html>", "</html>", "<head>", "</head>",  "<meta ",    "<title>", "</title>",   "<body ",
      "</body>",         "<p>",    "</p>",    "<p ",    "<strong>", "</strong>", "<table ", "</table>",   "<tr>",
      "</tr>",           "<th ",   "</th>",   "<td>",   "</td>",    "<code>",    "</code>", "<a href=\"", "</a>"};
  for (std::size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    bool known = false;
    for (const auto tag : kTags) known = known || html.compare(at, tag.size(), tag) == 0;
    check(known);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (hoist::notify::check_email_address(text)) {
    check(text.find_first_of(" \t\r\n<>,;:\"()[]\\") == std::string_view::npos);
    check(text.find('@') != std::string_view::npos && text.find('@') == text.rfind('@'));
  }
  if (auto address = hoist::notify::requester_address("{user}@example.com", text)) {
    check(hoist::notify::check_email_address(*address).ok() && address->ends_with("@example.com"));
    check(text.find_first_of("%!+") == std::string_view::npos);
  }
  if (hoist::notify::check_requester_template(text) && text != "{user}") {
    check(hoist::notify::requester_address(text, "alice").ok());
  }
  if (auto server = hoist::notify::check_smtp_url(text)) {
    check(server->origin.starts_with(server->implicit_tls ? "smtps://" : "smtp://"));
  }

  const std::string t(text);
  hoist::notify::Message m;
  m.event.seq = 1;
  m.event.action = t;
  m.event.actor = t;
  m.event.target = t;
  m.event.details = t;
  m.id = t;
  m.link = t;
  hoist::store::RequestRecord r;
  r.request.id = t;
  r.request.requester = t;
  r.request.host = t;
  r.request.justification = t;
  r.request.rule = t;
  r.command.path = t;
  r.command.argv = {t, t};
  r.command.package = t;
  r.command.runas_user = t;
  // The request's mail for the list, and the event's (no request) for the
  // requester: between them every path of the composer.
  m.request = r;
  for (const auto audience : {hoist::notify::MailAudience::kChannel, hoist::notify::MailAudience::kRequester}) {
    const auto mail = hoist::notify::compose_mail(m, "h@example.com", {"a@example.com"}, audience);
    for (const auto& h : mail.headers) check_header_field(h);
    check(hoist::is_valid_utf8(mail.subject) && mail.subject.size() <= 200);
    check(hoist::is_valid_utf8(mail.text) && hoist::is_valid_utf8(mail.html));
    check_html(mail.html);
    m.request.reset();
  }
  return 0;
}
