#!/usr/bin/env bash
# `make demo`: a sandboxed tour of Hoist on this machine, as root.
#
#   scripts/demo.sh           the interactive tour: a shell as a demo user in
#                             which `sudo ...` goes through hoist_sudo.so
#   scripts/demo.sh --keep    the same, and the temporary directory (hoistd's
#                             data, the audit trail) is kept afterwards
#   scripts/demo.sh --check   no shell: runs the tour's paths as the demo user
#                             and exits 0 only if each behaved (ctest runs it;
#                             exits 77, "skipped", when not root)
#
# What it sets up, all in one temporary directory (0755; the state inside it
# stays 0700) and all removed at exit, also on an error or Ctrl-C:
#   - a private hoistd on 127.0.0.1 (a free port) with its own data dir, an
#     admin token for the `hoist` CLI, a demo policy assigned to a label;
#   - hoist-agent, enrolled with a one-use token, serving a socket in the
#     temporary directory;
#   - a local user (hoist-demo, no password, its home in the temporary
#     directory), deleted at exit;
#   - a sudo.conf that loads hoist_sudo.so, bound over /etc/sudo.conf only
#     inside a private mount namespace (unshare -m): the host's
#     /etc/sudo.conf and /etc/sudoers are never written.
#
# Binaries come from HOIST_BUILD_DIR (default build/default). HOIST_DEMO_USER
# names the demo user (default hoist-demo; --check: hoist-demo-<pid>).
set -euo pipefail
# The whole script is one compound command, read before any of it runs: a
# checkout edited while a demo runs cannot change what the demo does next.
{

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=tour
keep=0
for arg in "$@"; do
  case $arg in
    --check) mode=check ;;
    --keep) keep=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "demo.sh: unknown argument '$arg' (try --help)" >&2
      exit 64
      ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  if [ "$mode" = check ]; then
    echo "demo.sh --check: skipped: needs root (it creates a user and a mount namespace)" >&2
    exit 77
  fi
  cat >&2 <<'EOF'
make demo needs root: it creates a temporary local user, starts hoist-agent
(a root daemon) and runs the real sudo with Hoist's plugin inside a private
mount namespace. Nothing on the host is changed for good: the user and the
temporary directory are removed at exit, and /etc/sudo.conf is only
bind-mounted over inside the namespace. Run it as root:  sudo make demo
EOF
  exit 1
fi

