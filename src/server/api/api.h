// hoistd's REST API: authentication (session cookies with CSRF tokens, API
// tokens, endpoint credentials), the role check of every route, and the
// handlers, over the Store and the pure core. HTTP-agnostic beyond
// net::HttpRequest/HttpResponse, so it is tested without sockets and served
// by HttpsServer in hoistd.
//
// MUST: every route declares its Access; handle() authenticates and checks
// it before the handler runs, and a route without a rule cannot be added.
// MUST: identity comes from credentials (session, token, endpoint
// credential), never from a request body.
// MUST: every state change and admin action is audited in the same store
// transaction as the change itself.
// MUST: a state-changing request with a session cookie carries the
// session's CSRF token in X-CSRF-Token.
// MUST: a request body is read only after the route, the credentials and
// the Content-Type were checked on the headers (admit()), and without
// credentials only a small one (kPublicBodyLimit): nobody pins server
// memory without credentials.
// MUST: a body is JSON, declared as Content-Type: application/json (415
// otherwise); no other media type is ever parsed as JSON.
// MUST: GET /metrics answers only with the metrics token (compared in
// constant time with the hash in ApiOptions, never logged); without one,
// or with another credential, it is 401 with nothing of the metrics in it,
// and 404, as for any unknown path, when no token is configured.
// MUST: every response names the route template that answered it
// (HttpResponse::route), never the path as sent: metrics label by it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/time_window.h"
#include "log/logger.h"
#include "net/http_message.h"
#include "server/api/clock.h"
#include "server/api/router.h"
#include "server/app/submission_throttle.h"
#include "server/app/upload_throttle.h"
#include "server/console/console_files.h"
#include "server/metrics/server_metrics.h"
#include "store/store.h"

namespace hoist::auth {
class LoginLimiter;
struct PasswordCost;
class SealedBox;
}  // namespace hoist::auth

namespace hoist::api {

struct ApiOptions {
  std::chrono::seconds session_lifetime{8 * 3600};
  // A console session whose login (or last step-up) is older than this
  // must confirm the password again before it approves or denies a
  // request or issues an offline admin code (Api::Impl::step_up_refusal).
  // API tokens are not asked.
  std::chrono::seconds step_up_after{15 * 60};
  Seconds max_token_lifetime{366 * 24 * 3600};
  Seconds default_token_lifetime{90 * 24 * 3600};
  std::chrono::seconds long_poll_max{60};
  bool secure_cookies = true;  // false only for tests that look at cookies without TLS
  std::string server_version;
  // The master key of offline admin codes (docs/admin-codes.md), 32 bytes;
  // empty: codes cannot be issued.
  std::vector<std::uint8_t> codes_master_key;
  // The web console's files, served at "/" (null: no console; the API
  // still answers).
  std::shared_ptr<const server::ConsoleFiles> console;
  // Seals notification channels' secrets (auth/sealed_box.h); null: no
  // channel can be created (Unavailable).
  std::shared_ptr<const auth::SealedBox> secrets_box;
  // Argon2id cost for new password hashes (tests lower it).
  unsigned long long password_opslimit = 0;  // 0: libsodium's interactive default
  std::size_t password_memlimit = 0;
  // auth::hash_secret() of the metrics token's secret (config [metrics]
  // token_hash); empty: GET /metrics is 404.
  std::string metrics_token_hash;
  // The limits on agents' submissions (config [requests], docs/hoistd.md)
  // and how often what they refuse is audited (app/submission_throttle.h).
  app::SubmissionThrottle::Options submissions;
  // The limit on the events one endpoint uploads (config [limits]
  // agent_events_burst, agent_events_every; app/upload_throttle.h).
  app::UploadThrottle::Options uploads;
};

// The long-poll key of the console's event streams (GET /api/v1/stream).
inline constexpr std::string_view kConsoleStreamKey = "console";

struct ApiDeps {
  store::Store& store;
  const Clock& clock;
  log::Logger& log;
  const TimeZones& zones;
  // New push messages for an endpoint ("" = for many): wakes its long polls.
  std::function<void(const std::string& endpoint_id)> wake_push;
  // Audit events may have been written: wakes the console's streams
  // (GET /api/v1/stream). Null: they notice at their next poll.
  std::function<void()> wake_console = nullptr;
  // hoistd's metrics: decisions and long polls are counted here, and GET
  // /metrics renders them. Null: nothing is counted and /metrics is 404.
  server::ServerMetrics* metrics = nullptr;
};

class Api {
 public:
  // The largest body a request without credentials may send (the public
  // routes: login, enrolment; the console's files take none).
  static constexpr std::size_t kPublicBodyLimit = 8 * 1024;

