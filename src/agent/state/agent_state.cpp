#include "agent/state/agent_state.h"

#include <sys/random.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <limits>
#include <set>
#include <system_error>

namespace hoist::agent {

namespace {

bool is_lower_hex(std::string_view s) {
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Text of 1..max bytes (0..max when it may be empty) without NUL bytes.
Status check_text(std::string_view what, std::string_view value, std::size_t max, bool may_be_empty = false) {
  if (value.empty() && !may_be_empty) return invalid_argument(fmt::format("{} is empty", what));
  if (value.size() > max) {
    return invalid_argument(fmt::format("{} is {} bytes; the limit is {}", what, value.size(), max));
  }
  if (value.find('\0') != std::string_view::npos) return invalid_argument(fmt::format("{} contains a NUL byte", what));
  return {};
}

Status check_labels(std::string_view what, const std::vector<std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return invalid_argument(fmt::format("{}: {} labels; the limit is {}", what, labels.size(), kMaxLabels));
  }
  for (const auto& label : labels) {
    if (auto st = check_text(fmt::format("{}: a label", what), label, kMaxNameBytes); !st.ok()) return st;
  }
  return {};
}

Status check_sha256(std::string_view what, std::string_view hex) {
  if (hex.size() != 64 || !is_lower_hex(hex)) {
    return invalid_argument(fmt::format("{} must be 64 lowercase hex digits (a SHA-256)", what));
  }
  return {};
}

}  // namespace

std::vector<std::string> server_urls(const Identity& identity) {
  std::vector<std::string> out{identity.server_url};
  out.insert(out.end(), identity.fallback_server_urls.begin(), identity.fallback_server_urls.end());
  return out;
}

Result<std::string> new_event_id() {
  std::array<std::uint8_t, 16> raw{};
  std::size_t got = 0;
  while (got < raw.size()) {
    const ssize_t n = ::getrandom(raw.data() + got, raw.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return unavailable(
          fmt::format("cannot make an event id: getrandom: {}", std::system_category().message(n < 0 ? errno : EIO)));
    }
    got += static_cast<std::size_t>(n);
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < raw.size(); ++i) {
    out[2 * i] = kHex[raw[i] >> 4];
    out[2 * i + 1] = kHex[raw[i] & 0xf];
  }
  return out;
}

namespace {

// The checks format messages, which allocates; nothing they throw escapes.
template <class F>
Status no_throw(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return unavailable(std::string("cannot check the input: ") + e.what());
  }
}

Status record_id_unchecked(std::string_view what, std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) {
    return invalid_argument(fmt::format("{} must be 1 to {} bytes", what, kMaxIdBytes));
  }
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) return invalid_argument(fmt::format("{} may contain only letters, digits and - _ . :", what));
  }
  return {};
}

Status event_id_unchecked(std::string_view id) {
  if (id.size() != 32 || !is_lower_hex(id)) {
    return invalid_argument("an event id must be 32 lowercase hex digits (128 random bits; see new_event_id)");
  }
  return {};
}

Status batch_limit_unchecked(std::size_t limit) {
  if (limit == 0 || limit > kMaxBatch) {
    return invalid_argument(fmt::format("a batch must hold 1 to {} events", kMaxBatch));
  }
  return {};
}

Status push_cursor_unchecked(std::uint64_t seq) {
  if (seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return invalid_argument(fmt::format("push cursor {} is beyond the largest push seq", seq));
  }
  return {};
}

