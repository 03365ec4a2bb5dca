#!/usr/bin/env bash
# Install hostmind from this checkout and run it once. Needs root (it writes /opt/hostmind).
#   - copies the checkout to /opt/hostmind/src (the trusted base: root-owned, never written by
#     hostmind) and installs it into /opt/hostmind/venv, linking /usr/local/bin/hostmind;
#   - on a systemd host: `hostmind install --now` (seeds the live tree /var/lib/hostmind/live,
#     the copy the rails may change; units enabled and started);
#   - elsewhere (a container, CI): validates the config, runs each service once in the
#     foreground and prints `hostmind status`.
# Already installed? Then it runs `hostmind upgrade` from this checkout instead (arguments are
# passed on: --reset-live or --keep-live when the live tree holds committed changes).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${HOSTMIND_PREFIX:-/opt/hostmind}"
if [ "$(id -u)" -ne 0 ]; then
    echo "quickstart: needs root (writes $prefix and /usr/local/bin); try: sudo $0" >&2
    exit 3
fi
if [ -x "$prefix/venv/bin/hostmind" ] && [ -d "$prefix/src" ]; then
    echo "hostmind is already installed in $prefix: upgrading it from $here"
    exec "$prefix/venv/bin/hostmind" upgrade "$here" "$@"
fi
command -v python3 >/dev/null || { echo "quickstart: python3 (3.11+) is required" >&2; exit 1; }
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q python3-venv
fi
mkdir -p "$prefix/src"
# --no-same-owner and go-w: the trusted base is root's, whoever owns the checkout.
tar -C "$here" --exclude=./.venv --exclude=./.ci-venv --exclude=./.git --exclude='*.egg-info' \
    --exclude=__pycache__ -cf - . | tar -C "$prefix/src" --no-same-owner -xf -
chmod -R go-w "$prefix/src"
[ -x "$prefix/venv/bin/python" ] || python3 -m venv "$prefix/venv"
"$prefix/venv/bin/pip" install -q --upgrade pip
# The test extras too: the rails' ratchet runs the unit tests of the live tree before a change.
"$prefix/venv/bin/pip" install -q -e "$prefix/src[test]"
ln -sf "$prefix/venv/bin/hostmind" /usr/local/bin/hostmind
echo "installed: $(hostmind --version) in $prefix"

hostmind config validate
if [ -d /run/systemd/system ]; then
    hostmind install --now
    systemctl --no-pager status hostmind.target || true
    echo "hostmind is running under systemd: try 'hostmind status' and 'journalctl -t hostmind-health'"
else
    echo "PID 1 is not systemd: running each service once in the foreground instead"
    hostmind run rotate
    hostmind run backup
    hostmind check || echo "(hostmind check found problems on this host: see above)"
    hostmind status || true
fi
