// Notification channels and their deliveries (docs/notifications.md): an
// admin creates, lists, changes, tests and deletes channels, lists
// deliveries and re-drives dead letters. The sender is
// src/server/notify/outbox_sender.h; the outbox's rows, store/outbox.h.
//
// MUST: admin only (the route table), every change audited in its own
// transaction.
// MUST: a secret is write-only: sealed (auth/sealed_box.h) before it is
// stored, never returned, never audited or logged, never echoed in an
// error. Answers say only whether one is set and until when a rotated
// one still signs.
// MUST: an audit event records a channel's config with its URLs' user
// part, query and fragment redacted (notify::audited_config): auditors,
// SIEMs and notify.* channels read the trail, and a token may sit there.
// Admins' answers show the config whole.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/audit_kind.h"
#include "server/api/api_impl.h"
#include "server/auth/sealed_box.h"
#include "server/auth/secrets.h"
#include "server/notify/kinds.h"
#include "server/notify/message.h"

namespace hoist::api {

namespace {

constexpr std::size_t kMaxChannelName = 100;
constexpr std::size_t kMaxEventPatterns = 64;
constexpr std::size_t kMaxPatternBytes = 100;
constexpr std::int64_t kDefaultPreviousSecretValidity = 24 * 3600;
constexpr std::int64_t kMaxPreviousSecretValidity = 7 * 24 * 3600;

bool pattern_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

// "*", an action ("request.created"), or a prefix ("request.*"), naming
// at least one kind this hoistd records or an agent's ("endpoint.").
Status check_event_pattern(std::string_view p) {
  if (p == "*") return {};
  const auto bad = [&](std::string_view why) {
    return invalid_argument(fmt::format(
        "events: \"{}\" {}; use \"*\", an audit kind (\"request.created\") or a prefix (\"request.*\"), see "
        "docs/audit.md",
        p.substr(0, kMaxPatternBytes), why));
  };
  if (p.empty() || p.size() > kMaxPatternBytes) return bad("is empty or too long");
  const bool prefix = p.ends_with(".*");
  const auto stem = prefix ? p.substr(0, p.size() - 1) : p;  // "request." for "request.*"
  if (stem.empty() || !std::all_of(stem.begin(), stem.end(), pattern_char) || stem.front() == '.') {
    return bad("has characters an audit kind does not have");
  }
  if (stem.starts_with(kEndpointActionPrefix) || stem == "endpoint.") return {};  // agents' kinds, known or not
  for (const auto kind : all_audit_kinds()) {
    const auto text = to_string(kind);
    if (prefix ? text.starts_with(stem) : text == stem) return {};
  }
  return bad(prefix ? "names no audit kind" : "is not an audit kind");
}

Status check_channel_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxChannelName) {
    return invalid_argument(fmt::format("a channel name has 1 to {} characters", kMaxChannelName));
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return invalid_argument("a channel name has no control characters");
    }
  }
  return {};
}

constexpr std::size_t kMaxConfigBytes = 16 * 1024;
constexpr std::size_t kMaxFilterValues = 64;
constexpr std::size_t kMaxRuleNameBytes = 128;

Status check_rule_names(const std::vector<std::string>& rules) {
  for (const auto& r : rules) {
    const bool printable =
        std::all_of(r.begin(), r.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
    if (r.empty() || r.size() > kMaxRuleNameBytes || !printable) {
      return invalid_argument(fmt::format("filters.rules: a rule name has 1 to {} characters and no control characters",
                                          kMaxRuleNameBytes));
    }
  }
  return {};
}

}  // namespace

