// The CLI's names for the JSON API client it shares with the agent
// (net/client/json_api.h).
#pragma once

#include "net/client/json_api.h"

namespace hoist::cli {

using net::ApiClient;
using net::call_json;
using net::error_from_reply;
using net::HttpsApiClient;
using net::query_string;
using net::url_encode;

}  // namespace hoist::cli
