"""The `hostmind` command line."""
