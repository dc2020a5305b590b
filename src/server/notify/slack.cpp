#include "server/notify/slack.h"

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
// What an ok:false answer is reported as (core/outbox.h decides from it):
// dead at once, or tried again on the schedule.
constexpr int kRefusedStatus = 400;
constexpr int kTryAgainStatus = 503;

class SlackSender final : public Sender {
 public:
  SlackSender(std::unique_ptr<net::HttpsClient> client, SlackConfig config, std::string target, std::string token)
      : client_(std::move(client)), config_(std::move(config)), target_(std::move(target)), token_(std::move(token)) {}

  outbox::AttemptOutcome send(const Message& message, AuditTime /*now*/) override {
    json::object body = slack_message(summarize(message));
    if (config_.mode == SlackMode::kWebhook) return post_webhook(std::move(body));
    // A request's later events edit the message its first one posted, on
    // this channel (a changed channel setting starts a new message).
    std::optional<SlackMessageRef> ref;
    if (message.thread_ref) ref = parse_slack_ref(*message.thread_ref);
    if (ref && ref->channel == config_.channel) {
      json::object update = body;
      update["channel"] = ref->channel;
      update["ts"] = ref->ts;
      std::string gone;
      auto out = call("chat.update", update, &gone);
      if (gone.empty()) return out;
      // Deleted in Slack, or no longer editable: post it anew.
    }
    body["channel"] = config_.channel;
    body["unfurl_links"] = false;
    body["unfurl_media"] = false;
    return call("chat.postMessage", body, nullptr);
  }

  void interrupt() override { client_->interrupt(); }

 private:
  std::vector<net::Header> headers(bool with_token) const {
    std::vector<net::Header> h = {{"content-type", "application/json; charset=utf-8"},
                                  {"user-agent", std::string(kUserAgent)}};
    if (with_token) h.push_back({"authorization", "Bearer " + token_});
    return h;
  }

  // An incoming webhook answers with HTTP statuses (200 "ok"; 400
  // invalid_payload, 403, 404 channel_not_found, 410 channel_is_archived...).
  outbox::AttemptOutcome post_webhook(json::object body) {
    body["unfurl_links"] = false;
    body["unfurl_media"] = false;
    auto reply = client_->request("POST", target_, json::serialize(body), headers(false));
    if (!reply) return outbox::AttemptOutcome{std::nullopt, std::nullopt, reply.error().message};
    outbox::AttemptOutcome out;
    out.status = reply->status;
    if (auto ra = reply->header("retry-after")) out.retry_after = std::string(*ra);
    if (reply->status < 200 || reply->status > 299) out.error = answer_note(reply->status, reply->body);
    return out;
  }

  // One Web API method. `gone` (chat.update): set to the error when Slack
  // says the message cannot be edited, for the caller to post instead.
  outbox::AttemptOutcome call(std::string_view method, const json::object& body, std::string* gone) {
    auto reply = client_->request("POST", target_ + "/" + std::string(method), json::serialize(body), headers(true));
    if (!reply) return outbox::AttemptOutcome{std::nullopt, std::nullopt, reply.error().message};
    outbox::AttemptOutcome out;
    out.status = reply->status;
    if (auto ra = reply->header("retry-after")) out.retry_after = std::string(*ra);
    if (reply->status < 200 || reply->status > 299) {
      out.error = fmt::format("{}: {}", method, answer_note(reply->status, reply->body));
      return out;
    }
    auto answer = parse_slack_answer(reply->body);
    if (!answer) {
      out.status = 502;
      out.error = fmt::format("{}: {}", method, answer.error().message);
      return out;
    }
    if (!answer->ok) {
      if (gone != nullptr && slack_message_is_gone(answer->error)) {
        *gone = answer->error;
        return out;
      }
      const bool permanent = slack_error_is_permanent(answer->error);
      out.status = answer->error == "ratelimited" ? 429 : (permanent ? kRefusedStatus : kTryAgainStatus);
      out.error = fmt::format("{}: Slack answered ok:false, error {} ({})", method, answer->error,
                              permanent ? "it will not change by itself" : "tried again");
      return out;
    }
    // Posted or edited: where it is, for the request's next event.
    if (!answer->channel.empty() && !answer->ts.empty()) {
      out.message_ref = slack_ref_json({answer->channel, answer->ts});
    }
    return out;
  }

  std::unique_ptr<net::HttpsClient> client_;
  SlackConfig config_;
  std::string target_;  // webhook: the URL's target; bot: the API's base path ("" or "/api")
  std::string token_;   // bot only
};

}  // namespace

Result<std::unique_ptr<Sender>> make_slack_sender(const store::ChannelRecord& channel, const std::string& secrets,
                                                  const SlackOptions& options) {
  auto config = parse_slack_config(channel.config);
  if (!config) return config.error();
  auto stored = parse_channel_secrets(secrets);
  if (!stored) return stored.error();
  if (auto st = check_slack_secret(*config, stored->current); !st) {
    return invalid_argument(fmt::format("the channel's secret does not suit its config: {}", st.error().message));
  }
  auto url = check_webhook_url(config->mode == SlackMode::kWebhook ? stored->current : config->api_url);
  if (!url) return url.error();
  std::string target = url->target;
  std::string token;
  if (config->mode == SlackMode::kBot) {
    while (!target.empty() && target.back() == '/') target.pop_back();
    token = stored->current;
  }
  auto client = receiver_client(url->origin, config->ca_file, config->timeout, options.max_response_bytes);
  if (!client) return client.error();
  return std::unique_ptr<Sender>(
      std::make_unique<SlackSender>(std::move(*client), std::move(*config), std::move(target), std::move(token)));
}

}  // namespace hoist::notify
