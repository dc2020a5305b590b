// STUB: to be written (translated from the SQLite file of the same kind).
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "store/pg_backend.h"

namespace hoist::store::pg_backend {

Result<ChannelRecord> PgTx::insert_channel(const ChannelRecord& channel) {
  return internal_error("insert_channel: not written yet");
}

Result<ChannelRecord> PgTx::update_channel(const ChannelRecord& channel, AuditTime at) {
  return internal_error("update_channel: not written yet");
}

Result<std::size_t> PgTx::delete_channel(const std::string& id) {
  return internal_error("delete_channel: not written yet");
}

Result<std::optional<ChannelRecord>> PgTx::get_channel(const std::string& id) {
  return internal_error("get_channel: not written yet");
}

Result<DeliveryRecord> PgTx::enqueue_delivery(const std::string& channel_id, std::uint64_t audit_seq, AuditTime at) {
  return internal_error("enqueue_delivery: not written yet");
}

Result<DeliveryRecord> PgTx::record_attempt(const AttemptRecord& attempt) {
  return internal_error("record_attempt: not written yet");
}

Result<DeliveryRecord> PgTx::redrive_delivery(std::int64_t id, AuditTime at) {
  return internal_error("redrive_delivery: not written yet");
}

Result<MessageRef> PgTx::put_message_ref(const MessageRef& ref) {
  return internal_error("put_message_ref: not written yet");
}

Result<std::size_t> PgTx::prune_deliveries(AuditTime before, std::size_t limit) {
  return internal_error("prune_deliveries: not written yet");
}

Result<std::size_t> PgTx::prune_message_refs(AuditTime before, std::size_t limit) {
  return internal_error("prune_message_refs: not written yet");
}

Result<std::optional<ChannelRecord>> PgStore::channel(const std::string& id) {
  return internal_error("channel: not written yet");
}

Result<std::vector<ChannelRecord>> PgStore::channels() {
  return internal_error("channels: not written yet");
}

Result<std::optional<DeliveryRecord>> PgStore::delivery(std::int64_t id) {
  return internal_error("delivery: not written yet");
}

Result<std::vector<DeliveryRecord>> PgStore::deliveries(const DeliveryFilter& filter) {
  return internal_error("deliveries: not written yet");
}

Result<std::vector<DeliveryRecord>> PgStore::pending_deliveries(const std::string& channel_id, std::size_t limit) {
  return internal_error("pending_deliveries: not written yet");
}

Result<OutboxReader::DueChannels> PgStore::due_channels(AuditTime now) {
  return internal_error("due_channels: not written yet");
}

Result<std::optional<MessageRef>> PgStore::message_ref(const std::string& channel_id, const std::string& subject) {
  return internal_error("message_ref: not written yet");
}

}  // namespace hoist::store::pg_backend

namespace hoist::store::pg_backend {
Status PgStore::enqueue_routed(Conn& conn, const AuditEvent& event) {
  return {};
}  // STUB: queues nothing yet
}  // namespace hoist::store::pg_backend
