// hoist login / logout / whoami: getting, dropping and showing the API
// token the other commands use.
//
// `hoist login` logs in with a password (POST /api/v1/login), creates an
// API token for this machine with the session (POST /api/v1/tokens), ends
// the session, and saves the token (cli/credentials.h). The server is
// trusted only by the CA fingerprint or CA file given (or saved before):
// never on first use.
#include <unistd.h>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/password_prompt.h"
#include "cli/remote.h"
#include "cli/terminal.h"
#include "core/duration.h"
#include "net/client/server_list.h"

namespace hoist::cli {

namespace json = boost::json;

namespace {

struct LoginArgs {
  std::vector<std::string> servers;
  std::string fingerprint;
  std::string ca_file;
  std::string user;
  std::string label;
  std::string expires;
  bool password_stdin = false;
};

std::string local_host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) {
    return "unknown host";
  }
  return name;
}

std::string default_user() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') {  // NOLINT(concurrency-mt-unsafe)
    return user;
  }
  return {};
}

// The value of the hoist_session cookie in a Set-Cookie header.
std::string session_cookie(const net::HttpResponse& reply) {
  for (const auto& h : reply.headers) {
    if (h.name != "set-cookie") {
      continue;
    }
    std::string_view v = h.value;
    constexpr std::string_view kName = "hoist_session=";
    if (v.substr(0, kName.size()) != kName) {
      continue;
    }
    v.remove_prefix(kName.size());
    return std::string(v.substr(0, v.find(';')));
  }
  return {};
}

int run_login(const LoginArgs& args, const Globals& globals) {
  auto path = credentials_path();
  if (!path) {
    return report(path.error());
  }
  auto saved = load_credentials(*path);
  if (!saved) {
    // A bad file is replaced by this login; an unsafe one is not read.
    if (saved.error().code != ErrorCode::kInvalidArgument) {
      return report(saved.error());
    }
    saved = std::optional<Credentials>();
  }
  Credentials c;
  if (!args.servers.empty()) {
    auto urls = net::parse_server_list(args.servers);
    if (!urls) {
      (void)std::fprintf(stderr, "hoist: %s\n", printable(urls.error().message).c_str());
      return kExitUsage;
    }
    c.server = net::join_server_list(*urls);
  }
  if (c.server.empty() && *saved) {
    c.server = (*saved)->server;
  }
  if (c.server.empty()) {
    (void)std::fputs("hoist: give the server: hoist login https://SERVER:PORT --fingerprint SHA256\n", stderr);
    return kExitUsage;
  }
  if (!args.fingerprint.empty()) {
    c.ca_fingerprint = args.fingerprint;
  }
  if (!args.ca_file.empty()) {
    c.ca_file = args.ca_file;
  }
  // The trust saved for the same server carries over to a new login.
  if (!c.ca_fingerprint && !c.ca_file && *saved && (*saved)->server == c.server) {
    c.ca_fingerprint = (*saved)->ca_fingerprint;
    c.ca_file = (*saved)->ca_file;
  }
  if (!c.ca_fingerprint && !c.ca_file) {
    (void)std::fputs(
        "hoist: give --fingerprint with the CA fingerprint hoistd printed when it started (or --ca-file);\n"
        "hoist: the server is never trusted on first use\n",
        stderr);
    return kExitUsage;
  }
  c.user = args.user.empty() ? default_user() : args.user;
  if (c.user.empty()) {
    (void)std::fputs("hoist: give --user NAME\n", stderr);
    return kExitUsage;
  }
  std::optional<std::int64_t> expires_in;
  if (!args.expires.empty()) {
    auto d = parse_duration(args.expires);
    if (!d) {
      (void)std::fprintf(stderr, "hoist: --expires: %s\n", d.error().message.c_str());
      return kExitUsage;
    }
    expires_in = d->count();
  }
  auto made = api_client_for(c.server, c.ca_fingerprint, c.ca_file);
  if (!made) {
    return report(made.error());
  }
  auto& api = **made;
  // The server is checked (TLS, its CA against the fingerprint) before a
  // password is asked for: a wrong fingerprint or address is told at once.
  if (auto reached = api.send("GET", "/api/v1/health", "", {}); !reached) {
    return report(reached.error());
  }
  auto password = args.password_stdin ? read_password_from_stdin()
                                      : read_password_from_tty(fmt::format("Password for {}: ", c.user));
  if (!password) {
    return report(password.error());
  }
  const json::value login_body = json::object{{"user", c.user}, {"password", *password}};
  auto reply = api.send("POST", "/api/v1/login", json::serialize(login_body), {});
  if (!reply) {
    return report(reply.error());
  }
  if (reply->status != 200) {
    return report(error_from_reply(*reply));
  }
  json::error_code ec;
  const auto session = json::parse(reply->body, ec);
  const std::string cookie = session_cookie(*reply);
  const std::string csrf = ec ? std::string() : text_of(session, "csrf_token");
  if (cookie.empty() || csrf.empty()) {
    return report(internal_error("the server's login answer has no session; is this a hoistd?"));
  }
  c.role = text_of(session, "role");
  api.set_headers({{"cookie", "hoist_session=" + cookie}, {"x-csrf-token", csrf}});
  json::object token_body{
      {"label", args.label.empty() ? fmt::format("hoist CLI on {}", local_host_name()) : args.label}};
  if (expires_in) {
    token_body["expires_in_s"] = *expires_in;
  }
  auto token = call_json(api, "POST", "/api/v1/tokens", token_body);
  // The session was only needed to make the token.
  (void)call_json(api, "POST", "/api/v1/logout", json::object{});
  if (!token) {
    return report(token.error());
  }
  c.token = text_of(*token, "token");
  c.token_id = text_of(*token, "id");
  c.expires_at = text_of(*token, "expires_at");
  if (c.token.empty()) {
    return report(internal_error("the server's answer has no token"));
  }
  if (auto st = save_credentials(*path, c); !st) {
    return report(st.error());
  }
  // The token this login replaces is of no more use.
  if (*saved && (*saved)->server == c.server && !(*saved)->token_id.empty() && (*saved)->token_id != c.token_id) {
    if (auto cleanup =
            api_client_for(c.server, c.ca_fingerprint, c.ca_file, {{"authorization", "Bearer " + c.token}})) {
      (void)call_json(**cleanup, "DELETE", "/api/v1/tokens/" + url_encode((*saved)->token_id));
    }
  }
  if (globals.json) {
    print_json(json::object{{"server", c.server},
                            {"user", c.user},
                            {"role", c.role},
                            {"token_id", c.token_id},
                            {"expires_at", c.expires_at}});
  } else {
    fmt::print("Logged in to {} as {} ({}); the token {} expires {}.\n", printable(c.server), printable(c.user),
               printable(c.role), printable(c.token_id), short_time(c.expires_at));
  }
  return kExitOk;
}

