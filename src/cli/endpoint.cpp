// hoist elevate and hoist status: what a user runs on an endpoint. They
// talk to the local hoist-agent over its Unix socket (the agent knows the
// user from the kernel, SO_PEERCRED), never to hoistd directly.
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"
#include "core/admin_code.h"
#include "ipc/messages.h"
#include "plugin/agent_client.h"
#include "plugin/sudo_args.h"
#include "plugin/terminal.h"

namespace hoist::cli {

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int /*signo*/) {
  g_interrupted = 1;
}

struct EndpointArgs {
  std::string socket{plugin::kDefaultAgentSocket};
  std::string duration;
  std::string reason;
  std::string wait = "2m";
  std::string request_id;
  bool self_approve = false;
  // hoist code
  std::string challenge;
  std::string code;
  bool new_challenge = false;
};

int say_error(const Error& e) {
  (void)std::fprintf(stderr, "hoist: %s\n", printable(e.message).c_str());
  return exit_code_for(e.code);
}

// One turn with the agent; an error reply becomes the Error it carries.
Result<ipc::Fields> ask(plugin::AgentClient& client, const ipc::Fields& request, int extra_ms = 0,
                        const volatile std::sig_atomic_t* interrupted = nullptr) {
  auto reply = client.call(request, -1, extra_ms, interrupted);
  if (!reply) return reply.error();
  if (auto e = ipc::error_from(*reply)) return Error{e->code, e->message};
  return reply;
}

Result<plugin::AgentClient> connect(const std::string& socket) {
  auto client = plugin::AgentClient::connect(socket);
  if (!client) return unavailable(plugin::agent_unreachable_message(socket));
  return client;
}

std::string clock_time_in(std::uint64_t seconds) {
  const std::time_t at = std::time(nullptr) + static_cast<std::time_t>(seconds);
  std::tm local{};
  ::localtime_r(&at, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M", &local);
  return text;
}

std::string whoami(std::uint32_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? pw->pw_name : std::to_string(uid);
}

// The self-approval question on the terminal: true for yes. No terminal
// (stdin not a tty) or EOF: no.
bool ask_self_approval_on_tty() {
  if (::isatty(STDIN_FILENO) == 0) return false;
  (void)std::fputs(std::string(plugin::kSelfApprovalQuestion).c_str(), stderr);
  (void)std::fflush(stderr);
  char line[64];
  if (std::fgets(line, sizeof line, stdin) == nullptr) {
    (void)std::fputc('\n', stderr);
    return false;
  }
  std::string answer(line);
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  return plugin::is_yes(answer);
}

int elevate(const EndpointArgs& args) {
  std::uint64_t duration_s = 0;
  if (!args.duration.empty()) {
    auto d = plugin::parse_duration(args.duration);
    if (!d) return say_error(d.error());
    duration_s = *d;
  }
  auto wait_s = plugin::parse_duration(args.wait);
  if (!wait_s) return say_error(wait_s.error());
  if (args.reason.find_first_not_of(" \t") == std::string::npos) {
    return say_error(invalid_argument("--reason is required: say why, for example with a ticket number"));
  }
  auto client = connect(args.socket);
  if (!client) return say_error(client.error());
  ipc::ElevateMessage m;
  m.uid = ::getuid();
  m.gid = ::getgid();
  m.user = whoami(m.uid);
  if (const char* tty = ::ttyname(STDIN_FILENO)) m.tty = tty;
  m.justification = args.reason;
  m.duration_s = duration_s;
  auto reply = ask(*client, ipc::to_fields(m));
  if (!reply) return say_error(reply.error());
  auto state = ipc::request_state_from(*reply);
  if (!state) return say_error(state.error());
  const std::string id = state->request_id;

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  if (state->state == RequestState::kPending) {
    (void)std::fprintf(stderr, "Asked for a temporary admin session (request %s).\n", id.c_str());
  }
  // approval = "self": the requester may approve it (--self-approve, or
  // yes to the question on a terminal).
  bool self_approved = false;
  if (state->state == RequestState::kPending && state->self_approval_allowed &&
      (args.self_approve || ask_self_approval_on_tty())) {
    auto approved = ask(*client, ipc::to_fields(ipc::SelfApproveMessage{id}));
    auto now = approved ? ipc::request_state_from(*approved) : Result<ipc::RequestStateMessage>(approved.error());
    if (now) {
      state = std::move(*now);
      self_approved = state->state == RequestState::kApproved || state->state == RequestState::kActive;
    } else {
      (void)std::fprintf(stderr, "hoist: you could not approve it yourself (%s); it waits for a technician.\n",
                         printable(now.error().message).c_str());
    }
  } else if (state->state == RequestState::kPending && args.self_approve) {
    (void)std::fprintf(stderr, "This session needs a technician's approval; you may not approve it yourself.\n");
  }
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  struct sigaction old_int {};
  struct sigaction old_term {};
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*wait_s);
  bool drew = false;
  while (state->state == RequestState::kPending && g_interrupted == 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    if (tty) {
      (void)std::fprintf(stderr, "\r%s",
                         plugin::countdown_line(static_cast<std::uint64_t>((left + 999) / 1000)).c_str());
      drew = true;
    }
    const auto turn = std::min<std::int64_t>(left, 1000);
    const auto started = std::chrono::steady_clock::now();
    auto next = ask(*client, ipc::to_fields(ipc::WaitMessage{id, static_cast<std::uint64_t>(turn)}),
                    static_cast<int>(turn), &g_interrupted);
    if (g_interrupted != 0) break;
    if (!next) {
      if (drew) (void)std::fputc('\n', stderr);
      (void)std::fprintf(stderr, "hoist: lost contact with hoist-agent (%s).\n%s\n", next.error().message.c_str(),
                         plugin::pending_text(id).c_str());
      return kExitUnavailable;
    }
    auto s = ipc::request_state_from(*next);
    if (!s) return say_error(s.error());
    state = std::move(*s);
    if (state->state != RequestState::kPending) break;
    const auto spent = std::chrono::steady_clock::now() - started;
    if (spent < std::chrono::milliseconds(turn)) {
      ::poll(nullptr, 0, static_cast<int>(turn - std::chrono::duration_cast<std::chrono::milliseconds>(spent).count()));
    }
  }
  if (drew) (void)std::fputs("\r\033[K", stderr);
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  if (g_interrupted != 0) {
    auto fresh = connect(args.socket);
    if (!fresh) return say_error(fresh.error());
    auto cancelled = ask(*fresh, ipc::to_fields(ipc::CancelMessage{id}));
    if (!cancelled) return say_error(cancelled.error());
    (void)std::fprintf(stderr, "%s\n", plugin::cancelled_text(id).c_str());
    return kExitDeny;
  }
  switch (state->state) {
    case RequestState::kApproved:
    case RequestState::kActive:
      (void)std::printf(
          "Temporary admin session approved%s%s, until %s (%s).\n"
          "Run commands with sudo; every process they start is recorded.\n",
          self_approved             ? " by you"
          : state->reviewer.empty() ? ""
                                    : " by ",
          self_approved ? "" : printable(state->reviewer).c_str(), clock_time_in(state->time_left_s).c_str(),
          plugin::format_duration(state->time_left_s).c_str());
      return kExitOk;
    case RequestState::kPending:
      (void)std::fprintf(stderr, "%s\n", plugin::pending_text(id).c_str());
      return kExitRequest;
    default:
      (void)std::fprintf(stderr, "%s\n", printable(plugin::denied_request_text(*state, "")).c_str());
      return kExitDeny;
  }
}

