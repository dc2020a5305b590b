#include "server/http/poll_batches.h"

#include <exception>
#include <string>
#include <utility>

#include "net/http_error.h"

namespace hoist::server {

std::optional<std::string> poll_batch(std::vector<net::LongPollBatcher::Item>& items) {
  if (items.empty()) return std::nullopt;
  std::optional<std::string> failure;
  net::LongPollBatcher* const batcher = items.front().poll->batcher.get();
  try {
    if (batcher != nullptr) {
      batcher->poll_many(items);
    } else {
      for (auto& item : items) {
        item.answer = item.poll->poll ? item.poll->poll(item.last) : std::nullopt;
      }
    }
  } catch (const std::exception& e) {
    failure = std::string("a long poll failed: ") + e.what();
  } catch (...) {
    failure = "a long poll failed: unknown exception";
  }
  if (failure) {
    // What any of them holds cannot be trusted: each gets the error.
    for (auto& item : items) {
      item.answer = net::error_response(internal_error("the server failed to handle the request (this is a bug)"));
    }
    return failure;
  }
  for (auto& item : items) {
    if (item.last && !item.answer) {
      item.answer = net::error_response(internal_error("a long poll ended without an answer (this is a bug)"));
      failure = "a long poll ended without an answer";
    }
  }
  return failure;
}

}  // namespace hoist::server
