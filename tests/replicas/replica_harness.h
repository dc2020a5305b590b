// Several real hoistd replicas on one PostgreSQL cluster of the test's own
// (support/pg_cluster.h): the first makes the shared keys, the others get
// copies of them before their first start (as docs/high-availability.md
// tells an admin to), each with its own data directory, port and server
// certificate from the shared CA.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "support/hoistd_process.h"
#include "support/pg_cluster.h"

namespace hoist::replicas {

using hoist::testing::HoistdOptions;
using hoist::testing::HoistdProcess;
using hoist::testing::PgCluster;

// The [database] section for `db` on `cluster`, plus `extra` TOML.
inline std::string postgres_toml(const PgCluster& cluster, const std::string& db, const std::string& extra = "") {
  return "[database]\nbackend = \"postgres\"\nurl = \"" + cluster.conninfo(db) + "\"\npool_size = 8\n" + extra;
}

// Copies the shared keys of `from`'s data directory into `to`'s (made
// before `to` starts the first time), keeping their modes.
inline bool copy_shared_keys(const HoistdProcess& from, const HoistdProcess& to) {
  const std::string src = from.data_dir();
  const std::string dst = to.data_dir();
  const std::string cmd = "set -e; umask 077; mkdir -p '" + dst + "/tls' '" + dst + "/codes' '" + dst +
                          "/notify'; cp -p '" + src + "/tls/ca.crt' '" + src + "/tls/ca.key' '" + dst +
                          "/tls/'; cp -p '" + src + "/codes/master.key' '" + dst + "/codes/'; cp -p '" + src +
                          "/notify/secrets.key' '" + dst + "/notify/'";
  return std::system(cmd.c_str()) == 0;  // NOLINT(cert-env33-c): the test's own paths
}

class Replicas {
 public:
  // A cluster and database of their own; replicas made by add().
  explicit Replicas(std::string extra_toml = "") : extra_(std::move(extra_toml)) {
    if (!cluster_.start()) {
      ADD_FAILURE() << "cannot start PostgreSQL: " << cluster_.error();
      return;
    }
    if (!cluster_.create_database("hoist")) ADD_FAILURE() << cluster_.error();
  }

  // Starts one more replica (the first makes the keys, the others copy
  // them); nullptr, with a test failure, when it does not start.
  HoistdProcess* add() {
    HoistdOptions o;
    o.config_toml = postgres_toml(cluster_, "hoist", extra_);
    auto r = std::make_unique<HoistdProcess>(o);
    if (!all_.empty() && !copy_shared_keys(*all_.front(), *r)) {
      ADD_FAILURE() << "cannot copy the shared keys";
      return nullptr;
    }
    if (!r->start()) {
      ADD_FAILURE() << "replica " << all_.size() << " did not start: " << r->start_error();
      return nullptr;
    }
    all_.push_back(std::move(r));
    return all_.back().get();
  }

  PgCluster& cluster() { return cluster_; }
  HoistdProcess& operator[](std::size_t i) { return *all_.at(i); }
  [[nodiscard]] std::size_t size() const { return all_.size(); }

 private:
  std::string extra_;
  PgCluster cluster_;
  std::vector<std::unique_ptr<HoistdProcess>> all_;
};

}  // namespace hoist::replicas
