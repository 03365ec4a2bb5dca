"""The composition root: the one place that imports both layers and wires them together.

`unconscious` never imports `conscious`; `hostmind.wiring` adds the conscious layer's services,
commands, status sections and re-arm hook to the unconscious layer's table and runs the CLI with
it. The `hostmind` command and the trusted units (apply, rollback@, conscious) start here; the
always-on units (health, rotate, backup) start `unconscious.cli.main` and never load this.
"""
