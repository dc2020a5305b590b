// The audit trail over the API: filtered pages, the CSV report, the head
// and a server-side verification of the whole chain.
#include <fmt/format.h>

#include "core/csv.h"
#include "core/timestamp.h"
#include "server/api/api_impl.h"

namespace hoist::api {

namespace {

// The CSV export stops after this many events; narrow the filter for more.
constexpr std::size_t kMaxExportEvents = 1'000'000;

AuditTime to_audit_time(TimePoint t) {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(t);
}

std::string format_audit_time(AuditTime t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms = (t - secs).count();
  auto text = format_timestamp(TimePoint{secs.time_since_epoch()});
  // "...:SSZ" -> "...:SS.mmmZ"
  text.insert(text.size() - 1, fmt::format(".{:03}", ms));
  return text;
}

// How `details` is shown in GET /api/v1/audit: as the JSON object it holds
// (for people and scripts), or as the exact recorded text (`details=text`),
// which a client needs to recompute the hash chain itself.
enum class DetailsForm { kObject, kText };

Result<store::AuditFilter> audit_filter(const net::HttpRequest& request, DetailsForm* form = nullptr) {
  store::AuditFilter f;
  for (const auto& [key, value] : request.query) {
    if (key == "details" && form != nullptr) {
      if (value != "object" && value != "text") {
        return invalid_argument("details must be \"object\" or \"text\"");
      }
      *form = value == "text" ? DetailsForm::kText : DetailsForm::kObject;
    } else if (key == "since" || key == "until") {
      auto t = parse_timestamp(value);
      if (!t) {
        return invalid_argument(fmt::format("{}: {}", key, t.error().message));
      }
      (key == "since" ? f.since : f.until) = to_audit_time(*t);
    } else if (key == "actor") {
      f.actor = value;
    } else if (key == "action") {
      f.action = value;
    } else if (key == "target" || key == "request") {
      f.target = value;
    } else if (key == "host") {
      f.host = value;
    } else if (key == "after" || key == "limit") {
      std::uint64_t n = 0;
      if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos) {
        return invalid_argument(fmt::format("{} must be a whole number", key));
      }
      n = std::stoull(value);
      if (key == "after") {
        f.after_seq = n;
      } else {
        if (n < 1 || n > store::kMaxPage) {
          return invalid_argument(fmt::format("limit must be a number from 1 to {}", store::kMaxPage));
        }
        f.limit = static_cast<std::size_t>(n);
      }
    } else {
      return invalid_argument(fmt::format(
          "unknown filter \"{}\"; use since, until, actor, action, target (or request), host, after, limit{}", key,
          form != nullptr ? ", details" : ""));
    }
  }
  return f;
}

}  // namespace

json::object audit_event_json(const AuditEvent& e, bool details_as_text) {
  // Details that are not valid JSON (never written by hoistd) are shown as
  // text rather than hidden.
  json::value details = json_text(e.details);
  if (!details_as_text) {
    boost::system::error_code ec;
    auto parsed = json::parse(e.details, ec);
    if (!ec) {
      details = std::move(parsed);
    }
  }
  return {{"seq", e.seq},
          {"time", format_audit_time(e.time)},
          {"actor", json_text(e.actor)},
          {"action", json_text(e.action)},
          {"target", json_text(e.target)},
          {"host", json_text(e.host)},
          {"details", std::move(details)},
          {"prev_hash", e.prev_hash.hex()},
          {"hash", e.hash.hex()}};
}

Result<net::HttpResponse> Api::Impl::audit_query(Call& call) {
  DetailsForm form = DetailsForm::kObject;
  auto filter = audit_filter(call.request, &form);
  if (!filter) {
    return filter.error();
  }
  auto events = deps.store.audit_events(*filter);
  if (!events) {
    return events.error();
  }
  json::array out;
  for (const auto& e : *events) {
    out.push_back(audit_event_json(e, form == DetailsForm::kText));
  }
  json::value next = nullptr;
  if (events->size() == filter->limit) {
    next = events->back().seq;
  }
  return json_ok(json::object{{"events", std::move(out)}, {"next_after", std::move(next)}});
}

Result<net::HttpResponse> Api::Impl::audit_export(Call& call) {
  auto filter = audit_filter(call.request);
  if (!filter) {
    return filter.error();
  }
  filter->limit = store::kMaxPage;
  std::string csv;
  const std::vector<std::string> header = {"seq",  "time",    "actor",     "action", "target",
                                           "host", "details", "prev_hash", "hash"};
  csv += csv_row(header);
  std::size_t rows = 0;
  bool truncated = false;
  for (;;) {
    auto events = deps.store.audit_events(*filter);
    if (!events) {
      return events.error();
    }
    for (const auto& e : *events) {
      const std::vector<std::string> fields = {std::to_string(e.seq),
                                               format_audit_time(e.time),
                                               e.actor,
                                               e.action,
                                               e.target,
                                               e.host,
                                               e.details,
                                               e.prev_hash.hex(),
                                               e.hash.hex()};
      csv += csv_row(fields);
      ++rows;
    }
    if (events->size() < filter->limit) {
      break;
    }
    if (rows >= kMaxExportEvents) {
      truncated = true;
      break;
    }
    filter->after_seq = events->back().seq;
  }
  net::HttpResponse response;
  response.status = 200;
  response.body = std::move(csv);
  response.set_header("content-type", "text/csv; charset=utf-8");
  response.set_header("content-disposition", "attachment; filename=\"hoist-audit.csv\"");
  response.set_header("x-hoist-rows", std::to_string(rows));
  if (truncated) {
    response.set_header("x-hoist-truncated", "narrow the filter (since/until) to export the rest");
  }
  return response;
}

Result<net::HttpResponse> Api::Impl::audit_head(Call& /*call*/) {
  auto head = deps.store.audit_head();
  if (!head) {
    return head.error();
  }
  if (!*head) {
    return json_ok(json::object{{"seq", 0}, {"hash", nullptr}});
  }
  return json_ok(json::object{{"seq", (*head)->seq}, {"hash", (*head)->hash.hex()}});
}

Result<net::HttpResponse> Api::Impl::audit_verify(Call& /*call*/) {
  auto result = store::verify_stored_chain(deps.store, std::nullopt);
  if (!result) {
    return result.error();
  }
  json::object out{{"ok", result->ok}, {"events_checked", result->events_checked}, {"problem", result->problem}};
  out["first_bad_seq"] = result->first_bad_seq ? json::value(*result->first_bad_seq) : json::value(nullptr);
  return json_ok(out);
}

}  // namespace hoist::api
