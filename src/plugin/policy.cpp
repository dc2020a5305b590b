#include "plugin/policy.h"

#include <fcntl.h>
#include <limits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "endpoint/agent_connection.h"
#include "endpoint/approval.h"
#include "plugin/accounts.h"
#include "plugin/auth_log.h"
#include "plugin/break_glass.h"
#include "plugin/command_info.h"
#include "plugin/env_policy.h"
#include "plugin/timestamp.h"
#include "plugin/tracee.h"

namespace hoist::plugin {

using endpoint::AgentClient;

void Policy::open(OpenInput input) {
  if (input.settings) settings_ = std::move(*input.settings);
  if (input.user) user_ = std::move(*input.user);
  if (input.user_env) user_env_ = std::move(*input.user_env);
  options_ = std::move(input.options);
  if (input.options_error) {
    config_error_ = "the Hoist plugin is misconfigured in /etc/sudo.conf (" + input.options_error->message +
                    "); only root and break-glass users may elevate until an administrator fixes it";
    log_auth(LOG_ERR, config_error_);
  }
  const Error* bad = !input.settings   ? &input.settings.error()
                     : !input.user     ? &input.user.error()
                     : !input.user_env ? &input.user_env.error()
                                       : nullptr;
  if (bad != nullptr) {
    sudo_error_ = "sudo passed data Hoist cannot read: " + bad->message;
    log_auth(LOG_ERR, sudo_error_);
  } else {
    sudo_error_.clear();  // only now is user_.uid the invoker's (0 until then)
  }
  user_ok_ = input.user.ok();
}

Outcome Policy::check(const Result<std::vector<std::string_view>>& argv, int argc,
                      const Result<std::vector<EnvVar>>& env_add) {
  ++check_calls_;
  if (intercepting_ && check_calls_ > 1) return check_intercepted(argv, argc);
  if (check_calls_ > 1) return Outcome::error("check_policy was called twice without intercept");
  if (!sudo_error_.empty()) return Outcome::error(sudo_error_);
  if (!argv) return Outcome::from(argv.error());
  if (static_cast<std::size_t>(argc) != argv->size()) return Outcome::error("argc does not match argv");
  if (!env_add) return Outcome::from(env_add.error());
  env_add_ = *env_add;
  auto target = lookup_target(settings_, user_);
  if (!target) return Outcome::deny(target.error().message);
  target_ = std::move(*target);
  auto plan = plan_check_policy(settings_, *argv, target_, user_env_);
  if (!plan) return Outcome::from(plan.error());
  plan_ = std::move(*plan);
  const bool root = user_.uid == 0;
  const bool edit = plan_.mode == ipc::RunMode::kEdit;
  // The editor runs as the invoker, on copies: nothing to trust in it.
  auto cmd = open_command(plan_.command, options_.secure_path, !root && !edit);
  if (!cmd) return Outcome::deny(cmd.error().message);
  command_ = std::move(*cmd);
  if (edit) {
    auto files = settle_edit_files(plan_.edit_files, user_.cwd);
    if (!files) return Outcome::deny(files.error().message);
    plan_.edit_files = std::move(*files);
    plan_.argv.resize(1);
    plan_.argv.insert(plan_.argv.end(), plan_.edit_files.begin(), plan_.edit_files.end());
  } else if (plan_.mode != ipc::RunMode::kLoginShell) {
    // The program runs with the argv[0] decided on, never the name as
    // typed (a multi-call program acts on it).
    plan_.argv[0] = command_.path;
  }

  if (root) {
    log_auth(LOG_NOTICE, "root runs " + command_.path + " as " + target_.name + " without asking hoist-agent");
    ipc::DecisionMessage allow;
    allow.action = Action::kAllow;
    return finish(allow);
  }
  if (!config_error_.empty()) return agent_down(config_error_);

  auto context = make_context(user_, settings_, plan_, command_.path, &target_);
  if (!context) return Outcome::from(context.error());
  context_ = std::move(*context);
  auto agent = AgentClient::connect(options_.agent_socket);
  if (!agent) return agent_down(agent.error().message);
  agent_.emplace(std::move(*agent));
  auto decision = ask_check();
  if (!decision) {
    if (!decision.refused() && decision.error().code == ErrorCode::kUnavailable) {
      return agent_down(decision.error().message);
    }
    return Outcome::deny(decision.error().message);
  }
  switch (decision->action) {
    case Action::kAllow: return finish(*decision);
    case Action::kDeny: return Outcome::deny(endpoint::deny_text(*decision));
    case Action::kRequest: return request(*decision);
  }
  return Outcome::deny("hoist-agent sent an unknown decision");
}

Outcome Policy::list(const Result<std::vector<std::string_view>>& argv, int argc, const std::string& other) {
  if (!sudo_error_.empty()) return Outcome::error(sudo_error_);
  if (!argv || static_cast<std::size_t>(argc) != argv->size()) return Outcome::error("sudo passed a bad argv");
  auto plan = plan_list(settings_, *argv);
  if (!plan) return Outcome::from(plan.error());
  if (!other.empty() && other != user_.user && user_.uid != 0) {
    return Outcome::deny("only root may list what another user may run");
  }
  const bool root = user_.uid == 0;
  if (!config_error_.empty() && !root) return Outcome::deny(config_error_);
  if (plan->command.empty()) return list_all(other);

  auto cmd = open_command(plan->command, options_.secure_path, !root);
  if (!cmd) return Outcome::deny(cmd.error().message);
  if (root && other.empty()) {
    io_.info(cmd->path);
    return Outcome::allow();
  }
  if (!other.empty() && other != user_.user) return Outcome::deny("sudo -U with a command is not supported");
  auto target = lookup_target(settings_, user_);
  if (!target) return Outcome::deny(target.error().message);
  plan->argv[0] = cmd->path;
  auto context = make_context(user_, settings_, *plan, cmd->path, &*target);
  if (!context) return Outcome::from(context.error());
  context->mode = ipc::RunMode::kList;
  context->noninteractive = true;
  auto agent = AgentClient::connect(options_.agent_socket);
  if (!agent) return agent_unreachable(agent.error().message);
  auto decision = agent->check(*context, cmd->fd.get());
  if (!decision) {
    if (decision.lost()) return agent_unreachable(decision.error().message);
    return Outcome::deny(decision.error().message);
  }
  switch (decision->action) {
    case Action::kAllow: io_.info(cmd->path); return Outcome::allow();
    case Action::kRequest:
      io_.info(cmd->path + " needs approval" + (decision->rule.empty() ? "" : " (rule \"" + decision->rule + "\")") +
               "; run it with sudo to ask for it.");
      return Outcome::deny("");
    case Action::kDeny: return Outcome::deny(endpoint::deny_text(*decision));
  }
  return Outcome::deny("");
}

Outcome Policy::validate() {
  if (!sudo_error_.empty()) return Outcome::error(sudo_error_);
  if (user_.uid == 0) return Outcome::allow();
  if (auto st = authenticate(true); !st) return Outcome::deny(st.error().message);
  return Outcome::allow();
}

void Policy::invalidate() {
  if (!user_ok_) return;
  // -k and -K both drop every record of the user: nothing else is kept.
  if (auto st = TimestampStore(options_.timestamp_dir).remove_all(user_.uid); !st) {
    log_auth(LOG_INFO, "sudo -k: " + st.error().message);
  }
}

// pam_start for the session: reads the service's configuration and loads
// its modules, and runs none of them (so it tells nothing and changes
// nothing for a command that is then refused). check() runs it while
// hoist-agent decides; init_session() otherwise.
void Policy::start_pam(const std::string& target) {
  if (session_ && session_->started() && session_target_ == target) return;
  if (session_) session_->end();
  session_ = std::make_unique<PamSession>();
  session_target_ = target;
  const PamConfig config{options_.pam_service, options_.pam_confdir};
  if (!session_->start(config, target, user_.user, user_.tty, &io_)) session_.reset();
}

// check()'s allow came before the agent had recorded its event (run
// mode asks for that, to overlap the record with this PAM session): the
// command runs only once the agent says the event is recorded.
Status Policy::await_record() {
  if (!agent_ || !agent_->record_due()) return {};
  auto recorded = agent_->recorded();
  if (!intercepting_) agent_.reset();
  if (recorded) return {};
  log_auth(LOG_ERR, user_.user + " was allowed " + command_.path + ", but: " + recorded.error().message);
  if (recorded.refused()) return recorded.error();
  return unavailable("hoist-agent did not confirm that it recorded this decision (" + recorded.error().message +
                     "); nothing runs");
}

Outcome Policy::init_session(const std::optional<std::string>& target) {
  if (env_.empty() || !target) {
    if (auto st = await_record(); !st) return Outcome::error(st.error().message);
    return Outcome::allow();
  }
  start_pam(*target);
  Result<std::vector<std::string>> env =
      session_ ? session_->open_session()
               : Result<std::vector<std::string>>(
                     unavailable("PAM could not start (service \"" + options_.pam_service + "\")"));
  if (!env) {
    if (session_) session_->end();
    if (user_.uid == 0) {  // never lock root out over a PAM session module
      log_auth(LOG_WARNING, "PAM session for root failed: " + env.error().message);
      return Outcome::allow();
    }
    return Outcome::error(env.error().message);
  }
  std::vector<std::string> merged = env_;
  for (auto& entry : *env) {
    const auto eq = entry.find('=');
    if (eq == std::string::npos || eq == 0 || !valid_env_name(std::string_view(entry).substr(0, eq))) continue;
    if (entry.find("()", eq) != std::string::npos) continue;  // as env_policy: never a function definition
    const std::string prefix = entry.substr(0, eq + 1);
    const bool present = std::any_of(merged.begin(), merged.end(),
                                     [&](const std::string& m) { return m.compare(0, prefix.size(), prefix) == 0; });
    if (!present) merged.push_back(std::move(entry));
  }
  // The session overlapped the agent's record; now it must be there.
  if (auto st = await_record(); !st) {
    session_->end();
    return Outcome::error(st.error().message);
  }
  Outcome out = Outcome::allow();
  out.env = std::move(merged);
  return out;
}

void Policy::close() {
  if (session_) session_->end();
}

endpoint::Reply<ipc::DecisionMessage> Policy::ask_check() {
  // An edit is decided on its files: the editor's descriptor is not sent.
  const int fd = plan_.mode == ipc::RunMode::kEdit ? -1 : command_.fd.get();
  // PAM's start-up overlaps the agent's decision (about a millisecond
  // each; bench/endpoint_bench.cpp).
  // A command's event is recorded while sudo opens the PAM session
  // (init_session waits for it); an edit's before the answer, as sudo
  // copies the files before any session.
  return agent_->check(
      context_, fd, [this] { start_pam(target_.name); }, plan_.mode != ipc::RunMode::kEdit);
}

// Authenticates the invoker through PAM unless a fresh timestamp says it
// was done within kTimestampTimeout (allow_cached). Each success renews
// the record (unless sudo -N), as sudoers does.
Status Policy::authenticate(bool allow_cached) {
  auto key = timestamp_key(user_);
  const TimestampStore store(options_.timestamp_dir);
  const bool cached = allow_cached && !settings_.ignore_ticket && key && store.fresh(*key);
  if (!cached) {
    if (settings_.noninteractive || user_.tty.empty()) {
      return permission_denied("a password is required; run sudo from a terminal, without -n");
    }
    const PamConfig config{options_.pam_service, options_.pam_confdir};
    if (auto st = pam_authenticate_user(config, user_.user, user_.tty, io_); !st) {
      log_auth(LOG_NOTICE, user_.user + ": " + st.error().message);
      return st;
    }
  }
  if (key && settings_.update_ticket) {
    if (auto st = store.update(*key); !st) log_auth(LOG_INFO, "timestamp not saved: " + st.error().message);
  }
  return {};
}

Outcome Policy::finish(const ipc::DecisionMessage& decision) {
  if (decision.reauthenticate) {
    if (auto st = authenticate(true); !st) return Outcome::deny(st.error().message);
  }
  EnvRequest env;
  env.preserve_environment = settings_.preserve_environment;
  env.invoking_user = user_.user;
  env.invoking_uid = user_.uid;
  env.invoking_gid = user_.gid;
  env.invoking_home = home_of(user_.uid);
  env.target = target_;
  if (plan_.mode == ipc::RunMode::kEdit) {
    // The editor runs as the invoker, on copies: their own HOME, USER
    // and SHELL, so it finds their settings.
    env.target = TargetUser{user_.user, user_.uid, user_.gid, "", {}, env.invoking_home, shell_of(user_.uid)};
  }
  env.command = command_.path;
  if (plan_.argv.size() > 1) env.args.assign(plan_.argv.begin() + 1, plan_.argv.end());
  env.secure_path = options_.secure_path;
  auto environment = build_environment(env, user_env_, env_add_);
  if (!environment) return Outcome::from(environment.error());
  auto spec = make_command_spec(plan_, user_, target_, command_.path);
  if (!spec) return Outcome::from(spec.error());
  if (plan_.mode != ipc::RunMode::kEdit) spec->execfd = command_.fd.get();
  spec->timeout_s = decision.timeout_s;
  // sudoedit runs the editor as the user, not root: nothing to record.
  if (decision.record_processes && plan_.mode != ipc::RunMode::kEdit) spec->recording = Recording::kIntercept;
  auto info = build_command_info(*spec, api_);
  if (!info) return Outcome::from(info.error());
  auto exec = exec_argv(plan_);
  if (!exec) return Outcome::from(exec.error());
  if (spec->execfd) {
    // fexecve() of a script needs the descriptor to survive the exec
    // (the interpreter opens /dev/fd/N); sudo keeps it past closefrom.
    ::fcntl(command_.fd.get(), F_SETFD, 0);
  }
  env_ = *environment;
  Outcome out = Outcome::allow();
  out.launch = Launch{info->strings(), std::move(*exec), std::move(*environment)};
  intercepting_ = spec->recording == Recording::kIntercept;
  session_grant_ = intercepting_ ? decision.grant_id : std::string();
  // Intercept re-calls reuse the connection; otherwise do not hold one
  // open at the agent for as long as the command runs.
  if (!intercepting_ && !(agent_ && agent_->record_due())) agent_.reset();
  return out;
}

// Agent unreachable or misconfigured plugin: break-glass or deny.
// Break-glass only when nothing listens at the socket: a user can make
// an agent busy or slow (and fill its connection limits), never make it
// stop listening.
Outcome Policy::agent_down(const std::string& cause) {
  log_auth(LOG_WARNING, user_.user + " asked for " + command_.path + " but: " + cause);
  if (config_error_.empty() && endpoint::agent_listening(options_.agent_socket)) {
    return Outcome::deny(endpoint::agent_not_answering_message());
  }
  const std::string down = config_error_.empty() ? endpoint::agent_unreachable_message() : config_error_;
  if (options_.break_glass_file.empty()) return Outcome::deny(down);
  auto groups = read_break_glass_file(options_.break_glass_file);
  if (!groups) {
    log_auth(LOG_ERR, "break-glass file ignored: " + groups.error().message);
    return Outcome::deny(down);
  }
  std::vector<std::uint32_t> gids = user_.groups;
  gids.push_back(user_.gid);
  if (!member_of_any(*groups, gids)) return Outcome::deny(down);
  if (settings_.noninteractive || user_.tty.empty()) {
    return Outcome::deny(down + "\nBreak-glass needs your password: run sudo from a terminal, without -n.");
  }
  io_.info("hoist-agent cannot be reached. You may use break-glass access; it is logged and reported.");
  if (auto st = authenticate(false); !st) return Outcome::deny(st.error().message);
  ipc::Fields event;
  event.add_uint("v", ipc::kProtocolVersion).add("type", "break_glass");
  event.add_uint("time", static_cast<std::uint64_t>(::time(nullptr))).add("host", user_.host);
  event.add("user", user_.user).add_uint("uid", user_.uid).add_uint("gid", user_.gid);
  event.add("runas_user", target_.name).add_uint("runas_uid", target_.uid);
  event.add("command", command_.path).add_all("argv", plan_.argv);
  event.add("cwd", user_.cwd).add("tty", user_.tty).add_uint("pid", static_cast<std::uint64_t>(user_.pid));
  event.add("cause", cause.substr(0, ipc::kMaxTextBytes));
  auto written = write_spool_event(options_.spool_dir, event);
  if (!written) {
    log_auth(LOG_ERR, "break-glass refused, the event could not be spooled: " + written.error().message);
    return Outcome::deny("Break-glass could not be recorded (" + written.error().message + "); refused.");
  }
  log_auth(LOG_ALERT, "BREAK-GLASS: " + user_.user + " runs " + join_command(plan_.argv) + " as " + target_.name +
                          " (" + command_.path + "), event " + *written);
  ipc::DecisionMessage allow;
  allow.action = Action::kAllow;
  return finish(allow);
}

Outcome Policy::agent_unreachable(const std::string& cause) {
  log_auth(LOG_WARNING, "sudo -l: " + cause);
  return Outcome::deny(endpoint::agent_unreachable_message(options_.agent_socket));
}

Outcome Policy::cancel(const std::string& id) {
  agent_.reset();  // a wait reply may still be due on that connection
  if (auto st = endpoint::cancel_request(options_.agent_socket, id); !st) {
    return Outcome::deny("Could not withdraw request " + id + " (" + st.error().message +
                         "); it may still be approved. Check it with \"hoist status " + id + "\".");
  }
  log_auth(LOG_NOTICE, user_.user + " cancelled request " + id);
  return Outcome::deny(endpoint::cancelled_text(id));
}

Outcome Policy::list_all(const std::string& other) {
  auto agent = AgentClient::connect(options_.agent_socket);
  if (!agent) {
    if (user_.uid == 0) {
      io_.info("hoist-agent is not running; root may run any command.");
      return Outcome::allow();
    }
    return agent_unreachable(agent.error().message);
  }
  auto listing = agent->list(ipc::ListMessage{user_.user, user_.uid, user_.gid, other});
  if (!listing) {
    if (listing.refused()) return Outcome::deny(listing.error().message);
    return agent_unreachable(listing.error().message);
  }
  for (const auto& line : listing->lines) io_.info(line);
  return Outcome::allow();
}

// A check_policy() re-entered by intercept for an execve inside a
// recorded session: ask the agent (which records the process), never
// prompt. sudo has changed to the process's directory for a relative path.
Outcome Policy::check_intercepted(const Result<std::vector<std::string_view>>& argv, int argc) {
  if (!argv || argv->empty() || static_cast<std::size_t>(argc) != argv->size()) {
    return Outcome::deny("an intercepted command without argv");
  }
  const std::string exec_path((*argv)[0]);
  std::string path = exec_path;
  char cwd[PATH_MAX];
  const bool have_cwd = ::getcwd(cwd, sizeof cwd) != nullptr;
  if (path.empty()) return Outcome::deny("Hoist: an intercepted command without a path");
  if (path.front() != '/') {
    if (!have_cwd) return Outcome::deny("Hoist: " + path + ": cannot tell which directory it is in");
    path = std::string(cwd) + "/" + path;
  }
  auto cmd = open_command(path, options_.secure_path, false);
  if (!cmd) return Outcome::deny("Hoist: " + cmd.error().message);
  std::vector<std::string> exec_args(argv->begin(), argv->end());
  if (cmd->path != cmd->real_path && !cmd->link_trusted) {
    // A link under another name that the user could have made: it runs
    // as the file itself, so it cannot pick a personality a deny rule
    // forbids.
    cmd->path = cmd->real_path;
    exec_args[0] = cmd->real_path;
  }
  ipc::ExecMessage m;
  m.context = context_;
  m.context.command = cmd->path;
  m.context.argv = exec_args;
  m.context.cwd = have_cwd ? cwd : "";
  m.context.mode = ipc::RunMode::kRun;
  m.context.noninteractive = true;
  m.grant_id = session_grant_;
  if (auto caller = find_exec_caller(::getpid(), exec_path)) {
    m.pid = static_cast<std::uint32_t>(caller->pid);
    m.ppid = static_cast<std::uint32_t>(caller->ppid);
    m.exec_uid = caller->euid;
  }
  // The connection kept from the first call may have been closed by the
  // agent (idle): one more try on a fresh one.
  auto decision = endpoint::Reply<ipc::DecisionMessage>::lost(unavailable("not asked yet"));
  for (int attempt = 0; attempt < 2 && decision.lost(); ++attempt) {
    if (!agent_ || !agent_->connected()) {
      auto agent = AgentClient::connect(options_.agent_socket);
      if (!agent) return Outcome::deny("Hoist: " + endpoint::agent_unreachable_message(options_.agent_socket));
      agent_.emplace(std::move(*agent));
    }
    decision = agent_->exec(m, cmd->fd.get());
    if (decision.lost()) agent_.reset();
  }
  if (!decision) {
    if (decision.lost()) return Outcome::deny("Hoist: " + endpoint::agent_unreachable_message(options_.agent_socket));
    return Outcome::deny("Hoist: " + decision.error().message);
  }
  if (decision->action != Action::kAllow) return Outcome::deny("Hoist: " + cmd->path + ": " + decision->reason);
  auto info = build_intercept_command_info(cmd->path);
  if (!info) return Outcome::error(info.error().message);
  Outcome out = Outcome::allow();
  out.launch = Launch{info->strings(), std::move(exec_args), std::nullopt};
  return out;
}

}  // namespace hoist::plugin
