"""`hostmind rotate import` / `adopt` on real logrotate configurations: Debian's stock nginx,
apache2 and rsyslog files (fixtures/ORIGIN.md), this machine's /etc/logrotate.conf (read only),
and hostile or broken input."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.rotate.harness import REPO, make_tree
from unconscious.rotate.adopt import adopt, import_config
from unconscious.rotate.logrotate_conf import parse

FIXTURES = Path(__file__).with_name("fixtures") / "logrotate.d"


def _hostmind(tree_root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    tree = make_tree(tree_root)
    return subprocess.run([sys.executable, "-m", "unconscious.cli.main", *arguments], env=tree.environment(),
                          capture_output=True, text=True, timeout=60, cwd=REPO, check=False)


def _stock_conf(tmp_path: Path) -> Path:
    """A logrotate.conf like Debian's (weekly, rotate 4, create) including the stock package files."""
    included = tmp_path / "logrotate.d"
    shutil.copytree(FIXTURES, included)
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"weekly\nrotate 4\ncreate\n\ninclude {included}\n")
    return conf


def _rules(text: str) -> dict[str, dict[str, object]]:
    document = yaml.safe_load(text)
    return dict(document["rotate"]["rules"])


def test_the_stock_nginx_apache2_and_rsyslog_files_translate_with_their_scripts(tmp_path: Path) -> None:
    result = _hostmind(tmp_path, "rotate", "import", "--config", str(_stock_conf(tmp_path)))
    assert 0 == result.returncode, result.stderr
    rules = _rules(result.stdout)
    assert ["lr-apache2", "lr-nginx", "lr-rsyslog"] == sorted(rules)
    rsyslog = rules["lr-rsyslog"]
    assert (6, "weekly", 4, "gzip", True, True, {"command": ["/usr/lib/rsyslog/rsyslog-rotate"]}) == (
        len(rsyslog["paths"]), rsyslog["every"], rsyslog["keep"], rsyslog["compress"], rsyslog["delaycompress"],
        rsyslog["sharedscripts"], rsyslog["postrotate"])
    nginx = rules["lr-nginx"]
    assert ({"mode": "0640", "owner": "www-data", "group": "adm"}, "daily", 14) == (
        nginx["create"], nginx["every"], nginx["keep"])
    # Redirections and if-blocks need a shell: they become `shell:` (operator-only), never an argv.
    assert "invoke-rc.d nginx rotate >/dev/null 2>&1" == nginx["postrotate"]["shell"]
    assert "run-parts /etc/logrotate.d/httpd-prerotate" in rules["lr-apache2"]["prerotate"]["shell"]
    assert {"mode": "0640", "owner": "root", "group": "adm"} == rules["lr-apache2"]["create"]
    assert "3 logrotate blocks in 4 files read; 0 notes" in result.stderr


def test_the_translation_validates_as_a_drop_in(tmp_path: Path) -> None:
    dropin = tmp_path / "etc" / "hostmind.d" / "40-logrotate.yaml"
    dropin.parent.mkdir(parents=True)
    written = _hostmind(tmp_path, "rotate", "import", "--config", str(_stock_conf(tmp_path)), "--output", str(dropin))
    validated = _hostmind(tmp_path, "config", "validate")
    assert (0, 0) == (written.returncode, validated.returncode), validated.stderr


@pytest.mark.skipif(not Path("/etc/logrotate.conf").exists(), reason="no /etc/logrotate.conf on this machine")
def test_this_machines_logrotate_configuration_translates_and_validates(tmp_path: Path) -> None:
    dropin = tmp_path / "etc" / "hostmind.d" / "40-logrotate.yaml"
    dropin.parent.mkdir(parents=True)
    written = _hostmind(tmp_path, "rotate", "import", "--output", str(dropin))
    validated = _hostmind(tmp_path, "config", "validate")
    parsed = parse(Path("/etc/logrotate.conf"))
    assert (0, 0, []) == (written.returncode, validated.returncode, parsed.problems), validated.stderr
    assert len(parsed.blocks) == len(_rules(dropin.read_text()))


