// Differential testing against sudoers: policies both can express, the same
// sudo command lines run by the same kind of user under (a) the system's
// sudoers.so with this test's sudoers file and (b) Hoist (the real hoistd,
// an enrolled hoist-agent, hoist_sudo.so), and the outcomes compared: run or
// refused, and for a run: exit status, argv, uid/euid/gid/egid,
// supplementary groups, cwd, umask, inherited descriptors and every
// environment variable (the probe, probe.cpp, reports them), the output of
// programs that are not the probe, and the content of a file sudoedit
// wrote back.
//
// Every difference is either in kKnownDifferences (each with its reason;
// mirrored in docs/sudo-plugin.md, "Differences from sudoers") or a
// failure. The table also states what sudoers does with each line, so a
// broken set-up (sudoers refusing everything) cannot pass unnoticed.
//
// Set-up, all removed afterwards: one user per policy pair (so one pair's
// rules never answer for another's lines), all in one supplementary group;
// a target user and a group for -u/-g; a root-owned directory under /run
// with the probe and links to it; a world-writable sticky directory under
// /tmp with links an ordinary user could have made. sudoers' file is
// bind-mounted over /etc/sudoers and sudo.conf over /etc/sudo.conf inside
// one private mount namespace per side; every line of every user runs in
// that one namespace (one `su` per user). Both sides use `sudo -n`:
// sudoers rules are NOPASSWD, Hoist's allow rules do not ask for a
// password, so a refusal is immediate on both.
//
// HOIST_DIFFERENTIAL_CASES=name,name runs only those policy pairs, and
// HOIST_DIFFERENTIAL_VERBOSE=1 prints both sides of every line (for
// debugging).
#include <fnmatch.h>

#include <cstdlib>
#include <regex>
#include <set>
#include <tuple>

#include "attacks/attack_support.h"
#include "plugin/sudo_args.h"

