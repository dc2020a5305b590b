#include "agent/denial_budget.h"

#include <algorithm>

namespace hoist::agent {

namespace {

// The longest user name a summary keeps.
constexpr std::size_t kMaxUser = 256;

}  // namespace

bool DenialBudget::admit(std::uint32_t uid, std::string_view user, BucketTime now) {
  const std::lock_guard lock(mu_);
  auto it = users_.find(uid);
  if (it == users_.end()) {
    if (users_.size() >= options_.max_tracked) {
      // Forget the entry nearest to full that holds no count.
      auto victim = users_.end();
      for (auto e = users_.begin(); e != users_.end(); ++e) {
        if (e->second.counted.count != 0) continue;
        if (victim == users_.end() ||
            e->second.bucket.full_at(options_.limit) < victim->second.bucket.full_at(options_.limit)) {
          victim = e;
        }
      }
      // Every tracked user has a count: this one's event is queued as it is
      // (memory stays bounded, and nothing goes uncounted).
      if (victim == users_.end()) return true;
      users_.erase(victim);
    }
    it = users_.emplace(uid, Entry{TokenBucket(options_.limit, now), Summary{uid, "", 0, {}, {}}}).first;
  }
  Entry& e = it->second;
  e.bucket.refill(options_.limit, now);
  if (e.bucket.wait(options_.limit) == std::chrono::milliseconds{0}) {
    e.bucket.take(options_.limit);
    return true;
  }
  if (e.counted.count == 0) e.counted.first_at = now;
  ++e.counted.count;
  e.counted.last_at = now;
  e.counted.user = std::string(user.substr(0, kMaxUser));
  return false;
}

std::vector<DenialBudget::Summary> DenialBudget::due(BucketTime now, bool all) {
  const std::lock_guard lock(mu_);
  std::vector<Summary> out;
  for (auto it = users_.begin(); it != users_.end();) {
    Entry& e = it->second;
    const bool over = now < e.counted.first_at || now - e.counted.first_at >= options_.report_every;
    if (e.counted.count > 0 && (all || over)) {
      out.push_back(e.counted);
      e.counted.count = 0;
    }
    if (e.counted.count == 0 && e.bucket.full_at(options_.limit) <= now) {
      it = users_.erase(it);  // the same as a new one
      continue;
    }
    ++it;
  }
  return out;
}

void DenialBudget::give_back(const Summary& summary) {
  if (summary.count == 0) return;
  const std::lock_guard lock(mu_);
  auto [it, inserted] = users_.try_emplace(
      summary.uid, Entry{TokenBucket(options_.limit, summary.last_at), Summary{summary.uid, "", 0, {}, {}}});
  Summary& c = it->second.counted;
  c.first_at = c.count == 0 ? summary.first_at : std::min(c.first_at, summary.first_at);
  c.last_at = std::max(c.last_at, summary.last_at);
  c.user = summary.user;
  c.count += summary.count;
}

std::size_t DenialBudget::tracked() const {
  const std::lock_guard lock(mu_);
  return users_.size();
}

}  // namespace hoist::agent
