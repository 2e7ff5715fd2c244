#!/usr/bin/env bash
# Check the units with `systemd-analyze verify` where the tool exists (CI: Debian).
# The units name /opt/g2g/bin/g2g; verify needs an executable there, so it checks
# copies that name this checkout's g2g (or /bin/true) instead, with a real instance name.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze not installed: units not verified"
  exit 0
fi
g2g="$(cd "$here/../.." && pwd)/.venv/bin/g2g"
[ -x "$g2g" ] || g2g=/bin/true
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s#/opt/g2g/bin/g2g#$g2g#" "$here/g2g-broker.service" > "$work/g2g-broker.service"
sed "s#/opt/g2g/bin/g2g#$g2g#" "$here/g2g-adapter@.service" > "$work/g2g-adapter@immigration.service"
# Any line it prints (an unknown key is only a warning to it) fails the check.
out="$(systemd-analyze verify "$work/g2g-broker.service" \
       "$work/g2g-adapter@immigration.service" 2>&1)" || { echo "$out"; exit 1; }
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "systemd units verified"