namespace hoist::testing::attacks {
namespace {

enum class Verdict { kRuns, kRefused };

std::string to_string(Verdict v) {
  return v == Verdict::kRuns ? "runs" : "refused";
}

// One command line, run as the pair's user: a shell fragment with {...}
// placeholders (see DifferentialTest::vars_); `clean` gives it a fixed
// environment.
struct Line {
  std::string name;
  std::string command;
  Verdict sudoers;  // what stock sudoers does with it (checked)
};

// A policy both can express: sudoers lines for the user {u}, and Hoist
// [[rule]] tables (the test adds each rule's name and users = ["{u}"]).
struct PolicyPair {
  std::string name;
  std::string sudoers;
  std::string hoist;
  std::vector<Line> lines;
};

// The editor of the sudoedit lines: the probe reports how it runs, then it
// appends a line to each file it is given.
constexpr std::string_view kEditor = R"sh(#!/bin/sh
{p} "$@"
for f in "$@"; do
  if [ -f "$f" ]; then echo "edited by $(id -u)" >> "$f"; fi
done
exit 0
)sh";

constexpr Verdict R = Verdict::kRuns;
constexpr Verdict X = Verdict::kRefused;

// The policy pairs. Placeholders: {u} the pair's user, {t} the target user
// (primary group {tg}, uid {tuid}), {g} a group for -g (gid {gid}), {d} the
// trusted directory, {p} the probe in it, {w} the world-writable directory,
// {notes} a root-owned file in {d}, {editor} the editor above,
// {sudo} = timeout + sudo, {timeout} = timeout.
std::vector<PolicyPair> policy_pairs() {
  return {
      {"plain",
       "{u} ALL=(root) NOPASSWD: {p}",
       R"([[rule]]
action = "allow"
path = "{p}"
)",
       {
           {"run", "clean {sudo} -n {p}", R},
           {"arguments", "clean {sudo} -n {p} a 'b c' '' '*' '$HOME'", R},
           {"u-root", "clean {sudo} -n -u root {p}", R},
           {"u-root-by-number", "clean {sudo} -n -u '#0' {p}", R},
           {"u-target", "clean {sudo} -n -u {t} {p}", X},
           {"u-self", "clean {sudo} -n -u {u} {p}", X},
           {"u-minus-one", "clean {sudo} -n -u '#-1' {p}", X},
           {"u-unknown-uid", "clean {sudo} -n -u '#77777' {p}", X},
           {"u-unknown-name", "clean {sudo} -n -u no-such-user-hoist {p}", X},
           {"g-group", "clean {sudo} -n -g {g} {p}", X},
           {"g-root", "clean {sudo} -n -g root {p}", X},
           {"u-root-g-root", "clean {sudo} -n -u root -g root {p}", R},
           {"trusted-link-other-name", "clean {sudo} -n {d}/alias", X},
           {"trusted-link-same-name", "clean {sudo} -n {d}/sub/probe", R},
           {"trusted-hard-link-other-name", "clean {sudo} -n {d}/hard", X},
           {"trusted-hard-link-same-name", "clean {sudo} -n {d}/h/probe", R},
           {"dot-spelling", "clean {sudo} -n {d}/./probe", R},
           {"double-slash-spelling", "clean {sudo} -n {d}//probe", R},
           {"dotdot-spelling", "clean {sudo} -n {d}/sub/../probe", R},
           {"relative-dot", "cd {d} && clean {sudo} -n ./probe", R},
           {"relative-dotdot", "cd {d}/sub && clean {sudo} -n ../probe", R},
           {"writable-dir-link-same-name", "clean {sudo} -n {w}/probe", R},
           {"writable-dir-link-other-name", "clean {sudo} -n {w}/other", X},
           {"name-only-in-users-path", "clean PATH={d}:/usr/bin:/bin {sudo} -n probe", X},
           {"cwd", "cd {d}/sub && clean {sudo} -n {p}", R},
           {"umask", "umask 077 && clean {sudo} -n {p}", R},
           {"umask-looser", "umask 000 && clean {sudo} -n {p}", R},
           {"H", "clean {sudo} -n -H {p}", R},
           {"P", "clean {sudo} -n -P {p}", R},
           {"E", "clean {sudo} -n -E {p}", X},
           {"preserve-env-term", "clean {sudo} -n --preserve-env=TERM {p}", R},
           {"preserve-env-ls-colors", "clean {sudo} -n --preserve-env=LS_COLORS {p}", R},
           {"var-term", "clean {sudo} -n TERM=vt100 {p}", R},
           {"var-lang", "clean {sudo} -n LANG=C LC_ALL=C.UTF-8 {p}", R},
           {"var-tz", "clean {sudo} -n TZ=Europe/Paris {p}", R},
           {"var-tz-zoneinfo-path", "clean {sudo} -n TZ=/usr/share/zoneinfo/UTC {p}", R},
           {"var-tz-other-path", "clean {sudo} -n TZ=/etc/passwd {p}", X},
           {"var-display-xauthority", "clean {sudo} -n DISPLAY=:1 XAUTHORITY=/tmp/x {p}", R},
           {"var-ls-colors", "clean {sudo} -n LS_COLORS=di=35 {p}", R},
           {"var-ps1", "clean {sudo} -n 'PS1=# ' {p}", R},
           {"var-unlisted", "clean {sudo} -n FOO=bar {p}", X},
           {"var-ld-preload", "clean {sudo} -n LD_PRELOAD=/nonexistent/x.so {p}", X},
           {"var-path", "clean {sudo} -n PATH=/tmp {p}", X},
           {"var-home", "clean {sudo} -n HOME=/tmp {p}", X},
           {"var-lang-with-slash", "clean {sudo} -n LANG=../x {p}", X},
           {"var-sudo-user", "clean {sudo} -n SUDO_USER=root {p}", X},
           {"var-shell", "clean {sudo} -n SHELL=/tmp/x {p}", X},
           {"var-term-function", "clean {sudo} -n 'TERM=() { :; }' {p}", X},
           {"C", "clean {sudo} -n -C 5 {p}", X},
           {"T", "clean {sudo} -n -T 5 {p}", X},
           {"D", "clean {sudo} -n -D /tmp {p}", X},
           {"D-current-directory", "clean {sudo} -n -D / {p}", R},
           {"R", "clean {sudo} -n -R / {p}", X},
           {"r-role", "clean {sudo} -n -r sysadm_r {p}", R},
           {"t-type", "clean {sudo} -n -t sysadm_t {p}", R},
           {"h-host", "clean {sudo} -n -h otherhost {p}", X},
           {"S", "clean {sudo} -n -S {p}", R},
           {"A", "clean SUDO_ASKPASS=/bin/false {sudo} -n -A {p}", R},
           {"p", "clean {sudo} -n -p 'pw: ' {p}", R},
           {"N", "clean {sudo} -n -N {p}", R},
           {"k", "clean {sudo} -n -k {p}", R},
           {"dashdash", "clean {sudo} -n -- {p} -u nobody", R},
           {"s-probe-as-shell", "clean SHELL={p} {sudo} -n -s", R},
           {"s-probe-as-shell-command", "clean SHELL={p} {sudo} -n -s a 'b c' 'd$e'", R},
           {"implied-shell", "clean SHELL={p} {sudo} -n", X},
           {"i", "clean {sudo} -n -i", X},
           {"i-command", "clean {sudo} -n -i {p}", X},
           {"l-command", "clean {sudo} -n -l {p}", R},
           {"l-command-link-same-name", "clean {sudo} -n -l {d}/sub/probe", R},
           {"l-command-link-other-name", "clean {sudo} -n -l {d}/alias", X},
           {"l-U-root", "clean {sudo} -n -l -U root", X},
           {"v", "clean {sudo} -n -v", R},
           {"sudoedit-without-edit-rule", "clean SUDO_EDITOR={editor} {sudo} -n -e {notes}", X},
       }},

      {"args-exact",
       "{u} ALL=(root) NOPASSWD: {p} status cron",
       R"([[rule]]
action = "allow"
path = "{p}"
args = ["status", "cron"]
)",
       {
           {"exact", "clean {sudo} -n {p} status cron", R},
           {"fewer", "clean {sudo} -n {p} status", X},
           {"more", "clean {sudo} -n {p} status cron x", X},
           {"none", "clean {sudo} -n {p}", X},
           {"joined-into-one-argument", "clean {sudo} -n {p} 'status cron'", R},
           {"trailing-blank", "clean {sudo} -n {p} status 'cron '", X},
           {"other-verb", "clean {sudo} -n {p} stop cron", X},
           {"trusted-link-same-name", "clean {sudo} -n {d}/sub/probe status cron", R},
           {"trusted-link-other-name", "clean {sudo} -n {d}/alias status cron", X},
           {"l-allowed", "clean {sudo} -n -l {p} status cron", R},
           {"l-refused", "clean {sudo} -n -l {p} stop cron", X},
       }},

