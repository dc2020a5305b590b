#include "server/notify/webhook.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <vector>

#include "core/webhook_signature.h"
#include "net/client/https_client.h"
#include "server/notify/ca_file.h"

namespace hoist::notify {

namespace json = boost::json;

namespace {

constexpr std::string_view kUserAgent = "hoist-webhooks/0.1.0";
constexpr std::size_t kMaxErrorBodyBytes = 200;

class WebhookSender final : public Sender {
 public:
  WebhookSender(std::unique_ptr<net::HttpsClient> client, std::string target, std::vector<std::uint8_t> current,
                std::optional<std::vector<std::uint8_t>> previous, std::optional<AuditTime> previous_until)
      : client_(std::move(client)),
        target_(std::move(target)),
        current_(std::move(current)),
        previous_(std::move(previous)),
        previous_until_(previous_until) {}

  outbox::AttemptOutcome send(const Message& message, AuditTime now) override {
    const std::string body = json_body(message);
    const auto timestamp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::vector<std::vector<std::uint8_t>> keys{current_};
    if (previous_ && previous_until_ && now < *previous_until_) keys.push_back(*previous_);
    const std::vector<net::Header> headers = {
        {"content-type", "application/json"},
        {"user-agent", std::string(kUserAgent)},
        {"webhook-id", message.id},
        {"webhook-timestamp", std::to_string(timestamp)},
        {"webhook-signature", webhook::signature_header(message.id, timestamp, body, keys)},
    };
    auto reply = client_->request("POST", target_, body, headers);
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
  std::vector<std::uint8_t> current_;
  std::optional<std::vector<std::uint8_t>> previous_;
  std::optional<AuditTime> previous_until_;
};

}  // namespace

std::string answer_note(int status, std::string_view body) {
  std::string text;
  for (const char c : body.substr(0, kMaxErrorBodyBytes)) {
    text += (c >= ' ' && c < 0x7f) ? c : ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text.empty() ? fmt::format("HTTP {}", status) : fmt::format("HTTP {}: {}", status, text);
}

Result<std::unique_ptr<Sender>> make_webhook_sender(const store::ChannelRecord& channel, const std::string& secrets,
                                                    const WebhookOptions& options) {
  auto config = parse_webhook_config(channel.config);
  if (!config) return config.error();
  auto stored = parse_webhook_secrets(secrets);
  if (!stored) return stored.error();
  auto url = check_webhook_url(config->url);
  if (!url) return url.error();
  auto current = webhook::parse_secret(stored->current);
  if (!current) return current.error();
  std::optional<std::vector<std::uint8_t>> previous;
  if (stored->previous) {
    auto key = webhook::parse_secret(*stored->previous);
    if (!key) return key.error();
    previous = std::move(*key);
  }
  auto client = receiver_client(url->origin, config->ca_file, config->timeout, options.max_response_bytes);
  if (!client) return client.error();
  return std::unique_ptr<Sender>(std::make_unique<WebhookSender>(std::move(*client), url->target, std::move(*current),
                                                                 std::move(previous), stored->previous_until));
}

}  // namespace hoist::notify
