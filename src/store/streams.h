// Where each stream of the audit trail to an outside receiver (a SIEM:
// docs/siem.md) has got to: the seq of the last event the receiver has.
#pragma once

#include <cstdint>
#include <string>

#include "core/duration.h"
#include "core/result.h"

namespace hoist::store {

// Inside a write transaction.
class StreamsTx {
 public:
  virtual ~StreamsTx() = default;
  // Records that stream `name` has delivered every event up to `seq`.
  // InvalidArgument for an empty name, or a seq below the one stored (a
  // cursor never moves back).
  virtual Status set_stream_cursor(const std::string& name, std::uint64_t seq, TimePoint at) = 0;
};

class StreamsReader {
 public:
  virtual ~StreamsReader() = default;
  // The seq stream `name` has delivered up to; 0 for a stream never run.
  virtual Result<std::uint64_t> stream_cursor(const std::string& name) = 0;
};

}  // namespace hoist::store
