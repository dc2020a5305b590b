#!/usr/bin/env bash
# The packages as an admin meets them (docs/packaging.md): hoistd,
# hoist-agent and hoist from DEB_DIR installed with apt into a Debian 12
# root made by debootstrap, then used, upgraded, removed and purged.
#
#   tests/packaging/package_test.sh DEB_DIR
#
# Everything happens inside a private mount namespace (unshare -m) on an
# overlay over a cached root, so neither the host nor the cache changes:
# the host's /etc/sudo.conf, users and services are never touched. The
# root is made once with debootstrap from the archive the host's apt uses
# and kept in HOIST_PKGTEST_CACHE (default ~/.cache/hoist-pkgtest);
# apt resolves the packages' dependencies from that archive on every run.
#
#  1. install:   apt-get install ./hoistd_*.deb ./hoist-agent_*.deb ./hoist_*.deb;
#                the hoistd user, state directories and modes, the conffile,
#                the units (systemd-analyze verify), sudo still on sudoers.
#  2. use:       hoistd started as its unit starts it (user hoistd, the
#                packaged config, port 8443 in a network namespace of the
#                test's), an admin logs in, a policy, the agent enrolled and
#                running, install-plugin, a user's allowed sudo through the
#                installed plugin, a denied one refused.
#  3. upgrade:   the same packages as a newer version: data, enrolment,
#                the admin's edit of the conffile and the plugin line kept;
#                the audit trail still verifies; sudo still works.
#  4. boot:      where systemd-nspawn --boot works, the root is booted:
#                both units active, hoistd's journal, sudo through the units.
#                Where it does not, that part says SKIP and why.
#  5. remove:    with sudoers broken, removing hoist-agent is refused and
#                sudo keeps working; fixed, removal gives sudo back to
#                sudoers first (root's sudo works) and keeps the state;
#                purge deletes it. hoistd: remove keeps the data, purge
#                deletes it and keeps the system user; hoist: removed.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DEB_DIR" >&2
  exit 64
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "package_test: needs root (debootstrap, chroot, mount namespaces)" >&2
  exit 77
fi

# Into a private mount namespace first: every mount below vanishes with it.
if [ -z "${HOIST_PKGTEST_IN_NS:-}" ]; then
  HOIST_PKGTEST_IN_NS=1 exec unshare -m --propagation private -- "$0" "$@"
fi

