// How a message leaves hoistd: one Sender per channel, made by the factory
// of its kind. The outbox (outbox_sender.h) calls send() outside any store
// transaction and decides from the outcome (core/outbox.h); a sender only
// reports what happened. Tests use a fake one (tests/server/notify).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/outbox.h"
#include "core/result.h"
#include "server/notify/message.h"
#include "store/outbox.h"

namespace hoist::notify {

class Sender {
 public:
  virtual ~Sender() = default;
  // One attempt at `message`; `now` stamps it. Never throws; every wait is
  // bounded by the channel's timeout. The outcome's error never holds a
  // secret.
  virtual outbox::AttemptOutcome send(const Message& message, AuditTime now) = 0;
  // Thread-safe: ends an attempt in progress (hoistd is stopping).
  virtual void interrupt() {}
};

// Makes the sender of a channel from its record and its secrets (opened:
// the kind's own JSON, "" when it has none). InvalidArgument for a config
// the kind does not accept; NotFound for an unknown kind.
using SenderFactory =
    std::function<Result<std::unique_ptr<Sender>>(const store::ChannelRecord& channel, const std::string& secrets)>;

}  // namespace hoist::notify