      {"args-none",
       "{u} ALL=(root) NOPASSWD: {p} \"\"",
       R"([[rule]]
action = "allow"
path = "{p}"
args = []
)",
       {
           {"none", "clean {sudo} -n {p}", R},
           {"one", "clean {sudo} -n {p} x", X},
           {"one-empty", "clean {sudo} -n {p} ''", X},
       }},

      {"args-wildcard",
       "{u} ALL=(root) NOPASSWD: {p} status *",
       R"([[rule]]
action = "allow"
path = "{p}"
args = ["status", "*", "..."]
)",
       {
           {"one-more", "clean {sudo} -n {p} status cron", R},
           {"two-more", "clean {sudo} -n {p} status a b", R},
           {"empty-more", "clean {sudo} -n {p} status ''", R},
           {"star", "clean {sudo} -n {p} status '*'", R},
           {"slash", "clean {sudo} -n {p} status /etc/shadow", R},
           {"only-the-verb", "clean {sudo} -n {p} status", X},
           {"other-verb", "clean {sudo} -n {p} stop cron", X},
           {"prefix-of-the-verb", "clean {sudo} -n {p} statusx cron", X},
           {"joined-into-one-argument", "clean {sudo} -n {p} 'status cron'", R},
       }},

      {"runas-user",
       "{u} ALL=({t}) NOPASSWD: {p}",
       R"([[rule]]
action = "allow"
path = "{p}"
runas = ["{t}"]
)",
       {
           {"u-target", "clean {sudo} -n -u {t} {p}", R},
           {"u-target-by-number", "clean {sudo} -n -u '#{tuid}' {p}", R},
           {"no-u", "clean {sudo} -n {p}", X},
           {"u-root", "clean {sudo} -n -u root {p}", X},
           {"u-self", "clean {sudo} -n -u {u} {p}", X},
           {"u-target-g-own-group", "clean {sudo} -n -u {t} -g {tg} {p}", R},
           {"u-target-g-other-group", "clean {sudo} -n -u {t} -g {g} {p}", X},
           {"g-only", "clean {sudo} -n -g {tg} {p}", X},
           {"u-target-H", "clean {sudo} -n -u {t} -H {p}", R},
           {"u-target-P", "clean {sudo} -n -u {t} -P {p}", R},
           {"u-target-cwd", "cd {d}/sub && clean {sudo} -n -u {t} {p}", R},
           {"u-target-umask", "umask 077 && clean {sudo} -n -u {t} {p}", R},
           {"u-target-s", "clean SHELL={p} {sudo} -n -u {t} -s", R},
           {"u-target-i", "clean {sudo} -n -u {t} -i", X},
           {"l-u-target", "clean {sudo} -n -l -u {t} {p}", R},
           {"l-no-u", "clean {sudo} -n -l {p}", X},
       }},

      {"runas-all",
       "{u} ALL=(ALL) NOPASSWD: {p}",
       R"([[rule]]
action = "allow"
path = "{p}"
runas = ["*"]
)",
       {
           {"no-u", "clean {sudo} -n {p}", R},
           {"u-root", "clean {sudo} -n -u root {p}", R},
           {"u-target", "clean {sudo} -n -u {t} {p}", R},
           {"u-self", "clean {sudo} -n -u {u} {p}", R},
           {"u-nobody", "clean {sudo} -n -u nobody {p}", R},
           {"u-minus-one", "clean {sudo} -n -u '#-1' {p}", X},
           {"u-uid-max", "clean {sudo} -n -u '#4294967295' {p}", X},
           {"u-unknown-uid", "clean {sudo} -n -u '#77777' {p}", X},
           {"g-group", "clean {sudo} -n -g {g} {p}", X},
           {"u-target-g-group", "clean {sudo} -n -u {t} -g {g} {p}", X},
           {"u-target-g-own-group", "clean {sudo} -n -u {t} -g {tg} {p}", R},
       }},

      {"runas-two",
       "{u} ALL=(root, {t}) NOPASSWD: {p}",
       R"([[rule]]
action = "allow"
path = "{p}"
runas = ["root", "{t}"]
)",
       {
           {"no-u", "clean {sudo} -n {p}", R},
           {"u-target", "clean {sudo} -n -u {t} {p}", R},
           {"u-nobody", "clean {sudo} -n -u nobody {p}", X},
           {"u-self", "clean {sudo} -n -u {u} {p}", X},
       }},

      {"runas-group",
       "{u} ALL=(root:{g}) NOPASSWD: {p}",
       R"([[rule]]
action = "allow"
path = "{p}"
runas = ["root"]
runas_groups = ["{g}"]
)",
       {
           {"g-group", "clean {sudo} -n -g {g} {p}", R},
           {"g-group-by-number", "clean {sudo} -n -g '#{gid}' {p}", R},
           {"u-root-g-group", "clean {sudo} -n -u root -g {g} {p}", R},
           {"no-u-no-g", "clean {sudo} -n {p}", R},
           {"g-root", "clean {sudo} -n -g root {p}", X},
           {"u-root-g-root", "clean {sudo} -n -u root -g root {p}", R},
           {"u-self-g-group", "clean {sudo} -n -u {u} -g {g} {p}", R},
           {"u-target-g-group", "clean {sudo} -n -u {t} -g {g} {p}", X},
           {"g-group-i", "clean {sudo} -n -g {g} -i", X},
           {"g-group-cwd", "cd {d}/sub && clean {sudo} -n -g {g} {p}", R},
           {"l-g-group", "clean {sudo} -n -l -g {g} {p}", R},
       }},

      {"group-only",
       "{u} ALL=(:{g}) NOPASSWD: {p}",
       R"([[rule]]
action = "allow"
path = "{p}"
runas_groups = ["{g}"]
)",
       {
           {"g-group", "clean {sudo} -n -g {g} {p}", R},
           {"u-self-g-group", "clean {sudo} -n -u {u} -g {g} {p}", R},
           {"no-u-no-g", "clean {sudo} -n {p}", X},
           {"u-root-g-group", "clean {sudo} -n -u root -g {g} {p}", X},
           {"g-root", "clean {sudo} -n -g root {p}", X},
       }},

      // The same sudoers rule, with the user named as the only target: the
      // exact equivalent for a rule naming one user.
      {"group-only-as-self",
       "{u} ALL=(:{g}) NOPASSWD: {p}",
       R"([[rule]]
action = "allow"
path = "{p}"
runas = ["{u}"]
runas_groups = ["{g}"]
)",
       {
           {"g-group", "clean {sudo} -n -g {g} {p}", R},
           {"u-self-g-group", "clean {sudo} -n -u {u} -g {g} {p}", R},
           {"no-u-no-g", "clean {sudo} -n {p}", X},
           {"u-root-g-group", "clean {sudo} -n -u root -g {g} {p}", X},
           {"g-root", "clean {sudo} -n -g root {p}", X},
       }},

      {"deny-in-directory",
       "{u} ALL=(root) NOPASSWD: {d}/, !{p}",
       R"([[rule]]
action = "allow"
path_glob = "{d}/*"

[[rule]]
action = "deny"
path = "{p}"
)",
       {
           {"denied", "clean {sudo} -n {p}", X},
           {"other-file", "clean {sudo} -n {d}/editor.sh", R},
           {"trusted-link-other-name", "clean {sudo} -n {d}/alias", R},
           {"trusted-link-same-name-below", "clean {sudo} -n {d}/sub/probe", X},
           {"trusted-hard-link-other-name", "clean {sudo} -n {d}/hard", R},
           {"trusted-hard-link-same-name-below", "clean {sudo} -n {d}/h/probe", X},
           {"dot-spelling", "clean {sudo} -n {d}/./probe", X},
       }},

      {"any-command-but-shred",
       "{u} ALL=(root) NOPASSWD: ALL, !/usr/bin/shred",
       R"([[rule]]
action = "allow"
any_command = true

[[rule]]
action = "deny"
path = "/usr/bin/shred"
)",
       {
           {"probe", "clean {sudo} -n {p} x", R},
           {"id", "clean {sudo} -n id", R},
           {"denied", "clean {sudo} -n /usr/bin/shred --version", X},
           {"denied-by-name", "clean {sudo} -n shred --version", X},
           {"writable-dir-link-same-name", "clean {sudo} -n {w}/shred --version", X},
           {"writable-dir-link-other-name", "clean {sudo} -n {w}/wipe --version", R},
           {"trusted-link-other-name", "clean {sudo} -n {d}/shred-alias --version", R},
           {"s-probe-as-shell", "clean SHELL={p} {sudo} -n -s x", R},
           {"u-target", "clean {sudo} -n -u {t} {p}", X},
       }},

      {"sudoedit",
       "{u} ALL=(root) NOPASSWD: sudoedit {notes}",
       R"([[rule]]
action = "allow"
edit = ["{notes}"]
)",
       {
           {"e", "clean SUDO_EDITOR={editor} {sudo} -n -e {notes}", R},
           {"sudoedit-editor", "clean EDITOR={editor} {timeout} sudoedit -n {notes}", R},
           {"visual", "clean VISUAL={editor} {sudo} -n -e {notes}", R},
           {"editor-with-arguments", "clean SUDO_EDITOR='{editor} -x y' {sudo} -n -e {notes}", R},
           {"editor-in-writable-dir", "clean SUDO_EDITOR={w}/editor.sh {sudo} -n -e {notes}", R},
           {"other-file", "clean SUDO_EDITOR={editor} {sudo} -n -e {d}/other-notes", X},
           {"named-and-other-file", "clean SUDO_EDITOR={editor} {sudo} -n -e {notes} {d}/other-notes", X},
           {"relative", "cd {d} && clean SUDO_EDITOR={editor} {sudo} -n -e notes", X},
           {"dot-spelling", "clean SUDO_EDITOR={editor} {sudo} -n -e {d}/./notes", X},
           {"as-target", "clean SUDO_EDITOR={editor} {sudo} -n -u {t} -e {notes}", X},
           {"run-instead", "clean {sudo} -n {p}", X},
           {"l-sudoedit", "clean {sudo} -n -l sudoedit {notes}", X},
       }},

      {"shell",
       "{u} ALL=(root) NOPASSWD: /usr/bin/sh",
       R"([[rule]]
action = "allow"
path = "/usr/bin/sh"
)",
       {
           {"s-usr-bin-sh", "clean SHELL=/usr/bin/sh {sudo} -n -s {p}", R},
           {"s-bin-sh", "clean SHELL=/bin/sh {sudo} -n -s {p}", R},
           {"by-path", "clean {sudo} -n /usr/bin/sh -c {p}", R},
           {"by-name", "clean {sudo} -n sh -c {p}", R},
           {"real-program", "clean {sudo} -n /usr/bin/dash -c {p}", X},
           {"i", "clean {sudo} -n -i {p}", X},
       }},

      {"login-shell-of-target",
       "{u} ALL=({t}) NOPASSWD: /usr/bin/sh",
       R"([[rule]]
action = "allow"
path = "/usr/bin/sh"
runas = ["{t}"]
)",
       {
           {"i-command", "clean {sudo} -n -u {t} -i {p}", R},
           {"s-command", "clean SHELL=/bin/sh {sudo} -n -u {t} -s {p}", R},
           {"i-as-root", "clean {sudo} -n -i {p}", X},
       }},
  };
}

