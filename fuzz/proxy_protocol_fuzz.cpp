// libFuzzer target for the PROXY protocol v2 header (src/net/proxy_protocol.h):
// what a listed load balancer, or whoever holds its address, sends hoistd
// before TLS; and the address prefixes of [server] proxy_protocol_from.
// The first byte picks which. Checked: a header accepted is exactly the
// length its fixed part announces, within the bound, and names an address
// that reads back as one.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "net/proxy_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    auto header = hoist::net::parse_proxy_v2(text);
    if (!header) return 0;
    auto length = hoist::net::proxy_v2_body_length(text.substr(0, hoist::net::kProxyV2FixedSize));
    if (!length || *length > hoist::net::kProxyV2MaxBody || *length + hoist::net::kProxyV2FixedSize != text.size()) {
      std::abort();
    }
    if (header->local != header->source_address.empty()) std::abort();
    if (!header->local) {
      auto self = hoist::net::parse_address_prefix(header->source_address);
      if (!self || !hoist::net::address_in({*self}, header->source_address)) std::abort();
    }
  } else {
    auto prefix = hoist::net::parse_address_prefix(text);
    if (!prefix) return 0;
    if (prefix->bits < 0 || prefix->bits > (prefix->v6 ? 128 : 32)) std::abort();
    // The prefix's own address (host bits clear) is in it.
    const auto slash = text.find('/');
    if (!hoist::net::address_in({*prefix}, text.substr(0, slash))) std::abort();
  }
  return 0;
}
