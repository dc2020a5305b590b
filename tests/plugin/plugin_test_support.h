// Helpers for the plugin adapter's tests: sudo's NULL-terminated arrays
// built from strings, as the front end hands them to the plugin.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hoist::plugin::testing {

// Owns its strings; data() is a `char* const*` like sudo's arrays.
class SudoArray {
 public:
  SudoArray(std::initializer_list<std::string> entries) : SudoArray(std::vector<std::string>(entries)) {}
  explicit SudoArray(std::vector<std::string> entries) : strings_(std::move(entries)) {
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  SudoArray(const SudoArray&) = delete;
  SudoArray& operator=(const SudoArray&) = delete;
  char* const* data() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

inline std::vector<std::string_view> views(const std::vector<std::string>& strings) {
  return {strings.begin(), strings.end()};
}

}  // namespace hoist::plugin::testing