  Api(ApiDeps deps, ApiOptions options);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Never throws: failures become {"error": ...} responses.
  net::HttpResponse handle(const net::HttpRequest& request);

  // Whether a request that announces a body may send it, from its head
  // alone: the checks handle() makes before any handler runs (the route
  // exists, the caller is authenticated and allowed, the body is declared
  // JSON), and the body limit that follows: kPublicBodyLimit for public
  // routes and paths outside /api/, the server's limit for callers with
  // credentials. A refusal is the answer handle() would give. The server
  // calls it on a handler thread before reading any body. Never throws.
  net::Admission admit(const net::HttpRequest& head);

  // The answer handle() would give, when it can be given from memory alone
  // (no database, no waiting, so the server may call it on its I/O thread);
  // otherwise nullopt, and the request goes to handle(). Today: an agent's
  // policy fetch whose If-None-Match still matches (304), for an endpoint
  // and label set seen within the last few seconds. Never throws.
  std::optional<net::HttpResponse> answer_from_memory(const net::HttpRequest& request);

  [[nodiscard]] const std::vector<Route>& routes() const { return router_.routes(); }

  // Another replica changed what a memo of this one holds (channel
  // "policy", or "endpoint" with its id; "" for everything, after changes
  // may have been lost): the memo is dropped. Never throws.
  void forget_changed_elsewhere(std::string_view channel, std::string_view payload);

  // Verifies the whole stored audit trail (verify_stored_chain) and keeps
  // the verdict. When it does not verify, hoistd records nothing from then
  // on: every write fails with Unavailable naming the first bad event, the
  // health route answers 503 with the same message, and reads (the trail
  // itself included) go on, so the damage can be looked at. hoistd calls it
  // once at start, before serving; a store error is returned as is.
  Result<ChainVerification> verify_audit_trail();

  // Expires pending requests and grants whose stored deadline has passed
  // (audited, pushed to their endpoints). Returns how many.
  Result<std::size_t> expire_due();

  // Audits the submissions the throttle refused, one request.throttled
  // (and the uploads cut short, one endpoint.events_throttled)
  // event per endpoint whose report window has passed (every endpoint
  // with a count when `all`: at shutdown). Returns how many events. hoistd
  // calls it with each sweep.
  Result<std::size_t> report_throttled(bool all = false);

  // Creates a console user (first admin at first start, `hoistd
  // --create-admin`). Audited with `actor`.
  Status create_user(const std::string& name, store::Role role, const std::string& password, const std::string& actor);
  // The first admin at first start: the same, only while there is no user
  // at all (Conflict otherwise), checked and made in one write, so that
  // replicas started together with different --admin-user make one admin.
  Status create_first_user(const std::string& name, store::Role role, const std::string& password,
                           const std::string& actor);

  // A new enrolment token's text (for make run and tests). Audited.
  Result<std::string> create_enrollment_token(const std::vector<std::string>& labels, int uses, Seconds lifetime,
                                              const std::string& actor);

 private:
  // What the checks before a handler found: a refusal, or the route, its
  // parameters and the authenticated caller.
  struct Checked {
    std::optional<net::HttpResponse> refusal;
    const Route* route = nullptr;
    std::map<std::string, std::string, std::less<>> params;
    Caller caller;
  };
  // The checks handle() and admit() share, for a request under /api/.
  Checked check(const net::HttpRequest& request, bool has_body);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  Router router_;
};

}  // namespace hoist::api