deb_dir=$(realpath "$1")
shopt -s nullglob
debs=("$deb_dir"/hoistd_*.deb "$deb_dir"/hoist-agent_*.deb "$deb_dir"/hoist_*.deb)
shopt -u nullglob
if [ ${#debs[@]} -ne 3 ]; then
  echo "package_test: expected one each of hoistd_*.deb, hoist-agent_*.deb, hoist_*.deb in $deb_dir (make deb)" >&2
  exit 1
fi

cache=${HOIST_PKGTEST_CACHE:-$HOME/.cache/hoist-pkgtest}
mirror=${HOIST_PKGTEST_MIRROR:-http://deb.debian.org/debian}
security=${HOIST_PKGTEST_SECURITY:-http://deb.debian.org/debian-security}
base=$cache/bookworm-v1 # bump when what goes into the cached root changes
work=$(mktemp -d /tmp/hoist-pkgtest-XXXXXX)
root=$work/root
failures=0
step=""
holder=""
container=""
cpid=""

say() { printf '== %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
bad() {
  printf '   FAIL (%s): %s\n' "$step" "$*"
  failures=$((failures + 1))
}
check() { # check "what" command...
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}

cleanup() {
  set +e
  if [ -n "$container" ] && kill -0 "$container" 2>/dev/null; then
    kill -TERM "$container"
    for _ in $(seq 50); do kill -0 "$container" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$container" 2>/dev/null
  fi
  # The booted root's init outlives a killed nspawn: killing it ends every
  # process of its PID namespace (its hoistd and hoist-agent).
  [ -n "$cpid" ] && kill -KILL "$cpid" 2>/dev/null
  # Whatever the test started inside the root (hoistd, the agent).
  for p in /proc/[0-9]*; do
    if [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ]; then kill -KILL "${p#/proc/}" 2>/dev/null; fi
  done
  [ -n "$holder" ] && kill -KILL "$holder" 2>/dev/null
  sleep 0.2
  umount -R "$root" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# --- the cached root ---------------------------------------------------------

make_base() {
  local tmp=$base.tmp.$$
  rm -rf "$tmp"
  say "debootstrap --variant=minbase bookworm from $mirror into $base (once; cached)"
  debootstrap --variant=minbase bookworm "$tmp" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    echo "package_test: debootstrap failed (log above)" >&2
    return 1
  }
  cat >"$tmp/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  cp /etc/resolv.conf "$tmp/etc/resolv.conf"
  # systemd: systemd-analyze verifies the units with the root's own
  # binaries, and systemd-nspawn --boot boots it.
  (
    mount -t proc proc "$tmp/proc"
    trap 'umount "$tmp/proc"' EXIT
    chroot "$tmp" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive chroot "$tmp" apt-get install -y -qq --no-install-recommends \
      systemd systemd-sysv dbus iproute2 >/dev/null
    chroot "$tmp" apt-get clean
  ) >>"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    echo "package_test: setting up the cached root failed (log above)" >&2
    return 1
  }
  rm -f "$tmp/etc/resolv.conf"
  mv "$tmp" "$base"
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
[ -d "$base" ] || make_base
flock -u 9

# The test's root: an overlay whose lower layer is the cached root.
mkdir -p "$work/upper" "$work/overlay-work" "$root"
mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/overlay-work" "$root"
# /proc, /dev, /sys, /run and /tmp of the root (again after the boot, for
# which nspawn mounts its own).
mount_api_filesystems() {
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --make-rslave "$root/dev"
  mount -t sysfs -o ro sysfs "$root/sys"
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
}
mount_api_filesystems
cp /etc/resolv.conf "$root/etc/resolv.conf"
mkdir -p "$root/debs"
cp "${debs[@]}" "$root/debs/"
apt_cache=$cache/apt-archives
mkdir -p "$apt_cache/partial"
mount --bind "$apt_cache" "$root/var/cache/apt/archives"
# No service starts inside the chroot (no systemd runs there); part 2
# starts hoistd and the agent by hand, part 4 boots the root.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

# A network namespace of the test's own (loopback only) for hoistd and
# the agent: the packaged port 8443, and nothing reaches the host's.
unshare -n -- sleep 1d &
holder=$!
sleep 0.1
nsenter -t "$holder" -n -- ip link set lo up

inroot() { chroot "$root" "$@"; }
innet() { nsenter -t "$holder" -n -- chroot "$root" "$@"; }
export DEBIAN_FRONTEND=noninteractive
apt_in_root() {
  inroot apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" \
    >>"$work/apt.log" 2>&1
}
version_of() { dpkg-deb -f "$1" Version; }

# --- 1. install ---------------------------------------------------------------

step=install
say "1. apt-get install the three packages ($(version_of "${debs[0]}")) into a Debian 12 root"
inroot apt-get update -q >>"$work/apt.log" 2>&1 || {
  tail -20 "$work/apt.log"
  bad "apt-get update in the root"
  exit 1
}
in_debs=()
for deb in "${debs[@]}"; do in_debs+=("/debs/$(basename "$deb")"); done
if apt_in_root install "${in_debs[@]}"; then
  ok "apt-get install ./hoistd_*.deb ./hoist-agent_*.deb ./hoist_*.deb (dependencies from the archive)"
else
  tail -30 "$work/apt.log"
  bad "apt-get install of the packages"
  exit 1
fi

check "hoistd is a system user with no login shell" \
  bash -c "inroot() { chroot '$root' \"\$@\"; }; e=\$(inroot getent passwd hoistd); u=\$(cut -d: -f3 <<<\"\$e\"); [ \"\$u\" -lt 1000 ] && [[ \$(cut -d: -f7 <<<\"\$e\") == */nologin ]]"
# Owners by the root's own passwd and group files (stat inside the chroot).
mode_is() { [ "$(chroot "$root" stat -c '%U:%G %a' "$1")" = "$2" ]; }
check "/var/lib/hoistd is hoistd:hoistd 0700" mode_is /var/lib/hoistd "hoistd:hoistd 700"
check "/var/lib/hoist-agent is root:root 0700" mode_is /var/lib/hoist-agent "root:root 700"
check "/etc/hoist/hoistd.toml is a conffile of hoistd" \
  bash -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' hoistd | grep -q '/etc/hoist/hoistd.toml'"
check "hoist_sudo.so is root's and not writable by others" mode_is /usr/lib/hoist/hoist_sudo.so "root:root 644"
check "sudo is still on sudoers: /etc/sudo.conf names no Hoist plugin" \
  bash -c "! grep -qs hoist_sudo '$root/etc/sudo.conf'"
check "hoistd.service is enabled (multi-user.target.wants)" \
  test -L "$root/etc/systemd/system/multi-user.target.wants/hoistd.service"
check "hoist-agent.service is enabled (it starts once enrolled)" \
  test -L "$root/etc/systemd/system/multi-user.target.wants/hoist-agent.service"
for unit in hoistd.service hoist-agent.service; do
  # --man=no: the root has no man-db; the pages are checked below.
  if out=$(inroot systemd-analyze verify --man=no "/lib/systemd/system/$unit" 2>&1) && [ -z "$out" ]; then
    ok "systemd-analyze verify $unit"
  else
    bad "systemd-analyze verify $unit: $out"
  fi
  score=$(inroot systemd-analyze security --offline=true "/lib/systemd/system/$unit" 2>&1 | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "   systemd-analyze security --offline=true $unit: ${score:-?}"
done

for page in man1/hoist.1 man5/hoist-policy.5 man5/hoistd.toml.5 man8/hoistd.8 man8/hoist-agent.8 man8/hoist_sudo.8; do
  check "manual page $page" test -f "$root/usr/share/man/$page.gz"
done
check "the example policy (docs/install.md) is installed and checks" \
  inroot hoist policy check /usr/share/doc/hoist/examples/policy.toml
check "bash completion for hoist and hoist-agent" test -f "$root/usr/share/bash-completion/completions/hoist" -a \
  -f "$root/usr/share/bash-completion/completions/hoist-agent"

# --- 2. use -----------------------------------------------------------------------

step=use
say "2. hoistd and the agent as their units run them; a user's sudo through the installed plugin"
password="package test $(head -c 12 /dev/urandom | base64 | tr '+/' 'xy')"
start_hoistd() {
  # As hoistd.service runs it: user hoistd, the packaged configuration.
  innet env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOIST_ADMIN_PASSWORD="$password" \
    setpriv --reuid=hoistd --regid=hoistd --init-groups --no-new-privs -- \
    /usr/sbin/hoistd --config /etc/hoist/hoistd.toml --ready-file /var/lib/hoistd/ready.json \
    >>"$root/tmp/hoistd.log" 2>&1 &
  for _ in $(seq 200); do
    [ -s "$root/var/lib/hoistd/ready.json" ] && return 0
    sleep 0.1
  done
  tail -20 "$root/tmp/hoistd.log"
  return 1
}
stop_in_root() { # stop_in_root NAME: SIGTERM the root's process of that name, wait
  local pids=() p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] || continue
    [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && pids+=("${p#/proc/}")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
start_agent() {
  # As hoist-agent.service runs it: the default paths.
  innet /usr/sbin/hoist-agent run >>"$root/tmp/agent.log" 2>&1 &
  for _ in $(seq 200); do
    [ -S "$root/run/hoist/agent.sock" ] && return 0
    sleep 0.1
  done
  tail -20 "$root/tmp/agent.log"
  return 1
}

rm -f "$root/var/lib/hoistd/ready.json"
start_hoistd || {
  bad "hoistd did not start with the packaged configuration"
  exit 1
}
ok "hoistd started as user hoistd with /etc/hoist/hoistd.toml"
ready=$(cat "$root/var/lib/hoistd/ready.json")
fingerprint=$(sed -n 's/.*"ca_fingerprint":"\([^"]*\)".*/\1/p' <<<"$ready")
url=https://127.0.0.1:8443
grep -q '"port":8443' <<<"$ready" && ok "listening on the packaged port 8443" || bad "not on port 8443: $ready"
check "the database is in /var/lib/hoistd (0700), owned by hoistd" \
  bash -c "[ \"\$(chroot '$root' stat -c %U:%G /var/lib/hoistd/hoist.db)\" = hoistd:hoistd ]"

cli() { innet env HOIST_CLI_CONFIG=/root/.config/hoist/cli.json timeout 30 hoist "$@"; }
if cli login "$url" --fingerprint "$fingerprint" --user admin --password-stdin <<<"$password" >/dev/null 2>"$work/cli.err"; then
  ok "hoist login with the fingerprint hoistd printed"
else
  cat "$work/cli.err"
  bad "hoist login"
  exit 1
fi
cat >"$root/tmp/policy.toml" <<'EOF'
version = 1
[settings]
default_action = "deny"
contact = "package test"

[[rule]]
name = "identity"
action = "allow"
path = "/usr/bin/id"
EOF
if cli policy apply /tmp/policy.toml --name pkg --comment "package test" >/dev/null 2>"$work/cli.err" &&
  cli policy assign pkg pkg >/dev/null 2>>"$work/cli.err"; then
  ok "hoist policy apply and assign"
else
  cat "$work/cli.err"
  bad "hoist policy apply"
fi
enrol_token=$(cli enrol-token create --label pkg --uses 1 --expires 1h 2>"$work/cli.err") || {
  cat "$work/cli.err"
  bad "hoist enrol-token create"
  exit 1
}
if innet timeout 60 hoist-agent enroll --server "$url" --token "$enrol_token" --ca-pin "$fingerprint" \
  --hostname pkgtest >"$work/enroll.log" 2>&1; then
  ok "hoist-agent enroll (state in /var/lib/hoist-agent)"
else
  cat "$work/enroll.log"
  bad "hoist-agent enroll"
  exit 1
fi
check "the enrolment is in /var/lib/hoist-agent/agent.db (the unit's condition)" test -f "$root/var/lib/hoist-agent/agent.db"
start_agent || {
  bad "hoist-agent run did not serve /run/hoist/agent.sock"
  exit 1
}
ok "hoist-agent serves /run/hoist/agent.sock"
inroot useradd --create-home --shell /bin/bash hoisttester
if innet timeout 120 hoist-agent install-plugin >"$work/install-plugin.log" 2>&1; then
  ok "hoist-agent install-plugin (sudo now asks Hoist)"
else
  cat "$work/install-plugin.log"
  bad "hoist-agent install-plugin"
fi
check "/etc/sudo.conf loads /usr/lib/hoist/hoist_sudo.so" grep -q "^Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so" "$root/etc/sudo.conf"

as_tester() { innet su - hoisttester -c "$1"; }
sudo_works() { # sudo_works WHAT: the tester's allowed sudo prints uid 0
  local out=""
  for _ in 1 2 3 4 5; do # the agent fetches its policy just after starting
    out=$(as_tester "timeout 20 sudo -n /usr/bin/id -u" 2>&1) && [ "$out" = 0 ] && break
    sleep 1
  done
  if [ "$out" = 0 ]; then ok "$1"; else bad "$1: $out"; fi
}
sudo_works "hoisttester: sudo -n /usr/bin/id -u through the installed plugin prints 0"
if out=$(as_tester "timeout 20 sudo -n /usr/bin/whoami" 2>&1); then
  bad "a command outside the policy ran: $out"
else
  ok "a command outside the policy is refused ($(head -1 <<<"$out"))"
fi

# --- 3. upgrade -----------------------------------------------------------------------

step=upgrade
new_version="$(version_of "${debs[0]}")+upgrade1"
say "3. upgrade to $new_version (the same files, a newer version)"
mkdir -p "$work/new"
for deb in "${debs[@]}"; do
  d=$work/repack
  rm -rf "$d"
  dpkg-deb -R "$deb" "$d"
  sed -i "s/^Version: .*/Version: $new_version/" "$d/DEBIAN/control"
  dpkg-deb --root-owner-group -b "$d" "$work/new/" >/dev/null
done
cp "$work"/new/*.deb "$root/debs/"
echo "# kept over upgrades: the admin's edit" >>"$root/etc/hoist/hoistd.toml"
endpoints_before=$(cli endpoints list 2>&1 | grep -c pkgtest || true)
# What systemd does around an upgrade: the units stop, the package is
# unpacked, they start again.
stop_in_root hoist-agent
stop_in_root hoistd
if apt_in_root install "/debs/hoistd_${new_version}_amd64.deb" "/debs/hoist-agent_${new_version}_amd64.deb" \
  "/debs/hoist_${new_version}_amd64.deb"; then
  ok "apt-get install of $new_version over $(version_of "${debs[0]}")"
else
  tail -30 "$work/apt.log"
  bad "the upgrade"
fi
check "all three at $new_version" bash -c "[ \$(chroot '$root' dpkg-query -W -f='\${Version}\n' hoistd hoist-agent hoist | grep -c '^$new_version\$') = 3 ]"
check "the admin's edit of /etc/hoist/hoistd.toml is kept" grep -q "the admin's edit" "$root/etc/hoist/hoistd.toml"
check "sudo.conf still loads the plugin" grep -q "^Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so" "$root/etc/sudo.conf"
rm -f "$root/var/lib/hoistd/ready.json"
start_hoistd && ok "hoistd starts on the upgraded package with the same data" || bad "hoistd after the upgrade"
start_agent && ok "hoist-agent starts, still enrolled" || bad "hoist-agent after the upgrade"
[ "$(cli endpoints list 2>&1 | grep -c pkgtest || true)" = "$endpoints_before" ] && [ "$endpoints_before" -ge 1 ] &&
  ok "the enrolled endpoint is still known to hoistd" || bad "the endpoint list changed over the upgrade"
if out=$(cli audit verify 2>&1); then ok "hoist audit verify after the upgrade"; else bad "hoist audit verify: $out"; fi
sudo_works "hoisttester's sudo after the upgrade"

# --- 4. boot -------------------------------------------------------------------------------

step=boot
say "4. the root booted with systemd-nspawn --boot: the units for real"
stop_in_root hoist-agent
stop_in_root hoistd
in_container() { nsenter -t "$cpid" -m -u -i -n -p -r -w -- "$@"; }
boot_log=$work/nspawn.log
# No machined or host systemd is needed with --register=no --keep-unit.
# nspawn mounts /proc, /sys, /dev and /run itself; policy-rc.d stays (it
# only stops maintainer scripts, not systemd, from starting services).
umount -R "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp"
systemd-nspawn -q -D "$root" --boot --register=no --keep-unit --private-network >"$boot_log" 2>&1 </dev/null &
container=$!
cpid=""
booted=""
for _ in $(seq 300); do
  kill -0 "$container" 2>/dev/null || break
  [ -z "$cpid" ] && cpid=$(pgrep -P "$container" | head -1 || true)
  if [ -n "$cpid" ]; then
    state=$(in_container systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) booted=$state && break ;; esac
  fi
  sleep 0.2
done
if [ -z "$booted" ]; then
  echo "   SKIP (boot): systemd-nspawn --boot does not work on this machine; the units are checked"
  echo "   by systemd-analyze verify above, not started. What nspawn said:"
  tail -5 "$boot_log" | sed 's/^/     /'
else
  ok "booted ($booted)"
  for unit in hoistd hoist-agent; do
    for _ in $(seq 100); do
      [ "$(in_container systemctl is-active "$unit" 2>/dev/null)" = active ] && break
      sleep 0.2
    done
    if [ "$(in_container systemctl is-active "$unit" 2>/dev/null)" = active ]; then
      ok "systemctl is-active $unit"
    else
      bad "$unit is not active: $(in_container systemctl status --no-pager "$unit" 2>&1 | tail -15)"
    fi
  done
  if in_container journalctl -u hoistd --no-pager -o cat 2>/dev/null | grep -q "listening on https://"; then
    ok "hoistd's journal: listening on https://..."
  else
    bad "hoistd's journal has no 'listening on': $(in_container journalctl -u hoistd --no-pager 2>&1 | tail -10)"
  fi
  hoistd_uid=$(inroot id -u hoistd)
  check "hoistd runs as user hoistd (uid $hoistd_uid)" pgrep -x -u "$hoistd_uid" hoistd
  out=""
  for _ in $(seq 10); do
    out=$(in_container su - hoisttester -c "timeout 20 sudo -n /usr/bin/id -u" 2>&1) && [ "$out" = 0 ] && break
    sleep 1
  done
  [ "$out" = 0 ] && ok "sudo through hoist-agent.service and hoistd.service" || bad "sudo in the booted root: $out"
  if out=$(in_container hoist-agent doctor 2>&1); then
    ok "hoist-agent doctor on the installed endpoint: nothing to fix"
  else
    bad "hoist-agent doctor exited $?: $out"
  fi
  # A re-enrolment in the running system (the agent stopped first: it holds
  # its state): hoist-agent enroll starts the unit itself, and sudo goes on
  # through the new enrolment.
  old_pid=$(in_container systemctl show -p MainPID --value hoist-agent 2>/dev/null || true)
  in_container systemctl stop hoist-agent >/dev/null 2>&1 || true
  token2=$(in_container env HOIST_CLI_CONFIG=/root/.config/hoist/cli.json timeout 30 hoist enrol-token create \
    --label pkg --uses 1 --expires 1h 2>/dev/null || true)
  out=$(in_container timeout 90 hoist-agent enroll --force --server "$url" --token "$token2" --ca-pin "$fingerprint" \
    --hostname pkgtest-again 2>&1 || true)
  new_pid=$(in_container systemctl show -p MainPID --value hoist-agent 2>/dev/null || true)
  if grep -q "hoist-agent.service (re)started" <<<"$out" && [ -n "$new_pid" ] && [ "$new_pid" != 0 ] &&
    [ "$new_pid" != "$old_pid" ]; then
    ok "hoist-agent enroll --force starts hoist-agent.service again (pid $old_pid -> $new_pid)"
  else
    bad "re-enrolment did not restart the unit: $out (pid $old_pid -> $new_pid)"
  fi
  out=""
  for _ in $(seq 10); do
    out=$(in_container su - hoisttester -c "timeout 20 sudo -n /usr/bin/id -u" 2>&1) && [ "$out" = 0 ] && break
    sleep 1
  done
  [ "$out" = 0 ] && ok "sudo through the re-enrolled agent" || bad "sudo after the re-enrolment: $out"
  if in_container systemctl reload hoistd 2>/dev/null && sleep 1 &&
    [ "$(in_container systemctl is-active hoistd)" = active ]; then
    ok "systemctl reload hoistd (SIGHUP) leaves it active"
  else
    bad "systemctl reload hoistd"
  fi
  in_container systemctl poweroff >/dev/null 2>&1 || true
  for _ in $(seq 150); do kill -0 "$container" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$container" 2>/dev/null || true
fi
# Whatever still runs in the container's PID namespace ends with its init.
[ -n "$cpid" ] && kill -KILL "$cpid" 2>/dev/null || true
wait "$container" 2>/dev/null || true
container=""
cpid=""
mount_api_filesystems

# --- 5. remove and purge -----------------------------------------------------------------

step=remove
say "5. remove and purge"
start_agent >/dev/null || true
echo "this is not sudoers syntax" >"$root/etc/sudoers.d/broken"
chmod 0440 "$root/etc/sudoers.d/broken"
if apt_in_root remove hoist-agent; then
  bad "hoist-agent was removed while sudo could not be given back to sudoers"
else
  ok "with sudoers broken, removing hoist-agent is refused"
fi
check "... and the plugin stays: sudo.conf loads it, the .so is there" \
  bash -c "grep -q '^Plugin hoist_policy /usr/lib/hoist/hoist_sudo.so' '$root/etc/sudo.conf' && test -f '$root/usr/lib/hoist/hoist_sudo.so'"
rm -f "$root/etc/sudoers.d/broken"
inroot dpkg --configure -a >>"$work/apt.log" 2>&1 || true
if apt_in_root remove hoist-agent; then ok "apt-get remove hoist-agent"; else
  tail -20 "$work/apt.log"
  bad "apt-get remove hoist-agent"
fi
stop_in_root hoist-agent
check "sudo.conf no longer loads Hoist" bash -c "! grep -qs hoist_sudo '$root/etc/sudo.conf'"
check "root's sudo works (sudoers)" bash -c "[ \"\$(chroot '$root' timeout 20 sudo -n /usr/bin/id -u)\" = 0 ]"
if out=$(as_tester "timeout 20 sudo -n /usr/bin/id -u" 2>&1); then
  bad "hoisttester (not in sudoers) got root after the removal: $out"
else
  ok "hoisttester, not in sudoers, is refused by sudoers as before Hoist"
fi
check "remove keeps the agent's state" test -f "$root/var/lib/hoist-agent/agent.db"
check "remove deletes the plugin" test ! -e "$root/usr/lib/hoist/hoist_sudo.so"
apt_in_root purge hoist-agent && ok "apt-get purge hoist-agent" || bad "apt-get purge hoist-agent"
check "purge deletes /var/lib/hoist-agent" test ! -e "$root/var/lib/hoist-agent"
check "purge deletes the sudo.conf backup" test ! -e "$root/etc/sudo.conf.hoist-backup"

stop_in_root hoistd
apt_in_root remove hoistd && ok "apt-get remove hoistd" || bad "apt-get remove hoistd"
check "remove keeps /var/lib/hoistd (the database)" test -f "$root/var/lib/hoistd/hoist.db"
check "remove keeps the conffile" test -f "$root/etc/hoist/hoistd.toml"
apt_in_root purge hoistd && ok "apt-get purge hoistd" || bad "apt-get purge hoistd"
check "purge deletes /var/lib/hoistd" test ! -e "$root/var/lib/hoistd"
check "purge deletes /etc/hoist/hoistd.toml" test ! -e "$root/etc/hoist/hoistd.toml"
check "the system user hoistd is kept (Debian's practice)" inroot getent passwd hoistd
apt_in_root purge hoist && ok "apt-get purge hoist" || bad "apt-get purge hoist"
check "/usr/bin/hoist is gone" test ! -e "$root/usr/bin/hoist"
left=$(inroot dpkg -l 'hoist*' 2>/dev/null | grep -E '^[a-z][a-z] ' | grep -v '^un' || true)
[ -z "$left" ] && ok "no hoist package left in dpkg's database" || bad "left: $left"

if [ "$failures" -ne 0 ]; then
  echo "package_test: $failures check(s) failed (apt's log: kept below)"
  tail -40 "$work/apt.log"
  exit 1
fi
echo "package_test: all checks passed"
