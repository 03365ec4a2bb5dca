"""logrotate's configuration syntax as logrotate 3.21 reads it (logrotate_conf.py)."""

from __future__ import annotations

from pathlib import Path

from unconscious.rotate.logrotate_conf import parse


def _parse(tmp_path: Path, text: str) -> tuple[list[tuple[list[str], list[tuple[str, tuple[str, ...]]]]], list[str]]:
    conf = tmp_path / "logrotate.conf"
    conf.write_text(text)
    parsed = parse(conf)
    return ([(block.patterns, [(d.name, d.args) for d in block.directives]) for block in parsed.blocks],
            parsed.problems)


def test_a_brace_on_the_next_line_and_patterns_over_several_lines(tmp_path: Path) -> None:
    blocks, problems = _parse(tmp_path, "/var/log/a.log\n\"/var/log/with space.log\"\n{\n  rotate 3\n}\n")
    assert ([(["/var/log/a.log", "/var/log/with space.log"], [("rotate", ("3",))])], []) == (blocks, problems)


def test_a_script_keeps_braces_and_comments_until_endscript(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text("/var/log/a.log {\n  postrotate\n    # a } in a comment\n    echo '}' > x\n  endscript\n"
                    "  daily\n}\n")
    block = parse(conf).blocks[0]
    assert [("postrotate", "# a } in a comment\necho '}' > x"), ("daily", "")] == [
        (d.name, d.script) for d in block.directives]


def test_globals_apply_only_to_what_follows_them(tmp_path: Path) -> None:
    blocks, _problems = _parse(tmp_path, "/var/log/a.log { }\ncompress\n/var/log/b.log { }\n")
    assert [(["/var/log/a.log"], []), (["/var/log/b.log"], [("compress", ())])] == blocks


def test_unknown_directives_and_unclosed_blocks_are_problems_with_file_and_line(tmp_path: Path) -> None:
    _blocks, problems = _parse(tmp_path, "/var/log/a.log {\n  frobnicate\n}\n/var/log/b.log {\n  postrotate\n")
    conf = tmp_path / "logrotate.conf"
    assert [f"{conf}:2: 'frobnicate' is not a directive logrotate knows inside a block; ignored",
            f"{conf}:5: postrotate without endscript",
            f"{conf}:4: block without its closing '}}'; ignored"] == problems


def test_a_missing_include_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    _blocks, problems = _parse(tmp_path, f"include {tmp_path / 'nowhere'}\n")
    assert [f"{tmp_path / 'nowhere'}: cannot read (No such file or directory)"] == problems
