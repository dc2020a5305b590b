#include "agent/agent_metrics.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "ipc/messages.h"

namespace hoist::agent {

namespace {

constexpr std::string_view kOutcomes[] = {"allow", "deny", "request", "error"};

}  // namespace

AgentMetrics::AgentMetrics(AgentState& state)
    : checks_(registry_.counter("hoist_agent_checks_total",
                                "Commands sudo's plugin asked about, by the agent's answer: allow, deny, request "
                                "(approval needed) or error (the question was refused).",
                                {"outcome"})),
      submitted_(registry_.counter("hoist_agent_requests_submitted_total",
                                   "Elevation requests the agent submitted to hoistd and hoistd took, by kind: "
                                   "command (sudo) or session (hoist elevate).",
                                   {"kind"})),
      queued_(registry_.counter("hoist_agent_events_queued_total", "Events put in the agent's durable outbox.").get()),
      uploaded_(registry_
                    .counter("hoist_agent_events_uploaded_total",
                             "Events from the outbox that hoistd acknowledged (in its audit trail).")
                    .get()),
      quarantined_(registry_
                       .counter("hoist_agent_events_quarantined_total",
                                "Events hoistd refused for good, set aside in the quarantine (hoist-agent status "
                                "lists them).")
                       .get()) {
  for (const auto o : kOutcomes) (void)checks_.with({o});
  for (const auto k : {"command", "session"}) (void)submitted_.with({k});
  registry_.gauge_callback("hoist_agent_outbox_events", "Events in the outbox waiting to be uploaded to hoistd.",
                           [&state]() -> std::optional<double> {
                             auto n = state.pending_count();
                             if (!n) return std::nullopt;
                             return static_cast<double>(*n);
                           });
}

void AgentMetrics::count_exchange(const ipc::Fields& request, const ipc::Fields& reply) {
  const auto asked = ipc::message_type(request);
  const auto answered = ipc::message_type(reply);
  if (!asked) return;
  const bool refused = !answered || *answered == ipc::MessageType::kError;
  switch (*asked) {
    case ipc::MessageType::kCheck: {
      if (refused) {
        checks_.with({"error"}).inc();
        return;
      }
      const auto decision = ipc::decision_from(reply);
      checks_.with({decision ? to_string(decision->action) : std::string_view("error")}).inc();
      return;
    }
    case ipc::MessageType::kSubmit:
    case ipc::MessageType::kElevate:
      if (!refused) submitted_.with({*asked == ipc::MessageType::kSubmit ? "command" : "session"}).inc();
      return;
    default: return;
  }
}

Status write_textfile(const std::string& path, std::string_view text) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const std::string tmp = dir + "/." + name + ".tmp";
  const auto fail = [&](std::string_view step) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return unavailable(fmt::format("cannot write the metrics file {} ({}): {}", path, step, std::strerror(err)));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return fail("open");
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync");
  }
  if (::close(fd) != 0) return fail("close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  return {};
}

}  // namespace hoist::agent