Result<ChannelBody> parse_channel_body(std::string_view text, bool create) {
  auto body = [&]() -> Result<ChannelBody> {
    JsonBody b(text);
    ChannelBody out;
    out.kind = b.optional_string("kind", 32);
    out.name = b.optional_string("name", kMaxChannelName + 1);
    out.events = b.string_list("events", kMaxEventPatterns, kMaxPatternBytes + 1);
    out.enabled = b.optional_bool("enabled");
    out.config = b.optional_raw_object("config", kMaxConfigBytes);
    if (auto filters = b.optional_object("filters")) {
      ChannelBody::Filters f;
      f.labels = filters->string_list("labels", kMaxFilterValues, 256);
      f.rules = filters->string_list("rules", kMaxFilterValues, kMaxRuleNameBytes + 1);
      b.absorb(filters->finish());
      out.filters = std::move(f);
    }
    // Never echoed: a wrong one is reported without its text.
    out.secret = b.optional_string("secret", notify::kMaxSecretBytes);
    out.previous_secret_valid_for_s = b.optional_int("previous_secret_valid_for_s", 0, kMaxPreviousSecretValidity);
    out.version = b.optional_int("version", 1, std::numeric_limits<std::int64_t>::max());
    if (auto st = b.finish(); !st) return st.error();
    return out;
  }();
  if (!body) return body.error();
  if (create) {
    if (!body->kind)
      return invalid_argument(fmt::format("kind is missing; the kinds are: {}", notify::channel_kind_names()));
    if (!body->name) return invalid_argument("name is missing");
    if (body->events.empty()) {
      return invalid_argument("events is missing: list the audit kinds to send, e.g. [\"request.*\"], or [\"*\"]");
    }
    if (!body->config) return invalid_argument("config is missing (see docs/notifications.md for each kind's)");
    if (body->version) return invalid_argument("version is only for changes");
  }
  if (body->kind && notify::find_channel_kind(*body->kind) == nullptr) {
    return invalid_argument(fmt::format("unknown channel kind \"{}\"; the kinds are: {}", body->kind->substr(0, 32),
                                        notify::channel_kind_names()));
  }
  if (body->name) {
    if (auto st = check_channel_name(*body->name); !st) return st.error();
  }
  for (const auto& p : body->events) {
    if (auto st = check_event_pattern(p); !st) return st.error();
  }
  if (body->filters) {
    if (auto st = check_labels(body->filters->labels); !st) {
      return invalid_argument(fmt::format("filters.labels: {}", st.error().message));
    }
    if (auto st = check_rule_names(body->filters->rules); !st) return st.error();
  }
  if (body->previous_secret_valid_for_s && !body->secret) {
    return invalid_argument("previous_secret_valid_for_s goes with a new secret");
  }
  return body;
}

namespace {

const notify::ChannelKind* kind_of(const store::ChannelRecord& c) {
  return notify::find_channel_kind(c.kind);
}

Status check_secret(const notify::ChannelKind& kind, std::string_view config, std::string_view secret) {
  if (auto st = kind.check_secret(config, secret); !st) {
    return invalid_argument(
        fmt::format("secret: {} (a {} channel takes {})", st.error().message, kind.name, kind.secret_is));
  }
  return {};
}

json::object channel_json(const store::ChannelRecord& c, const std::optional<notify::ChannelSecrets>& secrets,
                          AuditTime now) {
  // The stored config holds no secret (kinds.h): shown as it is.
  json::value config = json_text(c.config);
  boost::system::error_code ec;
  if (auto parsed = json::parse(c.config, ec); !ec) config = std::move(parsed);
  json::value rotating = nullptr;
  if (secrets && secrets->previous && secrets->previous_until && *secrets->previous_until > now) {
    rotating = notify::format_event_time(*secrets->previous_until);
  }
  return {{"id", c.id},
          {"kind", json_text(c.kind)},
          {"name", json_text(c.name)},
          {"enabled", c.enabled},
          {"events", string_array(c.events)},
          {"filters", json::object{{"labels", string_array(c.labels)}, {"rules", string_array(c.rules)}}},
          {"config", std::move(config)},
          {"secret", json::object{{"set", !c.secrets.empty()}, {"previous_valid_until", std::move(rotating)}}},
          {"version", c.version},
          {"created_by", json_text(c.created_by)},
          {"created_at", notify::format_event_time(c.created_at)},
          {"updated_at", notify::format_event_time(c.updated_at)}};
}

json::object delivery_json(const store::DeliveryRecord& d, const std::optional<AuditEvent>& event) {
  json::value ev = nullptr;
  if (event) {
    ev = json::object{{"id", notify::event_id(*event)},
                      {"seq", event->seq},
                      {"kind", json_text(event->action)},
                      {"target", json_text(event->target)},
                      {"time", notify::format_event_time(event->time)}};
  }
  const bool pending = d.state == outbox::DeliveryState::kPending;
  return {
      {"id", d.id},
      {"channel", json_text(d.channel_id)},
      {"audit_seq", d.audit_seq},
      {"event", std::move(ev)},
      {"state", outbox::to_string(d.state)},
      {"attempts", d.attempts},
      {"next_attempt_at", pending ? json::value(notify::format_event_time(d.next_attempt_at)) : json::value(nullptr)},
      {"last_error", d.last_error.empty() ? json::value(nullptr) : json::value(json_text(d.last_error))},
      {"last_status", d.last_status ? json::value(*d.last_status) : json::value(nullptr)},
      {"created_at", notify::format_event_time(d.created_at)},
      {"finished_at", d.finished_at ? json::value(notify::format_event_time(*d.finished_at)) : json::value(nullptr)}};
}

}  // namespace

