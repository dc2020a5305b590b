// The storage conformance suite: every Store backend must pass it.
// A backend instantiates it with a StoreBackend that opens a fresh, empty
// store and can reopen the same one (durability).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "store/store.h"

namespace hoist::store::testing {

struct StoreBackend {
  std::string name;
  // Creates a new empty store; each call is independent.
  std::function<std::unique_ptr<Store>(std::string& handle)> create;
  // Opens the store created with `handle` again, as after a restart.
  std::function<std::unique_ptr<Store>(const std::string& handle)> reopen;
  // Removes what create() made.
  std::function<void(const std::string& handle)> destroy;
};

// Runs f(tx) in one write transaction.
template <class F>
Status in_tx(Store& s, F&& f) {
  return s.write([&](StoreTx& tx) -> Status { return f(tx); });
}

// Runs f(tx), which returns Result<T>, in one write transaction and hands
// back its value (committed) or its error (rolled back).
template <class T, class F>
Result<T> tx_result(Store& s, F&& f) {
  std::optional<T> out;
  const Status st = s.write([&](StoreTx& tx) -> Status {
    auto r = f(tx);
    if (!r.ok()) return r.error();
    out = std::move(*r);
    return {};
  });
  if (!st.ok()) return st.error();
  return std::move(*out);
}

// Test names show the backend, not its bytes.
inline void PrintTo(const StoreBackend& backend, std::ostream* os) {
  *os << backend.name;
}

class StoreConformance : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    store_ = GetParam().create(handle_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    if (!handle_.empty()) GetParam().destroy(handle_);
  }

  std::unique_ptr<Store> store_;
  std::string handle_;
};

}  // namespace hoist::store::testing
