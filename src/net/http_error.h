// The one place where Hoist's error categories meet HTTP: the status for
// each ErrorCode, the JSON error body {"error": {"code", "message"}}, and
// the way back for clients (status -> ErrorCode).
#pragma once

#include <optional>
#include <string_view>

#include "core/result.h"
#include "net/http_message.h"

namespace hoist::net {

int http_status_for(ErrorCode code);

// For clients: the category an HTTP error status stands for (the body's
// "code" is preferred when present).
ErrorCode error_code_for_status(int status);

// For clients: the category named by an error body's "code"
// ("invalid_argument", ...); nullopt for a name this version does not know.
std::optional<ErrorCode> error_code_from_name(std::string_view name);

// {"error":{"code":"invalid_argument","message":"..."}} with the status for
// the error's code.
HttpResponse error_response(const Error& error);

}  // namespace hoist::net
