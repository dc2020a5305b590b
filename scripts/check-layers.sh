#!/usr/bin/env bash
# Dependencies run one way. Checks every #include in src/ and every
# target_link_libraries between Hoist's own targets against the layer table
# below, which src/README.md repeats (the two must agree), and that the pure
# layers include no system header beyond the standard library and the few
# libraries listed. Run by ctest (the test "layers", so by `make test`); by
# hand:
#   scripts/check-layers.sh [REPO]
# Prints each offending file, line and include (or link) and exits 1 when
# there is one; exits 2 when the table itself is wrong.
set -euo pipefail
set -f  # no globbing: "*" below is a word, not a file name

root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
src=$root/src
readme=$src/README.md

# Each layer (a folder of src/, or a part of one: see unit_of) and the layers
# it includes directly, as the code has them. A layer may also include
# itself and, through these, everything they may include.
layers='
core
metrics
platform        core
ipc             core
sqlite          core
pg              core
store           core sqlite pg
net             core
net/tls         core platform
net/client      core net net/tls
log             net
endpoint        core ipc platform
plugin/adapter  core ipc
plugin          core ipc platform endpoint plugin/adapter
agent           core ipc platform net/client log plugin/adapter sqlite metrics
server/app      core net store
server/notify   core net/client store log server/app
server          core platform net net/tls net/client store log server/app server/notify metrics
cli             core ipc platform net/client endpoint
'

# What the table must never allow, whatever edits it gets. "*": any other
# layer.
never='
core            *
metrics         *
platform        net net/tls net/client log ipc sqlite store endpoint plugin/adapter plugin agent server cli
ipc             endpoint plugin/adapter plugin agent server cli
sqlite          platform net net/tls net/client log ipc store endpoint plugin/adapter plugin agent server cli
pg              platform net net/tls net/client log ipc sqlite store endpoint plugin/adapter plugin agent server cli
store           endpoint plugin/adapter plugin agent server/app server/notify server cli
net             endpoint plugin/adapter plugin agent server/app server cli log
net/tls         endpoint plugin/adapter plugin agent server cli
net/client      endpoint plugin/adapter plugin agent server cli
log             endpoint plugin/adapter plugin agent server cli
endpoint        plugin/adapter plugin agent server cli
plugin/adapter  platform endpoint plugin agent server cli
plugin          agent server cli
agent           plugin server cli
server/app      platform ipc net/tls net/client log endpoint plugin/adapter plugin agent server cli
server/notify   ipc endpoint plugin/adapter plugin agent server cli
server          endpoint plugin/adapter plugin agent cli
cli             plugin/adapter plugin agent server
'

# Headers a layer may not include although its row reaches their layer:
# hoistd's services know JSON text, never HTTP.
never_headers='
server/app      net/http_message.h net/http_error.h
'

# The pure layers include, besides Hoist's own headers, only the C++
# standard library (a header name without '.' or '/') and these.
pure_system='
core            fmt/ openssl/ re2/ toml++/
metrics         fmt/
ipc             fmt/
plugin/adapter  fmt/
'

