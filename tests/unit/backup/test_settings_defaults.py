"""BackupSettings built without a config take the schema's defaults, except `keep`."""

from __future__ import annotations

import dataclasses

from unconscious.backup.settings import BackupSettings, ResticSettings
from unconscious.config.typed import schema_default
from unconscious.context import Context


def test_settings_built_directly_equal_those_of_an_empty_section_but_for_keep(context: Context) -> None:
    loaded = BackupSettings.from_config({"include_hostmind_state": False}, context.paths)
    built = BackupSettings()
    assert dataclasses.replace(loaded, keep=built.keep, dumps_dir=None) == built
    # `keep` is the one documented difference: built directly, nothing is pruned.
    assert built.keep == dict.fromkeys(built.keep, 0)
    assert loaded.keep == schema_default("backup", "keep")


def test_durations_of_named_entries_come_typed_from_the_schema(context: Context) -> None:
    loaded = BackupSettings.from_config({"hooks": {"h": {"pre": ["/bin/true"]}},
                                         "restic": {"timeout": "90m"}}, context.paths)
    assert [(hook.name, hook.pre, hook.timeout) for hook in loaded.hooks] == [("h", ("/bin/true",), 300.0)]
    assert loaded.restic == dataclasses.replace(ResticSettings(), timeout=5400.0)
