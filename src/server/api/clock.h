// The time, as an interface, so tests can move it (deadlines, expiry).
#pragma once

#include <atomic>
#include <chrono>

#include "core/audit.h"
#include "core/duration.h"

namespace hoist::api {

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual std::chrono::system_clock::time_point now() const = 0;

  [[nodiscard]] TimePoint now_s() const { return std::chrono::time_point_cast<Seconds>(now()); }
  [[nodiscard]] AuditTime now_ms() const { return std::chrono::time_point_cast<std::chrono::milliseconds>(now()); }
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

// A clock that stands still until moved (tests, and hoistd --fake-clock
// for end-to-end tests of expiry).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start) : now_(start.time_since_epoch().count()) {}
  [[nodiscard]] std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(now_.load()));
  }
  void advance(std::chrono::system_clock::duration d) { now_ += d.count(); }

 private:
  std::atomic<std::chrono::system_clock::rep> now_;
};

}  // namespace hoist::api