Result<const auth::SealedBox*> Api::Impl::secrets_box() const {
  if (!options.secrets_box) {
    return unavailable("this hoistd has no secrets key, so it keeps no channel secrets (see docs/notifications.md)");
  }
  return options.secrets_box.get();
}

Result<std::optional<notify::ChannelSecrets>> Api::Impl::open_channel_secrets(const store::ChannelRecord& c) const {
  if (c.secrets.empty()) return std::optional<notify::ChannelSecrets>();
  auto box = secrets_box();
  if (!box) return box.error();
  auto plain = (*box)->open(c.secrets, c.id);
  if (!plain) return plain.error();
  auto parsed = notify::parse_channel_secrets(*plain);
  if (!parsed) return parsed.error();
  return std::optional<notify::ChannelSecrets>(std::move(*parsed));
}

Result<net::HttpResponse> Api::Impl::list_channels(Call&) {
  auto channels = deps.store.channels();
  if (!channels) return channels.error();
  const auto now = deps.clock.now_ms();
  json::array out;
  for (const auto& c : *channels) {
    auto secrets = open_channel_secrets(c);
    out.push_back(channel_json(c, secrets ? *secrets : std::nullopt, now));
  }
  return json_ok(json::object{{"channels", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::get_channel(Call& call) {
  auto c = deps.store.channel(call.param("id"));
  if (!c) return c.error();
  if (!*c) return not_found(fmt::format("there is no notification channel {}", call.param("id")));
  auto secrets = open_channel_secrets(**c);
  return json_ok(channel_json(**c, secrets ? *secrets : std::nullopt, deps.clock.now_ms()));
}

Result<net::HttpResponse> Api::Impl::create_channel(Call& call) {
  auto body = parse_channel_body(call.request.body, true);
  if (!body) return body.error();
  auto box = secrets_box();
  if (!box) return box.error();
  const auto now = deps.clock.now_ms();
  const notify::ChannelKind& kind = *notify::find_channel_kind(*body->kind);
  auto config = notify::merge_channel_config(kind, "", *body->config);
  if (!config) return config.error();
  if (body->secret) {
    if (auto st = check_secret(kind, *config, *body->secret); !st) return st.error();
  } else if (kind.secret_required(*config)) {
    return invalid_argument(fmt::format("secret is missing: a {} channel needs {}", kind.name, kind.secret_is));
  }
  store::ChannelRecord c;
  c.id = "ch-" + auth::random_id(8);
  c.kind = *body->kind;
  c.name = *body->name;
  c.config = std::move(*config);
  c.enabled = body->enabled.value_or(true);
  c.events = body->events;
  if (body->filters) {
    c.labels = body->filters->labels;
    c.rules = body->filters->rules;
  }
  c.created_by = call.caller.actor();
  c.created_at = now;
  c.updated_at = now;
  if (body->secret) {
    auto sealed = (*box)->seal(notify::channel_secrets_json(notify::ChannelSecrets{*body->secret, {}, {}}), c.id);
    if (!sealed) return sealed.error();
    c.secrets = std::move(*sealed);
  }
  std::optional<store::ChannelRecord> stored;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto inserted = tx.insert_channel(c);
    if (!inserted) return inserted.error();
    stored = std::move(*inserted);
    return audit(tx, call.caller.actor(),
                 audited::ChannelCreated{.kind_name = c.kind,
                                         .name = c.name,
                                         .config = notify::audited_config(c.config),
                                         .events = c.events,
                                         .enabled = c.enabled,
                                         .labels = c.labels,
                                         .rules = c.rules},
                 c.id, "");
  });
  if (!st) return st.error();
  return json_ok(channel_json(*stored, std::nullopt, now), 201);
}

Result<net::HttpResponse> Api::Impl::update_channel(Call& call) {
  auto body = parse_channel_body(call.request.body, false);
  if (!body) return body.error();
  if (body->kind) return invalid_argument("a channel's kind cannot change; make a new channel");
  const std::string& id = call.param("id");
  const auto now = deps.clock.now_ms();
  std::optional<store::ChannelRecord> stored;
  std::optional<notify::ChannelSecrets> new_secrets;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto current = tx.get_channel(id);
    if (!current) return current.error();
    if (!*current) return not_found(fmt::format("there is no notification channel {}", id));
    store::ChannelRecord c = **current;
    if (body->version && *body->version != c.version) {
      return conflict(
          fmt::format("channel {} is at version {}, not {}: reload and retry", id, c.version, *body->version));
    }
    audited::ChannelUpdated change;
    if (body->name && *body->name != c.name) {
      c.name = *body->name;
      change.name = c.name;
    }
    if (!body->events.empty() && body->events != c.events) {
      c.events = body->events;
      change.events = c.events;
    }
    if (body->filters && (body->filters->labels != c.labels || body->filters->rules != c.rules)) {
      c.labels = body->filters->labels;
      c.rules = body->filters->rules;
      change.labels = c.labels;
      change.rules = c.rules;
    }
    if (body->enabled && *body->enabled != c.enabled) {
      c.enabled = *body->enabled;
      change.enabled = c.enabled;
    }
    const notify::ChannelKind* kind = kind_of(c);
    if (kind == nullptr) {
      return invalid_argument(fmt::format("channel {} is of a kind this hoistd does not know (\"{}\"): delete it", id,
                                          c.kind.substr(0, 32)));
    }
    if (body->config) {
      auto merged = notify::merge_channel_config(*kind, c.config, *body->config);
      if (!merged) return merged.error();
      if (*merged != c.config) {
        // Where the secret goes may move only with the secret given again.
        if (const auto moved = notify::moved_destination(*kind, c.config, *merged);
            !moved.empty() && !body->secret && !c.secrets.empty()) {
          std::string fields;
          for (const auto& f : moved) fields += (fields.empty() ? "config." : ", config.") + f;
          return invalid_argument(fmt::format(
              "{} says where channel {}'s secret goes: give the secret again with the change (secret), so it is "
              "never sent to a destination it was not given for",
              fields, id));
        }
        c.config = std::move(*merged);
        change.config = notify::audited_config(c.config);
        // The secret kept must still suit the new config (a Slack channel
        // moved from a webhook URL to a bot token, say).
        if (!body->secret) {
          auto old = open_channel_secrets(c);
          if (!old) return old.error();
          if (*old) {
            if (auto fits = check_secret(*kind, c.config, (*old)->current); !fits) {
              return invalid_argument(fmt::format("{}; give the new secret with the change", fits.error().message));
            }
          } else if (kind->secret_required(c.config)) {
            return invalid_argument(
                fmt::format("secret is missing: a {} channel needs {}", kind->name, kind->secret_is));
          }
        }
      }
    }
    if (body->secret) {
      if (auto fits = check_secret(*kind, c.config, *body->secret); !fits) return fits.error();
      auto old = open_channel_secrets(c);
      if (!old) return old.error();
      auto box = secrets_box();
      if (!box) return box.error();
      notify::ChannelSecrets next{*body->secret, {}, {}};
      const auto valid_for = body->previous_secret_valid_for_s.value_or(kDefaultPreviousSecretValidity);
      if (kind->secret_rotates && *old && valid_for > 0 && (*old)->current != *body->secret) {
        next.previous = (*old)->current;
        next.previous_until = now + std::chrono::seconds(valid_for);
      }
      auto sealed = (*box)->seal(notify::channel_secrets_json(next), c.id);
      if (!sealed) return sealed.error();
      c.secrets = std::move(*sealed);
      change.secret_rotated = true;
      if (next.previous_until) {
        change.previous_secret_valid_until = std::chrono::time_point_cast<Seconds>(*next.previous_until);
      }
      new_secrets = std::move(next);
    }
    auto updated = tx.update_channel(c, now);
    if (!updated) return updated.error();
    stored = std::move(*updated);
    return audit(tx, call.caller.actor(), change, id, "");
  });
  if (!st) return st.error();
  if (!new_secrets) {
    auto opened = open_channel_secrets(*stored);
    if (opened) new_secrets = std::move(*opened);
  }
  return json_ok(channel_json(*stored, new_secrets, now));
}