int status(const EndpointArgs& args) {
  auto client = connect(args.socket);
  if (!client) return say_error(client.error());
  if (!args.request_id.empty()) {
    auto reply = ask(*client, ipc::to_fields(ipc::WaitMessage{args.request_id, 0}));
    if (!reply) return say_error(reply.error());
    auto s = ipc::request_state_from(*reply);
    if (!s) return say_error(s.error());
    (void)std::printf("Request %s: %s", s->request_id.c_str(), std::string(to_string(s->state)).c_str());
    if (!s->reviewer.empty()) (void)std::printf(" by %s", printable(s->reviewer).c_str());
    if (!s->comment.empty()) (void)std::printf(": %s", printable(s->comment).c_str());
    if (s->time_left_s > 0) {
      (void)std::printf(" (%s left, until %s)", plugin::format_duration(s->time_left_s).c_str(),
                        clock_time_in(s->time_left_s).c_str());
    }
    (void)std::printf("\n");
    return s->state == RequestState::kApproved || s->state == RequestState::kActive ? kExitOk
           : s->state == RequestState::kPending                                     ? kExitRequest
                                                                                    : kExitDeny;
  }
  const std::uint32_t uid = ::getuid();
  auto reply = ask(*client, ipc::to_fields(ipc::ListMessage{whoami(uid), uid, ::getgid(), ""}));
  if (!reply) return say_error(reply.error());
  auto listing = ipc::listing_from(*reply);
  if (!listing) return say_error(listing.error());
  for (const auto& line : listing->lines) (void)std::printf("%s\n", printable(line).c_str());
  return kExitOk;
}

