#include "agent/server_api.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <mutex>
#include <utility>

#include "agent/event_bounds.h"

namespace hoist::agent {

namespace {

namespace json = boost::json;

class HttpsServerApi final : public ServerApi {
 public:
  HttpsServerApi(std::unique_ptr<net::ApiClient> client, std::string credential)
      : client_(std::move(client)), auth_{{"authorization", "Bearer " + std::move(credential)}} {}

  Status heartbeat(const std::string& agent_version) override {
    auto r = net::call_json(*client_, "POST", "/api/v1/agent/heartbeat", json::object{{"agent_version", agent_version}},
                            auth_);
    return r ? Status{} : Status{r.error()};
  }

  Result<std::optional<PolicyFetch>> fetch_policy(const std::string& etag) override {
    auto headers = auth_;
    if (!etag.empty()) headers.push_back({"if-none-match", etag});
    auto reply = client_->send("GET", "/api/v1/agent/policy", "", headers);
    if (!reply) return reply.error();
    if (reply->status == 304) return std::optional<PolicyFetch>();
    if (reply->status != 200) return net::error_from_reply(*reply);
    auto fetch = policy_fetch_from_json(reply->body);
    if (!fetch) return fetch.error();
    return std::optional<PolicyFetch>(std::move(*fetch));
  }

  Result<SubmitOutcome> submit(const SubmitFacts& f) override {
    json::object body{{"kind", f.kind == RequestKind::kSession ? "session" : "command"},
                      {"user", f.user},
                      {"groups", json::array(f.groups.begin(), f.groups.end())},
                      {"justification", f.justification}};
    if (f.duration_s) body["duration_s"] = *f.duration_s;
    if (f.kind == RequestKind::kCommand) {
      json::object command{
          {"path", f.path}, {"argv", json::array(f.argv.begin(), f.argv.end())}, {"trusted_path", f.trusted_path}};
      if (f.sha256) command["sha256"] = *f.sha256;
      if (!f.real_path.empty()) command["real_path"] = f.real_path;
      command["runas"] =
          json::object{{"user", f.runas.user}, {"group", f.runas.group}, {"user_group", f.runas.user_group}};
      if (f.package) {
        command["package"] = json::object{{"name", f.package->name},
                                          {"origin", f.package->origin},
                                          {"maintainer", f.package->maintainer},
                                          {"verified", f.package->verified}};
      }
      body["command"] = std::move(command);
    }
    auto reply = client_->send("POST", "/api/v1/agent/requests", json::serialize(body), auth_);
    if (!reply) return reply.error();
    if (reply->status != 200 && reply->status != 201) return net::error_from_reply(*reply);
    return submit_outcome_from_json(reply->body);
  }

  Result<CodesKey> codes_key() override {
    auto reply = client_->send("GET", "/api/v1/agent/codes-key", "", auth_);
    if (!reply) return reply.error();
    if (reply->status != 200) return net::error_from_reply(*reply);
    return codes_key_from_json(reply->body);
  }

  Result<ServerRequest> request(const std::string& id) override {
    return request_call("GET", "/api/v1/agent/requests/" + net::url_encode(id));
  }

  Result<ServerRequest> cancel(const std::string& id, const std::string& user) override {
    return request_call("POST", "/api/v1/agent/requests/" + net::url_encode(id) + "/cancel",
                        json::serialize(json::object{{"user", user}}));
  }

  Result<ServerRequest> self_approve(const std::string& id, const std::string& user,
                                     std::optional<std::int64_t> duration_s, const std::string& comment) override {
    json::object body{{"user", user}, {"comment", comment}};
    if (duration_s) body["duration_s"] = *duration_s;
    return request_call("POST", "/api/v1/agent/requests/" + net::url_encode(id) + "/self-approve",
                        json::serialize(body));
  }

  Result<PushPage> poll_push(std::uint64_t after, std::chrono::seconds wait) override {
    auto reply =
        client_->send("GET", fmt::format("/api/v1/agent/push?after={}&wait={}", after, wait.count()), "", auth_);
    if (!reply) return reply.error();
    if (reply->status != 200) return net::error_from_reply(*reply);
    return push_page_from_json(reply->body, after);
  }

