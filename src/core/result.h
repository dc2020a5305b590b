// One error type for all of Hoist: an ErrorCode category plus a message that
// says what was wrong and what to do. Expected failures are values of
// Result<T>; exceptions are reserved for errors that end the operation and
// never cross a C ABI. The category is mapped in one place each to an HTTP
// status, a CLI exit code and a plugin return value.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hoist {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kPermissionDenied,  // who you are may not do this
  kUnauthenticated,   // who you are is not known: no or bad credentials
  kConflict,
  kRateLimited,  // too many attempts; try again later
  kUnavailable,
  kInternal,
};

std::string_view to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

inline Error invalid_argument(std::string message) {
  return {ErrorCode::kInvalidArgument, std::move(message)};
}
inline Error not_found(std::string message) {
  return {ErrorCode::kNotFound, std::move(message)};
}
inline Error permission_denied(std::string message) {
  return {ErrorCode::kPermissionDenied, std::move(message)};
}
inline Error unauthenticated(std::string message) {
  return {ErrorCode::kUnauthenticated, std::move(message)};
}
inline Error rate_limited(std::string message) {
  return {ErrorCode::kRateLimited, std::move(message)};
}
inline Error conflict(std::string message) {
  return {ErrorCode::kConflict, std::move(message)};
}
inline Error unavailable(std::string message) {
  return {ErrorCode::kUnavailable, std::move(message)};
}
inline Error internal_error(std::string message) {
  return {ErrorCode::kInternal, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  // By value from a temporary, so `for (auto& x : *store.users())` owns
  // what it iterates instead of dangling into a destroyed Result.
  T value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T operator*() && { return std::move(*this).value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace hoist
