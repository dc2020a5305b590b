// What hoistd's services (request_service.h, code_service.h) are built
// with, and who calls them. The API builds the services once (Api::Impl)
// and passes the caller in with each call; a service never sees HTTP.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time_window.h"
#include "server/app/audit_events.h"
#include "store/store.h"

namespace hoist::app {

// Appends one audit event inside `tx`. hoistd's (Api::Impl::append_audit)
// stamps it with its clock and refuses every append when the stored
// trail did not verify at start.
using AppendAudit =
    std::function<Status(store::StoreTx& tx, const std::string& actor, std::string_view action,
                         const std::string& target, const std::string& host, const boost::json::object& details)>;

struct ServiceDeps {
  store::Store& store;
  const TimeZones& zones;
  AppendAudit append_audit;
  // New push messages for an endpoint: wakes its long polls (may be null).
  std::function<void(const std::string& endpoint_id)> wake_push;
  // A new request's id ("req-<ms hex>-<random>", time first so id order is
  // creation order).
  std::function<std::string(std::chrono::system_clock::time_point now)> new_request_id;
};

// An agent, as the API authenticated it.
struct EndpointCaller {
  std::string actor;  // for the audit trail: "agent:<id>"
  std::string endpoint_id;
  std::string host;  // the endpoint's hostname
  std::vector<std::string> labels;
};

// A console user or an API token acting on a request.
struct UserCaller {
  std::string user;   // the reviewer's name
  std::string actor;  // for the audit trail: "alice", "alice (token 3f2a...)"
};

// Appends the typed event `event` through deps.append_audit.
inline Status audit(const ServiceDeps& deps, store::StoreTx& tx, const std::string& actor,
                    const audited::Event auto& event, const std::string& target, const std::string& host) {
  return deps.append_audit(tx, actor, to_string(event.kind()), target, host, event.details());
}

}  // namespace hoist::app
