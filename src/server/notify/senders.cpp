#include "server/notify/senders.h"

#include <fmt/format.h>

#include "server/notify/email.h"
#include "server/notify/slack.h"
#include "server/notify/teams.h"
#include "server/notify/webhook.h"

namespace hoist::notify {

Result<std::unique_ptr<Sender>> make_sender(const store::ChannelRecord& channel, const std::string& secrets) {
  if (channel.kind == kWebhookKind) return make_webhook_sender(channel, secrets);
  if (channel.kind == kEmailKind) return make_email_sender(channel, secrets);
  if (channel.kind == kSlackKind) return make_slack_sender(channel, secrets);
  if (channel.kind == kTeamsKind) return make_teams_sender(channel, secrets);
  return not_found(fmt::format("channel {} is of kind \"{}\", which this hoistd does not know", channel.id,
                               channel.kind.substr(0, 32)));
}

}  // namespace hoist::notify
