// The config fields every HTTPS channel kind shares, read the same way by
// each kind's settings parser (webhook_settings.cpp, slack_settings.cpp,
// teams_settings.cpp). Defined in webhook_settings.cpp; no I/O.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "core/result.h"

namespace hoist::notify {

// "ca_file": an absolute path to a PEM file on hoistd's machine (the CA
// that verifies the receiver; without it, the system's CAs).
// InvalidArgument naming the field.
Status read_ca_file(const boost::json::value& value, std::optional<std::string>& out);
// "timeout_s": whole seconds from kMinWebhookTimeout to kMaxWebhookTimeout
// (webhook.h). InvalidArgument naming the field and the bounds.
Status read_timeout(const boost::json::value& value, std::chrono::seconds& out);

}  // namespace hoist::notify
