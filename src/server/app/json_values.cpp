#include "server/app/json_values.h"

#include <boost/json/serialize.hpp>

#include "core/timestamp.h"
#include "net/json_text.h"

namespace hoist::app {

namespace json = boost::json;

json::string json_text(std::string_view bytes) {
  if (net::is_valid_utf8(bytes)) {
    return json::string(json::string_view(bytes.data(), bytes.size()));
  }
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    const auto len = net::utf8_sequence_length(bytes, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return json::string(json::string_view(out.data(), out.size()));
}

json::array string_array(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& s : items) {
    out.push_back(json_text(s));
  }
  return out;
}

std::string json_time(TimePoint t) {
  return format_timestamp(t);
}

json::value json_opt_time(const std::optional<TimePoint>& t) {
  if (!t) {
    return nullptr;
  }
  return json::string(json_time(*t));
}

std::string dump(const json::value& v) {
  return json::serialize(v);
}

}  // namespace hoist::app