// One line from stdin without its newline; nullopt at EOF.
std::optional<std::string> read_line() {
  std::string line;
  int c = 0;
  while ((c = std::fgetc(stdin)) != EOF && c != '\n') {
    if (line.size() < 256) line.push_back(static_cast<char>(c));
  }
  if (c == EOF && line.empty()) return std::nullopt;
  while (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// hoist code: an offline admin code (docs/admin-codes.md). Without
// --code: shows a fresh challenge and reads the code the help desk reads
// back. --new-challenge: shows one and stops (enter the code later with
// --challenge CHALLENGE CODE). A pre-issued code needs no challenge.
int code_use(const EndpointArgs& args) {
  auto client = connect(args.socket);
  if (!client) return say_error(client.error());
  const std::uint32_t uid = ::getuid();
  const std::string user = whoami(uid);
  std::string challenge = args.challenge;
  std::string code = args.code;
  const bool preissued = !code.empty() && [&] {
    auto kind = codes::kind_of(code);
    return kind && *kind == codes::CodeKind::kPreIssued;
  }();
  if (challenge.empty() && !preissued) {
    auto reply = ask(*client, ipc::to_fields(ipc::CodeChallengeMessage{user, uid}));
    if (!reply) return say_error(reply.error());
    auto c = ipc::challenge_from(*reply);
    if (!c) return say_error(c.error());
    challenge = c->challenge;
    if (args.new_challenge || !code.empty()) {
      (void)std::printf("%s\n", printable(c->challenge).c_str());
      (void)std::fprintf(stderr, "computer %s (%s); the challenge is good for %llu min\n", printable(c->host).c_str(),
                         printable(c->endpoint_id).c_str(), static_cast<unsigned long long>(c->expires_in_s / 60));
      if (args.new_challenge) return kExitOk;
    } else {
      (void)std::fprintf(stderr, "%s\n", printable(plugin::admin_code_instructions(*c)).c_str());
    }
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (code.empty()) {
      (void)std::fputs(std::string(plugin::kAdminCodePrompt).c_str(), stderr);
      (void)std::fflush(stderr);
      auto line = read_line();
      if (!line || plugin::trim(*line).empty()) {
        return say_error(invalid_argument("no admin code was entered"));
      }
      code = std::string(plugin::trim(*line));
    }
    ipc::CodeRedeemMessage m;
    m.user = user;
    m.uid = uid;
    if (const char* tty = ::ttyname(STDIN_FILENO)) m.tty = tty;
    m.challenge = challenge;
    m.code = code;
    auto reply = ask(*client, ipc::to_fields(m));
    if (!reply) {
      const bool again = args.code.empty() && ::isatty(STDIN_FILENO) != 0 &&
                         reply.error().code != ErrorCode::kRateLimited && attempt < 2;
      if (!again) return say_error(reply.error());
      (void)std::fprintf(stderr, "Not accepted: %s.\n", printable(reply.error().message).c_str());
      code.clear();
      continue;
    }
    auto granted = ipc::code_grant_from(*reply);
    if (!granted) return say_error(granted.error());
    (void)std::printf("%s\nIt ends at %s (grant %s).\n", printable(plugin::admin_code_accepted_text(*granted)).c_str(),
                      clock_time_in(granted->time_left_s).c_str(), printable(granted->grant_id).c_str());
    return kExitOk;
  }
  return kExitDeny;
}

}  // namespace

void add_code_use(CLI::App& code, Runner& run) {
  auto args = std::make_shared<EndpointArgs>();
  code.add_option("admin-code", args->code,
                  "the admin code (else it is read from the terminal); a pre-issued code needs no challenge");
  code.add_option("--challenge", args->challenge, "the challenge the code answers (from --new-challenge)");
  code.add_flag("--new-challenge", args->new_challenge, "show a fresh challenge and stop");
  code.add_option("--socket", args->socket, "hoist-agent's socket")->capture_default_str();
  code.callback([&run, args, &code] {
    if (code.get_subcommands().empty()) run = [args] { return code_use(*args); };
  });
}

void add_endpoint(CLI::App& app, Runner& run) {
  auto args = std::make_shared<EndpointArgs>();
  CLI::App* elevate_cmd = app.add_subcommand(
      "elevate", "Ask for a temporary admin session on this computer (sudo runs anything; everything is recorded)");
  elevate_cmd->add_option("--for", args->duration, "how long, e.g. 30m or 1h (default: the policy's)");
  elevate_cmd->add_option("--reason", args->reason, "why, for the approver and the audit trail")->required();
  elevate_cmd->add_flag("--self-approve", args->self_approve,
                        "approve it yourself when the policy lets you (approval = \"self\"); without it, you are "
                        "asked on a terminal");
  elevate_cmd->add_option("--wait", args->wait, "how long to wait for the decision")->capture_default_str();
  elevate_cmd->add_option("--socket", args->socket, "hoist-agent's socket")->capture_default_str();
  elevate_cmd->callback([&run, args] { run = [args] { return elevate(*args); }; });

  CLI::App* status_cmd =
      app.add_subcommand("status", "What you may run here, your requests and grants (or one request's state)");
  status_cmd->add_option("request", args->request_id, "a request id (as sudo printed it)");
  status_cmd->add_option("--socket", args->socket, "hoist-agent's socket")->capture_default_str();
  status_cmd->callback([&run, args] { run = [args] { return status(*args); }; });
}

}  // namespace hoist::cli