build=${HOIST_BUILD_DIR:-build/default}
case $build in /*) ;; *) build=$repo/$build ;; esac
hoistd_bin=$build/src/server/hoistd
agent_bin=$build/src/agent/hoist-agent
cli_bin=$build/src/cli/hoist
plugin_so=$build/src/plugin/hoist_sudo.so
for f in "$hoistd_bin" "$agent_bin" "$cli_bin" "$plugin_so"; do
  if [ ! -f "$f" ]; then
    echo "demo.sh: $f is missing: build first (make build, or set HOIST_BUILD_DIR)" >&2
    exit 66
  fi
done
for tool in sudo unshare mount su useradd userdel timeout; do
  if ! command -v "$tool" >/dev/null; then
    echo "demo.sh: '$tool' is not installed (make deps installs what is missing)" >&2
    exit 69
  fi
done

if [ "$mode" = check ]; then
  user=${HOIST_DEMO_USER:-hoist-demo-$$}
else
  user=${HOIST_DEMO_USER:-hoist-demo}
fi
readonly gecos="Hoist demo user (temporary; scripts/demo.sh removes it)"
if getent passwd "$user" >/dev/null; then
  echo "demo.sh: a user named '$user' already exists; it is not the demo's to remove." >&2
  if [ "$(getent passwd "$user" | cut -d: -f5)" = "$gecos" ]; then
    echo "  It was made by an earlier demo that could not clean up: remove it with  userdel $user" >&2
  else
    echo "  Choose another name with HOIST_DEMO_USER=..." >&2
  fi
  exit 69
fi

# --- clean-up (runs on every exit) -----------------------------------------

tmp=
hoistd_pid=
agent_pid=
user_created=0
admin_hoist=

# shellcheck disable=SC2317  # called from the EXIT trap
stop_pid() { # pid name: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1 name=$2 i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo: $name did not stop within 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# hoist audit export's CSV, one short line per event: seq, time, action, and
# for the endpoint's events the user, the command and the decision.
# shellcheck disable=SC2317  # called from the EXIT trap
audit_summary() {
  awk -F, 'NR > 1 && $4 !~ /^(user\.log|token\.used)/ {
    what = $5
    if (match($0, /""command"":""[^"]*""/)) what = substr($0, RSTART + 14, RLENGTH - 16)
    if (match($0, /""action"":""[^"]*""/)) what = what " -> " substr($0, RSTART + 13, RLENGTH - 15)
    if (match($0, /""user"":""[^"]*""/)) what = substr($0, RSTART + 11, RLENGTH - 13) ": " what
    printf "  %4s %s  %-26s %s\n", $1, substr($2, 12, 8), $4, what
  }'
}

# shellcheck disable=SC2317  # the EXIT trap
cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM HUP
  if [ "$mode" = tour ] && [ -n "$admin_hoist" ] && [ -n "$hoistd_pid" ] && kill -0 "$hoistd_pid" 2>/dev/null; then
    local trail
    trail=$(timeout 20 "$admin_hoist" audit export --since 1d 2>/dev/null | audit_summary | tail -n 25)
    if [ -n "$trail" ]; then
      echo
      echo "== hoistd's audit trail of this tour (the last 25 events; logins left out):"
      echo "$trail"
      echo "   The full trail: $admin_hoist audit query --since 1d --all"
      echo "   (and 'audit verify' recomputes its hash chain) - while hoistd runs."
    fi
  fi
  stop_pid "$agent_pid" hoist-agent
  stop_pid "$hoistd_pid" hoistd
  if [ "$user_created" = 1 ]; then
    # Whatever the demo user left running (a background job) was started in
    # the demo; userdel refuses to remove a user with processes.
    local pid
    for pid in $(pgrep -u "$user" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    sleep 0.2
    if ! userdel "$user" 2>/dev/null; then
      sleep 1
      userdel "$user" || echo "demo: could not remove the user $user: remove it with  userdel $user" >&2
    fi
    if [ "$mode" = tour ]; then echo "== Removed the demo user $user."; fi
  fi
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then
    if [ "$keep" = 1 ]; then
      echo
      echo "== Kept $tmp (remove it with: rm -rf $tmp)."
      echo "   To read its audit trail, start its hoistd again and ask with the CLI:"
      echo "     $hoistd_bin --config $tmp/hoistd.toml --data-dir $tmp/hoistd --port ${port:-8443} &"
      echo "     $tmp/admin/hoist audit query --since 7d --all"
      echo "     $tmp/admin/hoist audit verify"
    else
      rm -rf -- "$tmp"
      if [ "$mode" = tour ]; then echo "== Removed $tmp (--keep keeps it)."; fi
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

say() {
  if [ "$mode" = check ]; then echo "demo --check: $*"; else echo "== $*"; fi
}
fail() {
  echo "demo.sh: $*" >&2
  exit 1
}

# --- the temporary directory -----------------------------------------------

tmp=$(mktemp -d /tmp/hoist-demo.XXXXXX)
chmod 0755 "$tmp"
mkdir -m 0700 "$tmp/hoistd" "$tmp/agent" "$tmp/admin"
mkdir -m 0755 "$tmp/bin" "$tmp/lib"
install -m 0755 "$cli_bin" "$tmp/bin/hoist"
install -m 0644 "$plugin_so" "$tmp/lib/hoist_sudo.so"
sock=$tmp/agent.sock
: >"$tmp/hoistd.toml"

# --- hoistd ----------------------------------------------------------------

port=${HOIST_DEMO_PORT:-0}
password=$(head -c 18 /dev/urandom | base64 | tr '+/' 'xy')
say "starting hoistd on 127.0.0.1 (data in $tmp/hoistd)"
# setsid: a Ctrl-C in the terminal reaches this script (which then cleans
# up), not hoistd or hoist-agent directly.
setsid env -u NOTIFY_SOCKET -u JOURNAL_STREAM HOIST_ADMIN_PASSWORD="$password" \
  "$hoistd_bin" --config "$tmp/hoistd.toml" --data-dir "$tmp/hoistd" --listen 127.0.0.1 --port "$port" \
  --admin-user admin --ready-file "$tmp/hoistd/ready.json" </dev/null >"$tmp/hoistd/hoistd.log" 2>&1 &
hoistd_pid=$!
for ((i = 0; i < 300; i++)); do
  [ -s "$tmp/hoistd/ready.json" ] && break
  kill -0 "$hoistd_pid" 2>/dev/null || {
    cat "$tmp/hoistd/hoistd.log" >&2
    fail "hoistd exited before it was ready (its output is above)"
  }
  sleep 0.1
done
[ -s "$tmp/hoistd/ready.json" ] || fail "hoistd was not ready within 30 s (log: $tmp/hoistd/hoistd.log)"
ready=$(cat "$tmp/hoistd/ready.json")
json_field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$ready"; }
url=$(json_field url)
port=$(json_field port)
fingerprint=$(json_field ca_fingerprint)
if [ -z "$url" ] || [ -z "$fingerprint" ]; then fail "cannot read hoistd's ready file: $ready"; fi

# The admin's CLI: logged in once, then an API token in a root-only file.
export HOIST_CLI_CONFIG=$tmp/admin/cli.json
timeout 30 "$tmp/bin/hoist" login "$url" --fingerprint "$fingerprint" --user admin --password-stdin \
  --label "make demo" <<<"$password" >/dev/null || fail "hoist login failed (log: $tmp/hoistd/hoistd.log)"
token=$(timeout 30 "$tmp/bin/hoist" token create --label "make demo approver" 2>"$tmp/admin/cli.err") || {
  cat "$tmp/admin/cli.err" >&2
  fail "hoist token create failed"
}
unset HOIST_CLI_CONFIG
umask 077
cat >"$tmp/admin/env" <<EOF
export HOIST_SERVER='$url'
export HOIST_CA_FINGERPRINT='$fingerprint'
export HOIST_TOKEN='$token'
EOF
cat >"$tmp/admin/hoist" <<EOF
#!/bin/sh
# The demo's hoistd, as its admin: the hoist CLI with the server and an API
# token from the environment (docs/cli.md).
. '$tmp/admin/env'
exec '$tmp/bin/hoist' "\$@"
EOF
chmod 0700 "$tmp/admin/hoist"
umask 022
admin_hoist=$tmp/admin/hoist

# --- the demo policy -------------------------------------------------------

contact="Demo help desk: call 4711, or ask in #it-help"
cat >"$tmp/policy.toml" <<EOF
# The policy of make demo (docs/policy.md).
version = 1

[settings]
default_action = "deny"
contact = "$contact"
end_session_processes = true      # revoking a session stops what it still runs

[[rule]]                          # runs at once
name = "identity"
action = "allow"
path = "/usr/bin/id"

[[rule]]                          # asks for a reason and a duration, then waits for a technician
name = "who-am-i"
action = "request"
path = "/usr/bin/whoami"
approval = "manual"
max_duration = "1h"

[[rule]]                          # the same for a read-only apt-get check
name = "apt-check"
action = "request"
path = "/usr/bin/apt-get"
args = ["check"]
approval = "manual"
max_duration = "1h"

[[rule]]                          # never, not even inside a session
name = "no-shred"
action = "deny"
path = "/usr/bin/shred"

[[rule]]                          # hoist elevate: a temporary admin session
name = "admin-sessions"
action = "request"
session = true
approval = "manual"
max_duration = "1h"
EOF
chmod 0644 "$tmp/policy.toml"
"$tmp/bin/hoist" policy check "$tmp/policy.toml" >/dev/null
say "policy 'demo' (from $tmp/policy.toml) assigned to the label 'demo'"
timeout 30 "$admin_hoist" policy apply "$tmp/policy.toml" --name demo --comment "make demo" >/dev/null
timeout 30 "$admin_hoist" policy assign demo demo >/dev/null

# --- hoist-agent -----------------------------------------------------------

enrol_token=$(timeout 30 "$admin_hoist" enrol-token create --label demo --uses 1 --expires 1h 2>"$tmp/admin/cli.err") || {
  cat "$tmp/admin/cli.err" >&2
  fail "hoist enrol-token create failed"
}
say "enrolling hoist-agent and starting it (socket $sock)"
timeout 60 "$agent_bin" enroll --state-dir "$tmp/agent" --server "$url" --token "$enrol_token" \
  --ca-pin "$fingerprint" --hostname "hoist-demo-$(hostname -s 2>/dev/null || echo host)" \
  >"$tmp/agent/enroll.log" 2>&1 || {
  cat "$tmp/agent/enroll.log" >&2
  fail "hoist-agent enroll failed"
}
setsid "$agent_bin" run --state-dir "$tmp/agent" --socket "$sock" --spool-dir "$tmp/spool" \
  --ready-file "$tmp/agent/ready.json" </dev/null >"$tmp/agent/agent.log" 2>&1 &
agent_pid=$!
for ((i = 0; i < 300; i++)); do
  [ -s "$tmp/agent/ready.json" ] && break
  kill -0 "$agent_pid" 2>/dev/null || {
    cat "$tmp/agent/agent.log" >&2
    fail "hoist-agent exited before it was ready (its output is above)"
  }
  sleep 0.1
done
[ -s "$tmp/agent/ready.json" ] || fail "hoist-agent was not ready within 30 s (log: $tmp/agent/agent.log)"

# --- the demo user and sudo.conf -------------------------------------------

say "creating the demo user $user (no password; removed at exit)"
useradd --no-create-home --home-dir "$tmp/home" --shell /bin/bash --comment "$gecos" "$user"
user_created=1
install -d -m 0700 -o "$user" -g "$(id -gn "$user")" "$tmp/home"

# hoist_sudo.so with this demo's socket and state directories (it creates
# them root's, 0700). Root's and 0644, or sudo ignores the file.
cat >"$tmp/sudo.conf" <<EOF
# make demo: bound over /etc/sudo.conf inside a private mount namespace only.
Plugin hoist_policy $tmp/lib/hoist_sudo.so agent_socket=$sock timestamp_dir=$tmp/ts spool_dir=$tmp/spool
EOF
chown root:root "$tmp/sudo.conf"
chmod 0644 "$tmp/sudo.conf"

# Runs a /bin/bash command line as the demo user inside a private mount
# namespace in which /etc/sudo.conf is the demo's; stdin from /dev/null.
as_user() {
  # shellcheck disable=SC2016  # $1.. are the inner shell's
  timeout 90 unshare --mount --propagation private -- /bin/sh -c \
    'mount --bind "$1" /etc/sudo.conf && exec su "$2" -s /bin/bash -c "cd / && $3"' \
    demo "$tmp/sudo.conf" "$user" "$1" </dev/null
}

# The plugin loads (show_version answers only after its open() succeeded).
# shellcheck disable=SC2016  # $1 is the inner shell's
version=$(timeout 20 unshare --mount --propagation private -- /bin/sh -c \
  'mount --bind "$1" /etc/sudo.conf && exec timeout 20 sudo -V' demo "$tmp/sudo.conf" 2>&1) || true
grep -q "Hoist policy plugin version" <<<"$version" ||
  fail "sudo did not load hoist_sudo.so inside the namespace: $version"

# --- --check: the tour's paths, unattended ---------------------------------

if [ "$mode" = check ]; then
  failures=0
  check() { # name, then the condition's exit status
    if [ "$2" -eq 0 ]; then echo "demo --check: ok    $1"; else
      echo "demo --check: FAIL  $1" >&2
      failures=$((failures + 1))
    fi
  }
  run_as() { # out err command: the command's status in $rc
    rc=0
    as_user "$3" >"$1" 2>"$2" || rc=$?
  }
  show() { sed 's/^/    | /' "$@" >&2; }

  run_as "$tmp/id.out" "$tmp/id.err" "timeout 20 sudo -n /usr/bin/id -u"
  ok=1
  [ "$rc" -eq 0 ] && [ "$(cat "$tmp/id.out")" = 0 ] && ok=0
  check "sudo -n /usr/bin/id -u runs as root at once (allow rule)" $ok
  [ "$ok" -eq 0 ] || show "$tmp/id.out" "$tmp/id.err"

  run_as "$tmp/shred.out" "$tmp/shred.err" "timeout 20 sudo -n /usr/bin/shred --version"
  ok=1
  [ "$rc" -ne 0 ] && ! grep -q shred "$tmp/shred.out" && grep -qF "$contact" "$tmp/shred.err" && ok=0
  check "sudo -n /usr/bin/shred --version is refused with the help-desk text (deny rule)" $ok
  [ "$ok" -eq 0 ] || show "$tmp/shred.out" "$tmp/shred.err"

  run_as "$tmp/whoami.out" "$tmp/whoami.err" "timeout 20 sudo -n /usr/bin/whoami"
  ok=1
  [ "$rc" -ne 0 ] && [ ! -s "$tmp/whoami.out" ] && grep -q "needs approval" "$tmp/whoami.err" && ok=0
  check "sudo -n /usr/bin/whoami says it needs approval (request rule)" $ok
  [ "$ok" -eq 0 ] || show "$tmp/whoami.out" "$tmp/whoami.err"

  # A temporary admin session, approved with the printed admin command.
  # The files exist before the background job opens them: sed below reads
  # them at once.
  : >"$tmp/elevate.out"
  : >"$tmp/elevate.err"
  as_user "timeout 60 $tmp/bin/hoist elevate --for 10m --reason 'demo self-check' --wait 45s --socket $sock" \
    >"$tmp/elevate.out" 2>"$tmp/elevate.err" &
  elevate_pid=$!
  request=
  for ((i = 0; i < 200; i++)); do
    request=$(sed -n 's/.*temporary admin session (request \([^)]*\)).*/\1/p' "$tmp/elevate.err")
    [ -n "$request" ] && break
    kill -0 "$elevate_pid" 2>/dev/null || break
    sleep 0.1
  done
  ok=1
  if [ -n "$request" ] && timeout 30 "$admin_hoist" requests approve "$request" --comment "self-check" >/dev/null; then
    ok=0
  fi
  elevate_rc=0
  wait "$elevate_pid" || elevate_rc=$?
  approved=$ok
  ok=1
  [ "$approved" -eq 0 ] && [ "$elevate_rc" -eq 0 ] && grep -q "Temporary admin session approved" "$tmp/elevate.out" && ok=0
  check "hoist elevate, approved with $admin_hoist requests approve ID" $ok
  [ "$ok" -eq 0 ] || show "$tmp/elevate.out" "$tmp/elevate.err"

  run_as "$tmp/session.out" "$tmp/session.err" \
    "timeout 30 sudo -n /bin/bash -c '/usr/bin/id -u; /usr/bin/shred --version >/dev/null || echo shred-refused'"
  ok=1
  [ "$rc" -eq 0 ] && [ "$(cat "$tmp/session.out")" = "$(printf '0\nshred-refused')" ] && ok=0
  check "inside the session a shell runs as root, and shred is still refused" $ok
  [ "$ok" -eq 0 ] || show "$tmp/session.out" "$tmp/session.err"

  ok=1
  if [ -n "$request" ]; then
    for ((i = 0; i < 100; i++)); do
      events=$(timeout 20 "$admin_hoist" --json audit query --action endpoint.process --limit 1000 2>/dev/null) ||
        events=
      if grep -F "$request" <<<"$events" | grep -qF '/usr/bin/id'; then
        ok=0
        break
      fi
      sleep 0.2
    done
  fi
  check "hoistd's audit trail records the session's processes (endpoint.process)" $ok

  if [ "$failures" -ne 0 ]; then
    echo "demo --check: $failures check(s) failed; hoist-agent's log:" >&2
    tail -n 40 "$tmp/agent/agent.log" >&2
    exit 1
  fi
  echo "demo --check: all paths behaved"
  exit 0
