// hoist elevate and hoist status: what a user runs on an endpoint. They
// talk to the local hoist-agent over its Unix socket (the agent knows the
// user from the kernel, SO_PEERCRED), never to hoistd directly.
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/terminal.h"
#include "core/admin_code.h"
#include "endpoint/agent_client.h"
#include "endpoint/approval.h"
#include "endpoint/terminal.h"
#include "ipc/messages.h"

namespace hoist::cli {

namespace {

struct EndpointArgs {
  std::string socket{ipc::kDefaultAgentSocket};
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
  (void)std::fprintf(stderr, "hoist: %s\n", printable_lines(e.message).c_str());
  return exit_code_for(e.code);
}

Result<endpoint::AgentClient> connect(const std::string& socket) {
  auto client = endpoint::AgentClient::connect(socket);
  if (!client) {
    // A path that is not there at all is more likely a wrong --socket than
    // a stopped agent (whose socket stays behind or is removed by systemd).
    struct stat st {};
    if (socket != ipc::kDefaultAgentSocket && ::lstat(socket.c_str(), &st) != 0 && errno == ENOENT) {
      return unavailable(fmt::format("there is no socket at {} (--socket); hoist-agent's is {}", printable(socket),
                                     ipc::kDefaultAgentSocket));
    }
    return unavailable(endpoint::agent_unreachable_message(socket));
  }
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

// The terminal for the approval flow: questions and the countdown on
// stderr, the countdown only when stderr is a terminal.
class StderrConversation final : public endpoint::Conversation {
 public:
  void info(std::string_view text) override { say(std::string(text) + "\n"); }
  void error(std::string_view text) override { say(std::string(text) + "\n"); }
  void status_line(std::string_view text) override {
    if (::isatty(STDERR_FILENO) != 0) write_out("\r" + endpoint::safe_for_terminal(text));
  }
  // One line from stdin when it is a terminal; nullopt otherwise or at EOF.
  std::optional<std::string> prompt(std::string_view question, bool /*echo*/) override {
    if (::isatty(STDIN_FILENO) == 0) return std::nullopt;
    say(std::string(question));
    char line[64];
    if (std::fgets(line, sizeof line, stdin) == nullptr) {
      (void)std::fputc('\n', stderr);
      return std::nullopt;
    }
    std::string answer(line);
    while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
    return answer;
  }

 private:
  static void say(const std::string& text) { write_out(endpoint::safe_for_terminal(text)); }
  static void write_out(const std::string& text) {
    (void)std::fputs(text.c_str(), stderr);
    (void)std::fflush(stderr);
  }
};

int elevate(const EndpointArgs& args) {
  std::uint64_t duration_s = 0;
  if (!args.duration.empty()) {
    auto d = endpoint::parse_duration(args.duration);
    if (!d) return say_error(d.error());
    duration_s = *d;
  }
  auto wait_s = endpoint::parse_duration(args.wait);
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
  auto state = client->elevate(m);
  if (!state) return say_error(state.error());
  const std::string id = state->request_id;

  StderrConversation conv;
  if (state->state == RequestState::kPending) {
    (void)std::fprintf(stderr, "Asked for a temporary admin session (request %s).\n", id.c_str());
  }
  // approval = "self": the requester may approve it (--self-approve, or
  // yes to the question on a terminal).
  bool self_approved = false;
  if (state->state == RequestState::kPending && state->self_approval_allowed && (args.self_approve || [&] {
        auto yes = endpoint::ask_self_approval(conv);
        return yes && *yes;
      }())) {
    auto now = client->self_approve(id);
    if (now) {
      state = std::move(now);
      self_approved = endpoint::is_approved(state->state);
    } else {
      (void)std::fprintf(stderr, "hoist: you could not approve it yourself (%s); it waits for a technician.\n",
                         printable(now.error().message).c_str());
    }
  } else if (state->state == RequestState::kPending && args.self_approve) {
    (void)std::fprintf(stderr, "This session needs a technician's approval; you may not approve it yourself.\n");
  }
  endpoint::WaitResult waited;
  {
    // Ctrl-C, a kill or a closed terminal withdraws the request.
    const endpoint::InterruptGuard guard(endpoint::kWithdrawSignals);
    waited = endpoint::wait_for_decision(*client, std::move(*state), *wait_s, conv, guard);
  }
  switch (waited.end) {
    case endpoint::WaitResult::End::kInterrupted: {
      if (auto st = endpoint::cancel_request(args.socket, id); !st) return say_error(st.error());
      (void)std::fprintf(stderr, "%s\n", endpoint::cancelled_text(id).c_str());
      return kExitDeny;
    }
    case endpoint::WaitResult::End::kLost:
      (void)std::fprintf(stderr, "hoist: lost contact with hoist-agent (%s).\n%s\n",
                         printable(waited.error.message).c_str(), endpoint::pending_text(id).c_str());
      return kExitUnavailable;
    case endpoint::WaitResult::End::kApproved:
      (void)std::printf(
          "Temporary admin session approved%s%s, until %s (%s).\n"
          "Run commands with sudo; every process they start is recorded.\n",
          self_approved                   ? " by you"
          : waited.state.reviewer.empty() ? ""
                                          : " by ",
          self_approved ? "" : printable(waited.state.reviewer).c_str(),
          clock_time_in(waited.state.time_left_s).c_str(), endpoint::format_duration(waited.state.time_left_s).c_str());
      if (const auto shorter = endpoint::shortened_text(duration_s, waited.state.time_left_s); !shorter.empty()) {
        (void)std::printf("%s\n", shorter.c_str());
      }
      return kExitOk;
    case endpoint::WaitResult::End::kTimedOut:
      (void)std::fprintf(stderr, "%s\n", endpoint::pending_text(id).c_str());
      return kExitRequest;
    case endpoint::WaitResult::End::kClosed: break;
  }
  (void)std::fprintf(stderr, "%s\n", printable(endpoint::denied_request_text(waited.state, "")).c_str());
  return kExitDeny;
}

int status(const EndpointArgs& args) {
  auto client = connect(args.socket);
  if (!client) return say_error(client.error());
  if (!args.request_id.empty()) {
    auto s = client->wait(args.request_id, 0);
    if (!s) return say_error(s.error());
    (void)std::printf("Request %s: %s", s->request_id.c_str(), std::string(to_string(s->state)).c_str());
    if (!s->reviewer.empty()) (void)std::printf(" by %s", printable(s->reviewer).c_str());
    if (!s->comment.empty()) (void)std::printf(": %s", printable(s->comment).c_str());
    if (s->time_left_s > 0) {
      (void)std::printf(" (%s left, until %s)", endpoint::format_duration(s->time_left_s).c_str(),
                        clock_time_in(s->time_left_s).c_str());
    }
    (void)std::printf("\n");
    return s->state == RequestState::kApproved || s->state == RequestState::kActive ? kExitOk
           : s->state == RequestState::kPending                                     ? kExitRequest
                                                                                    : kExitDeny;
  }
  const std::uint32_t uid = ::getuid();
  auto listing = client->list(ipc::ListMessage{whoami(uid), uid, ::getgid(), ""});
  if (!listing) return say_error(listing.error());
  for (const auto& line : listing->lines) (void)std::printf("%s\n", printable(line).c_str());
  return kExitOk;
}

// Withdraws one of the caller's waiting requests (hoist-agent checks that
// it is theirs), as Ctrl-C does while `hoist elevate` or sudo waits.
int cancel(const EndpointArgs& args) {
  if (auto st = endpoint::cancel_request(args.socket, args.request_id); !st) return say_error(st.error());
  (void)std::fprintf(stderr, "%s\n", endpoint::cancelled_text(args.request_id).c_str());
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
    auto c = client->code_challenge(user, uid);
    if (!c) return say_error(c.error());
    challenge = c->challenge;
    if (args.new_challenge || !code.empty()) {
      (void)std::printf("%s\n", printable(c->challenge).c_str());
      (void)std::fprintf(stderr, "computer %s (%s); the challenge is good for %llu min\n", printable(c->host).c_str(),
                         printable(c->endpoint_id).c_str(), static_cast<unsigned long long>(c->expires_in_s / 60));
      if (args.new_challenge) return kExitOk;
    } else {
      (void)std::fprintf(stderr, "%s\n", printable_lines(endpoint::admin_code_instructions(*c)).c_str());
    }
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (code.empty()) {
      (void)std::fputs(std::string(endpoint::kAdminCodePrompt).c_str(), stderr);
      (void)std::fflush(stderr);
      auto line = read_line();
      if (!line || endpoint::trim(*line).empty()) {
        return say_error(invalid_argument("no admin code was entered"));
      }
      code = std::string(endpoint::trim(*line));
    }
    ipc::CodeRedeemMessage m;
    m.user = user;
    m.uid = uid;
    if (const char* tty = ::ttyname(STDIN_FILENO)) m.tty = tty;
    m.challenge = challenge;
    m.code = code;
    auto granted = client->code_redeem(m);
    if (granted.refused()) {
      const bool again = args.code.empty() && ::isatty(STDIN_FILENO) != 0 &&
                         granted.error().code != ErrorCode::kRateLimited && attempt < 2;
      if (!again) return say_error(granted.error());
      (void)std::fprintf(stderr, "Not accepted: %s.\n", printable(granted.error().message).c_str());
      code.clear();
      continue;
    }
    if (!granted) return say_error(granted.error());
    (void)std::printf("%s\nIt ends at %s (grant %s).\n",
                      printable(endpoint::admin_code_accepted_text(*granted)).c_str(),
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

  CLI::App* cancel_cmd = app.add_subcommand("cancel", "Withdraw a request of yours that waits for a decision");
  cancel_cmd->add_option("request", args->request_id, "the request id (as sudo or `hoist status` printed it)")
      ->required();
  cancel_cmd->add_option("--socket", args->socket, "hoist-agent's socket")->capture_default_str();
  cancel_cmd->callback([&run, args] { run = [args] { return cancel(*args); }; });
}

}  // namespace hoist::cli