// A difference sudoers and Hoist are known to have, and why Hoist's side is
// safe. `aspect` is an aspect's name, or a prefix ending in '*' ("env:*");
// `lines` ("pair/line") is an fnmatch(3) pattern;
// `hoist`, when not empty, is a pattern Hoist's value must match for the
// difference to count as this one (so the row pins what Hoist does).
struct KnownDifference {
  std::string aspect;
  std::string lines;
  std::string hoist;
  std::string reason;
};

// Mirrored in docs/sudo-plugin.md, "Differences from sudoers".
const std::vector<KnownDifference>& known_differences() {
  static const std::vector<KnownDifference> kTable = {
      {"argv[0]", "*", "/*",
       "argv[0]: sudoers passes the name as typed (./probe, a link, /./); Hoist passes the path it decided on: the "
       "real path, or the path of a trusted link with another name (the program then behaves as what was checked)"},
      {"env:SUDO_COMMAND", "*", "/*", "SUDO_COMMAND names the command Hoist decided on (as argv[0])"},
      {"env:SUDO_HOME", "*", "/home/*",
       "Hoist adds SUDO_HOME (the invoker's home), as sudo 1.9.16 does; sudo 1.9.13's sudoers does not"},
      {"env:LS_COLORS", "*", "<unset>",
       "sudoers' default env_keep has COLORS, DISPLAY, HOSTNAME, KRB5CCNAME, LS_COLORS, PS1, PS2, XAUTHORIZATION, "
       "XDG_CURRENT_DESKTOP; Hoist keeps a shorter fixed list: a prompt, colour or ticket variable of the invoker's "
       "is not needed by a root command"},
      {"env:PS1", "*", "<unset>", "as LS_COLORS"},
      {"env:PS2", "*", "<unset>", "as LS_COLORS"},
      {"env:COLORS", "*", "<unset>", "as LS_COLORS"},
      {"env:HOSTNAME", "*", "<unset>", "as LS_COLORS"},
      {"env:KRB5CCNAME", "*", "<unset>", "as LS_COLORS: the invoker's Kerberos ticket is not handed to root"},
      {"env:XAUTHORIZATION", "*", "<unset>", "as LS_COLORS"},
      {"env:XDG_CURRENT_DESKTOP", "*", "<unset>", "as LS_COLORS"},
      {"outcome", "*/preserve-env-ls-colors", "refused",
       "-E=VAR and VAR=value may only name variables Hoist would keep (LS_COLORS, PS1: see above)"},
      {"outcome", "*/var-ls-colors", "refused", "as preserve-env-ls-colors"},
      {"outcome", "*/var-ps1", "refused", "as preserve-env-ls-colors"},
      {"fds", "*", "*:*",
       "Hoist runs the checked file through execfd (fexecve of the descriptor it hashed): the command inherits a "
       "read-only descriptor of its own executable, as with sudoers' fdexec=always"},
      {"outcome", "*/relative-*", "refused",
       "Hoist runs only absolute paths (./x and ../x are refused, for root too); sudoers resolves them against the "
       "invoker's directory"},
      {"outcome", "*/trusted-hard-link-same-name", "refused",
       "sudoers matches a command by base name and inode, so a hard link with the same name anywhere matches; "
       "Hoist's path rules match the path (a sha256 rule matches every copy)"},
      {"outcome", "*/P", "refused", "-P (keep the invoker's groups) is refused: the command runs with the target's"},
      {"outcome", "*/u-target-P", "refused", "as P"},
      {"outcome", "*/D-current-directory", "refused",
       "-D is refused, even when it names the directory sudo runs in (sudoers allows that one without runcwd)"},
      {"env:SHELL", "*/*s-probe-as-shell*", "/bin/*",
       "sudo -s: sudoers leaves SHELL as the invoker's $SHELL (the shell it runs); Hoist sets the target's passwd "
       "shell, as for every command: the invoker's choice does not reach the programs the shell starts"},
      {"env:SHELL", "*/u-target-s", "/bin/*", "as s-probe-as-shell"},
      {"env:SHELL", "shell/s-*", "/bin/*", "as s-probe-as-shell"},
      {"outcome", "deny-in-directory/trusted-link-other-name", "refused",
       "a deny rule holds for the program whatever name reaches it: a root-owned link with another name to a denied "
       "program is refused; sudoers compares base names, so `!/usr/bin/shred` does not stop a link named otherwise"},
      {"outcome", "any-command-but-shred/trusted-link-other-name", "refused", "as deny-in-directory"},
      {"outcome", "sudoedit/relative", "runs",
       "sudoedit: Hoist matches each file by its absolute path with its directories resolved, and hands sudo that "
       "path, so `notes` typed in its directory and `/dir/./notes` are the named file; sudoers compares the "
       "arguments as strings. The file edited is the one the rule names"},
      {"outcome", "sudoedit/dot-spelling", "runs", "as sudoedit/relative"},
      {"env:*", "sudoedit/*", "",
       "sudoedit's editor runs as the invoker on copies: sudoers gives it the invoker's own environment, Hoist the "
       "one it builds for the target (HOME=/root, USER=root, ...); either way nothing runs elevated"},
      {"outcome", "*/C", "runs",
       "-C N is accepted and ignored: Hoist always sets closefrom=3, which closes at least as much as sudoers "
       "(which refuses -C unless closefrom_override)"},
      {"outcome", "*/r-role", "refused",
       "SELinux role/type (-r, -t) are refused; sudoers ignores them without SELinux"},
      {"outcome", "*/t-type", "refused", "as r-role"},
      {"outcome", "*/joined-into-one-argument", "refused",
       "sudoers compares the arguments joined by blanks, so one argument \"status cron\" matches `status cron`; "
       "Hoist compares argument by argument"},
      {"outcome", "*/v", "refused",
       "sudo -v: sudoers needs no password when every rule is NOPASSWD; Hoist's -v always authenticates (it "
       "refreshes the timestamp and grants nothing), and -n forbids asking"},
      {"stdout", "*/l-*", "/*",
       "sudo -l CMD prints the path Hoist decided on (not the name typed), without the arguments"},
      {"outcome", "*/implied-shell", "runs",
       "`sudo` without a command runs $SHELL like `sudo -s` (judged as any command); sudoers prints its usage "
       "unless shell_noargs is set"},
      {"outcome", "*/writable-dir-link-other-name", "refused",
       "a link with another name in a directory others can write is refused (the name would change what a "
       "multi-call program does); sudoers compares base names, and with `ALL, !/usr/bin/shred` even runs the "
       "denied program through such a link"},
  };
  return kTable;
}