int run_logout(const Globals& globals) {
  auto path = credentials_path();
  if (!path) {
    return report(path.error());
  }
  auto saved = load_credentials(*path);
  if (!saved) {
    return report(saved.error());
  }
  if (!*saved) {
    if (!globals.json) {
      fmt::print("Not logged in.\n");
    }
    return kExitOk;
  }
  const Credentials& c = **saved;
  int status = kExitOk;
  auto api = api_client_for(c.server, c.ca_fingerprint, c.ca_file, {{"authorization", "Bearer " + c.token}});
  Status revoked = api ? Status{} : Status{api.error()};
  if (api) {
    auto reply = call_json(**api, "DELETE", "/api/v1/tokens/" + url_encode(c.token_id));
    // An expired or already revoked token is as good as revoked.
    if (!reply && reply.error().code != ErrorCode::kUnauthenticated && reply.error().code != ErrorCode::kNotFound) {
      revoked = reply.error();
    }
  }
  if (auto st = remove_credentials(*path); !st) {
    return report(st.error());
  }
  if (!revoked) {
    (void)std::fprintf(stderr,
                       "hoist: the token %s could not be revoked on the server (%s); it was removed here and "
                       "expires %s, or revoke it with `hoist token revoke %s` later\n",
                       printable(c.token_id).c_str(), printable(revoked.error().message).c_str(),
                       short_time(c.expires_at).c_str(), printable(c.token_id).c_str());
    status = exit_code_for(revoked.error().code);
  } else if (!globals.json) {
    fmt::print("Logged out of {}; the token {} is revoked.\n", printable(c.server), printable(c.token_id));
  }
  return status;
}

int run_whoami(const Globals& globals) {
  auto api = connect_logged_in();
  if (!api) {
    return report(api.error());
  }
  auto me = call_json(**api, "GET", "/api/v1/whoami");
  if (!me) {
    return report(me.error());
  }
  if (globals.json) {
    print_json(*me);
  } else {
    fmt::print("{} ({})\n", printable(text_of(*me, "user")), printable(text_of(*me, "role")));
  }
  return kExitOk;
}

}  // namespace

void add_login(CLI::App& app, Runner& run, const Globals& globals) {
  auto args = std::make_shared<LoginArgs>();
  auto* login = app.add_subcommand("login", "Log in to hoistd and keep an API token for the other commands");
  login->add_option("server", args->servers,
                    "https://SERVER:PORT (default: the one logged in to before); for several replicas, give each "
                    "(or separate them with commas), at most 16, tried in order");
  login->add_option("--fingerprint", args->fingerprint, "SHA-256 fingerprint of hoistd's CA, as hoistd printed it");
  login->add_option("--ca-file", args->ca_file, "PEM file of the CA that signed hoistd's certificate");
  login->add_option("-u,--user", args->user, "Console user name (default: $USER)");
  login->add_option("--label", args->label, "What the token is for (default: \"hoist CLI on <host>\")");
  login->add_option("--expires", args->expires, "Token lifetime, such as 30d (default: the server's, 90 days)");
  login->add_flag("--password-stdin", args->password_stdin, "Read the password from the first line of stdin");
  login->callback([&run, args, &globals] { run = [args, &globals] { return run_login(*args, globals); }; });

  auto* logout = app.add_subcommand("logout", "Revoke the saved API token and forget it");
  logout->callback([&run, &globals] { run = [&globals] { return run_logout(globals); }; });

  auto* whoami = app.add_subcommand("whoami", "Show the user and role of the saved login");
  whoami->callback([&run, &globals] { run = [&globals] { return run_whoami(globals); }; });
}

}  // namespace hoist::cli
