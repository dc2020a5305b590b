// Login sessions, console users and API tokens.
//
// MUST: a failed login takes as long for an unknown user as for a wrong
// password (a dummy hash is verified), and both count against the limiter.
// MUST: a login is admitted and counted by the limiter in one step
// (LoginLimiter::begin) before the password is verified.
// MUST: session ids and token secrets are returned once and stored only
// as hashes.
// MUST: a new password or disabling a user revokes their sessions and API
// tokens in the same transaction (audited with the counts); enabling them
// again revives nothing.
// MUST: a step-up (reauth) confirms the password of the session's own user
// only, counts against the login limiter like a login, and replaces the
// session (the old one is revoked in the same transaction).
#include <fmt/format.h>

#include "core/timestamp.h"
#include "net/http_error.h"
#include "server/api/api_impl.h"
#include "server/auth/secrets.h"

namespace hoist::api {

namespace {

Status check_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return invalid_argument("a user name has 1 to 64 characters");
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' || c == '@';
    if (!ok) {
      return invalid_argument("a user name uses only a-z, 0-9, '.', '-', '_' and '@'");
    }
  }
  return {};
}

Result<store::Role> role_from(std::string_view text) {
  auto role = store::parse_role(text);
  if (!role) {
    return invalid_argument(fmt::format("unknown role \"{}\"; use admin, approver or auditor", text));
  }
  return *role;
}

// A new console session: its secret (the cookie), its CSRF token and the
// record that stores only their hashes.
struct NewSession {
  std::string secret;
  std::string csrf;
  store::SessionRecord record;
};

NewSession new_session(const std::string& user, TimePoint now, std::chrono::seconds lifetime) {
  NewSession out;
  out.secret = auth::random_secret();
  out.csrf = auth::derive_csrf_token(out.secret);
  out.record.id_hash = auth::hash_secret(out.secret);
  out.record.user = user;
  out.record.csrf_hash = auth::hash_secret(out.csrf);
  out.record.created_at = now;
  out.record.expires_at = now + std::chrono::duration_cast<Seconds>(lifetime);
  return out;
}

// The answer to a login or a step-up: who, the CSRF token, when it ends
// and when the password was given; the cookie.
net::HttpResponse session_response(const NewSession& session, store::Role role, const ApiOptions& options) {
  auto response = json_ok(json::object{{"user", json_text(session.record.user)},
                                       {"role", store::to_string(role)},
                                       {"csrf_token", session.csrf},
                                       {"expires_at", json_time(session.record.expires_at)},
                                       {"authenticated_at", json_time(session.record.created_at)}});
  response.set_header("set-cookie",
                      fmt::format("hoist_session={}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}", session.secret,
                                  options.session_lifetime.count(), options.secure_cookies ? "; Secure" : ""));
  return response;
}

}  // namespace

json::object user_json(const store::UserRecord& user) {
  return {{"name", json_text(user.name)},
          {"role", store::to_string(user.role)},
          {"created_at", json_time(user.created_at)},
          {"disabled", user.disabled},
          {"version", user.version}};
}

json::object token_json(const store::TokenRecord& token, TimePoint now) {
  const bool live = !token.revoked_at && (!token.expires_at || *token.expires_at > now);
  return {{"id", token.id},
          {"user", json_text(token.user)},
          {"label", json_text(token.label)},
          {"created_at", json_time(token.created_at)},
          {"expires_at", json_opt_time(token.expires_at)},
          {"revoked_at", json_opt_time(token.revoked_at)},
          {"last_used_at", json_opt_time(token.last_used_at)},
          {"active", live}};
}

Result<net::HttpResponse> Api::Impl::login(Call& call) {
  struct Body {
    std::string user;
    std::string password;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string("user", 64), b.string("password", 1024)};
  });
  if (!body) {
    return body.error();
  }
  const auto now = deps.clock.now_s();
  const std::string& remote = call.request.remote_address;
  // Admitted and counted in one step: a burst of parallel logins gets no
  // more tries than the same logins one after another.
  auto attempt = limiter.begin(body->user, remote, now);
  if (!attempt.admitted()) {
    if (attempt.failed_closed()) {
      return attempt.refusal();  // not counted, so not checked (503)
    }
    auto response = net::error_response(attempt.refusal());
    response.set_header("retry-after", std::to_string(attempt.retry_after().count()));
    return response;
  }
  auto user = deps.store.user(body->user);
  if (!user) {
    return user.error();  // the attempt counts as failed
  }
  const bool known = user->has_value() && !(*user)->disabled;
  const bool password_ok = auth::verify_password(known ? (*user)->password_hash : dummy_password_hash, body->password);
  if (!known || !password_ok) {
    attempt.failed(deps.clock.now_s());
    auto st = deps.store.write([&](store::StoreTx& tx) {
      // The name is only claimed: recorded as the target, never as the actor.
      return audit(tx, "anonymous", audited::UserLoginFailed{.remote = remote, .known_user = known}, body->user, "");
    });
    if (!st) {
      return st.error();
    }
    return unauthenticated("wrong user name or password");
  }
  attempt.succeeded(deps.clock.now_s());

  const NewSession fresh = new_session((*user)->name, now, options.session_lifetime);
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.insert_session(fresh.record); !s) {
      return s;
    }
    return audit(tx, fresh.record.user, audited::UserLogin{.remote = remote}, fresh.record.user, "");
  });
  if (!st) {
    return st.error();
  }
  return session_response(fresh, (*user)->role, options);
}