# The layer of a path relative to src/ ("" for none).
unit_of() {
  case "$1" in
    net/tls/*) echo net/tls ;;
    net/client/*) echo net/client ;;
    server/app/*) echo server/app ;;
    server/notify/*) echo server/notify ;;
    # The files of hoist_plugin_core (src/plugin/CMakeLists.txt): sudo's
    # arrays to typed structs, no I/O.
    plugin/sudo_args.* | plugin/run_mode.* | plugin/env_policy.* | plugin/command_info.* | plugin/break_glass_groups.*) echo plugin/adapter ;;
    core/* | metrics/* | platform/* | ipc/* | sqlite/* | pg/* | store/* | net/* | log/* | endpoint/* | plugin/* | agent/* | server/* | cli/*) echo "${1%%/*}" ;;
    *) echo "" ;;
  esac
}

declare -A direct=() reach=() pure=() known=() banned=()
units=()
while read -r unit deps; do
  [ -n "$unit" ] || continue
  units+=("$unit")
  known[$unit]=1
  direct[$unit]=" $deps "
done <<<"$layers"
while read -r unit prefixes; do
  [ -n "$unit" ] || continue
  pure[$unit]=$prefixes
done <<<"$pure_system"
while read -r unit headers; do
  [ -n "$unit" ] || continue
  banned[$unit]=" $headers "
done <<<"$never_headers"

table_error() {
  echo "check-layers: the layer table in $0 is wrong: $*" >&2
  exit 2
}

# reach[u]: every layer u may include, through the table.
for unit in "${units[@]}"; do
  seen=" "
  read -ra todo <<<"${direct[$unit]}"
  while [ ${#todo[@]} -gt 0 ]; do
    next=${todo[0]}
    todo=("${todo[@]:1}")
    [ -n "${known[$next]:-}" ] || table_error "$unit lists $next, which is no layer"
    case "$seen" in *" $next "*) continue ;; esac
    seen="$seen$next "
    read -ra more <<<"${direct[$next]}"
    todo+=("${more[@]}")
  done
  case "$seen" in *" $unit "*) table_error "$unit reaches itself (a cycle)" ;; esac
  reach[$unit]=$seen
done
while read -r unit forbidden; do
  [ -n "$unit" ] || continue
  for to in $forbidden; do
    if [ "$to" = "*" ]; then
      [ "${reach[$unit]}" = " " ] || table_error "$unit must include no other layer, but may reach:${reach[$unit]% }"
    else
      case "${reach[$unit]}" in *" $to "*) table_error "$unit must never reach $to, but may reach:${reach[$unit]% }" ;; esac
    fi
  done
done <<<"$never"

# src/README.md repeats the table between its layers markers; rows read
# "| `unit` | `dep` `dep` ... | why |".
readme_rows=$(sed -n '/<!-- layers:begin -->/,/<!-- layers:end -->/p' "$readme" |
  awk -F'|' '/^\| *`/ { unit = $2; deps = $3; gsub(/[` ]/, "", unit); gsub(/`/, "", deps);
                        gsub(/^ +| +$/, "", deps); gsub(/ +/, " ", deps); print unit, deps }' | sed 's/ *$//')
script_rows=$(awk 'NF { unit = $1; $1 = ""; sub(/^ +/, ""); print unit, $0 }' <<<"$layers" | sed 's/ *$//')
if [ "$readme_rows" != "$script_rows" ]; then
  echo "check-layers: the layer table in src/README.md differs from the one in scripts/check-layers.sh:" >&2
  diff <(echo "$script_rows") <(echo "$readme_rows") | sed 's/^/  /' >&2 || true
  exit 1
fi

failures=0
declare -A used=()
fail() {
  echo "$*"
  failures=$((failures + 1))
}

# Includes.
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^>"]+)[>"]'
while IFS= read -r -d '' file; do
  rel=${file#"$src"/}
  from=$(unit_of "$rel")
  if [ -z "$from" ]; then
    fail "src/$rel: not in any layer (add its folder to scripts/check-layers.sh and src/README.md)"
    continue
  fi
  while IFS= read -r hit; do
    line=${hit%%:*}
    text=${hit#*:}
    [[ $text =~ $include_re ]] || continue
    quote=${BASH_REMATCH[1]}
    inc=${BASH_REMATCH[2]}
    if [ "$quote" = "<" ] && [ ! -e "$src/$inc" ]; then
      prefixes=${pure[$from]-none}
      [ "$prefixes" != none ] || continue
      [[ $inc == *[./]* ]] || continue
      ok=0
      for p in $prefixes; do [[ $inc == "$p"* ]] && ok=1; done
      [ $ok -eq 1 ] ||
        fail "src/$rel:$line: $text: $from is pure and includes only the standard library and: $prefixes"
      continue
    fi
    to=$(unit_of "$inc")
    if [ -z "$to" ]; then
      fail "src/$rel:$line: $text: names no layer (includes are written from src/, e.g. \"core/result.h\")"
      continue
    fi
    case "${banned[$from]:-}" in
      *" $inc "*)
        fail "src/$rel:$line: $text: $from may not include $inc (scripts/check-layers.sh, never_headers)"
        continue
        ;;
    esac
    [ "$to" != "$from" ] || continue
    case "${reach[$from]}" in
      *" $to "*) used["$from $to"]=1 ;;
      *) fail "src/$rel:$line: $text: $from may not include $to ($from may include:${reach[$from]% })" ;;
    esac
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$file" || true)
done < <(find "$src" -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.c' \) -print0 | sort -z)

# Links between Hoist's own targets. Each CMakeLists.txt becomes lines
# "def TARGET FIRST_SOURCE" and "link TARGET DEP...": comments dropped,
# commands joined onto one line.
parse_cmake() {
  sed 's/#.*//' "$1" | tr '\n' ' ' | awk '{
    rest = $0
    while (match(rest, /(add_library|add_executable|target_link_libraries)[ \t]*\([^)]*\)/)) {
      cmd = substr(rest, RSTART, RLENGTH)
      rest = substr(rest, RSTART + RLENGTH)
      kind = cmd; sub(/[ \t]*\(.*/, "", kind)
      args = cmd; sub(/^[^(]*\(/, "", args); sub(/\)$/, "", args)
      n = split(args, a, /[ \t]+/)
      out = ""; first = ""
      for (i = 1; i <= n; i++) {
        if (a[i] == "" || a[i] ~ /^(STATIC|SHARED|MODULE|OBJECT|INTERFACE|PUBLIC|PRIVATE)$/) continue
        if (first == "") first = a[i]; else out = out " " a[i]
      }
      if (kind == "target_link_libraries") print "link", first out
      else { split(out, s, " "); print "def", first, s[1] }
    }
  }'
}
declare -A target_unit=()
links=()
while IFS= read -r -d '' cmake; do
  dir=$(dirname "${cmake#"$src"/}")
  while read -r kind target rest; do
    if [ "$kind" = def ]; then
      target_unit[$target]=$(unit_of "$dir/${rest%% *}")
    else
      links+=("${cmake#"$root"/}|$target|$rest")
    fi
  done < <(parse_cmake "$cmake")
done < <(find "$src" -name CMakeLists.txt -print0 | sort -z)
for entry in "${links[@]}"; do
  IFS='|' read -r where target deps <<<"$entry"
  from=${target_unit[$target]:-}
  [ -n "$from" ] || continue
  for dep in $deps; do
    to=${target_unit[$dep]:-}
    if [ -z "$to" ] || [ "$to" = "$from" ]; then continue; fi
    case "${reach[$from]}" in
      *" $to "*) ;;
      *) fail "$where: target_link_libraries($target ... $dep): $from may not link $to ($from may link:${reach[$from]% })" ;;
    esac
  done
done

# A table edge no include uses is only reported: the table should shrink.
for unit in "${units[@]}"; do
  for to in ${direct[$unit]}; do
    [ -n "${used["$unit $to"]:-}" ] ||
      echo "check-layers: note: no include in $unit uses its edge to $to; remove it from the table if it is gone for good"
  done
done

if [ $failures -gt 0 ]; then
  echo "check-layers: $failures include(s) or link(s) against the layer table (scripts/check-layers.sh, src/README.md)"
  exit 1
fi
echo "check-layers: every include and link in src/ follows the layer table"