struct Side {
  StepResult step;
  std::vector<ProbeReport> reports;  // probe reports (at most one expected)
  [[nodiscard]] Verdict verdict() const { return step.status == 0 || !reports.empty() ? R : X; }
};

struct Difference {
  std::string aspect, sudoers, hoist;
};

// sudoedit's temporary files are /var/tmp/NAME.XXXXXXXX (random).
std::string without_temp_names(const std::string& s) {
  static const std::regex kTemp("(/var/tmp/[^ /]*\\.)[A-Za-z0-9]{8}");
  return std::regex_replace(s, kTemp, "$1XXXXXXXX");
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::vector<Difference> compare(const Side& a, const Side& b) {
  std::vector<Difference> d;
  auto add = [&](const std::string& aspect, const std::string& x, const std::string& y) {
    const std::string nx = without_temp_names(x);
    const std::string ny = without_temp_names(y);
    if (nx != ny) d.push_back({aspect, nx, ny});
  };
  add("outcome", to_string(a.verdict()), to_string(b.verdict()));
  if (a.verdict() != R || b.verdict() != R) return d;
  add("status", std::to_string(a.step.status), std::to_string(b.step.status));
  add("probe-reports", std::to_string(a.reports.size()), std::to_string(b.reports.size()));
  if (a.reports.empty() || b.reports.empty()) {
    add("stdout", a.step.out, b.step.out);
    return d;
  }
  const ProbeReport& x = a.reports.front();
  const ProbeReport& y = b.reports.front();
  add("argc", std::to_string(x.argv.size()), std::to_string(y.argv.size()));
  for (std::size_t i = 0; i < std::max(x.argv.size(), y.argv.size()); ++i) {
    add("argv[" + std::to_string(i) + "]", i < x.argv.size() ? x.argv[i] : "<none>",
        i < y.argv.size() ? y.argv[i] : "<none>");
  }
  add("uid", std::to_string(x.uid), std::to_string(y.uid));
  add("euid", std::to_string(x.euid), std::to_string(y.euid));
  add("gid", std::to_string(x.gid), std::to_string(y.gid));
  add("egid", std::to_string(x.egid), std::to_string(y.egid));
  add("groups", x.groups, y.groups);
  add("cwd", x.cwd, y.cwd);
  add("umask", x.umask, y.umask);
  add("fds", join(x.fds), join(y.fds));
  std::set<std::string> names;
  for (const auto& [k, v] : x.env) names.insert(k);
  for (const auto& [k, v] : y.env) names.insert(k);
  for (const auto& n : names) add("env:" + n, x.env_or(n), y.env_or(n));
  return d;
}

bool matches(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

// Aspects hold brackets (argv[0]): matched literally except for '*'.
bool aspect_matches(const std::string& pattern, const std::string& aspect) {
  if (!pattern.ends_with('*')) return pattern == aspect;
  return aspect.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
}

const KnownDifference* known(const std::string& line, const Difference& diff) {
  for (const auto& k : known_differences()) {
    if (aspect_matches(k.aspect, diff.aspect) && matches(k.lines, line) &&
        (k.hoist.empty() || matches(k.hoist, diff.hoist))) {
      return &k;
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------

class DifferentialTest : public AgentE2E {
 protected:
  [[nodiscard]] std::string policy_text() const override { return hoist_policy_; }

  void SetUp() override {
    if (!real_sudo_possible()) GTEST_SKIP() << kRealSudoSkip;
    pairs_ = policy_pairs();
    if (const char* only = std::getenv("HOIST_DIFFERENTIAL_CASES")) {
      const std::string wanted = std::string(",") + only + ",";
      std::erase_if(pairs_, [&](const PolicyPair& p) { return wanted.find("," + p.name + ",") == std::string::npos; });
    }
    shared_.emplace("-s");
    runas_group_.emplace("-g");
    ASSERT_TRUE(shared_->ok() && runas_group_->ok()) << "cannot create the test groups";
    target_.emplace("-t", shared_->name());
    ASSERT_TRUE(target_->ok()) << "cannot create the target user";
    trusted_.emplace("/run", "-trusted", 0, 0, 0755);
    writable_.emplace("/tmp", "-writable", 0, 0, 01777);
    ASSERT_TRUE(trusted_->ok() && writable_->ok()) << "cannot make the test directories";
    const TestDir& d = *trusted_;
    const TestDir& w = *writable_;
    const group* tg = ::getgrgid(target_->gid());
    ASSERT_NE(tg, nullptr);
    vars_ = {{"t", target_->name()},
             {"tuid", std::to_string(target_->uid())},
             {"tg", tg->gr_name},
             {"g", runas_group_->name()},
             {"gid", std::to_string(runas_group_->gid())},
             {"d", d.path()},
             {"p", d / "probe"},
             {"w", w.path()},
             {"notes", d / "notes"},
             {"editor", d / "editor.sh"},
             {"sudo", "/usr/bin/timeout 10 /usr/bin/sudo"},
             {"timeout", "/usr/bin/timeout 10"}};

    ASSERT_TRUE(install_probe(d));
    ASSERT_TRUE(d.symlink(d / "probe", "alias"));
    ASSERT_TRUE(d.hardlink("probe", "hard"));
    ASSERT_TRUE(d.mkdir("sub"));
    ASSERT_TRUE(d.symlink("../probe", "sub/probe"));
    ASSERT_TRUE(d.mkdir("h"));
    ASSERT_TRUE(d.hardlink("probe", "h/probe"));
    ASSERT_TRUE(d.symlink("/usr/bin/shred", "shred-alias"));
    ASSERT_TRUE(d.put("editor.sh", expand(std::string(kEditor), vars_), 0755));
    ASSERT_TRUE(d.put("other-notes", "other notes\n", 0644));
    ASSERT_TRUE(w.symlink(d / "probe", "probe"));
    ASSERT_TRUE(w.symlink(d / "probe", "other"));
    ASSERT_TRUE(w.symlink("/usr/bin/shred", "shred"));
    ASSERT_TRUE(w.symlink("/usr/bin/shred", "wipe"));
    ASSERT_TRUE(w.copy(d / "editor.sh", "editor.sh", 0755));

    // One user per pair; the two policies, each pair's rules for its user.
    hoist_policy_ = "version = 1\n\n[settings]\ndefault_action = \"deny\"\n";
    for (std::size_t i = 0; i < pairs_.size(); ++i) {
      users_.push_back(std::make_unique<LocalUser>("-" + std::to_string(i), shared_->name()));
      ASSERT_TRUE(users_.back()->ok()) << "cannot create a test user";
      auto vars = vars_;
      vars["u"] = users_.back()->name();
      sudoers_rules_ += expand(pairs_[i].sudoers, vars) + "\n";
      const std::string rules = expand(pairs_[i].hoist, vars);
      std::string named;
      int n = 0;
      for (std::size_t at = 0;;) {
        const std::size_t next = rules.find("[[rule]]\n", at);
        named += rules.substr(at, next == std::string::npos ? std::string::npos : next - at);
        if (next == std::string::npos) break;
        named += "[[rule]]\nname = \"" + pairs_[i].name + "-" + std::to_string(n++) + "\"\nusers = [\"" +
                 users_.back()->name() + "\"]\n";
        at = next + std::string_view("[[rule]]\n").size();
      }
      hoist_policy_ += "\n" + named;
    }

    AgentE2E::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(enroll(), 0) << slurp(log_);
    start_agent();
    if (HasFatalFailure()) return;
    hoist_conf_ = write_sudo_conf();
    // sudoers: this file over /etc/sudoers, and a sudo.conf with no Plugin
    // line (sudoers.so is sudo's default policy).
    const std::string dir = hoistd_.dir();
    sudoers_ = dir + "/sudoers";
    stock_conf_ = dir + "/sudo-stock.conf";
    {
      std::ofstream out(sudoers_, std::ios::trunc);
      out << "Defaults env_reset\n"
          << "Defaults secure_path=\"" << plugin::kDefaultSecurePath << "\"\n"
          << "Defaults !fqdn, !lecture, !syslog, !mail_no_user, !mail_badpass\n"
          << "Defaults timestampdir=" << dir << "/sudoers-ts, lecture_status_dir=" << dir << "/sudoers-lectured\n"
          << sudoers_rules_;
    }
    {
      std::ofstream out(stock_conf_, std::ios::trunc);
      out << "# sudoers, as a host without Hoist has it\n";
    }
    ASSERT_EQ(::chmod(sudoers_.c_str(), 0440), 0);
    ASSERT_EQ(::chmod(stock_conf_.c_str(), 0644), 0);
    ASSERT_EQ(run({"/usr/sbin/visudo", "-c", "-q", "-f", sudoers_}, dir + "/visudo.log"), 0)
        << "the generated sudoers file is invalid:\n"
        << slurp(dir + "/visudo.log") << slurp(sudoers_);
  }

  // Every line of every pair, run on one side: sudo.conf `conf` (and this
  // test's sudoers) bound in one namespace, one `su` per user. Returns the
  // batch; `sanity` is `sudo -V`'s output.
  SudoRun run_side(const std::string& conf) {
    const std::string dir = hoistd_.dir();
    const std::string prelude =
        "clean() { /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/$(id -un) USER=$(id -un) "
        "LOGNAME=$(id -un) SHELL=/bin/sh MAIL=/var/mail/$(id -un) TERM=xterm-256color COLORTERM=truecolor "
        "LANG=C.UTF-8 LANGUAGE=en LC_TIME=C.UTF-8 TZ=UTC DISPLAY=:7 XAUTHORITY=/home/$(id -un)/.Xauthority "
        "LS_COLORS=di=34 COLORS=/etc/DIR_COLORS 'PS1=$ ' 'PS2=> ' HOSTNAME=host KRB5CCNAME=FILE:/tmp/krb5cc "
        "XDG_CURRENT_DESKTOP=GNOME XAUTHORIZATION=x LD_LIBRARY_PATH=/nonexistent-hoist PYTHONPATH=/nonexistent-hoist "
        "BASH_ENV=/nonexistent-hoist FOO=bar HOIST_REASON=differential SUDO_PROMPT=pw: \"$@\"; }\ncd /";
    std::string driver =
        "mount --bind " + sudoers_ + " /etc/sudoers || exit 97\nmount --bind " + conf + " /etc/sudo.conf || exit 97\n";
    driver += "printf '@@@step sanity@@@\\n'; su " + users_.front()->name() +
              " -c '/usr/bin/timeout 10 /usr/bin/sudo -V'; printf '@@@rc sanity %s@@@\\n' $?\n";
    for (std::size_t i = 0; i < pairs_.size(); ++i) {
      auto vars = vars_;
      vars["u"] = users_[i]->name();
      std::vector<std::pair<std::string, std::string>> steps;
      for (const auto& line : pairs_[i].lines) {
        steps.emplace_back(pairs_[i].name + "/" + line.name, expand(line.command, vars));
      }
      const std::string script = "pair-" + std::to_string(i) + ".sh";
      EXPECT_TRUE(trusted_->put(script, batch_script(prelude, steps), 0644));
      driver += "printf 'notes\\n' > " + (*trusted_ / "notes") + "\n";
      driver += "su " + users_[i]->name() + " -c " + shell_quote("/bin/sh " + (*trusted_ / script)) + "\n";
      // sudoedit writes into this file: its content after the pair's lines.
      driver += "printf '@@@step file/" + pairs_[i].name + "@@@\\n'; cat " + (*trusted_ / "notes") +
                "; printf '@@@rc file/" + pairs_[i].name + " 0@@@\\n'\n";
    }
    {
      std::ofstream out(dir + "/differential.sh", std::ios::trunc);
      out << driver;
    }
    return run_in_namespace(dir + "/differential.sh", dir, 500);
  }

  // The file sudoedit may write, reset before each side.
  void reset_notes() { ASSERT_TRUE(trusted_->put("notes", "notes\n", 0644)); }

  std::vector<PolicyPair> pairs_;
  std::optional<LocalGroup> shared_, runas_group_;
  std::optional<LocalUser> target_;
  std::vector<std::unique_ptr<LocalUser>> users_;
  std::optional<TestDir> trusted_, writable_;
  std::map<std::string, std::string> vars_;
  std::string hoist_policy_, sudoers_rules_;
  std::string sudoers_, stock_conf_, hoist_conf_;
};

// Attacker: none (a differential test): an ordinary user whose rules both
//           sudoers and Hoist can express.
// Goal:     find a command line that Hoist and sudoers answer differently.
// Must hold: every difference in who runs what, as whom, where, with which
//           argv and environment is a known one (kKnownDifferences, with
//           its reason), and sudoers does what the table says.
TEST_F(DifferentialTest, SameCommandLinesSameOutcomesAsSudoers) {
  reset_notes();
  const SudoRun stock = run_side(stock_conf_);
  reset_notes();
  const SudoRun hoist = run_side(hoist_conf_);
  for (const auto* side : {&stock, &hoist}) {
    ASSERT_NE(side->status, 97) << "could not bind the configuration: " << side->err;
    ASSERT_NE(side->status, 124) << "a side timed out:\n" << side->out << side->err;
  }
  EXPECT_NE(step_result(stock, "sanity").out.find("Sudoers policy plugin version"), std::string::npos)
      << "the stock side is not sudoers: " << step_result(stock, "sanity");
  EXPECT_NE(step_result(hoist, "sanity").out.find("Hoist policy plugin version"), std::string::npos)
      << "the Hoist side is not Hoist: " << step_result(hoist, "sanity");

  std::set<const KnownDifference*> used;
  int lines = 0;
  int unexpected = 0;
  std::ostringstream report;
  for (const auto& pair : pairs_) {
    const std::string stock_file = step_result(stock, "file/" + pair.name).out;
    const std::string hoist_file = step_result(hoist, "file/" + pair.name).out;
    for (const auto& line : pair.lines) {
      ++lines;
      const std::string id = pair.name + "/" + line.name;
      Side a{step_result(stock, id), {}};
      Side b{step_result(hoist, id), {}};
      a.reports = probe_reports(a.step.out);
      b.reports = probe_reports(b.step.out);
      SCOPED_TRACE(id + "\n--- sudoers: " + ::testing::PrintToString(a.step) +
                   "\n--- Hoist: " + ::testing::PrintToString(b.step));
      ASSERT_TRUE(a.step.found && b.step.found) << "a side never reached this line";
      EXPECT_NE(a.step.status, 124) << "sudoers hung";
      EXPECT_NE(b.step.status, 124) << "Hoist hung";
      EXPECT_EQ(a.verdict(), line.sudoers) << "sudoers does not do what the table says (the table or the set-up is "
                                              "wrong)";
      if (std::getenv("HOIST_DIFFERENTIAL_VERBOSE") != nullptr) {
        std::cerr << "=== " << id << "\n--- sudoers: " << a.step << "\n--- Hoist: " << b.step << "\n";
      }
      for (const auto& diff : compare(a, b)) {
        if (const auto* k = known(id, diff)) {
          used.insert(k);
          continue;
        }
        ++unexpected;
        report << "  " << id << ": " << diff.aspect << ": sudoers " << ::testing::PrintToString(diff.sudoers)
               << ", Hoist " << ::testing::PrintToString(diff.hoist) << "\n";
        ADD_FAILURE() << "an unexpected difference in " << diff.aspect << ": sudoers "
                      << ::testing::PrintToString(diff.sudoers) << ", Hoist " << ::testing::PrintToString(diff.hoist);
      }
    }
    // What sudoedit wrote back: each side's file (reset to "notes" before
    // the pair) holds one line per edit that ran on that side. The runs
    // themselves were compared above.
    const std::string uid = std::to_string(users_[static_cast<std::size_t>(&pair - pairs_.data())]->uid());
    for (const auto& [side, file, name] :
         {std::tuple{&stock, &stock_file, "sudoers"}, {&hoist, &hoist_file, "Hoist"}}) {
      std::string expected = "notes\n";
      for (const auto& line : pair.lines) {
        const StepResult step = step_result(*side, pair.name + "/" + line.name);
        const Side run{step, probe_reports(step.out)};
        const bool edit =
            line.command.find(" -e ") != std::string::npos || line.command.find("sudoedit -n") != std::string::npos;
        if (edit && line.command.find("editor") != std::string::npos && run.verdict() == R) {
          expected += "edited by " + uid + "\n";
        }
      }
      EXPECT_EQ(*file, expected) << pair.name << ": " << name << " did not write back every edit that ran";
    }
  }
  std::cerr << lines << " command lines compared; " << unexpected << " unexpected difference(s)"
            << (unexpected > 0 ? ":\n" + report.str() : "\n");
  for (const auto& k : known_differences()) {
    if (used.count(&k) == 0) std::cerr << "known difference not seen this run: " << k.aspect << " " << k.lines << "\n";
  }
}

}  // namespace
}  // namespace hoist::testing::attacks
