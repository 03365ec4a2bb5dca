#!/usr/bin/env bash
# Prepare this machine for the e2e suite (tests/e2e): install the Debian packages it needs and
# build (once) the cached bookworm rootfs that systemd-nspawn boots.
#
# Idempotent: a second run only checks. Needs root. `--print-tarball` only prints the
# tarball's path. Env:
#   HOSTMIND_E2E_CACHE   cache dir for the rootfs tarball (default /var/cache/hostmind-e2e)
#   HOSTMIND_E2E_MIRROR  Debian mirror (default: the first debian URI in the host's apt sources)
set -euo pipefail

cache_dir="${HOSTMIND_E2E_CACHE:-/var/cache/hostmind-e2e}"
# The package set is part of the cache key: changing it rebuilds the rootfs.
include="systemd,systemd-sysv,dbus,python3,python3-venv,procps"
key="$(printf '%s' "bookworm minbase $include" | sha256sum | cut -c1-12)"
tarball="$cache_dir/bookworm-$key.tar.zst"

# The e2e fixture asks where the tarball is (one place knows the cache key).
if [ "${1:-}" = "--print-tarball" ]; then
    echo "$tarball"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "setup-e2e: needs root (apt-get, mmdebstrap); e2e tests will be skipped" >&2
    exit 0
fi

need=()
for pair in systemd-nspawn:systemd-container mmdebstrap:mmdebstrap zstd:zstd nsenter:util-linux \
            systemd-analyze:systemd; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "setup-e2e: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ -s "$tarball" ]; then
    echo "setup-e2e: rootfs cached at $tarball"
    exit 0
fi

mirror="${HOSTMIND_E2E_MIRROR:-}"
if [ -z "$mirror" ]; then
    # deb822 sources first (Debian 12 default), then one-line sources.list entries.
    mirror="$(grep -hsE '^URIs:.*/debian/?$' /etc/apt/sources.list.d/*.sources | head -n1 | awk '{print $2}')"
    [ -n "$mirror" ] || mirror="$(grep -hsE '^deb .*/debian/? ' /etc/apt/sources.list \
        /etc/apt/sources.list.d/*.list | head -n1 | awk '{print $2}')"
    [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
fi

mkdir -p "$cache_dir"
tmp="$(mktemp "$cache_dir/.build.XXXXXX.tar.zst")"
trap 'rm -f "$tmp"' EXIT
echo "setup-e2e: building bookworm rootfs from $mirror (about 30 s)"
start=$(date +%s)
mmdebstrap --quiet --variant=minbase --include="$include" --format=tar bookworm - "$mirror" \
    | zstd -q -T0 -3 -o "$tmp" -f
mv -f "$tmp" "$tarball"
trap - EXIT
echo "setup-e2e: rootfs built in $(( $(date +%s) - start )) s: $tarball ($(du -h "$tarball" | cut -f1))"
