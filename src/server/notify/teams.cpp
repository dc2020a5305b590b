#include "server/notify/teams.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <vector>

#include "net/client/https_client.h"
#include "server/notify/ca_file.h"
#include "server/notify/webhook.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

constexpr std::string_view kUserAgent = "hoist-notify/0.1.0";

class TeamsSender final : public Sender {
 public:
  TeamsSender(std::unique_ptr<net::HttpsClient> client, std::string target)
      : client_(std::move(client)), target_(std::move(target)) {}

  // Workflows answers 202 Accepted; its refusals are HTTP statuses.
  outbox::AttemptOutcome send(const Message& message, AuditTime /*now*/) override {
    const std::vector<net::Header> headers = {{"content-type", "application/json"},
                                              {"user-agent", std::string(kUserAgent)}};
    auto reply = client_->request("POST", target_, json::serialize(teams_message(summarize(message))), headers);
    if (!reply) return outbox::AttemptOutcome{std::nullopt, std::nullopt, reply.error().message};
    outbox::AttemptOutcome out;
    out.status = reply->status;
    if (auto ra = reply->header("retry-after")) out.retry_after = std::string(*ra);
    if (reply->status < 200 || reply->status > 299) out.error = answer_note(reply->status, reply->body);
    return out;
  }

  void interrupt() override { client_->interrupt(); }

 private:
  std::unique_ptr<net::HttpsClient> client_;
  std::string target_;
};

}  // namespace

Result<std::unique_ptr<Sender>> make_teams_sender(const store::ChannelRecord& channel, const std::string& secrets,
                                                  const TeamsOptions& options) {
  auto config = parse_teams_config(channel.config);
  if (!config) return config.error();
  auto stored = parse_channel_secrets(secrets);
  if (!stored) return stored.error();
  auto url = check_webhook_url(stored->current);
  if (!url) return invalid_argument(fmt::format("the channel's secret is not usable: {}", url.error().message));
  auto client = receiver_client(url->origin, config->ca_file, config->timeout, options.max_response_bytes);
  if (!client) return client.error();
  return std::unique_ptr<Sender>(std::make_unique<TeamsSender>(std::move(*client), url->target));
}

}  // namespace hoist::notify
