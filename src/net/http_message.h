// HTTP requests and responses as plain data, shared by hoistd's HTTPS server,
// its API layer and the HTTPS client of the CLI and agent. Nothing here
// names Beast or Asio, so code that only handles messages compiles quickly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::net {

struct Header {
  std::string name;  // lower case
  std::string value;
};

struct HttpRequest {
  std::string method;                                      // "GET", "POST", ...
  std::string target;                                      // as sent: path and query, percent-encoded
  std::string path;                                        // percent-decoded path without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::vector<Header> headers;
  std::string body;
  std::string remote_address;  // the peer's IP address

  // The first header with this (lower-case) name.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  // The first query parameter with this name.
  [[nodiscard]] std::optional<std::string_view> query_param(std::string_view name) const;
};

struct HttpResponse;
class LongPollBatcher;

// A response that is not ready yet (a long poll). The server polls it
// again whenever it is woken (HttpsServer::wake) and at least every
// recheck interval, until it answers; at `until`, or when the server shuts
// down, it polls it "last", and then it must answer. It is polled through
// its batcher when it has one (with the other woken polls that share it),
// otherwise through poll().
struct LongPoll {
  // What the poll waits for (an endpoint id): HttpsServer::wake(key) wakes
  // only the polls with that key, and polls without one. "" = any change.
  std::string key;
  std::chrono::steady_clock::time_point until;
  std::function<std::optional<HttpResponse>(bool last)> poll;
  // Set: polled with the other woken polls that share this batcher, in
  // one call (one database read for many agents' push polls).
  std::shared_ptr<LongPollBatcher> batcher;
  // For the batcher: where the waiter resumes (the push poll's cursor).
  std::uint64_t cursor = 0;
  // Kept as long as the poll waits (a gauge's count of waiting polls).
  std::shared_ptr<void> hold;
  // Set: the handler has not looked yet; the server polls it as soon as
  // it is parked, in a batch with the others due then, instead of the
  // handler reading alone.
  bool poll_first = false;
};

struct HttpResponse {
  int status = 200;
  std::vector<Header> headers;  // Content-Type included when there is a body
  std::string body;
  std::shared_ptr<LongPoll> long_poll;  // set: the real response comes later
  // The route template that answered ("/api/v1/requests/{id}"), never the
  // raw path: the HTTP metrics' label. "" when no route did.
  std::string route;

  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  void set_header(std::string name, std::string value);
};

// Polls many long polls at once. The server calls it on a handler thread
// with the woken polls that share it (at most kMaxBatch), so that a change
// that wakes thousands of agents costs a few reads, not thousands.
class LongPollBatcher {
 public:
  static constexpr std::size_t kMaxBatch = 256;
  struct Item {
    const LongPoll* poll = nullptr;
    bool last = false;
    // Set by poll_many: the answer, or nullopt to go on waiting (never
    // when last).
    std::optional<HttpResponse> answer;
  };
  virtual ~LongPollBatcher() = default;
  LongPollBatcher() = default;
  LongPollBatcher(const LongPollBatcher&) = delete;
  LongPollBatcher& operator=(const LongPollBatcher&) = delete;
  // Answers each item as its own poll would; when the read fails, every
  // item gets the error. An item left without an answer while `last` is
  // answered 500 by the server. An exception answers every item 500.
  virtual void poll_many(std::vector<Item>& items) = 0;
};

HttpResponse json_response(int status, std::string body);

// Whether an If-None-Match header value matches `etag` (RFC 9110 13.1.2,
// weak comparison): "*", or a comma-separated list of entity tags, W/ or
// not, one of which has the same opaque tag.
bool if_none_match_matches(std::string_view header, std::string_view etag);

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// One answered request, as the server reports it for metrics once the
// response is written (or the connection failed while writing it).
struct ExchangeReport {
  std::string_view method;  // as sent; "" when the request could not be read
  std::string_view route;   // HttpResponse::route of the answer
  int status = 0;
  std::chrono::steady_clock::duration elapsed{};  // from the end of the head to the end of the answer
};
// Called on the server's I/O thread: it must be quick and must not block.
using ExchangeObserver = std::function<void(const ExchangeReport&)>;

// Whether a request may send its body, decided from its head alone.
struct Admission {
  // Read at most this many bytes of body (the server's own limit applies
  // too); 0 by default, so an admission nobody filled in admits no body.
  std::size_t max_body_bytes = 0;
  // Set: answer this instead, without reading the body (the connection
  // then closes: the unread body cannot be told from the next request).
  std::optional<HttpResponse> refusal;
};

// Sees a request whose body has not been read yet: `head` has the request
// line, the headers and the peer address, and an empty body. The server
// calls it on a handler thread, only for requests that announce a body.
using Admitter = std::function<Admission(const HttpRequest& head)>;

// Answers what it can from memory alone, before the request goes to the
// Handler: the server calls it on its I/O thread, so it must not block;
// nullopt passes the request on. Exceptions also pass it on.
using QuickHandler = std::function<std::optional<HttpResponse>(const HttpRequest&)>;

}  // namespace hoist::net
