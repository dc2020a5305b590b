// How hoistd's HTTPS server polls woken long polls in batches (pure logic,
// no I/O: https_server.cpp does the waiting and the writing).
//
// A change that reaches many agents (a policy saved) wakes thousands of
// parked push polls at once, and the backstop recheck makes many due in
// the same tick. Polled one by one, each costs a database round trip and
// a hand-off to the handler pool; polled through their shared
// net::LongPollBatcher, a batch of up to kMaxBatch costs one.
//
// MUST: batches keep the order polls were woken in (the earliest woken
// are polled first), so a flood of wakes for some agents cannot keep
// another's poll waiting behind them indefinitely.
// MUST: every poll polled "last" (its deadline passed, or the server is
// stopping) gets an answer, whatever the batcher did; a batcher that throws
// answers every poll of its batch with an error, and nothing escapes.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "net/http_message.h"

namespace hoist::server {

// Takes the next batch from `queue` (the woken polls, in the order they
// were woken): the first entry and the entries after it that share its
// batcher, at most max_batch, in their order; an entry without a batcher
// is a batch of its own. The others stay queued in their order.
// `batcher_of(entry)` is the entry's LongPoll::batcher (raw pointer).
template <class T, class BatcherOf>
std::vector<T> take_batch(std::deque<T>& queue, BatcherOf&& batcher_of, std::size_t max_batch) {
  std::vector<T> batch;
  if (queue.empty() || max_batch == 0) return batch;
  const net::LongPollBatcher* const batcher = batcher_of(queue.front());
  batch.push_back(std::move(queue.front()));
  queue.pop_front();
  if (batcher == nullptr) return batch;
  std::deque<T> rest;
  while (!queue.empty()) {
    if (batch.size() < max_batch && batcher_of(queue.front()) == batcher) {
      batch.push_back(std::move(queue.front()));
    } else {
      rest.push_back(std::move(queue.front()));
    }
    queue.pop_front();
  }
  queue.swap(rest);
  return batch;
}

// Polls one batch from take_batch on the calling thread (a handler
// thread): through the batcher of its polls, or the single poll's poll().
// Afterwards every item polled last has an answer. Returns what went
// wrong, for the log, when the batcher or poll threw or left a last poll
// unanswered; nullopt otherwise.
std::optional<std::string> poll_batch(std::vector<net::LongPollBatcher::Item>& items);

}  // namespace hoist::server
