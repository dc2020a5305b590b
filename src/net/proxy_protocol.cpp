#include "net/proxy_protocol.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace hoist::net {

namespace {

constexpr std::array<std::uint8_t, 12> kV4Mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as its IPv4 address.
void unmap(AddressPrefix& p) {
  if (!p.v6 || !std::equal(kV4Mapped.begin(), kV4Mapped.end(), p.bytes.begin())) return;
  std::memmove(p.bytes.data(), p.bytes.data() + 12, 4);
  std::fill(p.bytes.begin() + 4, p.bytes.end(), std::uint8_t{0});
  p.v6 = false;
}

constexpr std::string_view kSignature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr std::size_t kInet4Addresses = 12;  // source, destination, two ports
constexpr std::size_t kInet6Addresses = 36;

std::uint8_t byte_at(std::string_view s, std::size_t i) {
  return static_cast<std::uint8_t>(s[i]);
}

std::uint16_t be16(std::string_view s, std::size_t i) {
  return static_cast<std::uint16_t>((byte_at(s, i) << 8) | byte_at(s, i + 1));
}

Error refuse(std::string_view why) {
  return invalid_argument(fmt::format("bad PROXY protocol header: {}", why));
}

}  // namespace

Result<std::size_t> proxy_v2_body_length(std::string_view fixed) {
  if (fixed.size() != kProxyV2FixedSize) {
    return refuse(fmt::format("{} bytes where the fixed part takes {}", fixed.size(), kProxyV2FixedSize));
  }
  if (fixed.substr(0, kSignature.size()) != kSignature) {
    if (fixed.starts_with("PROXY ")) {
      return refuse("a version 1 (text) header; only version 2 is accepted (HAProxy: send-proxy-v2)");
    }
    return refuse("no version 2 signature (the balancer must send send-proxy-v2)");
  }
  const auto ver_cmd = byte_at(fixed, 12);
  if ((ver_cmd >> 4) != 2) return refuse(fmt::format("version {}, not 2", ver_cmd >> 4));
  const auto command = ver_cmd & 0x0f;
  if (command != 0 && command != 1) return refuse(fmt::format("command {} (neither LOCAL nor PROXY)", command));
  const std::size_t length = be16(fixed, 14);
  if (length > kProxyV2MaxBody) {
    return refuse(fmt::format("{} bytes after the fixed part, more than {}", length, kProxyV2MaxBody));
  }
  if (command == 1) {
    const auto family = byte_at(fixed, 13);
    if (family == 0x11) {
      if (length < kInet4Addresses) return refuse("TCP over IPv4 shorter than its addresses");
    } else if (family == 0x21) {
      if (length < kInet6Addresses) return refuse("TCP over IPv6 shorter than its addresses");
    } else {
      return refuse(fmt::format("family and protocol 0x{:02x}, not TCP over IPv4 or IPv6", family));
    }
  }
  return length;
}

Result<ProxyHeader> parse_proxy_v2(std::string_view header) {
  if (header.size() < kProxyV2FixedSize) return refuse("truncated");
  auto length = proxy_v2_body_length(header.substr(0, kProxyV2FixedSize));
  if (!length) return length.error();
  if (header.size() != kProxyV2FixedSize + *length) {
    return refuse(
        fmt::format("{} bytes after the fixed part, {} announced", header.size() - kProxyV2FixedSize, *length));
  }
  ProxyHeader out;
  if ((byte_at(header, 12) & 0x0f) == 0) {
    out.local = true;  // LOCAL: whatever follows is ignored, as the protocol says
    return out;
  }
  const bool v6 = byte_at(header, 13) == 0x21;
  const std::size_t address_size = v6 ? 16 : 4;
  const std::size_t addresses = v6 ? kInet6Addresses : kInet4Addresses;
  const auto body = header.substr(kProxyV2FixedSize);
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, body.data(), text.data(), text.size()) == nullptr) {
    return refuse("the source address cannot be read");
  }
  out.source_address = text.data();
  out.source_port = be16(body, 2 * address_size);
  // TLVs: type, 16-bit length, value; skipped, but each must fit.
  for (std::size_t at = addresses; at < body.size();) {
    if (body.size() - at < 3) return refuse("a TLV cut short");
    const std::size_t tlv = be16(body, at + 1);
    if (tlv > body.size() - at - 3) return refuse("a TLV longer than the header");
    at += 3 + tlv;
  }
  return out;
}

Result<AddressPrefix> parse_address_prefix(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return invalid_argument(fmt::format("\"{}\" is not an IP address or ADDRESS/BITS prefix: {}", text, why));
  };
  AddressPrefix out;
  const auto slash = text.find('/');
  const std::string address(text.substr(0, slash));
  if (inet_pton(AF_INET, address.c_str(), out.bytes.data()) == 1) {
    out.v6 = false;
  } else if (inet_pton(AF_INET6, address.c_str(), out.bytes.data()) == 1) {
    out.v6 = true;
  } else {
    return bad("the address cannot be read");
  }
  const int max_bits = out.v6 ? 128 : 32;
  out.bits = max_bits;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    int bits = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || bits < 0 || bits > max_bits) {
      return bad(fmt::format("the prefix length must be 0 to {}", max_bits));
    }
    out.bits = bits;
  }
  for (int bit = out.bits; bit < max_bits; ++bit) {
    if ((out.bytes[static_cast<std::size_t>(bit / 8)] >> (7 - bit % 8)) & 1) {
      return bad("bits are set after the prefix length");
    }
  }
  if (out.bits >= 96) {
    const int bits = out.bits;
    unmap(out);  // ::ffff:10.0.0.5 is 10.0.0.5, as peers are matched
    if (!out.v6) out.bits = bits - 96;
  }
  return out;
}

bool address_in(const std::vector<AddressPrefix>& prefixes, std::string_view address) {
  const std::string text(address);
  AddressPrefix peer;
  if (inet_pton(AF_INET, text.c_str(), peer.bytes.data()) != 1) {
    if (inet_pton(AF_INET6, text.c_str(), peer.bytes.data()) != 1) return false;
    peer.v6 = true;
    unmap(peer);
  }
  return std::any_of(prefixes.begin(), prefixes.end(), [&](const AddressPrefix& p) {
    if (p.v6 != peer.v6) return false;
    for (int bit = 0; bit < p.bits; ++bit) {
      const auto i = static_cast<std::size_t>(bit / 8);
      const int shift = 7 - bit % 8;
      if (((p.bytes[i] >> shift) & 1) != ((peer.bytes[i] >> shift) & 1)) return false;
    }
    return true;
  });
}

}  // namespace hoist::net
