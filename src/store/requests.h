// Requests in the store: the core's state-machine record (core/request.h)
// plus what was asked for, versioned for optimistic concurrency.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/request.h"
#include "core/result.h"
#include "store/page.h"

namespace hoist::store {

// What was asked for, as the agent resolved it.
struct CommandInfo {
  std::string path;               // resolved absolute path ("" for a session)
  std::vector<std::string> argv;  // argv[0..]
  std::optional<Sha256> sha256;
  std::string package;             // owning Debian package, "" when none
  std::string runas_user{"root"};  // sudo -u: whom it runs as
  std::string runas_group{};       // sudo -g: "" when not given
};

// A request as stored: the core's state-machine record plus what it is
// about. `version` grows by one with every update (optimistic concurrency).
struct RequestRecord {
  Request request;
  CommandInfo command;
  std::vector<std::string> requester_groups;
  std::string endpoint_id;  // where it was asked; "" for none (stored before schema 7)
  std::int64_t version = 0;
};

struct RequestFilter {
  std::optional<RequestState> state;  // stored state (see effective_state)
  std::optional<std::string> requester;
  std::optional<std::string> host;
  std::optional<std::string> endpoint_id;
  std::optional<TimePoint> created_since;  // created at or after
  std::optional<TimePoint> created_until;  // created before
  // A piece of text (ASCII letters in any case) in the id, requester, host,
  // rule, justification, the command's path or an argument, or the review's
  // comment. "" = any. % and _ are plain characters.
  std::string text;
  bool newest_first = false;  // id order descending (ids grow with time)
  std::string after_id;       // pagination: ids after this one in the chosen order
  std::size_t limit = 100;
};

// Inside a write transaction.
class RequestsTx {
 public:
  virtual ~RequestsTx() = default;
  // Stores a new request at version 1. Conflict when the id exists.
  virtual Result<RequestRecord> insert_request(const RequestRecord& record) = 0;
  virtual Result<std::optional<RequestRecord>> get_request(const std::string& id) = 0;
  // Replaces the request's state-machine fields when the stored version is
  // `record.version`; returns the record at version + 1. Conflict when
  // someone else updated it first, NotFound when it does not exist. The
  // command, requester and groups never change.
  virtual Result<RequestRecord> update_request(const RequestRecord& record) = 0;
  // How many of `requester`'s requests (everyone's when nullopt) at
  // `endpoint_id` wait for a decision at `now`: stored pending, pending
  // deadline not yet passed. Read inside the transaction, so a cap on it
  // holds against concurrent submits.
  virtual Result<std::size_t> count_pending(const std::optional<std::string>& requester, const std::string& endpoint_id,
                                            TimePoint now) = 0;
};

class RequestsReader {
 public:
  virtual ~RequestsReader() = default;
  virtual Result<std::optional<RequestRecord>> request(const std::string& id) = 0;
  // Requests matching the filter, in id order (descending when
  // newest_first), at most filter.limit.
  virtual Result<std::vector<RequestRecord>> requests(const RequestFilter& filter) = 0;
  // Requests whose stored state is pending, approved or active and whose
  // deadline has passed at `now` (for the expiry sweep), oldest deadline
  // first, at most `limit`.
  virtual Result<std::vector<RequestRecord>> due_requests(TimePoint now, std::size_t limit) = 0;
  // How many requests are in each stored state (every state, zeros
  // included, in the enum's order): hoistd's metrics. A read only, one
  // pass over an index.
  virtual Result<std::vector<std::pair<RequestState, std::size_t>>> request_counts() = 0;
};

}  // namespace hoist::store