Status unchecked(const Identity& id) {
  if (auto st = check_text("identity: server URL", id.server_url, kMaxUrlBytes); !st.ok()) return st;
  if (!id.server_url.starts_with("https://")) return invalid_argument("identity: server URL must start with https://");
  if (id.fallback_server_urls.size() + 1 > kMaxServerUrls) {
    return invalid_argument(
        fmt::format("identity: {} server URLs; the limit is {}", id.fallback_server_urls.size() + 1, kMaxServerUrls));
  }
  std::set<std::string_view> seen{id.server_url};
  for (const auto& url : id.fallback_server_urls) {
    if (auto st = check_text("identity: a server URL", url, kMaxUrlBytes); !st.ok()) return st;
    if (!url.starts_with("https://")) return invalid_argument("identity: every server URL must start with https://");
    if (!seen.insert(url).second) return invalid_argument("identity: a server URL is listed twice");
  }
  if (auto st = check_sha256("identity: CA pin", id.ca_pin_sha256); !st.ok()) return st;
  if (auto st = record_id_unchecked("identity: endpoint id", id.endpoint_id); !st.ok()) return st;
  if (auto st = check_text("identity: credential", id.credential, kMaxCredentialBytes); !st.ok()) return st;
  if (!id.credential.starts_with("hoist_agent_")) {
    return invalid_argument("identity: credential must start with hoist_agent_");
  }
  if (auto st = check_text("identity: hostname", id.hostname, kMaxNameBytes); !st.ok()) return st;
  if (!id.codes_key.empty() && id.codes_key.size() != 32) {
    return invalid_argument("identity: the admin-code key must be 32 bytes");
  }
  if (id.codes_key.empty() != (id.codes_key_generation == 0)) {
    return invalid_argument("identity: an admin-code key needs a generation of 1 or more, and only a key has one");
  }
  return check_labels("identity", id.labels);
}

Status unchecked(const ServerAnswer& a) {
  if (auto st = check_text("server answer: URL", a.url, kMaxUrlBytes); !st.ok()) return st;
  if (!a.url.starts_with("https://")) return invalid_argument("server answer: the URL must start with https://");
  return {};
}

Status unchecked(const CodeChallengeRecord& c) {
  if (c.nonce >= (1U << 30)) return invalid_argument("code challenge: the nonce has more than 30 bits");
  if (c.uid == std::numeric_limits<std::uint32_t>::max()) return invalid_argument("code challenge: uid -1");
  if (c.expires_at <= c.issued_at) return invalid_argument("code challenge: it expires before it is issued");
  return {};
}

Status unchecked(const CodeUse& u) {
  if (u.kind != "response" && u.kind != "preissued") {
    return invalid_argument("code use: the kind is \"response\" or \"preissued\"");
  }
  if (u.generation == 0) return invalid_argument("code use: key generation 0");
  if (u.uid == std::numeric_limits<std::uint32_t>::max()) return invalid_argument("code use: uid -1");
  if (auto st = check_text("code use: user", u.user, kMaxNameBytes); !st.ok()) return st;
  return record_id_unchecked("code use: grant id", u.grant_id);
}

Status unchecked(const PolicySnapshot& p) {
  if (auto st = check_text("policy: etag", p.etag, kMaxNameBytes, true); !st.ok()) return st;
  if (auto st = check_labels("policy", p.labels); !st.ok()) return st;
  if (p.documents.size() > kMaxPolicyDocuments) {
    return invalid_argument(
        fmt::format("policy: {} documents; the limit is {}", p.documents.size(), kMaxPolicyDocuments));
  }
  std::set<std::string_view> names;
  std::size_t total = 0;
  for (const auto& d : p.documents) {
    if (auto st = check_text("policy: a document name", d.name, kMaxNameBytes); !st.ok()) return st;
    if (!names.insert(d.name).second) {
      return invalid_argument(fmt::format("policy: document {} appears twice", d.name));
    }
    if (d.version < 1) return invalid_argument(fmt::format("policy: document {} has version {}", d.name, d.version));
    if (auto st = check_text(fmt::format("policy: document {}", d.name), d.text, kMaxPolicyBytes, true); !st.ok()) {
      return st;
    }
    total += d.text.size();
  }
  if (total > kMaxPolicySnapshotBytes) {
    return invalid_argument(
        fmt::format("policy: the documents total {} bytes; the limit is {}", total, kMaxPolicySnapshotBytes));
  }
  return {};
}

