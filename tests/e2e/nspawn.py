"""The e2e suite's view of the container harness, which lives in demo/nspawn.py (in the
checkout, not the wheel) so `hostmind demo` boots the same container."""

from demo.nspawn import (
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
