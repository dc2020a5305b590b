#include "server/app/upload_throttle.h"

#include <algorithm>
#include <stdexcept>

namespace hoist::app {

Status UploadThrottle::validate(const Options& options) {
  if (auto st = options.limit.validate("the events an endpoint uploads"); !st) return st;
  if (options.max_tracked < 1) return invalid_argument("upload throttle: max_tracked must be at least 1");
  if (options.report_every < std::chrono::seconds{1} || options.report_every > std::chrono::hours{1}) {
    return invalid_argument("upload throttle: report_every must be between 1s and 1h");
  }
  return {};
}

UploadThrottle::UploadThrottle() : UploadThrottle(Options{}) {}

UploadThrottle::UploadThrottle(const Options& options) : options_(options) {
  if (const auto valid = validate(options); !valid) throw std::invalid_argument(valid.error().message);
}

bool UploadThrottle::window_over(const Flood& f, AuditTime now) const {
  return !f.reported_at || now < *f.reported_at || now - *f.reported_at >= options_.report_every;
}

std::chrono::seconds UploadThrottle::seconds_of(std::chrono::milliseconds wait) {
  return std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(wait));
}

void UploadThrottle::forget_full(AuditTime now) {
  auto it = by_full_at_.begin();
  while (it != by_full_at_.end() && it->first <= now) {
    buckets_.erase(it->second);
    it = by_full_at_.erase(it);
  }
}

std::optional<UploadThrottle::Admitted> UploadThrottle::refuse_if_empty(const Sender& sender, AuditTime now) {
  const std::lock_guard lock(mutex_);
  auto it = buckets_.find(sender.endpoint_id);
  if (it == buckets_.end()) return std::nullopt;  // full
  TokenBucket& bucket = it->second.bucket;
  bucket.refill(options_.limit, now);  // full_at does not move: refilling is what it foresaw
  const auto wait = bucket.wait(options_.limit);
  if (wait == std::chrono::milliseconds{0}) return std::nullopt;
  Admitted out;
  out.retry_after = seconds_of(wait);
  out.report = count(sender, 0, now);
  return out;
}

std::optional<UploadThrottle::Report> UploadThrottle::count(const Sender& sender, std::uint64_t not_taken,
                                                            AuditTime now) {
  auto [it, inserted] = floods_.try_emplace(std::string(sender.endpoint_id));
  Flood& f = it->second;
  f.actor = std::string(sender.actor);
  f.host = std::string(sender.host);
  if (f.uploads == 0) f.first_at = now;
  ++f.uploads;
  f.events += not_taken;
  f.last_at = now;
  if (window_over(f, now)) return take_report(it->first, f, now);
  return std::nullopt;
}

UploadThrottle::Admitted UploadThrottle::admit(const Sender& sender, std::size_t wanted, AuditTime now) {
  const std::lock_guard lock(mutex_);
  forget_full(now);
  Admitted out;
  if (wanted == 0) return out;
  auto it = buckets_.find(sender.endpoint_id);
  if (it == buckets_.end()) {
    // Room for one more: the bucket nearest to full goes first.
    while (buckets_.size() >= options_.max_tracked && !by_full_at_.empty()) {
      buckets_.erase(by_full_at_.begin()->second);
      by_full_at_.erase(by_full_at_.begin());
    }
    it = buckets_.emplace(std::string(sender.endpoint_id), Entry{TokenBucket(options_.limit, now), now}).first;
    by_full_at_.emplace(now, it->first);
  }
  Entry& e = it->second;
  e.bucket.refill(options_.limit, now);
  const auto want = static_cast<std::int64_t>(std::min<std::size_t>(wanted, kMaxBucketBurst));
  out.events = static_cast<std::size_t>(e.bucket.take_up_to(options_.limit, want));
  const AuditTime full_at = e.bucket.full_at(options_.limit);
  if (full_at != e.full_at) {
    by_full_at_.erase({e.full_at, it->first});
    e.full_at = full_at;
    by_full_at_.emplace(full_at, it->first);
  }
  if (out.events == wanted) return out;

  if (out.events == 0) out.retry_after = seconds_of(e.bucket.wait(options_.limit));
  out.report = count(sender, wanted - out.events, now);
  return out;
}

UploadThrottle::Report UploadThrottle::take_report(const std::string& endpoint_id, Flood& flood, AuditTime now) {
  Report r{endpoint_id, flood.actor, flood.host, flood.uploads, flood.events, flood.first_at, flood.last_at};
  flood.uploads = 0;
  flood.events = 0;
  flood.reported_at = now;
  return r;
}

std::vector<UploadThrottle::Report> UploadThrottle::due_reports(AuditTime now, bool all) {
  const std::lock_guard lock(mutex_);
  std::vector<Report> out;
  for (auto it = floods_.begin(); it != floods_.end();) {
    Flood& f = it->second;
    if (f.uploads > 0 && (all || window_over(f, now))) {
      out.push_back(take_report(it->first, f, now));
    } else if (f.uploads == 0 && window_over(f, now)) {
      it = floods_.erase(it);
      continue;
    }
    ++it;
  }
  return out;
}

void UploadThrottle::give_back(Report report) {
  if (report.uploads == 0) return;
  const std::lock_guard lock(mutex_);
  auto [it, inserted] = floods_.try_emplace(report.endpoint_id);
  Flood& f = it->second;
  if (inserted) {
    f.actor = std::move(report.actor);
    f.host = std::move(report.host);
  }
  f.first_at = f.uploads == 0 ? report.first_at : std::min(f.first_at, report.first_at);
  f.last_at = std::max(f.last_at, report.last_at);
  f.uploads += report.uploads;
  f.events += report.events;
}

std::size_t UploadThrottle::tracked() const {
  const std::lock_guard lock(mutex_);
  return buckets_.size();
}

}  // namespace hoist::app
