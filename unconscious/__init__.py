"""hostmind's always-on layer: health checks, log rotation, backups.

Nothing in this package imports the conscious layer or the model SDK: the host must stay
healthy when the expensive layer is down, over budget or wrong.
"""
