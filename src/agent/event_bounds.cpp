#include "agent/event_bounds.h"

#include <fmt/format.h>

#include <array>
#include <boost/json.hpp>
#include <optional>

#include "core/sha256.h"

namespace hoist::agent {

namespace {

namespace json = boost::json;

// Tighter and tighter, until the text fits. The last step always fits
// unless nearly every byte must be escaped; then only the summary is kept.
struct Limits {
  std::size_t string_bytes;  // a string, marker included
  std::size_t items;         // an array's items or an object's fields, marker included
  std::size_t depth;         // containers nested deeper become a marker
};
constexpr std::array<Limits, 4> kLadder{{{1024, 64, kMaxEventDepth}, {256, 32, 6}, {64, 16, 4}, {32, 4, 2}}};
constexpr std::size_t kMaxKeyBytes = 64;
constexpr std::size_t kFallbackBytes = 8 * 1024;
constexpr std::size_t kFallbackFields = 64;
constexpr std::string_view kMarkerKey = "...";
// Top-level keys this file writes: not counted against the field limit,
// so that bounding again keeps them as they are.
constexpr std::array<std::string_view, 6> kSummaryKeys{"truncated",  "full_bytes",  "argv_count",
                                                       "argv_bytes", "argv_sha256", kMarkerKey};

bool summary_key(std::string_view key) {
  for (const auto k : kSummaryKeys) {
    if (k == key) return true;
  }
  return false;
}

struct Changes {
  bool cut = false;       // something was left out
  bool replaced = false;  // bytes that were not UTF-8 became U+FFFD
};

std::string_view view(const json::string& s) {
  return {s.data(), s.size()};
}

// The length of the well-formed UTF-8 sequence at s[i] (Unicode 15,
// table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF),
// or 0 when there is none.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = at(i);
  if (b < 0x80) return 1;
  std::size_t n = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    if (at(i + k) < 0x80 || at(i + k) > 0xBF) return 0;
  }
  return n;
}

std::string valid_utf8(std::string_view s, Changes& changes) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      changes.replaced = true;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

