// libFuzzer target for the small parsers of user input: durations,
// timestamps, day and hour ranges, globs, regexes, SHA-256 hex and paths. The
// first byte picks the parser. Round-trip properties are checked where they
// exist.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/path.h"
#include "core/pattern.h"
#include "core/sha256.h"
#include "core/time_window.h"
#include "core/timestamp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 8) {
    case 0: {
      auto d = hoist::parse_duration(text);
      if (d.ok()) {
        auto again = hoist::parse_duration(hoist::format_duration(*d));
        if (!again.ok() || *again != *d) std::abort();
      }
      break;
    }
    case 1: {
      auto t = hoist::parse_timestamp(text);
      if (t.ok()) {
        auto again = hoist::parse_timestamp(hoist::format_timestamp(*t));
        if (!again.ok() || *again != *t) std::abort();
      }
      break;
    }
    case 2: (void)hoist::parse_days(text); break;
    case 3: (void)hoist::parse_hours(text); break;
    case 4: {
      const auto half = text.size() / 2;
      auto m = hoist::StringMatcher::glob(std::string(text.substr(0, half)), hoist::GlobFlavor::kPath);
      if (m.ok()) (void)m->matches(text.substr(half));
      auto t = hoist::StringMatcher::glob(std::string(text.substr(0, half)), hoist::GlobFlavor::kText);
      if (t.ok() && t->kind() == hoist::StringMatcher::Kind::kLiteral && !t->matches(text.substr(0, half))) {
        std::abort();
      }
      break;
    }
    case 5: {
      const auto half = text.size() / 2;
      auto m = hoist::StringMatcher::regex(std::string(text.substr(0, half)));
      if (m.ok()) (void)m->matches(text.substr(half));
      break;
    }
    case 6: {
      auto d = hoist::Sha256::from_hex(text);
      if (d.ok()) {
        auto again = hoist::Sha256::from_hex(d->hex());
        if (!again.ok() || *again != *d) std::abort();
      }
      break;
    }
    default: {
      auto p = hoist::normalize_absolute_path(text);
      if (p.ok()) {
        if (!hoist::is_normalized_absolute(*p)) std::abort();
        if (!hoist::path_is_within(*p, "/")) std::abort();
      }
      break;
    }
  }
  return 0;
}
