#include "core/token_bucket.h"

#include <algorithm>
#include <string>

namespace hoist {

Status BucketLimit::validate(std::string_view what) const {
  if (burst < 1 || burst > kMaxBucketBurst) {
    return invalid_argument(std::string(what) + ": the burst must be between 1 and " + std::to_string(kMaxBucketBurst));
  }
  if (interval < std::chrono::milliseconds{1} || interval > kMaxBucketInterval) {
    return invalid_argument(std::string(what) + ": the interval must be between 1ms and 1h");
  }
  return {};
}

void TokenBucket::refill(const BucketLimit& limit, BucketTime now) {
  if (now > at_) {
    const auto missing = limit.capacity() - credit_;
    credit_ = now - at_ >= missing ? limit.capacity() : credit_ + (now - at_);
  }
  at_ = now;  // also backward: refilling starts again from here
}

std::chrono::milliseconds TokenBucket::wait(const BucketLimit& limit) const {
  return credit_ >= limit.interval ? std::chrono::milliseconds{0} : limit.interval - credit_;
}

void TokenBucket::take(const BucketLimit& limit) {
  credit_ -= std::min(credit_, limit.interval);
}

std::int64_t TokenBucket::take_up_to(const BucketLimit& limit, std::int64_t wanted) {
  if (wanted <= 0) return 0;
  const std::int64_t held = credit_ / limit.interval;  // whole tokens
  const std::int64_t taken = std::min(held, wanted);
  credit_ -= limit.interval * taken;
  return taken;
}

}  // namespace hoist
