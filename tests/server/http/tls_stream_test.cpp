// HttpsServer's own TLS stream (src/server/http/tls_stream.h): bodies and
// responses spread over many TLS records, a request arriving one byte (one
// record) at a time, a clean close_notify, and a peer that vanishes in the
// middle of a large response (no SIGPIPE: this test program keeps the
// default disposition, so a signal would end it).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "http_test_support.h"
#include "net/http_message.h"

namespace hoist::http_testing {
namespace {

// Echoes the body; GET /big?n=N answers N bytes.
net::HttpResponse echo(const net::HttpRequest& request) {
  if (request.path == "/big") {
    std::size_t n = 0;
    for (const auto& [key, value] : request.query) {
      if (key == "n") n = std::stoul(value);
    }
    std::string body(n, 'x');
    for (std::size_t i = 0; i < n; ++i) body[i] = static_cast<char>('a' + i % 26);
    return net::json_response(200, std::move(body));
  }
  return net::json_response(200, request.body);
}

TEST(HttpsServerTls, LargeBodyAndResponseSpanManyRecords) {
  TestServer server(echo);
  ASSERT_TRUE(server.ok()) << server.error();
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);

  std::string body(900 * 1024, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('A' + (i * 7) % 26);
  for (int round = 0; round < 2; ++round) {
    auto echoed = client->request("POST", "/echo", body);
    ASSERT_TRUE(echoed) << echoed.error().message;
    EXPECT_EQ(echoed->status, 200);
    EXPECT_TRUE(echoed->body == body) << "the echoed body differs (" << echoed->body.size() << " bytes)";

    auto big = client->request("GET", "/big?n=1000003");
    ASSERT_TRUE(big) << big.error().message;
    ASSERT_EQ(big->body.size(), 1000003U);
    EXPECT_EQ(big->body[0], 'a');
    EXPECT_EQ(big->body[1000002], static_cast<char>('a' + 1000002 % 26));
  }
}

TEST(HttpsServerTls, RequestSentOneByteAtATimeIsAnsweredThenClosedWithCloseNotify) {
  TestServer server(echo);
  ASSERT_TRUE(server.ok()) << server.error();
  RawTlsClient client(server.port());
  ASSERT_TRUE(client.connected());
  const std::string request =
      "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world";
  for (const char c : request) {
    ASSERT_TRUE(client.write(std::string_view(&c, 1)));  // one TLS record each
  }
  bool clean = false;
  const auto response = client.read_all(clean);
  EXPECT_EQ(response.rfind("HTTP/1.1 200", 0), 0U) << response;
  EXPECT_NE(response.find("\r\n\r\nhello world"), std::string::npos) << response;
  EXPECT_TRUE(clean) << "the server closes with close_notify";
}

TEST(HttpsServerTls, PeerVanishingDuringALargeResponseLeavesTheServerServing) {
  TestServer server(echo);
  ASSERT_TRUE(server.ok()) << server.error();
  for (int i = 0; i < 3; ++i) {
    RawTlsClient client(server.port());
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.write("GET /big?n=1000000 HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    EXPECT_FALSE(client.read_some().empty());
    client.vanish();
  }
  auto client = pinned_client(server.url());
  ASSERT_NE(client, nullptr);
  auto after = client->request("POST", "/echo", "still here");
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->body, "still here");
}

}  // namespace
}  // namespace hoist::http_testing
