#include "core/grant.h"

namespace hoist {

std::string_view to_string(GrantKind kind) {
  switch (kind) {
    case GrantKind::kCommand: return "command";
    case GrantKind::kSession: return "session";
  }
  return "command";
}

std::string_view to_string(GrantOrigin origin) {
  switch (origin) {
    case GrantOrigin::kServer: return "server";
    case GrantOrigin::kOfflineCode: return "offline_code";
    case GrantOrigin::kBreakGlass: return "break_glass";
  }
  return "server";
}

bool covers(const Grant& g, const CommandLine& command) {
  if (g.kind == GrantKind::kSession) {
    return true;
  }
  if (g.scope.command_path.empty() || g.scope.command_path != command.exe.path) {
    return false;
  }
  if (g.scope.runas_user != command.runas.user || g.scope.runas_group != command.runas.group) return false;
  if (g.scope.sha256 && (!command.exe.sha256 || command.exe.sha256->hex() != *g.scope.sha256)) {
    return false;
  }
  // A code names only a command's path (docs/admin-codes.md): it allows
  // that command with any arguments.
  if (g.origin == GrantOrigin::kOfflineCode) return true;
  return g.scope.argv_patterns == command.args;
}

std::uint64_t seconds_left(const Grant& g, TimePoint now) {
  return g.deadline > now ? static_cast<std::uint64_t>((g.deadline - now).count()) : 0;
}

const Grant* session_in_force(const std::vector<Grant>& grants, TimePoint now) {
  for (const auto& g : grants) {
    if (g.kind == GrantKind::kSession && g.active_at(now)) return &g;
  }
  return nullptr;
}

const Grant* covering_grant(const std::vector<Grant>& grants, const CommandLine& command, TimePoint now) {
  const Grant* best = nullptr;
  for (const auto& g : grants) {
    if (g.active_at(now) && covers(g, command) && (best == nullptr || g.deadline > best->deadline)) {
      best = &g;
    }
  }
  return best;
}

}  // namespace hoist
