// The PROXY protocol v2 parser (net/proxy_protocol.h): every field's bad
// values, truncated input, the v1 text header, TLVs; and the address
// prefixes of [server] proxy_protocol_from.
#include "net/proxy_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace hoist::net {
namespace {

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

std::string fixed(unsigned char ver_cmd, unsigned char family, std::size_t length) {
  std::string out = kSig;
  out += static_cast<char>(ver_cmd);
  out += static_cast<char>(family);
  out += static_cast<char>(length >> 8);
  out += static_cast<char>(length & 0xff);
  return out;
}

// PROXY, TCP4, 127.0.0.2:40000 -> 127.0.0.1:8443, then `tlvs`.
std::string tcp4(const std::string& tlvs = "") {
  std::string body = {127, 0, 0, 2, 127, 0, 0, 1, static_cast<char>(0x9c), 0x40, 0x20, static_cast<char>(0xfb)};
  body += tlvs;
  return fixed(0x21, 0x11, body.size()) + body;
}

TEST(ProxyProtocol, ReadsTcp4Source) {
  auto h = parse_proxy_v2(tcp4());
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_FALSE(h->local);
  EXPECT_EQ(h->source_address, "127.0.0.2");
  EXPECT_EQ(h->source_port, 40000);
  auto length = proxy_v2_body_length(tcp4().substr(0, kProxyV2FixedSize));
  ASSERT_TRUE(length);
  EXPECT_EQ(*length, 12u);
}

TEST(ProxyProtocol, ReadsTcp6Source) {
  std::string body(36, '\0');
  body[0] = static_cast<char>(0xfd);
  body[15] = 7;
  body[32] = 0x01;
  body[33] = 0x02;
  auto h = parse_proxy_v2(fixed(0x21, 0x21, 36) + body);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->source_address, "fd00::7");
  EXPECT_EQ(h->source_port, 0x0102);
}

TEST(ProxyProtocol, LocalKeepsThePeer) {
  auto h = parse_proxy_v2(fixed(0x20, 0x00, 0));
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_TRUE(h->local);
  EXPECT_TRUE(h->source_address.empty());
  // LOCAL with an address block (some balancers send one): ignored.
  const std::string body(12, 'x');
  auto with_body = parse_proxy_v2(fixed(0x20, 0x11, body.size()) + body);
  ASSERT_TRUE(with_body) << with_body.error().message;
  EXPECT_TRUE(with_body->local);
}

TEST(ProxyProtocol, SkipsTlvsThatFit) {
  const std::string tlvs = std::string{0x05, 0x00, 0x03} + "abc" + std::string{0x04, 0x00, 0x00};
  auto h = parse_proxy_v2(tcp4(tlvs));
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->source_address, "127.0.0.2");
}

TEST(ProxyProtocol, RefusesATlvOverrunningTheHeader) {
  EXPECT_FALSE(parse_proxy_v2(tcp4(std::string{0x05, 0x00, 0x04} + "abc")));
  EXPECT_FALSE(parse_proxy_v2(tcp4(std::string{0x05, static_cast<char>(0xff), static_cast<char>(0xff)})));
  EXPECT_FALSE(parse_proxy_v2(tcp4(std::string{0x05, 0x00})));  // a TLV's head cut short
}

TEST(ProxyProtocol, RefusesABadSignature) {
  for (std::size_t i = 0; i < 12; ++i) {
    auto header = tcp4();
    header[i] = static_cast<char>(header[i] ^ 0x20);
    EXPECT_FALSE(parse_proxy_v2(header)) << "byte " << i;
  }
}

TEST(ProxyProtocol, RefusesTheV1TextHeader) {
  const std::string v1 = "PROXY TCP4 127.0.0.2 127.0.0.1 40000 8443\r\n";
  auto length = proxy_v2_body_length(v1.substr(0, kProxyV2FixedSize));
  ASSERT_FALSE(length);
  EXPECT_NE(length.error().message.find("version 1"), std::string::npos) << length.error().message;
  EXPECT_FALSE(parse_proxy_v2(v1));
}

TEST(ProxyProtocol, RefusesOtherVersions) {
  for (unsigned v : {0u, 1u, 3u, 15u}) {
    auto header = tcp4();
    header[12] = static_cast<char>((v << 4) | 1);
    EXPECT_FALSE(parse_proxy_v2(header)) << v;
  }
}

TEST(ProxyProtocol, RefusesOtherCommands) {
  for (unsigned c = 2; c < 16; ++c) {
    auto header = tcp4();
    header[12] = static_cast<char>(0x20 | c);
    EXPECT_FALSE(parse_proxy_v2(header)) << c;
  }
}

