#include "plugin/accounts.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace hoist::plugin {
namespace {

// getpwnam_r/getpwuid_r/getgrnam_r/getgrgid_r with a growing buffer.
template <class T, class F>
bool nss_lookup(T& out, std::vector<char>& buf, F&& call) {
  buf.resize(16384);
  for (;;) {
    T* found = nullptr;
    const int rc = call(&out, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (std::size_t{1} << 22)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    return rc == 0 && found != nullptr;
  }
}

std::optional<std::uint32_t> hash_id(std::string_view s) {
  if (s.size() < 2 || s.front() != '#' || s.size() > 11) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : s.substr(1)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= UINT32_MAX) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

}  // namespace

Result<TargetUser> lookup_target(const SudoSettings& s, const UserInfo& invoker) {
  passwd pw{};
  std::vector<char> buf;
  bool found = false;
  std::string who = s.runas_user;
  if (who.empty() && !s.runas_group.empty()) {
    found = nss_lookup(
        pw, buf, [&](passwd* p, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(invoker.uid, p, b, n, r); });
    who = invoker.user;
  } else {
    if (who.empty()) who = "root";
    if (auto uid = hash_id(who)) {
      found = nss_lookup(pw, buf,
                         [&](passwd* p, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(*uid, p, b, n, r); });
    } else {
      found = nss_lookup(pw, buf, [&](passwd* p, char* b, std::size_t n, passwd** r) {
        return ::getpwnam_r(who.c_str(), p, b, n, r);
      });
    }
  }
  if (!found) return permission_denied("unknown user " + who);
  TargetUser t;
  t.name = pw.pw_name;
  t.uid = pw.pw_uid;
  t.gid = pw.pw_gid;
  t.home = pw.pw_dir != nullptr ? pw.pw_dir : "";
  t.shell = pw.pw_shell != nullptr ? pw.pw_shell : "";
  int n = 64;
  std::vector<gid_t> gids(static_cast<std::size_t>(n));
  while (::getgrouplist(t.name.c_str(), t.gid, gids.data(), &n) < 0) {
    if (n > static_cast<int>(kMaxGroups)) return permission_denied(t.name + " is in too many groups");
    gids.resize(static_cast<std::size_t>(n) + 1);
    n = static_cast<int>(gids.size());
  }
  // Every group of the target, its primary one too: with -g the primary
  // group stays among the supplementary ones, as sudoers has it
  // (build_command_info puts the effective gid first and drops repeats).
  for (int i = 0; i < n; ++i) t.groups.push_back(gids[static_cast<std::size_t>(i)]);
  if (!s.runas_group.empty()) {
    group gr{};
    std::vector<char> gbuf;
    bool gfound = false;
    if (auto gid = hash_id(s.runas_group)) {
      gfound = nss_lookup(
          gr, gbuf, [&](group* g, char* b, std::size_t sz, group** r) { return ::getgrgid_r(*gid, g, b, sz, r); });
    } else {
      gfound = nss_lookup(gr, gbuf, [&](group* g, char* b, std::size_t sz, group** r) {
        return ::getgrnam_r(s.runas_group.c_str(), g, b, sz, r);
      });
    }
    if (!gfound) return permission_denied("unknown group " + s.runas_group);
    t.gid = gr.gr_gid;
    t.group = gr.gr_name;
  }
  return t;
}

namespace {

// One field of uid's passwd entry; "" when there is no entry or no field.
template <class Field>
std::string passwd_field(std::uint32_t uid, Field field) {
  passwd pw{};
  std::vector<char> buf;
  if (!nss_lookup(pw, buf,
                  [&](passwd* p, char* b, std::size_t n, passwd** r) { return ::getpwuid_r(uid, p, b, n, r); })) {
    return "";
  }
  const char* value = pw.*field;
  return value != nullptr ? value : "";
}

}  // namespace

std::string shell_of(std::uint32_t uid) {
  return passwd_field(uid, &passwd::pw_shell);
}

std::string home_of(std::uint32_t uid) {
  return passwd_field(uid, &passwd::pw_dir);
}

}  // namespace hoist::plugin