def test_what_cannot_be_honoured_is_reported_with_file_line_and_why(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text("compress\n/var/log/a.log {\n  mail root@example.org\n  shred\n  su\n"
                    "  compresscmd /usr/bin/xz\n  bogus 3\n}\nrelative.log {\n  daily\n}\n/var/log/b.log {\n")
    result = import_config(conf)
    report = "\n".join(result.report)
    for expected in (f"{conf}:3: mail: hostmind never mails logs", f"{conf}:4: shred:",
                     f"{conf}:5: su: not honoured: logrotate requires a user", f"{conf}:2: compresscmd xz: only gzip and zstd",
                     f"{conf}:7: 'bogus' is not a directive", f"{conf}:9: relative.log: not an absolute path",
                     f"{conf}:12: block without its closing '}}'"):
        assert expected in report


def test_su_is_translated_to_the_user_and_group_the_rule_rotates_as(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text("/var/log/a.log {\n  su www-data adm\n}\n/var/log/b.log {\n  su nobody\n}\n"
                    "/var/log/c.log {\n  su root adm\n}\n")
    rules = {item.name: item.rule for item in import_config(conf).translated}
    assert [{"user": "www-data", "group": "adm"}, {"user": "nobody", "group": None},
            {"user": "root", "group": "adm"}] == [rules[name]["su"] for name in sorted(rules)]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_block_in_a_service_users_directory_without_su_says_which_su_to_set(tmp_path: Path) -> None:
    """logrotate refuses such a directory without `su`; so does a run as root: the import says
    so at once, with the `su` to set, instead of the first run failing."""
    app = tmp_path / "app"
    app.mkdir()
    os.chown(app, 65534, 65534)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    os.chown(shared, 0, 65534)
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{app}/*.log {{\n  daily\n}}\n{app}/x.log {{\n  su nobody nogroup\n}}\n"
                    f"{shared}/*.log {{\n  daily\n}}\n{tmp_path}/root-only.log {{\n  daily\n}}\n")
    report = import_config(conf).report
    owner, group = pwd.getpwuid(65534).pw_name, grp.getgrgid(65534).gr_name
    assert [f"{conf}:1: {app} is owned by {owner} (uid 65534): a run as root refuses its logs until "
            f"the rule has `su` (logrotate refuses them too): set `su: {{user: {owner}, group: {group}}}` "
            f"for the rule (its owner), or make the directory root's",
            f"{conf}:7: {shared} is writable by group {group} (gid 65534): a run as root refuses its "
            f"logs until the rule has `su` (logrotate refuses them too): set `su: {{user: USER, group: "
            f"GROUP}}` for the rule (the user and group that write there)"] == report


def test_a_hostile_config_cannot_smuggle_a_shell_into_an_argv(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text("/var/log/a.log {\n  postrotate\n    /bin/true; rm -rf /\n  endscript\n}\n"
                    "/var/log/b.log {\n  postrotate\n    /usr/bin/kill -HUP $(cat /run/x.pid)\n  endscript\n}\n")
    rules = {item.name: item.rule for item in import_config(conf).translated}
    assert {"shell": "/bin/true; rm -rf /"} == rules["lr-logrotate-conf"]["postrotate"]  # type: ignore[index]
    assert "command" not in rules["lr-logrotate-conf-2"]["postrotate"]  # type: ignore[index]


def test_extension_is_translated_and_a_hostile_one_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text("/var/log/a.log {\n  extension .log\n}\n/var/log/b.log {\n  extension /../../etc\n}\n"
                    "/var/log/c.log {\n  extension .hostmind-x\n}\n")
    result = import_config(conf)
    rules = {item.name: item.rule for item in result.translated}
    assert ".log" == rules["lr-logrotate-conf"]["extension"]  # type: ignore[index]
    assert "extension" not in rules["lr-logrotate-conf-2"]  # type: ignore[operator]
    assert "extension" not in rules["lr-logrotate-conf-3"]  # type: ignore[operator]
    report = "\n".join(result.report)
    assert f"{conf}:5: extension /../../etc: not honoured" in report
    assert f"{conf}:8: extension .hostmind-x: not honoured" in report


def test_includes_read_later_defaults_and_skip_taboo_files_and_loops(tmp_path: Path) -> None:
    directory = tmp_path / "d"
    directory.mkdir()
    (directory / "app").write_text("/var/log/app.log {\n  missingok\n}\n")
    (directory / "app.dpkg-old").write_text("/var/log/old.log {\n}\n")
    (directory / "loop").write_text(f"include {tmp_path / 'logrotate.conf'}\n")
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"daily\nrotate 9\ninclude {directory}\nmonthly\n/var/log/late.log {{ }}\n")
    parsed = parse(conf)
    rules = {item.rule["paths"][0]: item.rule for item in import_config(conf).translated if item.rule}
    assert ["/var/log/app.log", "/var/log/late.log"] == sorted(rules)
    assert (("daily", 9), ("monthly", 9)) == ((rules["/var/log/app.log"]["every"], rules["/var/log/app.log"]["keep"]),
                                              (rules["/var/log/late.log"]["every"], rules["/var/log/late.log"]["keep"]))
    assert any("included twice" in problem for problem in parsed.problems)


def test_adopt_writes_the_rules_then_renames_the_files_logrotate_then_skips(tmp_path: Path) -> None:
    conf = _stock_conf(tmp_path)
    result = _hostmind(tmp_path, "rotate", "adopt", "--config", str(conf))
    assert 0 == result.returncode, result.stderr
    included = tmp_path / "logrotate.d"
    assert ["apache2.disabled", "nginx.disabled", "rsyslog.disabled"] == sorted(p.name for p in included.iterdir())
    assert [] == parse(conf).blocks  # what logrotate itself would now read
    dropin = tmp_path / "etc" / "hostmind.d" / "40-logrotate-adopted.yaml"
    assert ["lr-apache2", "lr-nginx", "lr-rsyslog"] == sorted(_rules(dropin.read_text()))
    assert f"mv {included / 'nginx.disabled'} {included / 'nginx'}" in result.stdout


def test_adopt_renames_nothing_when_the_rules_do_not_validate(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    included = tmp_path / "logrotate.d"
    included.mkdir()
    (included / "web").write_text("/var/log/web/*.log {\n  su www-data\n  daily\n}\n"
                                  "/var/log/web/a.log {\n  daily\n}\n")  # overlaps the glob: refused
    conf.write_text(f"include {included}\n")
    result = _hostmind(tmp_path, "rotate", "adopt", "--config", str(conf))
    assert (78, ["web"]) == (result.returncode, sorted(p.name for p in included.iterdir()))
    assert not (tmp_path / "etc" / "hostmind.d" / "40-logrotate-adopted.yaml").exists()


def test_config_validate_and_the_run_warn_about_a_log_logrotate_also_rotates(tmp_path: Path) -> None:
    conf = tmp_path / "logrotate.conf"
    conf.write_text(f"{tmp_path / 'logs'}/*.log {{\n  daily\n}}\n")
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("hello\n")
    tree = make_tree(tmp_path)
    tree.configure({"app": {"paths": [str(log)], "size": "1G"}}, {"logrotate_conf": str(conf)})
    validated = _hostmind(tmp_path, "config", "validate")
    ran = _hostmind(tmp_path, "rotate", "--json")
    expected = f"rotate.rules.app: {log} is also rotated by logrotate ({conf}:1)"
    assert (0, 0) == (validated.returncode, ran.returncode)
    assert expected in validated.stderr
    assert [expected] == [text.split(";")[0] for text in json.loads(ran.stdout)["warnings"]]


def test_an_adoption_that_fails_half_way_is_undone_whole(tmp_path: Path) -> None:
    conf = _stock_conf(tmp_path)
    included = tmp_path / "logrotate.d"
    result = import_config(conf)
    dropin = tmp_path / "etc" / "hostmind.d" / "40-logrotate-adopted.yaml"
    # The last file vanishes after the import read it: its rename fails after two others succeeded.
    (included / "rsyslog").unlink()
    with pytest.raises(FileNotFoundError):
        adopt(result, dropin, lambda: None)
    assert (["apache2", "nginx"], False) == (sorted(p.name for p in included.iterdir()), dropin.exists())
