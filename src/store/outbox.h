// The notification outbox in the store: the channels audit events are
// delivered to, and one delivery row per (channel, event) that the sender
// works through (docs/notifications.md).
//
// MUST: AuditTx::append_audit queues a delivery for every enabled channel
// whose routing takes the event's action, in the same transaction as the
// event (audit_trail.h): nothing is sent for an event that did not commit,
// and nothing committed is forgotten. No caller queues them by hand, except
// a test message for one channel (enqueue_delivery).
// MUST: a channel's secrets are stored only as the sealed text the server
// hands in (never readable without hoistd's key) and never in `config`.
// MUST: a message reference (the chat message a channel posted about a
// request, to edit it in place later) goes with its channel: deleting the
// channel deletes its references.
// MUST: retention never deletes a delivery that is still owed (pending,
// whatever its age): the prune's condition is part of its DELETE, never a
// read followed by a delete, so a dead letter re-driven meanwhile stays.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/audit.h"
#include "core/outbox.h"
#include "core/result.h"
#include "store/page.h"

namespace hoist::store {

struct ChannelRecord {
  std::string id;       // "ch-...", given by the server
  std::string kind;     // "webhook"; later "slack", "teams", "email", ...
  std::string name;     // unique, for people
  std::string config;   // JSON object text, without secrets
  std::string secrets;  // sealed by the server; opaque here; "" for none
  bool enabled = true;
  // Which audit actions go to this channel: exact actions
  // ("request.created"), a prefix ending in ".*" ("request.*"), or "*".
  std::vector<std::string> events;
  // Narrowing, each empty for "any": only events on an endpoint (the
  // event's host) with one of these labels, and only events about a
  // request made under one of these rules (an event about no request,
  // such as a code issued, never passes a rule filter).
  std::vector<std::string> labels;
  std::vector<std::string> rules;
  std::int64_t version = 0;
  std::string created_by;
  AuditTime created_at{};
  AuditTime updated_at{};
};

struct DeliveryRecord {
  std::int64_t id = 0;
  std::string channel_id;
  std::uint64_t audit_seq = 0;  // the event delivered
  outbox::DeliveryState state = outbox::DeliveryState::kPending;
  std::int64_t attempts = 0;
  AuditTime next_attempt_at{};  // pending only
  AuditTime since{};            // enqueued, or last re-driven: the max age counts from here
  std::string last_error;       // "" when none
  std::optional<int> last_status;
  AuditTime created_at{};
  std::optional<AuditTime> finished_at;  // delivered or dead
};

struct DeliveryFilter {
  std::optional<std::string> channel_id;
  std::optional<outbox::DeliveryState> state;
  std::int64_t after_id = 0;  // pagination: ids greater than this, in id order
  std::size_t limit = 100;    // 1 to kMaxPage
};

// What one attempt did to a delivery (record_attempt).
struct AttemptRecord {
  std::int64_t delivery_id = 0;
  outbox::Verdict verdict = outbox::Verdict::kRetry;
  AuditTime at{};
  AuditTime next_attempt_at{};  // kRetry
  std::string error;            // kRetry, kDead
  std::optional<int> status;
};

// Where a channel posted about one subject (a request), so that later
// events edit that message instead of posting another (Slack's bot mode).
// `ref` is the channel kind's own text (a Slack channel and ts); opaque here.
struct MessageRef {
  std::string channel_id;
  std::string subject;  // a request id
  std::string ref;
  AuditTime updated_at{};
};
inline constexpr std::size_t kMaxMessageRefBytes = 1024;

// Inside a write transaction.
class OutboxTx {
 public:
  virtual ~OutboxTx() = default;
  // A new channel at version 1. Conflict when the id or name is taken;
  // InvalidArgument for an empty id, kind or name, or config not an object.
  virtual Result<ChannelRecord> insert_channel(const ChannelRecord& channel) = 0;
  // Replaces name, config, secrets, enabled and events when the stored
  // version is `channel.version`; returns it at version + 1. Conflict on
  // another version or a taken name; NotFound for an unknown id.
  // Replaces name, config, secrets, enabled, events, labels and rules ... (see above).
  virtual Result<ChannelRecord> update_channel(const ChannelRecord& channel, AuditTime at) = 0;
  // Deletes the channel and its deliveries; returns how many were still
  // pending. NotFound for an unknown id.
  virtual Result<std::size_t> delete_channel(const std::string& id) = 0;
  virtual Result<std::optional<ChannelRecord>> get_channel(const std::string& id) = 0;

