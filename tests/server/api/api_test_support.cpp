#include "api_test_support.h"

#include "server/auth/sealed_box.h"

#include <sodium.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>

#include "core/timestamp.h"
#include "net/http_error.h"

namespace hoist::api::testing {

// --- replies ------------------------------------------------------------

std::string Reply::header(std::string_view name) const {
  const auto v = raw.header(name);
  return v ? std::string(*v) : std::string();
}

const json::value* Reply::at(std::string_view pointer) const {
  boost::system::error_code ec;
  return body.find_pointer(json::string_view(pointer.data(), pointer.size()), ec);
}

std::string Reply::str(std::string_view pointer) const {
  const auto* v = at(pointer);
  if (v == nullptr) {
    return "<missing>";
  }
  if (!v->is_string()) {
    return "<not a string>";
  }
  return std::string(v->get_string());
}

std::int64_t Reply::num(std::string_view pointer) const {
  const auto* v = at(pointer);
  if (v == nullptr) {
    return -1;
  }
  if (v->is_int64()) {
    return v->get_int64();
  }
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return -1;
}

const json::array& Reply::array(std::string_view pointer) const {
  static const json::array kEmpty;
  const auto* v = at(pointer);
  return v != nullptr && v->is_array() ? v->get_array() : kEmpty;
}

std::ostream& operator<<(std::ostream& os, const Reply& reply) {
  os << "HTTP " << reply.status;
  for (const auto& h : reply.raw.headers) {
    os << "\n  " << h.name << ": " << h.value;
  }
  os << "\n  " << reply.raw.body.substr(0, 2000);
  return os;
}

Headers Session::headers(bool with_csrf) const {
  Headers out{{"cookie", cookie}};
  if (with_csrf) {
    out.push_back({"x-csrf-token", csrf});
  }
  return out;
}

Headers Agent::headers() const {
  return bearer(credential);
}

Headers bearer(const std::string& token) {
  return {{"authorization", "Bearer " + token}};
}

Headers operator+(Headers a, const Headers& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

json::object Submission::to_json() const {
  json::array g;
  for (const auto& s : groups) {
    g.emplace_back(s);
  }
  json::array a;
  for (const auto& s : argv) {
    a.emplace_back(s);
  }
  json::object out{
      {"user", user},
      {"groups", std::move(g)},
      {"justification", justification},
      {"command", json::object{{"path", path},
                               {"argv", std::move(a)},
                               {"sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6e0"},
                               {"trusted_path", trusted_path},
                               {"package", json::object{{"name", "apt"},
                                                        {"origin", "Debian"},
                                                        {"maintainer", "APT Development Team"},
                                                        {"verified", true}}}}}};
  if (duration_s) {
    out["duration_s"] = *duration_s;
  }
  return out;
}

std::string Submission::text() const {
  return json::serialize(to_json());
}

std::vector<std::vector<std::string>> parse_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  bool field_started = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = true;
      field_started = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      row.push_back(std::move(field));
      field.clear();
      field_started = false;
      rows.push_back(std::move(row));
      row.clear();
      ++i;
    } else {
      field += c;
      field_started = true;
    }
  }
  if (field_started || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

const std::string kFleetPolicy = R"(version = 1

[settings]
default_action = "deny"
default_duration = "30m"
max_duration = "8h"
request_expiry = "1h"
contact = "Call the help desk at 4357."
self_approval_groups = ["oncall"]

[[rule]]
name = "no-shells"
action = "deny"
path = "/usr/bin/bash"

[[rule]]
name = "installs"
action = "request"
path = "/usr/bin/apt-get"
approval = "manual"
max_duration = "2h"

[[rule]]
name = "docker"
action = "request"
path = "/usr/bin/docker"
approval = "autonomous"
max_duration = "4h"

[[rule]]
name = "oncall-journal"
action = "request"
path = "/usr/bin/journalctl"
approval = "self"
groups = ["oncall"]

[[auto_approval]]
name = "dev-short"
groups = ["developers"]
rules = ["docker"]
max_duration = "1h"
)";

// --- the fixture ------------------------------------------------------------

void ApiTest::SetUp() {
  ASSERT_GE(sodium_init(), 0);
  open();
}

void ApiTest::TearDown() {
  api_.reset();
  store_.reset();
}

