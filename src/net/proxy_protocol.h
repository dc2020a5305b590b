// The PROXY protocol, version 2 (the binary one; HAProxy's send-proxy-v2):
// the header a load balancer in TCP mode sends before the client's own
// bytes, naming the client's address. Pure: bytes in, a result or an error
// out; the HTTPS server reads the bytes (src/server/http/https_server.cpp).
//
// MUST: only the v2 signature is accepted (a v1 text header is refused);
// version 2; command LOCAL or PROXY; for PROXY, family TCP over IPv4 or
// IPv6 with the addresses' full length; the length at most kProxyV2MaxBody;
// TLVs are skipped, each within the header (one overrunning it is refused).
// MUST: hoistd parses a header only from an address in
// [server] proxy_protocol_from (ProxyPeers); from any other the bytes go to
// TLS unread, so a client cannot name its own address.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace hoist::net {

// The signature, version and command, family and protocol, and length.
inline constexpr std::size_t kProxyV2FixedSize = 16;
// The most a header may carry after its fixed part: the addresses (36
// bytes for IPv6) and TLVs. HAProxy sends far less unless told to add
// many TLVs.
inline constexpr std::size_t kProxyV2MaxBody = 1024;

// Reads the fixed part (exactly kProxyV2FixedSize bytes) and answers how
// many bytes follow it.
Result<std::size_t> proxy_v2_body_length(std::string_view fixed);

struct ProxyHeader {
  bool local = false;          // LOCAL (the balancer's own health check): keep the peer's address
  std::string source_address;  // PROXY: the client's IP address, as text
  std::uint16_t source_port = 0;
};

// Reads a whole header: the fixed part and exactly the body it announces.
Result<ProxyHeader> parse_proxy_v2(std::string_view header);

// An IPv4 or IPv6 address or prefix ("10.0.0.5", "10.0.0.0/24", "fd00::/64").
struct AddressPrefix {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4
  int bits = 0;
};

// Refuses anything but an address or ADDRESS/BITS without host bits set.
Result<AddressPrefix> parse_address_prefix(std::string_view text);

// Whether `address` (text, as the server sees a peer) is in one of the
// prefixes; an IPv4-mapped IPv6 address counts as its IPv4 address.
bool address_in(const std::vector<AddressPrefix>& prefixes, std::string_view address);

}  // namespace hoist::net
