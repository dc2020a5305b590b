#include "plugin/command_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "platform/executable.h"

namespace hoist::plugin {

Result<OpenedCommand> open_command(std::string_view command, std::string_view secure_path, bool require_trusted) {
  auto resolved = platform::resolve_command(command, secure_path);
  if (!resolved) return resolved.error();
  // The path it runs under: the real path, or a link's under another name
  // (reboot -> systemctl), which argv[0] then carries.
  auto paths = platform::command_paths(*resolved);
  if (!paths) return paths.error();
  OpenedCommand out;
  out.path = paths->path;
  out.real_path = paths->real_path;
  out.link_trusted = paths->link_trusted;
  const std::string& real = paths->real_path;
  out.fd = platform::UniqueFd(::open(real.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK));
  if (!out.fd.valid()) return unavailable(real + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(out.fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
    return permission_denied(real + " is not an executable file");
  }
  if (require_trusted) {
    const auto slash = real.rfind('/');
    const std::string dir = slash == 0 ? std::string("/") : real.substr(0, slash);
    if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || !platform::directory_chain_trusted(dir)) {
      return permission_denied(real + " is not a root-owned file in root-owned directories; Hoist elevates only those");
    }
    if (!paths->link_trusted) {
      return permission_denied(out.path + " is a link to " + real +
                               " under another name, in a directory someone other than root can change; run " + real +
                               " by its own name");
    }
  }
  return out;
}

Result<std::vector<std::string>> settle_edit_files(const std::vector<std::string>& files, const std::string& cwd) {
  std::vector<std::string> out;
  for (const auto& name : files) {
    auto file = platform::inspect_edit_file(cwd, name);
    if (!file) return Error{file.error().code, "sudoedit " + name + ": " + file.error().message};
    out.push_back(std::move(file->path));
  }
  return out;
}

}  // namespace hoist::plugin
