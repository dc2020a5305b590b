// Fuzzes what hoistd parses from the network before any handler logic: the
// strict JSON body reader (through the agent's request body, the largest
// one, its event upload, and a notification channel's body with the
// webhook and email settings, secrets and Retry-After it leads to) and the
// router's path matching; and what hoistd reads back from Slack (the Web
// API's answers, the message references it keeps). Checks: no crash, no
// UB, errors always carry a message, a parsed body reads back
// consistently, and no kind's secret check quotes the secret back. (The
// mail an email channel makes of typed text: email_message_fuzz; the
// Slack and Teams messages: chat_message_fuzz.)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/outbox.h"
#include "core/webhook_signature.h"
#include "server/api/api_impl.h"
#include "server/api/json_body.h"
#include "server/api/router.h"
#include "server/notify/email.h"
#include "server/notify/slack.h"
#include "server/notify/webhook.h"

namespace {

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

const hoist::api::Router& router() {
  static const hoist::api::Router kRouter = [] {
    hoist::api::Router r;
    for (const char* pattern : {"/api/v1/health", "/api/v1/requests/{id}", "/api/v1/requests/{id}/approve",
                                "/api/v1/policies/{name}/versions/{version}", "/api/v1/agent/push"}) {
      r.add({"GET", pattern, hoist::api::Access::kRead, "", nullptr});
      r.add({"POST", pattern, hoist::api::Access::kReview, "", nullptr});
    }
    return r;
  }();
  return kRouter;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto body = hoist::api::parse_submit_body(text);
  if (body) {
    check(body->user.size() <= 256 && body->justification.size() <= 2000);
    check(body->argv.size() <= 4096 && body->groups.size() <= 1024);
  } else {
    check(!body.error().message.empty());
    check(body.error().code == hoist::ErrorCode::kInvalidArgument);
  }

  auto events = hoist::api::parse_agent_events_body(text);
  if (events) {
    check(!events->empty() && events->size() <= hoist::api::kMaxAgentEvents);
    for (const auto& e : *events) {
      check(e.id.size() == 32 && !e.kind.empty() && e.details.size() <= hoist::api::kMaxAgentEventDetails);
      check(!e.details.empty() && e.details.front() == '{');
    }
  } else {
    check(!events.error().message.empty());
    check(events.error().code == hoist::ErrorCode::kInvalidArgument);
  }

  // A notification channel's body (POST and PATCH /api/v1/notify/channels),
  // and the stored forms it becomes.
  for (const bool create : {true, false}) {
    auto channel = hoist::api::parse_channel_body(text, create);
    if (channel) {
      check(channel->events.size() <= 64);
      if (channel->kind) check(hoist::notify::find_channel_kind(*channel->kind) != nullptr);
    } else {
      check(!channel.error().message.empty());
      check(channel.error().code == hoist::ErrorCode::kInvalidArgument);
      // A secret is never echoed: nothing that starts like one is quoted back.
      check(channel.error().message.find("whsec_A") == std::string::npos);
    }
  }
  if (auto config = hoist::notify::parse_webhook_config(text)) {
    auto again = hoist::notify::parse_webhook_config(hoist::notify::webhook_config_json(*config));
    check(again && again->url == config->url && again->timeout == config->timeout);
  }
  (void)hoist::notify::parse_webhook_secrets(text);
  (void)hoist::notify::parse_channel_secrets(text);
  // Every kind's config check and the merge: a canonical config reads back
  // as itself, and a secret given in a config is never quoted back.
  for (const auto& kind : hoist::notify::channel_kinds()) {
    if (auto canonical = kind.check_config(text)) {
      auto again = kind.check_config(*canonical);
      check(again && *again == *canonical);
      (void)kind.check_secret(*canonical, text);
    }
    if (auto merged = hoist::notify::merge_channel_config(kind, "", text)) {
      check(kind.check_config(*merged).ok());
    }
  }
  if (auto config = hoist::notify::parse_email_config(text)) {
    const auto canonical = hoist::notify::email_config_json(*config);
    auto again = hoist::notify::parse_email_config(canonical);
    check(again && hoist::notify::email_config_json(*again) == canonical);
    for (const auto& a : config->to) check(hoist::notify::check_email_address(a).ok());
  }
  // A Slack Web API answer and a stored message reference.
  if (auto answer = hoist::notify::parse_slack_answer(text)) {
    check(answer->error.size() <= 100 && (answer->ok || !answer->error.empty()));
  } else {
    check(!answer.error().message.empty());
  }
  if (auto ref = hoist::notify::parse_slack_ref(text)) {
    check(hoist::notify::parse_slack_ref(hoist::notify::slack_ref_json(*ref)).has_value());
  }
  for (const auto& kind : hoist::notify::channel_kinds()) {
    for (const char* config : {R"({"mode":"bot","channel":"C0123ABC"})", R"({"mode":"webhook"})", "{}"}) {
      if (auto canonical = kind.check_config(config)) {
        if (auto st = kind.check_secret(*canonical, text); !st) {
          check(st.error().message.find("xoxb-Zz") == std::string::npos);
          check(st.error().message.find("sig=Zz") == std::string::npos);
        }
      }
    }
  }
  (void)hoist::outbox::parse_retry_after(text, hoist::AuditTime{});
  if (auto key = hoist::webhook::parse_secret(text)) {
    check(key->size() >= 24 && key->size() <= 64);
  }

  hoist::api::JsonBody generic(text);
  (void)generic.optional_int("n", -5, 5);
  (void)generic.string_list("list", 3, 8);
  if (auto nested = generic.optional_object("o")) {
    (void)nested->optional_bool("b");
    generic.absorb(nested->finish());
  }
  auto st = generic.finish();
  check(st.ok() || !st.error().message.empty());

  std::vector<std::string> allowed;
  auto match = router().match("GET", text, &allowed);
  if (match) {
    check(match->route != nullptr);
    for (const auto& [key, value] : match->params) {
      check(!value.empty() && value.find('/') == std::string::npos);
    }
  }
  return 0;
}
