// Strict reading of JSON request bodies. A body must be one JSON object of
// valid UTF-8, at most 32 levels deep; every field is read with its type
// and bounds; a field nobody read is an error ("unknown field"), so a typo
// in a client is reported instead of silently ignored.
//
// Errors accumulate: accessors return a default after the first error, and
// finish() reports the first one, naming the field path ("command.argv[2]")
// and what was expected.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace boost::json {
class object;
class value;
}  // namespace boost::json

namespace hoist::api {

inline constexpr std::size_t kMaxStringBytes = 64 * 1024;

class JsonBody {
 public:
  // An empty body reads as {} (for POSTs without parameters).
  explicit JsonBody(std::string_view text);
  ~JsonBody();
  JsonBody(JsonBody&&) noexcept;
  JsonBody& operator=(JsonBody&&) noexcept;
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;

  // Required fields: missing is an error.
  std::string string(std::string_view key, std::size_t max_bytes = kMaxStringBytes);
  // Optional fields: missing or null gives nullopt.
  std::optional<std::string> optional_string(std::string_view key, std::size_t max_bytes = kMaxStringBytes);
  std::optional<std::int64_t> optional_int(std::string_view key, std::int64_t min, std::int64_t max);
  std::optional<bool> optional_bool(std::string_view key);
  // A list of strings; missing or null gives an empty list.
  std::vector<std::string> string_list(std::string_view key, std::size_t max_items = 1024,
                                       std::size_t max_bytes = kMaxStringBytes);
  // A nested object, read with the same rules (its errors name "key.field");
  // the caller finishes it and passes its status to absorb().
  std::optional<JsonBody> optional_object(std::string_view key);
  // A required list of 1 to max_items objects, each read like a nested
  // object (errors name "key[i].field"); the caller finishes each.
  std::vector<JsonBody> object_list(std::string_view key, std::size_t max_items);
  // A required object kept as it is (free-form details): its compact JSON
  // text, at most max_bytes long.
  std::string raw_object(std::string_view key, std::size_t max_bytes);
  // The same, optional: missing or null gives nullopt.
  std::optional<std::string> optional_raw_object(std::string_view key, std::size_t max_bytes);
  void absorb(const Status& nested);

  // Records an error found by the caller's own checks (first one wins).
  void fail(std::string message);
  [[nodiscard]] bool ok() const { return !error_.has_value(); }

  // The first error, or an error for the first field never read.
  Status finish();

 private:
  JsonBody(const boost::json::object& object, std::string path);
  const boost::json::value* take(std::string_view key);
  std::string field_name(std::string_view key) const;

  std::unique_ptr<boost::json::value> owned_;  // the parsed document (top level only)
  const boost::json::object* object_ = nullptr;
  std::string path_;  // "" at the top, "command." for nested
  std::vector<std::string> read_;
  std::optional<std::string> error_;
};

}  // namespace hoist::api
