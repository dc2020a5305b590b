// `hoist-agent install-plugin` and `uninstall-plugin`: switch sudo between
// hoist_sudo.so and sudoers by editing /etc/sudo.conf (sudo_conf.h does
// the text; this does the checks and the file work).
//
// A broken sudo.conf locks every user out of sudo, root included, so:
// MUST: /etc/sudoers is never written; it is checked with `visudo -c -q`
// before every switch and a switch is refused while it is invalid (it is
// the way back when Hoist's plugin is removed).
// MUST: the new file is written beside the old one (same directory), owned
// by root with mode 0644, fsynced, and tried first: in a forked child with
// a private mount namespace it is bind-mounted over /etc/sudo.conf and
// `timeout 20 sudo -V` must exit 0 and show the expected policy plugin's
// version line. Only then is it renamed over the old file (and the
// directory fsynced). Every failure before the rename leaves the old file
// as it was and removes the candidate.
// MUST: install refuses when the endpoint is not enrolled, when the plugin
// .so (or a directory above it) is not root's or is writable by group or
// others (/tmp too), and when an
// option would not be accepted by hoist_sudo.so (the plugin would then deny
// every command but root's).
// MUST: the previous file is copied to the backup path (same rules: 0644,
// fsync, rename) before the switch, unless it already loads Hoist (the
// backup then keeps the file from before Hoist).
// Both are idempotent: a file that already says what is wanted is not
// written again.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"

namespace hoist::agent {

struct SudoTools {
  std::string timeout = "/usr/bin/timeout";
  std::string sudo = "/usr/bin/sudo";
  std::string visudo = "/usr/sbin/visudo";
  // What sudo reads; the candidate is bind-mounted here for the test.
  std::string system_sudo_conf = "/etc/sudo.conf";
};

struct InstallPluginOptions {
  std::string sudo_conf = "/etc/sudo.conf";  // the file to change
  std::string backup;                        // "" = <sudo_conf>.hoist-backup
  std::string plugin_path = "/usr/lib/hoist/hoist_sudo.so";
  std::string agent_socket = "/run/hoist/agent.sock";
  std::string break_glass_file;                    // "" = none
  std::vector<std::string> extra_options;          // further KEY=VALUE plugin options
  std::string state_dir = "/var/lib/hoist-agent";  // to check the enrolment
  SudoTools tools;
};

struct UninstallPluginOptions {
  std::string sudo_conf = "/etc/sudo.conf";
  std::string backup;  // "" = <sudo_conf>.hoist-backup (only named in the report)
  SudoTools tools;
};

// What was done, one line per step, to print. Fails closed: any error
// leaves sudo_conf untouched. InvalidArgument for a bad flag or a sudo.conf
// that cannot be read with certainty; NotFound when not enrolled;
// Unavailable or PermissionDenied for a failed check.
Result<std::string> install_plugin(const InstallPluginOptions& options);
Result<std::string> uninstall_plugin(const UninstallPluginOptions& options);

}  // namespace hoist::agent