  Result<UploadReply> upload_events(const std::vector<OutboxEvent>& events) override {
    json::array items;
    for (const auto& e : events) {
      // Bounded again here: an event queued by an older agent may be longer.
      auto details = json::parse(bound_event_details(e.payload));
      json::object item{{"id", e.id},
                        {"kind", e.kind},
                        {"time_ms", e.time.time_since_epoch().count()},
                        {"details", std::move(details)}};
      if (const auto* target = item.at("details").as_object().if_contains("target");
          target != nullptr && target->is_string()) {
        item["target"] = target->as_string();
      }
      items.push_back(std::move(item));
    }
    auto reply = client_->send("POST", "/api/v1/agent/events", json::serialize(json::object{{"events", items}}), auth_);
    if (!reply) return reply.error();
    if (reply->status == 400 || reply->status == 409 || reply->status == 413 || reply->status == 422) {
      return UploadReply{{}, net::error_from_reply(*reply).message};
    }
    if (reply->status != 200) {
      auto e = net::error_from_reply(*reply);
      // Only the statuses above say the events are at fault.
      if (e.code == ErrorCode::kInvalidArgument) e.code = ErrorCode::kUnavailable;
      return e;
    }
    auto acknowledged = acknowledged_from_json(reply->body);
    if (!acknowledged) return acknowledged.error();
    return UploadReply{std::move(*acknowledged), std::nullopt};
  }

  void interrupt() override { client_->interrupt(); }

 private:
  Result<ServerRequest> request_call(std::string_view method, const std::string& target, const std::string& body = "") {
    auto reply = client_->send(method, target, body, auth_);
    if (!reply) return reply.error();
    if (reply->status != 200) return net::error_from_reply(*reply);
    return server_request_from_json(reply->body);
  }

  std::unique_ptr<net::ApiClient> client_;
  std::vector<net::Header> auth_;
};

class SerializedServerApi final : public ServerApi {
 public:
  explicit SerializedServerApi(std::unique_ptr<ServerApi> inner) : inner_(std::move(inner)) {}
  Status heartbeat(const std::string& v) override {
    const std::lock_guard lock(mu_);
    return inner_->heartbeat(v);
  }
  Result<std::optional<PolicyFetch>> fetch_policy(const std::string& etag) override {
    const std::lock_guard lock(mu_);
    return inner_->fetch_policy(etag);
  }
  Result<CodesKey> codes_key() override {
    const std::lock_guard lock(mu_);
    return inner_->codes_key();
  }
  Result<SubmitOutcome> submit(const SubmitFacts& f) override {
    const std::lock_guard lock(mu_);
    return inner_->submit(f);
  }
  Result<ServerRequest> request(const std::string& id) override {
    const std::lock_guard lock(mu_);
    return inner_->request(id);
  }
  Result<ServerRequest> cancel(const std::string& id, const std::string& user) override {
    const std::lock_guard lock(mu_);
    return inner_->cancel(id, user);
  }
  Result<ServerRequest> self_approve(const std::string& id, const std::string& user,
                                     std::optional<std::int64_t> duration_s, const std::string& comment) override {
    const std::lock_guard lock(mu_);
    return inner_->self_approve(id, user, duration_s, comment);
  }
  Result<PushPage> poll_push(std::uint64_t after, std::chrono::seconds wait) override {
    const std::lock_guard lock(mu_);
    return inner_->poll_push(after, wait);
  }
  Result<UploadReply> upload_events(const std::vector<OutboxEvent>& events) override {
    const std::lock_guard lock(mu_);
    return inner_->upload_events(events);
  }
  void interrupt() override { inner_->interrupt(); }  // not under mu_: it ends the call holding it

 private:
  std::mutex mu_;
  std::unique_ptr<ServerApi> inner_;
};

}  // namespace

std::unique_ptr<ServerApi> serialized(std::unique_ptr<ServerApi> inner) {
  return std::make_unique<SerializedServerApi>(std::move(inner));
}

std::unique_ptr<ServerApi> make_server_api(std::unique_ptr<net::ApiClient> client, std::string credential) {
  return std::make_unique<HttpsServerApi>(std::move(client), std::move(credential));
}

Result<Enrolment> enrol(net::ApiClient& client, const std::string& token, const std::string& hostname,
                        const std::string& agent_version) {
  auto reply = net::call_json(client, "POST", "/api/v1/agent/enrol",
                              json::object{{"token", token}, {"hostname", hostname}, {"agent_version", agent_version}});
  if (!reply) return reply.error();
  return enrolment_from_json(json::serialize(*reply));
}

}  // namespace hoist::agent
