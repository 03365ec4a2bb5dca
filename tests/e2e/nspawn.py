"""The e2e suite's view of the container harness, which lives in conscious/demo/nspawn.py so
`hostmind demo` can boot the same container from an installed checkout."""

from conscious.demo.nspawn import (
    CACHE_DIR,
    FAULT_CONFIG,
    FAULT_FILE,
    HEALTH,
    HEALTH_DROPIN,
    HEALTH_DROPIN_TEXT,
    HOSTMIND,
    REPO,
    VENV,
    WHEELS_INSIDE,
    Container,
    E2EUnavailable,
    build_wheels,
    cache_lock,
    extracted_rootfs,
    install_test_suite,
    missing_requirements,
    now_usec,
    provision,
    rootfs_tarball,
    wait_active,
)

__all__ = [
    "CACHE_DIR", "FAULT_CONFIG", "FAULT_FILE", "HEALTH", "HEALTH_DROPIN", "HEALTH_DROPIN_TEXT",
    "HOSTMIND", "REPO", "VENV", "WHEELS_INSIDE", "Container", "E2EUnavailable", "build_wheels",
    "cache_lock", "extracted_rootfs", "install_test_suite", "missing_requirements", "now_usec", "provision",
    "rootfs_tarball", "wait_active",
]