void ApiTest::open() {
  auto store = store::open_sqlite_store(db_path());
  ASSERT_TRUE(store.ok()) << store.error().message;
  store_ = std::move(*store);
  ApiOptions options;
  options.password_opslimit = crypto_pwhash_OPSLIMIT_MIN;
  options.password_memlimit = crypto_pwhash_MEMLIMIT_MIN;
  options.server_version = "test";
  options.codes_master_key = master_key_;
  options.console = console_;
  options.metrics_token_hash = metrics_token_hash_;
  options.secrets_box = std::make_shared<const auth::SealedBox>(
      std::move(*auth::SealedBox::with_key(std::vector<std::uint8_t>(auth::kSealedBoxKeyBytes, 0x42))));
  api_ = std::make_unique<Api>(ApiDeps{*store_, clock_, *log_, zones_,
                                       [this](const std::string& endpoint_id) {
                                         ++wakes_;
                                         woken_.push_back(endpoint_id);
                                       },
                                       [this] { ++console_wakes_; }, metrics_},
                               options);
}

void ApiTest::restart() {
  api_.reset();
  store_.reset();
  open();
}

Reply ApiTest::call(const std::string& method, const std::string& target, const std::string& body,
                    const Headers& headers) {
  net::HttpRequest request;
  request.method = method;
  request.target = target;
  const auto q = target.find('?');
  request.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string_view rest = std::string_view(target).substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto part = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      const auto eq = part.find('=');
      request.query.emplace_back(std::string(part.substr(0, eq)),
                                 eq == std::string_view::npos ? std::string() : std::string(part.substr(eq + 1)));
    }
  }
  request.body = body;
  request.remote_address = std::string(kRemote);
  bool typed = false;
  for (const auto& h : headers) {
    if (h.name == kRemoteHeader) {
      request.remote_address = h.value;  // the peer address, as the server would set it
    } else {
      typed = typed || h.name == "content-type";
      request.headers.push_back(h);
    }
  }
  if (!body.empty() && !typed) {
    request.headers.push_back({"content-type", "application/json"});  // as every client of hoistd sends
  }
  Reply reply;
  // As the server does: a request with a body is admitted on its head first.
  if (!body.empty()) {
    net::HttpRequest head = request;
    head.body.clear();
    auto admission = api_->admit(head);
    if (admission.refusal) {
      // The refusal is what handle() would answer.
      EXPECT_EQ(admission.refusal->status, api_->handle(request).status) << method << " " << target;
      reply.raw = std::move(*admission.refusal);
    } else if (body.size() > admission.max_body_bytes) {
      reply.raw = net::error_response(invalid_argument("the request body is larger than the admitted " +
                                                       std::to_string(admission.max_body_bytes) + " bytes"));
    }
    if (reply.raw.status != 200 || !reply.raw.body.empty()) {
      reply.status = reply.raw.status;
      boost::system::error_code ec;
      auto parsed = json::parse(reply.raw.body, ec);
      if (!ec) reply.body = std::move(parsed);
      return reply;
    }
  }
  if (auto quick = api_->answer_from_memory(request)) {
    // Whatever memory answers, the full path must answer the same.
    const auto full = api_->handle(request);
    const auto text = [](const net::HttpResponse& r) {
      std::string out = std::to_string(r.status) + "\n";
      for (const auto& h : r.headers) {
        out += h.name + ": " + h.value + "\n";
      }
      return out + r.body;
    };
    EXPECT_EQ(text(*quick), text(full)) << method << " " << target;
    ++memory_answers_;
    reply.raw = std::move(*quick);
  } else {
    reply.raw = api_->handle(request);
  }
  reply.status = reply.raw.status;
  boost::system::error_code ec;
  auto parsed = json::parse(reply.raw.body, ec);
  if (!ec) {
    reply.body = std::move(parsed);
  }
  return reply;
}

Reply ApiTest::call_json(const std::string& method, const std::string& target, const json::value& body,
                         const Headers& headers) {
  return call(method, target, json::serialize(body), headers);
}

void ApiTest::create_user(const std::string& name, store::Role role) {
  auto st = api_->create_user(name, role, std::string(kPassword), "test-setup");
  ASSERT_TRUE(st.ok()) << st.error().message;
}