Result<net::HttpResponse> Api::Impl::delete_channel(Call& call) {
  const std::string& id = call.param("id");
  std::size_t dropped = 0;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto current = tx.get_channel(id);
    if (!current) return current.error();
    if (!*current) return not_found(fmt::format("there is no notification channel {}", id));
    auto deleted = tx.delete_channel(id);
    if (!deleted) return deleted.error();
    dropped = *deleted;
    return audit(tx, call.caller.actor(), audited::ChannelDeleted{.name = (*current)->name, .pending_dropped = dropped},
                 id, "");
  });
  if (!st) return st.error();
  return json_ok(json::object{{"id", json_text(id)}, {"deleted", true}, {"pending_dropped", dropped}});
}

Result<net::HttpResponse> Api::Impl::test_channel(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) return body.error();
  const std::string& id = call.param("id");
  const auto now = deps.clock.now_ms();
  std::optional<store::DeliveryRecord> queued;
  std::optional<AuditEvent> event;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto current = tx.get_channel(id);
    if (!current) return current.error();
    if (!*current) return not_found(fmt::format("there is no notification channel {}", id));
    if (!(*current)->enabled) {
      return conflict(fmt::format("channel {} is disabled: enable it first (hoist notify channels enable)", id));
    }
    const audited::ChannelTested tested{.name = (*current)->name};
    auto appended = append_audit_event(tx, call.caller.actor(), to_string(tested.kind()), id, "", tested.details());
    if (!appended) return appended.error();
    event = *appended;
    auto d = tx.enqueue_delivery(id, appended->seq, now);
    if (!d) return d.error();
    queued = std::move(*d);
    return {};
  });
  if (!st) return st.error();
  return json_ok(delivery_json(*queued, event), 202);
}

