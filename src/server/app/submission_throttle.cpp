#include "server/app/submission_throttle.h"

#include <algorithm>
#include <stdexcept>

#include "core/sha256.h"

namespace hoist::app {

namespace {

// The longest user name a report keeps (the API takes at most 256 bytes).
constexpr std::size_t kMaxReportedUser = 256;

// Length-prefixed, so no endpoint id and user name make another pair's key,
// and tagged, so an endpoint's key is never a user's.
std::array<std::uint8_t, 32> digest(std::string_view tag, std::string_view endpoint_id, std::string_view user) {
  std::string input;
  input.reserve(tag.size() + 9 + endpoint_id.size() + user.size());
  input.append(tag).append(1, '\0');
  const auto n = static_cast<std::uint64_t>(endpoint_id.size());
  for (int shift = 56; shift >= 0; shift -= 8) input.push_back(static_cast<char>((n >> shift) & 0xff));
  input.append(endpoint_id).append(user);
  return sha256(input).bytes;
}

}  // namespace

Status SubmissionThrottle::validate(const Options& options) {
  if (auto st = options.limits.per_endpoint.validate("the submissions per endpoint"); !st) return st;
  if (auto st = options.limits.per_user.validate("the submissions per user"); !st) return st;
  if (options.max_tracked < 2) return invalid_argument("submission throttle: max_tracked must be at least 2");
  if (options.report_every < std::chrono::seconds{1} || options.report_every > std::chrono::hours{1}) {
    return invalid_argument("submission throttle: report_every must be between 1s and 1h");
  }
  return {};
}

SubmissionThrottle::SubmissionThrottle() : SubmissionThrottle(Options{}) {}

SubmissionThrottle::SubmissionThrottle(const Options& options) : options_(options) {
  if (const auto valid = validate(options); !valid) throw std::invalid_argument(valid.error().message);
}

bool SubmissionThrottle::window_over(const Flood& f, AuditTime now) const {
  // A clock set back before the last report starts a new window rather
  // than holding the next report for as long as it jumped.
  return !f.reported_at || now < *f.reported_at || now - *f.reported_at >= options_.report_every;
}

void SubmissionThrottle::forget_full(AuditTime now) {
  auto it = by_full_at_.begin();
  while (it != by_full_at_.end() && it->first <= now) {
    buckets_.erase(it->second);
    it = by_full_at_.erase(it);
  }
}

void SubmissionThrottle::make_room(std::size_t needed, const std::array<Key, 2>& keep) {
  // The nearest to full goes first: it has used the least, so dropping it
  // gives back the least. Never a bucket about to take.
  auto it = by_full_at_.begin();
  while (it != by_full_at_.end() && buckets_.size() + needed > options_.max_tracked) {
    if (it->second == keep[0] || it->second == keep[1]) {
      ++it;
      continue;
    }
    buckets_.erase(it->second);
    it = by_full_at_.erase(it);
  }
}

void SubmissionThrottle::reindex(const Key& key, Entry& entry) {
  const AuditTime full_at = entry.bucket.full_at(limit_of(entry));
  if (full_at == entry.full_at) return;
  by_full_at_.erase({entry.full_at, key});
  entry.full_at = full_at;
  by_full_at_.emplace(full_at, key);
}

std::optional<SubmissionThrottle::Refusal> SubmissionThrottle::admit(const Sender& sender, std::string_view user,
                                                                     AuditTime now) {
  const std::array<Key, 2> keys = {digest("endpoint", sender.endpoint_id, ""),
                                   digest("user", sender.endpoint_id, user)};
  const std::lock_guard lock(mutex_);
  forget_full(now);
  std::array<std::map<Key, Entry>::iterator, 2> found = {buckets_.find(keys[0]), buckets_.find(keys[1])};
  std::array<std::chrono::milliseconds, 2> waits{};
  for (std::size_t i = 0; i < 2; ++i) {
    if (found[i] == buckets_.end()) continue;  // none: a full bucket
    Entry& e = found[i]->second;
    e.bucket.refill(limit_of(e), now);
    reindex(keys[i], e);
    waits[i] = e.bucket.wait(limit_of(e));
  }

  if (waits[0] == std::chrono::milliseconds{0} && waits[1] == std::chrono::milliseconds{0}) {
    const auto needed = static_cast<std::size_t>(std::count(found.begin(), found.end(), buckets_.end()));
    make_room(needed, keys);  // erases neither key: the iterators stay valid
    for (std::size_t i = 0; i < 2; ++i) {
      if (found[i] == buckets_.end()) {
        const bool per_endpoint = i == 0;
        const BucketLimit& limit = per_endpoint ? options_.limits.per_endpoint : options_.limits.per_user;
        found[i] = buckets_.emplace(keys[i], Entry{TokenBucket(limit, now), per_endpoint, now}).first;
        by_full_at_.emplace(now, keys[i]);
      }
      Entry& e = found[i]->second;
      e.bucket.take(limit_of(e));
      reindex(keys[i], e);
    }
    return std::nullopt;
  }

  Refusal refusal;
  refusal.by_endpoint_limit = waits[0] >= waits[1];
  const auto wait = std::max(waits[0], waits[1]);
  refusal.retry_after = std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(wait));