// Step-up: the password of the session's own user, confirmed again, makes
// a new session (new cookie, new CSRF token, login time now) and ends the
// old one in the same transaction. Failures count against the login
// limiter like logins, and are audited as failed logins with step_up.
Result<net::HttpResponse> Api::Impl::reauth(Call& call) {
  struct Body {
    std::string password;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) { return Body{b.string("password", 1024)}; });
  if (!body) {
    return body.error();
  }
  if (call.caller.session_id_hash.empty()) {
    return invalid_argument(
        "an API token is not a console session and has no login to renew; step-up applies to console sessions only");
  }
  const auto now = deps.clock.now_s();
  const std::string& remote = call.request.remote_address;
  auto attempt = limiter.begin(call.caller.user, remote, now);
  if (!attempt.admitted()) {
    if (attempt.failed_closed()) {
      return attempt.refusal();  // not counted, so not checked (503)
    }
    auto response = net::error_response(attempt.refusal());
    response.set_header("retry-after", std::to_string(attempt.retry_after().count()));
    return response;
  }
  auto user = deps.store.user(call.caller.user);
  if (!user) {
    return user.error();
  }
  if (!*user || (*user)->disabled) {
    return unauthenticated("the session has ended; log in again");
  }
  if (!auth::verify_password((*user)->password_hash, body->password)) {
    attempt.failed(deps.clock.now_s());
    auto st = deps.store.write([&](store::StoreTx& tx) {
      return audit(tx, call.caller.actor(),
                   audited::UserLoginFailed{.remote = remote, .known_user = true, .step_up = true}, call.caller.user,
                   "");
    });
    if (!st) {
      return st.error();
    }
    // 403, not 401: the session is still good, only this confirmation failed.
    return permission_denied("wrong password: type the password you log in with");
  }
  attempt.succeeded(deps.clock.now_s());
  const NewSession fresh = new_session((*user)->name, now, options.session_lifetime);
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.insert_session(fresh.record); !s) {
      return s;
    }
    if (auto s = tx.revoke_session(call.caller.session_id_hash, now); !s) {
      return s;
    }
    return audit(tx, call.caller.actor(), audited::UserLogin{.remote = remote, .step_up = true}, fresh.record.user, "");
  });
  if (!st) {
    return st.error();
  }
  return session_response(fresh, (*user)->role, options);
}

std::optional<net::HttpResponse> Api::Impl::step_up_refusal(const Caller& caller) const {
  if (caller.session_id_hash.empty() || !caller.authenticated_at) {
    return std::nullopt;  // an API token: no session, no login time (docs/console.md, "Step-up")
  }
  const auto age = deps.clock.now_s() - *caller.authenticated_at;
  if (age <= options.step_up_after) {
    return std::nullopt;
  }
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(age).count();
  auto response = json_ok(
      json::object{
          {"error", json::object{{"code", to_string(ErrorCode::kPermissionDenied)},
                                 {"reason", kStepUpRequired},
                                 {"message", fmt::format("confirm your password first: you logged in {} minute{} ago "
                                                         "and this needs a login of the last {}; send it to POST "
                                                         "/api/v1/session/reauth, then try again",
                                                         minutes, minutes == 1 ? "" : "s",
                                                         format_duration(options.step_up_after))},
                                 {"step_up_after_s", options.step_up_after.count()}}}},
      403);
  return response;
}

Result<net::HttpResponse> Api::Impl::logout(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) {
    return body.error();
  }
  const auto now = deps.clock.now_s();
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (!call.caller.session_id_hash.empty()) {
      if (auto s = tx.revoke_session(call.caller.session_id_hash, now); !s) {
        return s;
      }
    }
    return audit(tx, call.caller.actor(), audited::UserLogout{}, call.caller.user, "");
  });
  if (!st) {
    return st.error();
  }
  auto response = json_ok(json::object{{"logged_out", true}});
  response.set_header("set-cookie", fmt::format("hoist_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
                                                options.secure_cookies ? "; Secure" : ""));
  return response;
}