Result<net::HttpResponse> Api::Impl::list_deliveries(Call& call) {
  store::DeliveryFilter filter;
  if (auto ch = call.request.query_param("channel")) filter.channel_id = std::string(*ch);
  if (auto state = call.request.query_param("state")) {
    auto s = outbox::parse_delivery_state(*state);
    if (!s) {
      return invalid_argument(
          fmt::format("state \"{}\" is not pending, delivered or dead", std::string_view(*state).substr(0, 32)));
    }
    filter.state = *s;
  }
  if (auto after = call.request.query_param("after")) {
    std::int64_t v = 0;
    const auto text = std::string_view(*after);
    if (text.empty() || text.size() > 18 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return invalid_argument("after must be a delivery id (a whole number)");
    }
    for (const char c : text) v = v * 10 + (c - '0');
    filter.after_id = v;
  }
  auto limit = page_limit(call.request);
  if (!limit) return limit.error();
  filter.limit = *limit;
  auto rows = deps.store.deliveries(filter);
  if (!rows) return rows.error();
  json::array out;
  for (const auto& d : *rows) {
    std::optional<AuditEvent> event;
    if (auto e = deps.store.audit_range(d.audit_seq, 1); e && !e->empty() && e->front().seq == d.audit_seq) {
      event = e->front();
    }
    out.push_back(delivery_json(d, event));
  }
  json::value next = nullptr;
  if (rows->size() == filter.limit) next = rows->back().id;
  return json_ok(json::object{{"deliveries", std::move(out)}, {"next_after", std::move(next)}});
}

namespace {

Result<std::int64_t> delivery_id_param(const std::string& text) {
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return invalid_argument("a delivery id is a whole number");
  }
  return std::stoll(text);
}

}  // namespace

Result<net::HttpResponse> Api::Impl::get_delivery(Call& call) {
  auto id = delivery_id_param(call.param("id"));
  if (!id) return id.error();
  auto d = deps.store.delivery(*id);
  if (!d) return d.error();
  if (!*d) return not_found(fmt::format("there is no delivery {}", *id));
  std::optional<AuditEvent> event;
  if (auto e = deps.store.audit_range((*d)->audit_seq, 1); e && !e->empty()) event = e->front();
  return json_ok(delivery_json(**d, event));
}

Result<net::HttpResponse> Api::Impl::redrive_delivery(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) return body.error();
  auto id = delivery_id_param(call.param("id"));
  if (!id) return id.error();
  const auto now = deps.clock.now_ms();
  std::optional<store::DeliveryRecord> redriven;
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    auto d = tx.redrive_delivery(*id, now);
    if (!d) return d.error();
    redriven = std::move(*d);
    return audit(
        tx, call.caller.actor(),
        audited::DeliveryRedriven{
            .channel = redriven->channel_id, .audit_seq = redriven->audit_seq, .last_error = redriven->last_error},
        std::to_string(*id), "");
  });
  if (!st) return st.error();
  std::optional<AuditEvent> event;
  if (auto e = deps.store.audit_range(redriven->audit_seq, 1); e && !e->empty()) event = e->front();
  return json_ok(delivery_json(*redriven, event));
}

}  // namespace hoist::api
