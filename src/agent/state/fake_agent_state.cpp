#include "agent/state/fake_agent_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <utility>

namespace hoist::agent {

struct FakeAgentState::Contents {
  std::mutex mu;
  std::optional<Error> write_failure;
  std::optional<Identity> identity;
  std::optional<ServerAnswer> server_answer;
  std::optional<PolicySnapshot> policy;
  std::map<std::string, Grant> grants;
  std::map<std::string, PendingRequest> requests;
  std::map<std::uint64_t, OutboxEvent> outbox;  // by enqueue order
  std::map<std::string, std::uint64_t> outbox_ids;
  std::uint64_t next_seq = 1;
  std::uint64_t outbox_bytes = 0;
  std::uint64_t push_cursor = 0;
  std::map<std::uint64_t, QuarantinedEvent> quarantine;  // by quarantine order
  std::uint64_t next_quarantine_seq = 1;
  std::map<std::uint32_t, CodeChallengeRecord> challenges;  // by nonce
  std::map<std::tuple<std::string, std::uint32_t, std::uint32_t>, CodeUse> code_uses;
  std::map<std::uint32_t, CodeAttempts> attempts;  // by uid
};

FakeAgentState::FakeAgentState(OutboxLimits limits) : FakeAgentState(std::make_shared<Contents>(), limits) {}

FakeAgentState::FakeAgentState(std::shared_ptr<Contents> contents, OutboxLimits limits)
    : contents_(std::move(contents)), limits_(limits) {}

std::unique_ptr<FakeAgentState> FakeAgentState::reopen() const {
  return std::make_unique<FakeAgentState>(contents_, limits_);
}

void FakeAgentState::fail_writes(std::optional<Error> error) {
  const std::lock_guard lock(contents_->mu);
  contents_->write_failure = std::move(error);
}

Result<std::optional<Identity>> FakeAgentState::identity() {
  const std::lock_guard lock(contents_->mu);
  return contents_->identity;
}

Status FakeAgentState::set_identity(const Identity& identity) {
  if (auto st = validate(identity); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  contents_->identity = identity;
  return {};
}

Result<std::optional<ServerAnswer>> FakeAgentState::server_answer() {
  const std::lock_guard lock(contents_->mu);
  return contents_->server_answer;
}

Status FakeAgentState::set_server_answer(const ServerAnswer& answer) {
  if (auto st = validate(answer); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  contents_->server_answer = answer;
  return {};
}

Result<std::optional<PolicySnapshot>> FakeAgentState::policy() {
  const std::lock_guard lock(contents_->mu);
  return contents_->policy;
}

Status FakeAgentState::set_policy(const PolicySnapshot& snapshot) {
  if (auto st = validate(snapshot); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  contents_->policy = snapshot;
  return {};
}

Status FakeAgentState::upsert_grant(const Grant& grant) {
  if (auto st = validate(grant); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  Grant stored = grant;
  if (const auto it = contents_->grants.find(grant.id); it != contents_->grants.end() && it->second.revoked_at) {
    stored.revoked_at = it->second.revoked_at;  // revocations are sticky
  }
  contents_->grants[grant.id] = std::move(stored);
  return {};
}

Status FakeAgentState::revoke_grant(const std::string& id, TimePoint at) {
  if (auto st = validate_record_id("grant id", id); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  const auto it = contents_->grants.find(id);
  if (it == contents_->grants.end()) return not_found(fmt::format("no grant {} is stored", id));
  if (!it->second.revoked_at) it->second.revoked_at = at;
  return {};
}

Result<std::optional<Grant>> FakeAgentState::grant(const std::string& id) {
  if (auto st = validate_record_id("grant id", id); !st.ok()) return st.error();
  const std::lock_guard lock(contents_->mu);
  const auto it = contents_->grants.find(id);
  if (it == contents_->grants.end()) return std::optional<Grant>();
  return std::optional<Grant>(it->second);
}

Result<std::vector<Grant>> FakeAgentState::active_grants(std::uint32_t uid, TimePoint now) {
  const std::lock_guard lock(contents_->mu);
  std::vector<Grant> out;
  for (const auto& [id, g] : contents_->grants) {
    if (g.uid == uid && g.active_at(now)) out.push_back(g);
  }
  std::stable_sort(out.begin(), out.end(), [](const Grant& a, const Grant& b) { return a.deadline < b.deadline; });
  return out;
}

Result<std::vector<Grant>> FakeAgentState::grants() {
  const std::lock_guard lock(contents_->mu);
  std::vector<Grant> out;
  for (const auto& [id, g] : contents_->grants) out.push_back(g);
  return out;
}

Result<std::size_t> FakeAgentState::delete_grants_ended_before(TimePoint before) {
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  return static_cast<std::size_t>(std::erase_if(contents_->grants, [&](const auto& entry) {
    const Grant& g = entry.second;
    return g.deadline < before || (g.revoked_at && *g.revoked_at < before);
  }));
}

Status FakeAgentState::upsert_pending_request(const PendingRequest& request) {
  if (auto st = validate(request); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  contents_->requests[request.id] = request;
  return {};
}

Result<std::optional<PendingRequest>> FakeAgentState::pending_request(const std::string& id) {
  if (auto st = validate_record_id("request id", id); !st.ok()) return st.error();
  const std::lock_guard lock(contents_->mu);
  const auto it = contents_->requests.find(id);
  if (it == contents_->requests.end()) return std::optional<PendingRequest>();
  return std::optional<PendingRequest>(it->second);
}

Result<std::vector<PendingRequest>> FakeAgentState::pending_requests_for(std::uint32_t uid) {
  const std::lock_guard lock(contents_->mu);
  std::vector<PendingRequest> out;
  for (const auto& [id, r] : contents_->requests) {
    if (r.uid == uid) out.push_back(r);
  }
  // By id already (the map); a stable sort by time keeps ties by id.
  std::stable_sort(out.begin(), out.end(),
                   [](const PendingRequest& a, const PendingRequest& b) { return a.submitted_at < b.submitted_at; });
  return out;
}

Result<bool> FakeAgentState::remove_pending_request(const std::string& id) {
  if (auto st = validate_record_id("request id", id); !st.ok()) return st.error();
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  return contents_->requests.erase(id) > 0;
}

Status FakeAgentState::enqueue(const OutboxEvent& event) {
  return enqueue_all({event});
}

Status FakeAgentState::enqueue_all(const std::vector<OutboxEvent>& events) {
  if (auto st = validate_batch_size("events", events.size()); !st.ok()) return st;
  for (const auto& e : events) {
    if (auto st = validate(e); !st.ok()) return st;
  }
  if (events.empty()) return {};
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  return enqueue_locked(events);
}

Status FakeAgentState::enqueue_locked(const std::vector<OutboxEvent>& events) {
  // Checked in full before anything changes: all or nothing, as a transaction.
  std::map<std::string, bool> added;
  std::uint64_t count = contents_->outbox.size();
  std::uint64_t bytes = contents_->outbox_bytes;
  std::vector<const OutboxEvent*> to_add;
  for (const auto& e : events) {
    if (contents_->outbox_ids.contains(e.id) || added.contains(e.id)) continue;
    if (count + 1 > limits_.max_events || bytes + e.payload.size() > limits_.max_payload_bytes) {
      return unavailable(
          fmt::format("the event outbox is full ({} events, {} payload bytes; the limits are {} and {}): nothing "
                      "was queued",
                      count, bytes, limits_.max_events, limits_.max_payload_bytes));
    }
    added[e.id] = true;
    ++count;
    bytes += e.payload.size();
    to_add.push_back(&e);
  }
  for (const OutboxEvent* e : to_add) {
    const std::uint64_t seq = contents_->next_seq++;
    contents_->outbox.emplace(seq, *e);
    contents_->outbox_ids.emplace(e->id, seq);
    contents_->outbox_bytes += e->payload.size();
  }
  return {};
}

Result<std::vector<OutboxEvent>> FakeAgentState::next_batch(std::size_t limit) {
  if (auto st = validate_batch_limit(limit); !st.ok()) return st.error();
  const std::lock_guard lock(contents_->mu);
  std::vector<OutboxEvent> out;
  for (const auto& [seq, e] : contents_->outbox) {
    if (out.size() == limit) break;
    out.push_back(e);
  }
  return out;
}

Status FakeAgentState::acknowledge(const std::vector<std::string>& ids) {
  if (auto st = validate_batch_size("ids", ids.size()); !st.ok()) return st;
  for (const auto& id : ids) {
    if (auto st = validate_event_id(id); !st.ok()) return st;
  }
  if (ids.empty()) return {};
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  for (const auto& id : ids) {
    const auto it = contents_->outbox_ids.find(id);
    if (it == contents_->outbox_ids.end()) continue;
    const auto event = contents_->outbox.find(it->second);
    contents_->outbox_bytes -= event->second.payload.size();
    contents_->outbox.erase(event);
    contents_->outbox_ids.erase(it);
  }
  return {};
}

Result<std::uint64_t> FakeAgentState::pending_count() {
  const std::lock_guard lock(contents_->mu);
  return static_cast<std::uint64_t>(contents_->outbox.size());
}

Status FakeAgentState::quarantine(const std::string& id, const std::string& reason, TimePoint at,
                                  const std::optional<OutboxEvent>& report) {
  if (auto st = validate_event_id(id); !st.ok()) return st;
  if (auto st = validate_quarantine_reason(reason); !st.ok()) return st;
  if (report) {
    if (auto st = validate(*report); !st.ok()) return st;
  }
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  const auto it = contents_->outbox_ids.find(id);
  if (it == contents_->outbox_ids.end()) return not_found(fmt::format("event {} is not in the outbox", id));
  const auto event = contents_->outbox.find(it->second);
  // As one transaction: the event leaves, and then the report must fit.
  const OutboxEvent moved = event->second;
  if (report && !contents_->outbox_ids.contains(report->id)) {
    const std::uint64_t count = contents_->outbox.size() - 1;
    const std::uint64_t bytes = contents_->outbox_bytes - moved.payload.size();
    if (count + 1 > limits_.max_events || bytes + report->payload.size() > limits_.max_payload_bytes) {
      return unavailable("the event outbox is full: the quarantine's report does not fit; nothing changed");
    }
  }
  contents_->outbox_bytes -= moved.payload.size();
  contents_->outbox.erase(event);
  contents_->outbox_ids.erase(it);
  if (report) {
    if (auto st = enqueue_locked({*report}); !st.ok()) return internal_error("the report did not fit (this is a bug)");
  }
  for (auto q = contents_->quarantine.begin(); q != contents_->quarantine.end(); ++q) {
    if (q->second.event.id == id) {
      contents_->quarantine.erase(q);
      break;
    }
  }
  contents_->quarantine.emplace(contents_->next_quarantine_seq++, QuarantinedEvent{moved, reason, at});
  while (contents_->quarantine.size() > kMaxQuarantined) contents_->quarantine.erase(contents_->quarantine.begin());
  return {};
}

Result<std::vector<QuarantinedEvent>> FakeAgentState::quarantined(std::size_t limit) {
  if (auto st = validate_batch_limit(limit); !st.ok()) return st.error();
  const std::lock_guard lock(contents_->mu);
  std::vector<QuarantinedEvent> out;
  for (auto it = contents_->quarantine.rbegin(); it != contents_->quarantine.rend() && out.size() < limit; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Result<std::uint64_t> FakeAgentState::quarantined_count() {
  const std::lock_guard lock(contents_->mu);
  return static_cast<std::uint64_t>(contents_->quarantine.size());
}

Result<std::uint64_t> FakeAgentState::push_cursor() {
  const std::lock_guard lock(contents_->mu);
  return contents_->push_cursor;
}

Status FakeAgentState::set_push_cursor(std::uint64_t seq) {
  if (auto st = validate_push_cursor(seq); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  contents_->push_cursor = seq;
  return {};
}

Status FakeAgentState::add_code_challenge(const CodeChallengeRecord& challenge, TimePoint now) {
  if (auto st = validate(challenge); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  auto& all = contents_->challenges;
  std::erase_if(all, [&](const auto& kv) { return kv.second.expires_at <= now; });
  const bool used = std::any_of(contents_->code_uses.begin(), contents_->code_uses.end(), [&](const auto& kv) {
    return std::get<0>(kv.first) == "response" && std::get<1>(kv.first) == challenge.nonce;
  });
  if (all.contains(challenge.nonce) || used) return conflict("that challenge nonce is taken; draw another");
  for (;;) {
    std::vector<const CodeChallengeRecord*> mine;
    for (const auto& [nonce, c] : all) {
      if (c.uid == challenge.uid) mine.push_back(&c);
    }
    if (mine.size() < kMaxChallengesPerUid) break;
    const auto* oldest = *std::min_element(mine.begin(), mine.end(), [](const auto* a, const auto* b) {
      return std::tie(a->issued_at, a->nonce) < std::tie(b->issued_at, b->nonce);
    });
    all.erase(oldest->nonce);
  }
  all.emplace(challenge.nonce, challenge);
  return {};
}

Result<std::optional<CodeChallengeRecord>> FakeAgentState::code_challenge(std::uint32_t nonce) {
  const std::lock_guard lock(contents_->mu);
  const auto it = contents_->challenges.find(nonce);
  if (it == contents_->challenges.end()) return std::optional<CodeChallengeRecord>();
  return std::optional<CodeChallengeRecord>(it->second);
}

Result<bool> FakeAgentState::code_used(std::string_view kind, std::uint32_t ref, std::uint32_t generation) {
  const std::lock_guard lock(contents_->mu);
  return contents_->code_uses.contains(std::tuple{std::string(kind), ref, generation});
}

Status FakeAgentState::redeem_code(const CodeUse& use, const Grant& grant, const OutboxEvent& event) {
  if (auto st = validate(use); !st.ok()) return st;
  if (auto st = validate(grant); !st.ok()) return st;
  if (auto st = validate(event); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  const std::tuple key{use.kind, use.ref, use.generation};
  if (contents_->code_uses.contains(key)) return conflict("this code was used already; a code is good once");
  if (contents_->grants.contains(grant.id)) return conflict(fmt::format("a grant {} exists already", grant.id));
  if (auto st = enqueue_locked({event}); !st.ok()) return st;
  contents_->code_uses.emplace(key, use);
  contents_->grants[grant.id] = grant;
  if (use.kind == "response") contents_->challenges.erase(use.ref);
  contents_->attempts.erase(use.uid);
  return {};
}

Result<CodeAttempts> FakeAgentState::code_attempts(std::uint32_t uid) {
  const std::lock_guard lock(contents_->mu);
  const auto it = contents_->attempts.find(uid);
  return it == contents_->attempts.end() ? CodeAttempts{} : it->second;
}

Status FakeAgentState::record_code_failure(std::uint32_t uid, const CodeAttempts& attempts, const OutboxEvent& event) {
  if (auto st = validate(event); !st.ok()) return st;
  const std::lock_guard lock(contents_->mu);
  if (contents_->write_failure) return *contents_->write_failure;
  if (auto st = enqueue_locked({event}); !st.ok()) return st;
  contents_->attempts[uid] = attempts;
  return {};
}

}  // namespace hoist::agent
