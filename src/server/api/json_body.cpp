#include "server/api/json_body.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include <fmt/format.h>

namespace hoist::api {

namespace json = boost::json;

namespace {

// Boost.JSON keeps the last of repeated keys; a strict reader refuses them,
// so no two readers of one body can disagree on what it says. Runs only on
// text that already parsed as JSON, so every string is terminated.
std::optional<std::string> first_duplicate_key(std::string_view text) {
  struct Level {
    bool object = false;
    bool expect_key = false;
    std::set<std::string> keys;
  };
  std::vector<Level> stack;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      std::size_t j = i + 1;
      while (text[j] != '"') {
        j += text[j] == '\\' ? 2 : 1;
      }
      if (!stack.empty() && stack.back().object && stack.back().expect_key) {
        boost::system::error_code ec;
        const auto token = text.substr(i, j - i + 1);
        const auto key = json::parse(json::string_view(token.data(), token.size()), ec);
        if (!ec && key.is_string()) {
          std::string name(key.get_string().data(), key.get_string().size());
          if (!stack.back().keys.insert(name).second) {
            return name;
          }
        }
        stack.back().expect_key = false;
      }
      i = j;
    } else if (c == '{') {
      stack.push_back({true, true, {}});
    } else if (c == '[') {
      stack.push_back({false, false, {}});
    } else if ((c == '}' || c == ']') && !stack.empty()) {
      stack.pop_back();
    } else if (c == ',' && !stack.empty() && stack.back().object) {
      stack.back().expect_key = true;
    }
  }
  return std::nullopt;
}

// Whether any key or string in `v` holds U+0000. No field of Hoist's has a
// use for it, and PostgreSQL's text cannot hold it: refused for every body,
// on every backend, before anything is stored or audited.
bool holds_nul(const json::value& v) {
  if (v.is_string()) return v.get_string().find('\0') != json::string::npos;
  if (v.is_array()) return std::any_of(v.get_array().begin(), v.get_array().end(), holds_nul);
  if (v.is_object()) {
    return std::any_of(v.get_object().begin(), v.get_object().end(), [](const json::key_value_pair& kv) {
      return kv.key().find('\0') != json::string_view::npos || holds_nul(kv.value());
    });
  }
  return false;
}

}  // namespace

JsonBody::JsonBody(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    owned_ = std::make_unique<json::value>(json::object());
    object_ = &owned_->as_object();
    return;
  }
  json::parse_options options;
  options.max_depth = 32;
  options.allow_invalid_utf8 = false;
  boost::system::error_code ec;
  auto parsed = json::parse(json::string_view(text.data(), text.size()), ec, json::storage_ptr(), options);
  if (ec) {
    error_ = fmt::format("the body is not valid JSON: {}", ec.message());
    return;
  }
  if (auto dup = first_duplicate_key(text)) {
    error_ = fmt::format("the body repeats the field \"{}\"; send each field once", *dup);
    return;
  }
  if (!parsed.is_object()) {
    error_ = "the body must be a JSON object ({...})";
    return;
  }
  if (holds_nul(parsed)) {
    error_ = "the body holds a NUL character (\\u0000), which no field may contain";
    return;
  }
  owned_ = std::make_unique<json::value>(std::move(parsed));
  object_ = &owned_->as_object();
}

JsonBody::JsonBody(const json::object& object, std::string path) : object_(&object), path_(std::move(path)) {}

JsonBody::~JsonBody() = default;
JsonBody::JsonBody(JsonBody&&) noexcept = default;
JsonBody& JsonBody::operator=(JsonBody&&) noexcept = default;

std::string JsonBody::field_name(std::string_view key) const {
  return path_ + std::string(key);
}

void JsonBody::fail(std::string message) {
  if (!error_) {
    error_ = std::move(message);
  }
}

void JsonBody::absorb(const Status& nested) {
  if (!nested) {
    fail(nested.error().message);
  }
}

const json::value* JsonBody::take(std::string_view key) {
  if (error_ || object_ == nullptr) {
    return nullptr;
  }
  read_.emplace_back(key);
  const auto* v = object_->if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || v->is_null()) {
    return nullptr;
  }
  return v;
}

std::string JsonBody::string(std::string_view key, std::size_t max_bytes) {
  const bool had_error = error_.has_value();
  auto v = optional_string(key, max_bytes);
  if (!v && !had_error && !error_) {
    fail(fmt::format("field \"{}\" is required (a string)", field_name(key)));
  }
  return v.value_or(std::string());
}

std::optional<std::string> JsonBody::optional_string(std::string_view key, std::size_t max_bytes) {
  const auto* v = take(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_string()) {
    fail(fmt::format("field \"{}\" must be a string", field_name(key)));
    return std::nullopt;
  }
  const auto& s = v->get_string();
  if (s.size() > max_bytes) {
    fail(fmt::format("field \"{}\" is longer than {} bytes", field_name(key), max_bytes));
    return std::nullopt;
  }
  return std::string(s.data(), s.size());
}

