// Gathers the facts the core decides on for one executable: its real path,
// whether that path is trusted, its SHA-256 and its package. The descriptor
// that was hashed is kept open so the caller can execute exactly that inode
// (sudo's execfd), closing the swap-after-check window.
//
// MUST: the command is found through a fixed secure path, never the user's
// PATH. MUST: trusted_path is true only when the file and every directory up
// to / are owned by root and not writable by group or others.
#pragma once

#include <string>
#include <string_view>

#include "core/evaluator.h"
#include "platform/dpkg_database.h"
#include "platform/file_digest.h"
#include "platform/unique_fd.h"

namespace hoist::platform {

inline constexpr std::string_view kSecurePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct InspectedExecutable {
  Executable facts;
  UniqueFd fd;  // O_RDONLY on the inspected inode
  FileIdentity identity;
};

// Resolves a command as typed: a name without '/' is searched in
// secure_path; a relative path with '/' is refused (it depends on the cwd);
// an absolute path is taken as it is. Returns the first executable regular
// file found.
Result<std::string> resolve_command(std::string_view command, std::string_view secure_path = kSecurePath);

// True when every directory from `dir` up to / is owned by uid 0 and not
// writable by group or others.
bool directory_chain_trusted(const std::string& dir);

// The path a command found by resolve_command() runs under (see
// Executable::path): the real path when the name reaches a file of the same
// name, else the name's own path with its directories resolved (a link under
// another name: reboot -> systemctl), with the real path beside it and
// whether that link's directories are trusted. The caller opens real_path.
struct CommandPaths {
  std::string path;
  std::string real_path;  // realpath(); equal to path for a plain file
  // A link under another name: it, and every link it leads through to the
  // file, lie in trusted directories (never /proc), so nobody but root
  // decides which file the name reaches.
  bool link_trusted = true;
  [[nodiscard]] bool renamed() const { return path != real_path; }
};
Result<CommandPaths> command_paths(std::string_view resolved);

// One file named to sudoedit (sudo -e), as sudo will open it: `name`
// absolute, or relative to `cwd`. The directories are resolved (realpath),
// the name itself is not followed. NotFound when its directory does not
// exist; InvalidArgument for a name that is not a file's ("", ".", "..")
// or a file that exists and is neither a regular file nor a symlink.
Result<EditFile> inspect_edit_file(std::string_view cwd, std::string_view name);

class ExecutableInspector {
 public:
  // packages and cache may be null (no package facts / no caching).
  ExecutableInspector(PackageDatabase* packages, DigestCache* cache) : packages_(packages), cache_(cache) {}

  // Fails with NotFound for a missing file and InvalidArgument for a file
  // that is not a regular executable file.
  Result<InspectedExecutable> inspect(std::string_view path) const;

 private:
  PackageDatabase* packages_;
  DigestCache* cache_;
};

}  // namespace hoist::platform