  auto [it, inserted] = floods_.try_emplace(std::string(sender.endpoint_id));
  Flood& f = it->second;
  f.actor = std::string(sender.actor);
  f.host = std::string(sender.host);
  if (f.throttled == 0) f.first_at = now;
  ++f.throttled;
  if (refusal.by_endpoint_limit) ++f.by_endpoint_limit;
  f.last_at = now;
  f.last_user = std::string(user.substr(0, kMaxReportedUser));
  if (window_over(f, now)) refusal.report = take_report(it->first, f, now);
  return refusal;
}

SubmissionThrottle::Report SubmissionThrottle::take_report(const std::string& endpoint_id, Flood& flood,
                                                           AuditTime now) {
  Report r{endpoint_id,    flood.actor,   flood.host,     flood.throttled, flood.by_endpoint_limit,
           flood.first_at, flood.last_at, flood.last_user};
  flood.throttled = 0;
  flood.by_endpoint_limit = 0;
  flood.last_user.clear();
  flood.reported_at = now;
  return r;
}

std::vector<SubmissionThrottle::Report> SubmissionThrottle::due_reports(AuditTime now, bool all) {
  const std::lock_guard lock(mutex_);
  std::vector<Report> out;
  for (auto it = floods_.begin(); it != floods_.end();) {
    Flood& f = it->second;
    if (f.throttled > 0 && (all || window_over(f, now))) {
      out.push_back(take_report(it->first, f, now));
    } else if (f.throttled == 0 && window_over(f, now)) {
      it = floods_.erase(it);  // reported and quiet since
      continue;
    }
    ++it;
  }
  return out;
}

void SubmissionThrottle::give_back(Report report) {
  if (report.throttled == 0) return;
  const std::lock_guard lock(mutex_);
  auto [it, inserted] = floods_.try_emplace(report.endpoint_id);
  Flood& f = it->second;
  if (inserted) {
    f.actor = std::move(report.actor);
    f.host = std::move(report.host);
  }
  if (f.throttled == 0 || report.last_at > f.last_at) {
    f.last_at = report.last_at;
    f.last_user = std::move(report.last_user);
  }
  f.first_at = f.throttled == 0 ? report.first_at : std::min(f.first_at, report.first_at);
  f.throttled += report.throttled;
  f.by_endpoint_limit += report.by_endpoint_limit;
}

std::size_t SubmissionThrottle::tracked() const {
  const std::lock_guard lock(mutex_);
  return buckets_.size();
}

std::size_t SubmissionThrottle::floods() const {
  const std::lock_guard lock(mutex_);
  return floods_.size();
}

}  // namespace hoist::app