fi

# --- the tour --------------------------------------------------------------

bold=$(tput bold 2>/dev/null || true)
plain=$(tput sgr0 2>/dev/null || true)
cat <<EOF

${bold}Hoist demo${plain}: hoistd at $url, hoist-agent, and a shell as '$user'
in which sudo asks Hoist (hoist_sudo.so, in a private mount namespace; the
host's /etc/sudo.conf is untouched). Everything is removed when you exit.

${bold}You are the technician in a second terminal${plain} (as root):
  $admin_hoist requests list --state pending
  $admin_hoist requests approve ID [--duration 5m]     # or: requests deny ID --comment "..."
  $admin_hoist grants list                             # grants revoke ID ends one now
  $admin_hoist audit query --since 1h
  ($admin_hoist is the hoist CLI with HOIST_SERVER, HOIST_CA_FINGERPRINT
   and HOIST_TOKEN from $tmp/admin/env; see docs/cli.md.)
EOF

cat >"$tmp/home/.bash_profile" <<EOF
export PATH='$tmp/bin':"\$PATH"
PS1='\[\e[1m\][hoist demo]\[\e[0m\] \u:\w\$ '
cd ~ || true
cat <<'BANNER'

You are $user, a standard user. Try:

  sudo id                 allowed at once (rule "identity")
  sudo whoami             needs approval: give a reason and a duration, then it
                          waits; approve it in the second terminal with
                          $admin_hoist requests approve ID
                          (sudo apt-get check is another such command)
  sudo shred --version    denied, with the help desk's text
  sudo ls /root           not in the policy: denied by default

  hoist elevate --for 10m --reason "patch night" --socket $sock
                          a temporary admin session: approve it the same way;
                          then every sudo runs, and every process it starts is
                          recorded in hoistd's audit trail (shred still is not)
  hoist status --socket $sock
                          what you may run, your requests and grants
  exit                    leave: stops everything and removes the user

Note: what sudo runs here really runs as root on this machine.
BANNER
EOF
chown "$user:" "$tmp/home/.bash_profile"

# The login shell: its own process group owns the terminal, so Ctrl-C there
# stops what runs in it, not the demo.
# shellcheck disable=SC2016  # $1, $2 are the inner shell's
unshare --mount --propagation private -- /bin/sh -c \
  'mount --bind "$1" /etc/sudo.conf && exec su - "$2"' demo "$tmp/sudo.conf" "$user" || true
echo
say "left the demo shell"
exit 0 # the shell's own status is that of the last command typed in it
}