// The longest prefix of valid UTF-8 `s` of at most `max` bytes that ends
// between two characters.
std::string_view utf8_prefix(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

std::string bounded_string(std::string_view raw, std::size_t max, Changes& changes) {
  std::string s = valid_utf8(raw, changes);
  if (s.size() <= max) return s;
  changes.cut = true;
  const std::string marker = fmt::format("...[cut, {} bytes in all]", raw.size());
  const std::size_t keep = max > marker.size() ? max - marker.size() : 0;
  return std::string(utf8_prefix(s, keep)) + marker;
}

std::string bounded_key(std::string_view raw, Changes& changes) {
  std::string s = valid_utf8(raw, changes);
  if (s.size() <= kMaxKeyBytes) return s;
  changes.cut = true;
  return std::string(utf8_prefix(s, kMaxKeyBytes));
}

json::value bounded_value(const json::value& v, const Limits& limits, std::size_t depth, Changes& changes);

// A number that reads back as itself. Boost.JSON 1.81's parser does not
// always round to the nearest double (a 50-digit number can come back one
// unit in the last place off), so a double is written, read and written
// again until it stops moving; hoistd, and bounding again, then read the
// same value. A number that never settles is kept as its text.
json::value stable_double(double d, Changes& changes) {
  for (int step = 0; step < 8; ++step) {
    json::error_code ec;
    const json::value back = json::parse(json::serialize(json::value(d)), ec);
    if (ec || !back.is_double()) break;
    if (back.get_double() == d) return d;
    d = back.get_double();
  }
  changes.replaced = true;
  return json::string(json::serialize(json::value(d)));
}

// An object's fields: the first ones up to the limit (summary keys of the
// top level not counted), then a marker with how many there were.
json::object bounded_object(const json::object& o, const Limits& limits, std::size_t depth, bool top, Changes& changes,
                            Changes* argv_changes = nullptr) {
  std::size_t counted = 0;
  for (const auto& m : o) {
    if (!(top && summary_key(m.key()))) ++counted;
  }
  const std::size_t keep = counted <= limits.items ? counted : limits.items - 1;
  json::object out;
  std::size_t kept = 0;
  for (const auto& m : o) {
    const bool summary = top && summary_key(m.key());
    if (!summary) {
      if (kept == keep) continue;
      ++kept;
    }
    Changes field;
    std::string key = bounded_key(m.key(), field);
    json::value value;
    if (top && m.key() == "target") {
      // hoistd files the event under its target: a string of at most 256 bytes.
      const std::string raw =
          m.value().is_string() ? std::string(view(m.value().get_string())) : json::serialize(m.value());
      if (!m.value().is_string()) field.replaced = true;
      value = json::string(bounded_string(raw, kMaxEventTargetBytes, field));
    } else {
      value = bounded_value(m.value(), limits, depth + 1, field);
    }
    if (argv_changes != nullptr && m.key() == "argv") *argv_changes = field;
    changes.cut = changes.cut || field.cut;
    changes.replaced = changes.replaced || field.replaced;
    if (!out.emplace(key, std::move(value)).second) changes.cut = true;  // two keys the same once cut
  }
  if (keep < counted) {
    changes.cut = true;
    out[kMarkerKey] = fmt::format("[cut, {} fields in all]", counted);
  }
  return out;
}

json::value bounded_value(const json::value& v, const Limits& limits, std::size_t depth, Changes& changes) {
  switch (v.kind()) {
    case json::kind::string: return json::string(bounded_string(view(v.get_string()), limits.string_bytes, changes));
    case json::kind::array: {
      if (depth >= limits.depth) {
        changes.cut = true;
        return json::string("[cut: nested too deep]");
      }
      const auto& a = v.get_array();
      const std::size_t keep = a.size() <= limits.items ? a.size() : limits.items - 1;
      json::array out;
      out.reserve(keep + 1);
      for (std::size_t i = 0; i < keep; ++i) out.push_back(bounded_value(a[i], limits, depth + 1, changes));
      if (keep < a.size()) {
        changes.cut = true;
        out.push_back(json::string(fmt::format("...[cut, {} items in all]", a.size())));
      }
      return out;
    }
    case json::kind::object:
      if (depth >= limits.depth) {
        changes.cut = true;
        return json::string("[cut: nested too deep]");
      }
      return bounded_object(v.get_object(), limits, depth, false, changes);
    case json::kind::double_: return stable_double(v.get_double(), changes);
    default: return v;
  }
}

// The full argv, described: each argument followed by a NUL, as
// /proc/PID/cmdline holds it (an item that is not a string counts as its
// JSON text).
void describe_argv(const json::value& argv, json::object& out) {
  Sha256Stream digest;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  const auto add = [&](const json::value& item) {
    const std::string text = item.is_string() ? std::string(view(item.get_string())) : json::serialize(item);
    digest.update(text);
    digest.update(std::string_view("\0", 1));
    bytes += text.size() + 1;
    ++count;
  };
  if (argv.is_array()) {
    for (const auto& item : argv.get_array()) add(item);
  } else {
    add(argv);
  }
  out["argv_count"] = count;
  out["argv_bytes"] = bytes;
  out["argv_sha256"] = digest.finish().hex();
}

json::object parse_root(std::string_view payload) {
  json::parse_options options;
  options.allow_invalid_utf8 = true;  // made valid below, byte by byte
  options.max_depth = 64;
  json::error_code ec;
  auto parsed = json::parse(json::string_view(payload.data(), payload.size()), ec, json::storage_ptr(), options);
  if (!ec && parsed.is_object()) return std::move(parsed.get_object());
  return json::object{{"text", json::string(payload.data(), payload.size())}};
}

std::optional<std::string> bounded_with(const json::object& root, const Limits& limits, std::size_t full_bytes) {
  Changes changes;
  Changes argv;
  json::object out = bounded_object(root, limits, 0, true, changes, &argv);
  if (changes.cut) {
    out["truncated"] = true;
    out["full_bytes"] = full_bytes;
  }
  if (argv.cut || argv.replaced) describe_argv(root.at("argv"), out);
  std::string text = json::serialize(out);
  if (text.size() > kMaxEventDetailsBytes) return std::nullopt;
  return text;
}

// Only the summary, the target and short plain fields: for details in
// which nearly every byte needs escaping.
std::string summary_only(const json::object& root, std::size_t full_bytes) {
  const Limits& tightest = kLadder.back();
  json::object out;
  Changes ignored;
  if (const auto* target = root.if_contains("target")) {
    json::object just_target = bounded_object(json::object{{"target", *target}}, tightest, 0, true, ignored);
    out["target"] = just_target.at("target");
  }
  out["truncated"] = true;
  out["full_bytes"] = full_bytes;
  out[kMarkerKey] = fmt::format("[cut, {} fields in all]", root.size());
  if (const auto* argv = root.if_contains("argv")) describe_argv(*argv, out);
  std::size_t tried = 0;
  for (const auto& m : root) {
    if (++tried > kFallbackFields) break;
    if (summary_key(m.key()) || m.key() == "target" || m.value().is_array() || m.value().is_object()) continue;
    Changes field;
    const std::string key = bounded_key(m.key(), field);
    json::value value = bounded_value(m.value(), tightest, 1, field);
    if (!out.emplace(key, value).second) continue;
    if (json::serialize(out).size() > kFallbackBytes) out.erase(key);
  }
  return json::serialize(out);
}

}  // namespace

std::string bound_event_details(std::string_view payload) {
  try {
    const json::object root = parse_root(payload);
    for (const auto& limits : kLadder) {
      if (auto text = bounded_with(root, limits, payload.size())) return *text;
    }
    return summary_only(root, payload.size());
  } catch (...) {
    // Out of memory: the event still goes, saying what happened.
    return R"({"truncated":true,"problem":"hoist-agent could not bound these details"})";
  }
}

}  // namespace hoist::agent
