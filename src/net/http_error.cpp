#include "net/http_error.h"

#include "net/json_text.h"

namespace hoist::net {

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kUnavailable: return 503;
  }
  return 500;
}

ErrorCode error_code_for_status(int status) {
  switch (status) {
    case 400:
    case 405:
    case 411:
    case 413:
    case 414:
    case 415:
    case 431: return ErrorCode::kInvalidArgument;
    case 401: return ErrorCode::kUnauthenticated;
    case 403: return ErrorCode::kPermissionDenied;
    case 404: return ErrorCode::kNotFound;
    case 409:
    case 412: return ErrorCode::kConflict;
    case 429: return ErrorCode::kRateLimited;
    case 502:
    case 503:
    case 504: return ErrorCode::kUnavailable;
    default: return status >= 400 && status < 500 ? ErrorCode::kInvalidArgument : ErrorCode::kInternal;
  }
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (const auto code :
       {ErrorCode::kInvalidArgument, ErrorCode::kNotFound, ErrorCode::kPermissionDenied, ErrorCode::kUnauthenticated,
        ErrorCode::kConflict, ErrorCode::kRateLimited, ErrorCode::kUnavailable, ErrorCode::kInternal}) {
    if (to_string(code) == name) {
      return code;
    }
  }
  return std::nullopt;
}

HttpResponse error_response(const Error& error) {
  std::string body = R"({"error":{"code":)";
  append_json_string(body, to_string(error.code));
  body += R"(,"message":)";
  append_json_string(body, error.message);
  body += "}}";
  return json_response(http_status_for(error.code), std::move(body));
}

}  // namespace hoist::net
