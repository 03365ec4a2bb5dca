#!/usr/bin/env bash
# Debian packages the tests and benchmarks need. Idempotent; run as root.
set -euo pipefail
packages=(systemd-container mmdebstrap zstd logrotate restic python3-venv util-linux bubblewrap acl attr postgresql)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-system-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q
    timeout 1200 apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "system packages present: ${packages[*]}"