  // Queues event `audit_seq` for the channel (a test message), due at
  // `at`; the delivery that already exists for the pair is returned as it
  // is. NotFound for an unknown channel or event.
  virtual Result<DeliveryRecord> enqueue_delivery(const std::string& channel_id, std::uint64_t audit_seq,
                                                  AuditTime at) = 0;
  // Records an attempt on a pending delivery: delivered, retry at
  // next_attempt_at, or dead. Conflict when it is no longer pending (it
  // was re-driven, or the channel deleted, meanwhile); NotFound when gone.
  virtual Result<DeliveryRecord> record_attempt(const AttemptRecord& attempt) = 0;
  // A dead delivery pending again, due at `at`, its attempts and age
  // counted afresh. Conflict when it is not dead; NotFound when unknown.
  virtual Result<DeliveryRecord> redrive_delivery(std::int64_t id, AuditTime at) = 0;
  // Stores (or replaces) where the channel posted about `subject`.
  // InvalidArgument for an empty subject or ref, or a ref longer than
  // kMaxMessageRefBytes; NotFound for an unknown channel.
  virtual Result<MessageRef> put_message_ref(const MessageRef& ref) = 0;

  // Retention (docs/notifications.md): deletes at most `limit` (1 to
  // kMaxPage) deliveries that are delivered or dead and finished before
  // `before`; returns how many. A pending one stays whatever its age. The
  // caller runs one batch per transaction, so none holds the write lock
  // long, until a batch deletes fewer than `limit`.
  virtual Result<std::size_t> prune_deliveries(AuditTime before, std::size_t limit) = 0;
  // The same for message references last stored before `before` (a later
  // event about that request then posts a new message).
  virtual Result<std::size_t> prune_message_refs(AuditTime before, std::size_t limit) = 0;
};

class OutboxReader {
 public:
  virtual ~OutboxReader() = default;
  virtual Result<std::optional<ChannelRecord>> channel(const std::string& id) = 0;
  virtual Result<std::vector<ChannelRecord>> channels() = 0;  // by name
  virtual Result<std::optional<DeliveryRecord>> delivery(std::int64_t id) = 0;
  virtual Result<std::vector<DeliveryRecord>> deliveries(const DeliveryFilter& filter) = 0;
  // The first pending deliveries of one channel in delivery order (audit
  // seq, then id), at most `limit`, due or not: the sender sends a
  // channel's deliveries in this order and stops at the first that is not
  // yet due, so a channel's events arrive in order.
  virtual Result<std::vector<DeliveryRecord>> pending_deliveries(const std::string& channel_id, std::size_t limit) = 0;
  // The ids of the enabled channels whose first pending delivery is due at
  // `now`, and the earliest time any other first pending delivery falls
  // due (nullopt: none waits).
  struct DueChannels {
    std::vector<std::string> due;
    std::optional<AuditTime> next_due;
  };
  virtual Result<DueChannels> due_channels(AuditTime now) = 0;
  // Where the channel posted about `subject`; nullopt when it has not (or
  // the channel is gone).
  virtual Result<std::optional<MessageRef>> message_ref(const std::string& channel_id, const std::string& subject) = 0;
};

// Whether a channel's routing takes `action` (the rule append_audit
// applies: an exact action, a "prefix.*", or "*"; then the labels and
// rules narrow it).
bool routes_action(const std::vector<std::string>& events, std::string_view action);

}  // namespace hoist::store