Reply ApiTest::try_login(const std::string& user, std::string_view password, std::string_view remote) {
  return call_json("POST", "/api/v1/login", json::object{{"user", user}, {"password", password}},
                   {{std::string(kRemoteHeader), std::string(remote)}});
}

Session ApiTest::login(const std::string& user, std::string_view password) {
  const auto r = try_login(user, password);
  EXPECT_EQ(r.status, 200) << r;
  Session s;
  const auto cookie = r.header("set-cookie");
  s.cookie = cookie.substr(0, cookie.find(';'));
  s.csrf = r.str("/csrf_token");
  return s;
}

std::string ApiTest::token_of_new_user(const std::string& name, store::Role role) {
  create_user(name, role);
  const auto session = login(name);
  const auto r = call_json("POST", "/api/v1/tokens", json::object{{"label", "tests"}}, session.headers());
  EXPECT_EQ(r.status, 201) << r;
  const std::string token = r.str("/token");
  const auto who = call("GET", "/api/v1/whoami", "", bearer(token));
  EXPECT_EQ(who.status, 200) << who;
  return token;
}

const std::string& ApiTest::token_for(store::Role role) {
  auto it = tokens_.find(role);
  if (it == tokens_.end()) {
    const std::string name = std::string("test-") + std::string(store::to_string(role));
    it = tokens_.emplace(role, token_of_new_user(name, role)).first;
  }
  return it->second;
}

Agent ApiTest::enrol(const std::vector<std::string>& labels, const std::string& hostname) {
  auto token = api_->create_enrollment_token(labels, 1, Seconds{3600}, "test-setup");
  EXPECT_TRUE(token.ok()) << token.error().message;
  if (!token.ok()) {
    return {};
  }
  const auto r = call_json("POST", "/api/v1/agent/enrol",
                           json::object{{"token", *token}, {"hostname", hostname}, {"agent_version", "0.1.0"}});
  EXPECT_EQ(r.status, 201) << r;
  return Agent{r.str("/id"), r.str("/credential"), hostname};
}

Reply ApiTest::put_policy(const std::string& name, const std::string& text, const std::vector<std::string>& labels) {
  auto r = call_json("PUT", "/api/v1/policies/" + name, json::object{{"text", text}}, as(store::Role::kAdmin));
  EXPECT_TRUE(r.status == 200 || r.status == 201) << r;
  if (!labels.empty()) {
    json::array l;
    for (const auto& s : labels) {
      l.emplace_back(s);
    }
    const auto a = call_json("PUT", "/api/v1/policies/" + name + "/labels", json::object{{"labels", std::move(l)}},
                             as(store::Role::kAdmin));
    EXPECT_EQ(a.status, 200) << a;
  }
  return r;
}

Reply ApiTest::submit(const Agent& agent, const Submission& s) {
  return call("POST", "/api/v1/agent/requests", s.text(), agent.headers());
}

json::array ApiTest::push_messages(const Agent& agent) {
  const auto r = call("GET", "/api/v1/agent/push?after=0", "", agent.headers());
  EXPECT_EQ(r.status, 200) << r;
  return r.array("/messages");
}

json::array ApiTest::audit_for(const std::string& target) {
  const auto r = call("GET", "/api/v1/audit?target=" + target, "", as(store::Role::kAdmin));
  EXPECT_EQ(r.status, 200) << r;
  return r.array("/events");
}

std::vector<std::string> ApiTest::audit_actions_for(const std::string& target) {
  std::vector<std::string> out;
  for (const auto& e : audit_for(target)) {
    out.emplace_back(e.at("action").as_string());
  }
  return out;
}

std::uint64_t ApiTest::audit_head_seq() {
  auto head = store_->audit_head();
  EXPECT_TRUE(head.ok());
  return head.ok() && *head ? (*head)->seq : 0;
}

std::size_t ApiTest::stored_request_count() {
  store::RequestFilter f;
  f.limit = store::kMaxPage;
  auto all = store_->requests(f);
  EXPECT_TRUE(all.ok());
  return all.ok() ? all->size() : 0;
}

std::string ApiTest::now_text() const {
  return format_timestamp(clock_.now_s());
}

}  // namespace hoist::api::testing
