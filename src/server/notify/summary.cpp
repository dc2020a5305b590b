#include "server/notify/summary.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/display_text.h"
#include "core/timestamp.h"

namespace hoist::notify {

namespace {

// No kind shows more than a few thousand characters of a field, so a
// field is made visible (then escaped and cut by the kind) only up to this
// many bytes, cut on a character boundary: a 60 KB argument costs what a
// short one does.
constexpr std::size_t kMaxShownBytes = 8192;
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";

std::string shown(std::string_view text) {
  if (text.size() <= kMaxShownBytes) return visible_text(text);
  std::size_t end = kMaxShownBytes;
  // Back to the start of a sequence the cut would break (at most three
  // continuation bytes).
  while (end > kMaxShownBytes - 3 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return visible_text(text.substr(0, end)) + std::string(kEllipsis);
}

// What the request asks for: "root", "sudo -u postgres", "an admin session".
std::string grant_of(const store::RequestRecord& r) {
  if (r.request.kind == RequestKind::kSession) return "an admin session";
  std::string who = r.command.runas_user.empty() ? "root" : shown(r.command.runas_user);
  if (!r.command.runas_group.empty()) return fmt::format("sudo -u {} -g {}", who, shown(r.command.runas_group));
  return who == "root" ? who : "sudo -u " + who;
}

std::string request_title(const AuditEvent& e, const store::RequestRecord& r) {
  const std::string user = shown(r.request.requester);
  const std::string host = shown(r.request.host);
  const std::string grant = grant_of(r);
  const auto done = [&](std::string_view what) { return fmt::format("{}: {} for {} on {}", what, grant, user, host); };
  if (e.action == "request.created") return fmt::format("{} on {} asks for {}", user, host, grant);
  if (e.action == "request.approved") return done("Approved");
  if (e.action == "request.denied") return done("Denied");
  if (e.action == "request.cancelled") return done("Cancelled");
  if (e.action == "request.expired") return done("Expired unanswered");
  if (e.action == "grant.revoked") return done("Revoked");
  if (e.action == "grant.expired") return done("Ended");
  return done(shown(e.action));
}

std::string with_comment(std::string text, const std::string& label, const std::string& comment) {
  if (!comment.empty()) text += fmt::format("; {}: {}", label, shown(comment));
  return text;
}

std::string outcome_of(const Request& r) {
  switch (r.state) {
    case RequestState::kPending: return "";
    case RequestState::kApproved:
    case RequestState::kActive: {
      std::string text = "Approved";
      if (r.review) {
        switch (r.review->by) {
          case Review::By::kApprover: text += " by " + shown(r.review->reviewer); break;
          case Review::By::kSelf: text += " by " + shown(r.requester) + " themself, a self-approval"; break;
          case Review::By::kAutonomous: text += " automatically by " + shown(r.review->reviewer); break;
        }
      }
      if (r.grant_deadline) text += "; the grant runs until " + format_timestamp(*r.grant_deadline);
      return with_comment(text, "comment", r.review ? r.review->comment : "");
    }
    case RequestState::kDenied:
      return with_comment("Denied" + (r.review ? " by " + shown(r.review->reviewer) : std::string()), "comment",
                          r.review ? r.review->comment : "");
    case RequestState::kCancelled:
      return "Cancelled" + (r.ended_by.empty() ? std::string() : " by " + shown(r.ended_by)) +
             (r.ended_at ? " at " + format_timestamp(*r.ended_at) : std::string());
    case RequestState::kExpired:
      if (r.review && r.review->approved) {
        const auto at = r.grant_deadline ? r.grant_deadline : r.ended_at;
        return "The grant ended" + (at ? " at " + format_timestamp(*at) : std::string());
      }
      return "Expired unanswered at " + format_timestamp(r.ended_at.value_or(r.pending_deadline));
    case RequestState::kRevoked:
      return with_comment("Revoked" + (r.ended_by.empty() ? std::string() : " by " + shown(r.ended_by)) +
                              (r.ended_at ? " at " + format_timestamp(*r.ended_at) : std::string()),
                          "reason", r.end_reason);
  }
  return "";
}

std::vector<Fact> request_facts(const store::RequestRecord& rec) {
  const Request& r = rec.request;
  const store::CommandInfo& c = rec.command;
  std::vector<Fact> facts = {{"User", shown(r.requester)}, {"Host", shown(r.host)}};
  if (r.kind == RequestKind::kSession) {
    facts.push_back({"Command", "an admin session, every process recorded", true});
  } else if (!c.argv.empty() || !c.path.empty()) {
    facts.push_back({"Command", command_line(c.argv.empty() ? std::vector<std::string>{c.path} : c.argv), true});
  }
  facts.push_back({"Justification", r.justification.empty() ? "none given" : shown(r.justification), true});
  if (!c.path.empty()) {
    facts.push_back({"Program", shown(c.path)});
    facts.push_back({"SHA-256", c.sha256 ? c.sha256->hex() : "unknown"});
    facts.push_back({"Package", c.package.empty() ? "none" : shown(c.package)});
  }
  if (r.kind == RequestKind::kCommand) {
    facts.push_back({"Run as", (c.runas_user.empty() ? std::string("root") : shown(c.runas_user)) +
                                   (c.runas_group.empty() ? std::string() : ":" + shown(c.runas_group))});
  }
  facts.push_back({"Duration", format_duration(r.requested_duration)});
  facts.push_back({"Rule", r.rule.empty() ? "the policy's default" : shown(r.rule)});
  if (r.state == RequestState::kPending) {
    facts.push_back({"Answer by", format_timestamp(r.created_at + kAnswerTarget) + ", the 2-minute target"});
    facts.push_back({"Waits until", format_timestamp(r.pending_deadline)});
  } else {
    facts.push_back({"Outcome", outcome_of(r), true});
  }
  return facts;
}

}  // namespace

std::string command_line(const std::vector<std::string>& argv) {
  const auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("@%+=:,./_-").find(c) != std::string_view::npos;
  };
  std::string out;
  for (const auto& arg : argv) {
    if (out.size() > kMaxShownBytes) {
      out += " ";
      out += kEllipsis;
      break;
    }
    if (!out.empty()) out += ' ';
    const std::string text = shown(arg);
    if (!text.empty() && std::all_of(text.begin(), text.end(), plain)) {
      out += text;
      continue;
    }
    out += '\'';
    for (const char ch : text) {
      if (ch == '\'') {
        out += "'\\''";
      } else {
        out += ch;
      }
    }
    out += '\'';
  }
  return out;
}

std::string escape_to_fit(std::string_view text, std::size_t max_units, std::string (*escape)(std::string_view)) {
  std::string whole = escape(text);
  const std::size_t whole_units = utf16_length(whole);
  if (whole_units <= max_units) return whole;
  // The longest cut whose escape fits: a longer cut never escapes shorter,
  // so a binary search over the cut's length finds it. Its first guess is
  // where the cut would be if the escapes were spread evenly.
  const std::size_t text_units = utf16_length(text);
  std::size_t lo = 0;  // fits (the empty cut escapes to "")
  std::size_t hi = std::min(max_units, text_units);
  std::size_t mid = std::min(hi, max_units * text_units / whole_units);
  std::string best;
  while (lo < hi) {
    if (mid <= lo || mid > hi) mid = lo + (hi - lo + 1) / 2;
    std::string out = escape(cut_text(text, mid));
    if (utf16_length(out) <= max_units) {
      lo = mid;
      best = std::move(out);
    } else {
      hi = mid - 1;
    }
    mid = 0;
  }
  return best;
}

Summary summarize(const Message& m) {
  const AuditEvent& e = m.event;
  Summary s;
  s.link = m.link;
  s.context = fmt::format("{} \xC2\xB7 audit event {} \xC2\xB7 {}", shown(e.action), e.seq, format_event_time(e.time));
  if (!e.actor.empty()) s.context += " \xC2\xB7 by " + shown(e.actor);
  if (m.request) {
    s.title = request_title(e, *m.request);
    s.facts = request_facts(*m.request);
    return s;
  }
  if (e.action == "notify.channel_tested") {
    s.title = "Test message from Hoist";
    s.facts = {{"Sent by", shown(e.actor)}};
    return s;
  }
  s.title = concerns_request(e) ? fmt::format("{}: {}", shown(e.action), shown(e.target))
                                : fmt::format("Hoist: {}", shown(e.action));
  s.facts = {{"By", shown(e.actor)}};
  if (!e.target.empty()) s.facts.push_back({"Target", shown(e.target)});
  if (!e.host.empty()) s.facts.push_back({"Host", shown(e.host)});
  if (!e.details.empty() && e.details != "{}") s.facts.push_back({"Details", shown(e.details), true});
  return s;
}

}  // namespace hoist::notify