Result<net::HttpResponse> Api::Impl::whoami(Call& call) {
  json::object out{{"user", json_text(call.caller.user)}, {"role", store::to_string(call.caller.role)}};
  out["via"] = call.caller.token_id.empty() ? "session" : "token";
  if (!call.caller.token_id.empty()) {
    out["token_id"] = call.caller.token_id;
  }
  if (!call.caller.csrf_token.empty()) {
    out["csrf_token"] = call.caller.csrf_token;
  }
  return json_ok(out);
}

// The console's first question, answered 200 either way (a logged-out
// page is no error): whoami for a live cookie session, else
// {"authenticated": false}. Only the cookie counts here, not a Bearer token.
Result<net::HttpResponse> Api::Impl::session_info(Call& call) {
  std::optional<Caller> caller;
  if (const auto secret = session_cookie(call.request)) {
    if (auto c = authenticate_session(call.request, *secret); c) caller = std::move(*c);
  }
  if (!caller) {
    return json_ok(json::object{{"authenticated", false}});
  }
  json::object out{{"authenticated", true},
                   {"user", json_text(caller->user)},
                   {"role", store::to_string(caller->role)},
                   {"via", "session"}};
  if (!caller->csrf_token.empty()) {
    out["csrf_token"] = caller->csrf_token;
  }
  return json_ok(out);
}

Result<net::HttpResponse> Api::Impl::list_tokens(Call& call) {
  auto tokens = deps.store.tokens(call.caller.user);
  if (!tokens) {
    return tokens.error();
  }
  const auto now = deps.clock.now_s();
  json::array out;
  for (const auto& t : *tokens) {
    out.push_back(token_json(t, now));
  }
  return json_ok(json::object{{"tokens", std::move(out)}});
}

Result<net::HttpResponse> Api::Impl::create_token(Call& call) {
  struct Body {
    std::string label;
    std::optional<std::int64_t> expires_in_s;
  };
  const auto max_s = options.max_token_lifetime.count();
  auto body = read_body<Body>(call.request, [&](JsonBody& b) {
    return Body{b.string("label", 200), b.optional_int("expires_in_s", 60, max_s)};
  });
  if (!body) {
    return body.error();
  }
  if (body->label.empty()) {
    return invalid_argument("field \"label\" must say what the token is for (\"ci\", \"laptop cli\")");
  }
  const auto now = deps.clock.now_s();
  const auto token = auth::make_secret_token(auth::kApiTokenKind);
  store::TokenRecord rec;
  rec.id = token.id;
  rec.user = call.caller.user;
  rec.label = body->label;
  rec.secret_hash = auth::hash_secret(token.secret);
  rec.created_at = now;
  rec.expires_at = now + Seconds{body->expires_in_s.value_or(options.default_token_lifetime.count())};
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.insert_token(rec); !s) {
      return s;
    }
    return audit(tx, call.caller.actor(), audited::TokenCreated{.label = rec.label, .expires_at = rec.expires_at},
                 rec.id, "");
  });
  if (!st) {
    return st.error();
  }
  auto out = token_json(rec, now);
  out["token"] = token.text();
  return json_ok(out, 201);
}

Result<net::HttpResponse> Api::Impl::revoke_token(Call& call) {
  if (auto body = read_body<int>(call.request, [](JsonBody&) { return 0; }); !body) {
    return body.error();
  }
  const std::string& id = call.param("id");
  auto token = deps.store.token(id);
  if (!token) {
    return token.error();
  }
  // Someone else's token is "not found" unless you are an admin: no probing.
  if (!*token || ((*token)->user != call.caller.user && call.caller.role != store::Role::kAdmin)) {
    return not_found(fmt::format("there is no API token {}", id));
  }
  const auto now = deps.clock.now_s();
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto s = tx.revoke_token(id, now); !s) {
      return s;
    }
    return audit(tx, call.caller.actor(), audited::TokenRevoked{.user = (*token)->user}, id, "");
  });
  if (!st) {
    return st.error();
  }
  auto after = deps.store.token(id);
  if (!after || !*after) {
    return internal_error("the revoked token vanished (this is a bug)");
  }
  return json_ok(token_json(**after, now));
}

