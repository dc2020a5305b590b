#!/usr/bin/env bash
# lintian on make deb's packages (tests/packaging/CMakeLists.txt):
#   lintian_check.sh DEB_DIR docs/packaging.md
# Fails on any error, and unless the warnings lintian gives are exactly the
# ones docs/packaging.md lists and justifies (its table rows starting
# "| W |"), so a new warning is either fixed or explained, and the list
# never keeps one that went away. Informational tags are printed.
set -euo pipefail
deb_dir=$1
doc=$2
shopt -s nullglob
debs=("$deb_dir"/hoistd_*.deb "$deb_dir"/hoist-agent_*.deb "$deb_dir"/hoist_*.deb)
if [ ${#debs[@]} -ne 3 ]; then
  echo "lintian_check: expected the three packages in $deb_dir (make deb)" >&2
  exit 1
fi
out=$(lintian --pedantic -I --color never "${debs[@]}" 2>/dev/null) || true
echo "$out"
errors=$(grep -c '^E: ' <<<"$out" || true)
got=$(sed -n 's/^W: \([^ ]*\): \([^ ]*\).*/\1: \2/p' <<<"$out" | sort -u)
listed=$(sed -n 's/^| W | `\([^`]*\)`.*/\1/p' "$doc" | sort -u)
status=0
if [ "$errors" -ne 0 ]; then
  echo "lintian_check: $errors error(s)"
  status=1
fi
if [ "$got" != "$listed" ]; then
  echo "lintian_check: the warnings differ from those $doc lists and justifies:"
  diff <(echo "$listed") <(echo "$got") | sed -n 's/^> /  new (fix or justify it): /p; s/^< /  gone (drop it from the doc): /p'
  status=1
fi
[ $status -eq 0 ] && echo "lintian_check: no errors; the $(grep -c . <<<"$got") warning(s) are the ones documented"
exit $status
