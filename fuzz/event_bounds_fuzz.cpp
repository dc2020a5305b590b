// Fuzzes the bound on every event hoist-agent uploads
// (src/agent/event_bounds.h): its input is what a local user puts in a
// sudo's argv, or a spool file. Beyond "no crash": the output is a JSON
// object hoistd's strict reader takes (valid UTF-8, no repeated key, not
// too deep), at most kMaxEventDetailsBytes, with a target of at most 256
// bytes; and bounding it again changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "agent/event_bounds.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace json = boost::json;
  using namespace hoist::agent;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string out = bound_event_details(input);
  check(out.size() <= kMaxEventDetailsBytes);
  json::parse_options strict;
  strict.allow_invalid_utf8 = false;
  strict.max_depth = 32 - 3;  // hoistd reads it three levels down: {"events":[{"details":...}]}
  json::error_code ec;
  const auto parsed = json::parse(json::string_view(out.data(), out.size()), ec, json::storage_ptr(), strict);
  check(!ec && parsed.is_object());
  // Canonical: a repeated key would come back once.
  check(json::serialize(parsed) == out);
  if (const auto* target = parsed.get_object().if_contains("target")) {
    check(target->is_string() && target->get_string().size() <= kMaxEventTargetBytes);
  }
  check(bound_event_details(out) == out);
  return 0;
}
