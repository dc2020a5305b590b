// Makes the sender of any channel kind hoistd knows (kinds.h): the
// SenderFactory hoistd's outbox uses.
#pragma once

#include <memory>
#include <string>

#include "core/result.h"
#include "server/notify/sender.h"

namespace hoist::notify {

// The sender of `channel` with its opened secrets (the plain JSON of
// kinds.h's ChannelSecrets; "" when it has none). NotFound for a kind
// hoistd does not know; the kind's own errors otherwise.
Result<std::unique_ptr<Sender>> make_sender(const store::ChannelRecord& channel, const std::string& secrets);

}  // namespace hoist::notify