std::optional<std::int64_t> JsonBody::optional_int(std::string_view key, std::int64_t min, std::int64_t max) {
  const auto* v = take(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  std::optional<std::int64_t> n;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    n = static_cast<std::int64_t>(v->get_uint64());
  }
  if (!n) {
    fail(fmt::format("field \"{}\" must be a whole number", field_name(key)));
    return std::nullopt;
  }
  if (*n < min || *n > max) {
    fail(fmt::format("field \"{}\" must be between {} and {}", field_name(key), min, max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> JsonBody::optional_bool(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_bool()) {
    fail(fmt::format("field \"{}\" must be true or false", field_name(key)));
    return std::nullopt;
  }
  return v->get_bool();
}

std::vector<std::string> JsonBody::string_list(std::string_view key, std::size_t max_items, std::size_t max_bytes) {
  std::vector<std::string> out;
  const auto* v = take(key);
  if (v == nullptr) {
    return out;
  }
  if (!v->is_array()) {
    fail(fmt::format("field \"{}\" must be a list of strings", field_name(key)));
    return out;
  }
  const auto& array = v->get_array();
  if (array.size() > max_items) {
    fail(fmt::format("field \"{}\" has more than {} items", field_name(key), max_items));
    return out;
  }
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_string()) {
      fail(fmt::format("field \"{}[{}]\" must be a string", field_name(key), i));
      return {};
    }
    const auto& s = array[i].get_string();
    if (s.size() > max_bytes) {
      fail(fmt::format("field \"{}[{}]\" is longer than {} bytes", field_name(key), i, max_bytes));
      return {};
    }
    out.emplace_back(s.data(), s.size());
  }
  return out;
}

std::optional<JsonBody> JsonBody::optional_object(std::string_view key) {
  const auto* v = take(key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_object()) {
    fail(fmt::format("field \"{}\" must be an object ({{...}})", field_name(key)));
    return std::nullopt;
  }
  return JsonBody(v->get_object(), field_name(key) + ".");
}

std::vector<JsonBody> JsonBody::object_list(std::string_view key, std::size_t max_items) {
  std::vector<JsonBody> out;
  const auto* v = take(key);
  if (v == nullptr) {
    fail(fmt::format("field \"{}\" is required (a list of objects)", field_name(key)));
    return out;
  }
  if (!v->is_array()) {
    fail(fmt::format("field \"{}\" must be a list of objects", field_name(key)));
    return out;
  }
  const auto& array = v->get_array();
  if (array.empty() || array.size() > max_items) {
    fail(fmt::format("field \"{}\" must have 1 to {} items", field_name(key), max_items));
    return out;
  }
  out.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_object()) {
      fail(fmt::format("field \"{}[{}]\" must be an object ({{...}})", field_name(key), i));
      return {};
    }
    out.push_back(JsonBody(array[i].get_object(), fmt::format("{}[{}].", field_name(key), i)));
  }
  return out;
}

std::string JsonBody::raw_object(std::string_view key, std::size_t max_bytes) {
  const auto* v = take(key);
  if (v == nullptr) {
    fail(fmt::format("field \"{}\" is required (an object)", field_name(key)));
    return "{}";
  }
  if (!v->is_object()) {
    fail(fmt::format("field \"{}\" must be an object ({{...}})", field_name(key)));
    return "{}";
  }
  auto text = boost::json::serialize(*v);
  if (text.size() > max_bytes) {
    fail(fmt::format("field \"{}\" is longer than {} bytes", field_name(key), max_bytes));
    return "{}";
  }
  return text;
}

std::optional<std::string> JsonBody::optional_raw_object(std::string_view key, std::size_t max_bytes) {
  const auto* v = take(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_object()) {
    fail(fmt::format("field \"{}\" must be an object ({{...}})", field_name(key)));
    return std::nullopt;
  }
  auto text = boost::json::serialize(*v);
  if (text.size() > max_bytes) {
    fail(fmt::format("field \"{}\" is longer than {} bytes", field_name(key), max_bytes));
    return std::nullopt;
  }
  return text;
}

Status JsonBody::finish() {
  if (error_) {
    return invalid_argument(*error_);
  }
  if (object_ == nullptr) {
    return invalid_argument("the body is not a JSON object (this is a bug)");
  }
  for (const auto& item : *object_) {
    const std::string_view key(item.key().data(), item.key().size());
    if (std::find(read_.begin(), read_.end(), key) == read_.end()) {
      std::string expected;
      for (const auto& k : read_) {
        expected += expected.empty() ? "" : ", ";
        expected += k;
      }
      return invalid_argument(fmt::format("unknown field \"{}\"{}", field_name(key),
                                          expected.empty() ? std::string("; this request takes no fields")
                                                           : fmt::format("; expected one of: {}", expected)));
    }
  }
  return {};
}

}  // namespace hoist::api
