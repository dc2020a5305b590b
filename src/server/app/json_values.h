// The JSON values hoistd writes into audit details, push messages and API
// answers: text from a request body (which may not be UTF-8), lists, times.
// Shared by the services (audit details, push payloads) and the API.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.h"

namespace hoist::app {

// A JSON string from bytes that may not be UTF-8 (argv, paths): invalid
// sequences become U+FFFD, so responses are always valid JSON.
boost::json::string json_text(std::string_view bytes);
boost::json::array string_array(const std::vector<std::string>& items);
std::string json_time(TimePoint t);
boost::json::value json_opt_time(const std::optional<TimePoint>& t);
std::string dump(const boost::json::value& v);

}  // namespace hoist::app