Result<net::HttpResponse> Api::Impl::list_users(Call& /*call*/) {
  auto users = deps.store.users();
  if (!users) {
    return users.error();
  }
  json::array out;
  for (const auto& u : *users) {
    out.push_back(user_json(u));
  }
  return json_ok(json::object{{"users", std::move(out)}});
}

Status Api::Impl::create_user(const std::string& name, store::Role role, const std::string& password,
                              const std::string& actor, bool first) {
  if (auto st = check_user_name(name); !st) {
    return st;
  }
  if (auto st = auth::check_new_password(password); !st) {
    return st;
  }
  auto hash = auth::hash_password(password, password_cost);
  if (!hash) {
    return hash.error();
  }
  store::UserRecord user;
  user.name = name;
  user.role = role;
  user.password_hash = *hash;
  user.created_at = deps.clock.now_s();
  return deps.store.write([&](store::StoreTx& tx) -> Status {
    if (auto inserted = first ? tx.insert_first_user(user) : tx.insert_user(user); !inserted) {
      return inserted.error();
    }
    return audit(tx, actor, audited::UserCreated{.role = role}, name, "");
  });
}

Result<net::HttpResponse> Api::Impl::create_user_route(Call& call) {
  struct Body {
    std::string name;
    std::string role;
    std::optional<std::string> password;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.string("name", 64), b.string("role", 16), b.optional_string("password", 1024)};
  });
  if (!body) {
    return body.error();
  }
  auto role = role_from(body->role);
  if (!role) {
    return role.error();
  }
  const bool generated = !body->password;
  const std::string password = generated ? auth::generate_password() : *body->password;
  if (auto st = create_user(body->name, *role, password, call.caller.actor()); !st) {
    return st.error();
  }
  auto user = deps.store.user(body->name);
  if (!user || !*user) {
    return internal_error("the new user vanished (this is a bug)");
  }
  auto out = user_json(**user);
  if (generated) {
    out["password"] = password;  // shown once
  }
  return json_ok(out, 201);
}

Result<net::HttpResponse> Api::Impl::update_user(Call& call) {
  struct Body {
    std::optional<std::string> role;
    std::optional<bool> disabled;
    std::optional<std::string> password;
    std::optional<std::int64_t> version;
  };
  auto body = read_body<Body>(call.request, [](JsonBody& b) {
    return Body{b.optional_string("role", 16), b.optional_bool("disabled"), b.optional_string("password", 1024),
                b.optional_int("version", 1, INT64_MAX)};
  });
  if (!body) {
    return body.error();
  }
  const std::string& name = call.param("name");
  if (name == call.caller.user && ((body->disabled && *body->disabled) || (body->role && *body->role != "admin"))) {
    return invalid_argument("you cannot disable yourself or take away your own admin role; ask another admin");
  }
  auto user = deps.store.user(name);
  if (!user) {
    return user.error();
  }
  if (!*user) {
    return not_found(fmt::format("there is no user {}", name));
  }
  store::UserRecord rec = **user;
  if (body->version && *body->version != rec.version) {
    return conflict(fmt::format("user {} changed meanwhile (version {}, you sent {}); reload and retry", name,
                                rec.version, *body->version));
  }
  audited::UserUpdated changed;
  if (body->role) {
    auto role = role_from(*body->role);
    if (!role) {
      return role.error();
    }
    rec.role = *role;
    changed.role = *role;
  }
  if (body->disabled) {
    rec.disabled = *body->disabled;
    changed.disabled = *body->disabled;
  }
  if (body->password) {
    if (auto st = auth::check_new_password(*body->password); !st) {
      return st.error();
    }
    auto hash = auth::hash_password(*body->password, password_cost);
    if (!hash) {
      return hash.error();
    }
    rec.password_hash = *hash;
    changed.password_changed = true;
  }
  const auto now = deps.clock.now_s();
  Result<store::UserRecord> updated = internal_error("not written");
  auto st = deps.store.write([&](store::StoreTx& tx) -> Status {
    updated = tx.update_user(rec);
    if (!updated) {
      return updated.error();
    }
    // A disabled user or a new password ends every session and every API
    // token: whoever held the old password may have made them. Enabling
    // the user again brings none back.
    if (rec.disabled || body->password) {
      auto sessions = tx.revoke_user_sessions(name, now);
      if (!sessions) {
        return sessions.error();
      }
      auto tokens = tx.revoke_user_tokens(name, now);
      if (!tokens) {
        return tokens.error();
      }
      changed.sessions_revoked = *sessions;
      changed.tokens_revoked = *tokens;
    }
    return audit(tx, call.caller.actor(), changed, name, "");
  });
  if (!st) {
    return st.error();
  }
  return json_ok(user_json(*updated));
}

}  // namespace hoist::api