Status unchecked(const Grant& g) {
  if (auto st = record_id_unchecked("grant id", g.id); !st.ok()) return st;
  if (auto st = check_text("grant: user", g.user, kMaxNameBytes); !st.ok()) return st;
  if (g.uid == std::numeric_limits<std::uint32_t>::max()) return invalid_argument("grant: uid -1 is not a user");
  if (g.deadline <= g.start)
    return invalid_argument(fmt::format("grant {}: the deadline is not after the start", g.id));
  if (g.kind == GrantKind::kSession) {
    if (g.scope != GrantScope{}) return invalid_argument(fmt::format("grant {}: a session grant has no scope", g.id));
    return {};
  }
  if (auto st = check_text("grant: command path", g.scope.command_path, kMaxPathBytes); !st.ok()) return st;
  if (g.scope.command_path.front() != '/') {
    return invalid_argument(fmt::format("grant {}: the command path must be absolute", g.id));
  }
  if (g.scope.sha256) {
    if (auto st = check_sha256("grant: command sha256", *g.scope.sha256); !st.ok()) return st;
  }
  if (g.scope.argv_patterns.size() > kMaxArgvPatterns) {
    return invalid_argument(fmt::format("grant {}: {} argument patterns; the limit is {}", g.id,
                                        g.scope.argv_patterns.size(), kMaxArgvPatterns));
  }
  for (const auto& pattern : g.scope.argv_patterns) {
    if (auto st = check_text("grant: an argument pattern", pattern, kMaxPathBytes, true); !st.ok()) return st;
  }
  if (auto st = check_text("grant: target user", g.scope.runas_user, kMaxNameBytes); !st.ok()) return st;
  if (auto st = check_text("grant: target group", g.scope.runas_group, kMaxNameBytes, true); !st.ok()) return st;
  return {};
}

Status unchecked(const PendingRequest& r) {
  if (auto st = record_id_unchecked("request id", r.id); !st.ok()) return st;
  if (r.uid == std::numeric_limits<std::uint32_t>::max()) return invalid_argument("request: uid -1 is not a user");
  if (auto st = check_text("request: user", r.user, kMaxNameBytes); !st.ok()) return st;
  if (auto st = check_text("request: command summary", r.command_summary, kMaxSummaryBytes, true); !st.ok()) return st;
  return check_text("request: state", r.state, kMaxNameBytes);
}

Status unchecked(const OutboxEvent& e) {
  if (auto st = event_id_unchecked(e.id); !st.ok()) return st;
  if (auto st = check_text("event kind", e.kind, kMaxNameBytes); !st.ok()) return st;
  return check_text("event payload", e.payload, kMaxPayloadBytes);
}

}  // namespace

Status validate_record_id(std::string_view what, std::string_view id) {
  return no_throw([&] { return record_id_unchecked(what, id); });
}
Status validate_event_id(std::string_view id) {
  return no_throw([&] { return event_id_unchecked(id); });
}
Status validate_batch_limit(std::size_t limit) {
  return no_throw([&] { return batch_limit_unchecked(limit); });
}
Status validate_batch_size(std::string_view what, std::size_t size) {
  return no_throw([&]() -> Status {
    if (size <= kMaxBatch) return {};
    return invalid_argument(fmt::format("{} {} in one call; the limit is {}", size, what, kMaxBatch));
  });
}
Status validate_push_cursor(std::uint64_t seq) {
  return no_throw([&] { return push_cursor_unchecked(seq); });
}
Status validate_quarantine_reason(std::string_view reason) {
  return no_throw([&] { return check_text("the quarantine reason", reason, kMaxReasonBytes, true); });
}
Status validate(const Identity& identity) {
  return no_throw([&] { return unchecked(identity); });
}
Status validate(const ServerAnswer& answer) {
  return no_throw([&] { return unchecked(answer); });
}
Status validate(const PolicySnapshot& snapshot) {
  return no_throw([&] { return unchecked(snapshot); });
}
Status validate(const Grant& grant) {
  return no_throw([&] { return unchecked(grant); });
}
Status validate(const PendingRequest& request) {
  return no_throw([&] { return unchecked(request); });
}
Status validate(const OutboxEvent& event) {
  return no_throw([&] { return unchecked(event); });
}
Status validate(const CodeChallengeRecord& challenge) {
  return no_throw([&] { return unchecked(challenge); });
}
Status validate(const CodeUse& use) {
  return no_throw([&] { return unchecked(use); });
}

}  // namespace hoist::agent
