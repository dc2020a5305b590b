// libFuzzer target: the parsers of dpkg's status and md5sums files.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "platform/dpkg_database.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& e : hoist::platform::parse_dpkg_status(text)) {
    if (e.package.empty()) std::abort();
  }
  for (const auto& [path, digest] : hoist::platform::parse_md5sums(text)) {
    if (path.empty() || path.front() != '/' || digest.size() != 32) std::abort();
  }
  return 0;
}
