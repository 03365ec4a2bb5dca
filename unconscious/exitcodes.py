"""Exit codes of the `hostmind` command, documented in the README."""

OK = 0
FAILURE = 1
USAGE = 2  # argparse's own code for bad arguments
NOT_POSSIBLE_HERE = 3  # e.g. PID 1 is not systemd, or not root
CONFIG_ERROR = 78  # EX_CONFIG from sysexits.h; units use RestartPreventExitStatus=78
