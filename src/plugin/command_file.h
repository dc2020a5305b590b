// The file sudo will run, and the files sudoedit will copy, as the plugin
// decides on them.
//
// MUST: the file judged is the file run: the descriptor opened here is the
// one sent to the agent and handed to sudo (execfd). MUST: for anyone but
// root the file is root-owned in root-owned directories, and a link under
// another name is taken only from trusted directories
// (platform::command_paths).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "platform/unique_fd.h"

namespace hoist::plugin {

// The command, found through the secure path, opened, and (require_trusted)
// checked to be a root-owned file in a trusted directory chain.
struct OpenedCommand {
  std::string path;       // the path it runs under (platform::command_paths)
  std::string real_path;  // the file's realpath
  bool link_trusted = true;
  platform::UniqueFd fd;  // the file at real_path
};
Result<OpenedCommand> open_command(std::string_view command, std::string_view secure_path, bool require_trusted);

// sudoedit's files as sudo will open them: absolute, their directories
// resolved (so the files decided on are the files sudo copies, whatever
// happens to the invoker's directories meanwhile).
Result<std::vector<std::string>> settle_edit_files(const std::vector<std::string>& files, const std::string& cwd);

}  // namespace hoist::plugin