TEST(ProxyProtocol, RefusesFamiliesOtherThanTcp) {
  for (unsigned family : {0x00u, 0x01u, 0x10u, 0x12u, 0x22u, 0x31u, 0x32u, 0x41u, 0x13u}) {
    const std::string body(216, '\0');
    EXPECT_FALSE(parse_proxy_v2(fixed(0x21, static_cast<unsigned char>(family), body.size()) + body)) << family;
  }
}

TEST(ProxyProtocol, RefusesLengthsShorterThanTheAddresses) {
  EXPECT_FALSE(parse_proxy_v2(fixed(0x21, 0x11, 11) + std::string(11, '\0')));
  EXPECT_FALSE(parse_proxy_v2(fixed(0x21, 0x21, 35) + std::string(35, '\0')));
  EXPECT_FALSE(parse_proxy_v2(fixed(0x21, 0x21, 12) + std::string(12, '\0')));  // TCP6 with TCP4's length
}

TEST(ProxyProtocol, RefusesOversizeLengths) {
  EXPECT_FALSE(proxy_v2_body_length(fixed(0x21, 0x11, kProxyV2MaxBody + 1)));
  EXPECT_FALSE(proxy_v2_body_length(fixed(0x21, 0x11, 0xffff)));
  EXPECT_FALSE(proxy_v2_body_length(fixed(0x20, 0x00, 0xffff)));  // LOCAL too
  auto at_max = proxy_v2_body_length(fixed(0x21, 0x11, kProxyV2MaxBody));
  ASSERT_TRUE(at_max);
  EXPECT_EQ(*at_max, kProxyV2MaxBody);
}

TEST(ProxyProtocol, RefusesTruncatedOrLongerInput) {
  const auto whole = tcp4();
  for (std::size_t n = 0; n < whole.size(); ++n) {
    EXPECT_FALSE(parse_proxy_v2(whole.substr(0, n))) << n;
  }
  EXPECT_FALSE(parse_proxy_v2(whole + "x"));  // the client's first byte is not the header's
  EXPECT_FALSE(proxy_v2_body_length(whole.substr(0, 15)));
  EXPECT_FALSE(proxy_v2_body_length(whole.substr(0, 17)));
}

TEST(ProxyProtocol, TlsClientHelloIsNoHeader) {
  // What a client sends first when it connects straight to hoistd.
  const std::string hello = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, static_cast<char>(0xfc),
                             0x03, 0x03, 0,    0,    0,    0,    0};
  EXPECT_FALSE(proxy_v2_body_length(hello));
}

TEST(AddressPrefix, ParsesAddressesAndPrefixes) {
  auto one = parse_address_prefix("10.0.0.5");
  ASSERT_TRUE(one);
  EXPECT_FALSE(one->v6);
  EXPECT_EQ(one->bits, 32);
  auto net = parse_address_prefix("10.0.0.0/24");
  ASSERT_TRUE(net);
  EXPECT_EQ(net->bits, 24);
  auto v6 = parse_address_prefix("fd00::/64");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->v6);
  EXPECT_EQ(v6->bits, 64);
  ASSERT_TRUE(parse_address_prefix("0.0.0.0/0"));
  // IPv4-mapped: the IPv4 address or prefix, as peers are matched.
  auto mapped = parse_address_prefix("::ffff:10.0.0.0/120");
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->v6);
  EXPECT_EQ(mapped->bits, 24);
  EXPECT_TRUE(address_in({*mapped}, "10.0.0.9"));
  EXPECT_TRUE(address_in({*mapped}, "::ffff:10.0.0.9"));
}

TEST(AddressPrefix, RefusesWhatIsNoPrefix) {
  for (const char* bad : {"", "haproxy.example", "10.0.0", "10.0.0.256", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1",
                          "10.0.0.0/8x", "10.0.0.5/24", "fd00::/129", "fd00::1/64", " 10.0.0.5", "10.0.0.5 "}) {
    EXPECT_FALSE(parse_address_prefix(bad)) << bad;
  }
}

TEST(AddressPrefix, MatchesPeers) {
  std::vector<AddressPrefix> from{*parse_address_prefix("10.0.0.5"), *parse_address_prefix("192.168.1.0/24"),
                                  *parse_address_prefix("fd00:1::/32")};
  EXPECT_TRUE(address_in(from, "10.0.0.5"));
  EXPECT_FALSE(address_in(from, "10.0.0.6"));
  EXPECT_TRUE(address_in(from, "192.168.1.200"));
  EXPECT_FALSE(address_in(from, "192.168.2.1"));
  EXPECT_TRUE(address_in(from, "::ffff:10.0.0.5"));  // IPv4-mapped: its IPv4 address
  EXPECT_TRUE(address_in(from, "fd00:1:ffff::1"));
  EXPECT_FALSE(address_in(from, "fd00:2::1"));
  EXPECT_FALSE(address_in(from, "unknown"));
  EXPECT_FALSE(address_in({}, "10.0.0.5"));
}

}  // namespace
}  // namespace hoist::net
