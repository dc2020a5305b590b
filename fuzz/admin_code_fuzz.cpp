// Offline admin codes as typed by a user (core/admin_code.h): whatever the
// text, reading it gives a value or an InvalidArgument / PermissionDenied,
// never a crash; a challenge that reads back formats to the same value; and
// no random text passes verification as a response or pre-issued code.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "core/admin_code.h"

namespace {

void expected(const hoist::Error& e) {
  if (e.code != hoist::ErrorCode::kInvalidArgument && e.code != hoist::ErrorCode::kPermissionDenied) std::abort();
  if (e.message.empty()) std::abort();
}

const hoist::codes::HostKey& key() {
  static const hoist::codes::HostKey k = [] {
    std::vector<std::uint8_t> master(32, 0x5a);
    auto derived = hoist::codes::derive_host_key(master, "ep-fuzz", 1);
    if (!derived) std::abort();
    return *derived;
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto kind = hoist::codes::kind_of(text); !kind) expected(kind.error());
  if (auto c = hoist::codes::parse_challenge(text)) {
    auto again = hoist::codes::parse_challenge(hoist::codes::format_challenge(*c));
    if (!again || !(*again == *c)) std::abort();
  } else {
    expected(c.error());
  }
  const hoist::codes::Challenge challenge{7, 12345};
  if (auto r = hoist::codes::verify_response(key(), challenge, "fuzz", "/usr/bin/id", text)) {
    // 55 bits of MAC: a random input that fits is a finding.
    std::abort();
  } else {
    expected(r.error());
  }
  if (auto p = hoist::codes::verify_preissued(key(), "fuzz", "", 20000, text)) {
    std::abort();
  } else {
    expected(p.error());
  }
  return 0;
}
