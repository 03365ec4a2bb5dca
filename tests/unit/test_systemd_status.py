"""The units block of `hostmind status`: problems in full, quiet units on one line per kind."""

from __future__ import annotations

import time
from pathlib import Path

from unconscious.context import Context
from unconscious.evidence import record_run
from unconscious.systemctl import Systemctl, UnitState, parse_timestamp, start_limit_logged
from unconscious.systemd_status import _quiet, _summary, describe

NOW = 1_795_243_801.0


def unit(name: str, active: str, sub: str, result: str = "success", **more: object) -> UnitState:
    return UnitState(name=name, load_state="loaded", active_state=active, sub_state=sub, result=result,
                     **more)  # type: ignore[arg-type]


def test_systemctl_timestamps_in_utc_parse_to_unix_time() -> None:
    assert 1_795_243_801.0 == parse_timestamp("Sat 2026-11-21 06:50:01 UTC")
    assert (None, None) == (parse_timestamp(""), parse_timestamp("n/a"))


def test_a_running_service_says_since_when_and_its_status_line() -> None:
    state = unit("hostmind-health.service", "active", "running", status_text="11 checks: 11 ok",
                 since=NOW - 300)
    clock = time.strftime("%H:%M", time.localtime(NOW - 300))
    assert (f"hostmind-health.service    active (running) since {clock} (5m ago): 11 checks: 11 ok",
            False) == describe(state, NOW)


def test_a_tripped_breaker_needs_attention_names_the_way_out_and_what_counts() -> None:
    # Two earlier starts by hand and one crash: NRestarts is only 1, the journal says it all.
    state = unit("hostmind-health.service", "failed", "failed", "signal", restarts=1, exit_status=9,
                 start_limit_burst=4, restart="on-failure", start_limit_logged=True)
    line, attention = describe(state, NOW)
    assert attention
    assert "BREAKER TRIPPED" in line
    assert "journal: Start request repeated too quickly." in line
    assert "`systemctl restart` too" in line
    assert line.endswith("then run `hostmind rearm`")


def test_a_config_error_is_named_as_such_and_is_not_the_breaker() -> None:
    state = unit("hostmind-health.service", "failed", "failed", "exit-code", exit_status=78,
                 restart_prevent_statuses=frozenset({78}), restart="on-failure",
                 start_limit_logged=False)
    line, attention = describe(state, NOW)
    assert attention and "BREAKER" not in line
    assert "config error, see `hostmind config validate`" in line


def test_quiet_units_are_summarised_and_failed_ones_are_not() -> None:
    states = [
        unit("hostmind-rotate.service", "inactive", "dead", last_start=NOW - 60),
        unit("hostmind-apply.service", "inactive", "dead"),
        unit("hostmind-backup.service", "failed", "failed", "exit-code"),
        unit("hostmind-rotate.timer", "active", "waiting"),
        unit("hostmind-conscious.path", "active", "waiting"),
        unit("hostmind-rollback@hostmind-health.service.service", "inactive", "dead"),
        unit("hostmind.target", "active", "active"),
    ]
    quiet = [state for state in states if _quiet(state)]
    assert ["hostmind-backup.service"] == [state.name for state in states if state not in quiet]
    assert ["services  idle, last run exited 0: rotate", "services  idle, never run: apply",
            "timers    waiting: rotate", "paths     watching: conscious",
            "targets   active: hostmind"] == _summary(quiet)


def test_an_idle_service_is_ok_only_when_its_evidence_says_so(context: Context) -> None:
    record_run(context.paths, "rotate", ok=True, duration=0.1)
    record_run(context.paths, "conscious", ok=False, duration=0.1, error="API unreachable")
    states = [unit("hostmind-rotate.service", "inactive", "dead", last_start=NOW - 60),
              unit("hostmind-conscious.service", "inactive", "dead", last_start=NOW - 60),
              unit("hostmind-apply.service", "inactive", "dead")]
    assert ["services  idle, last run FAILED (see evidence): conscious",
            "services  idle, last run ok: rotate",
            "services  idle, never run: apply"] == _summary(states, context.paths)


def fake_journalctl(directory: Path, output: str, code: int = 0) -> tuple[str, ...]:
    """A journalctl script that logs its arguments and prints `output`."""
    (directory / "journal.out").write_text(output, encoding="utf-8")
    script = directory / "journalctl"
    script.write_text(f'#!/bin/sh\necho "$*" >> {directory}/journal.log\n'
                      f'cat {directory}/journal.out\nexit {code}\n', encoding="utf-8")
    script.chmod(0o755)
    return (str(script),)


def fake_systemctl(directory: Path, show: str) -> tuple[str, ...]:
    (directory / "show.out").write_text(show, encoding="utf-8")
    script = directory / "systemctl-stand-in"
    script.write_text(f"#!/bin/sh\ncat {directory}/show.out\n", encoding="utf-8")
    script.chmod(0o755)
    return (str(script),)


SHOW = """Id=hostmind-health.service
ActiveState=failed
Result=signal
NRestarts=1
ExecMainStatus=9
StartLimitBurst=4
RestartPreventExitStatus=78
Restart=on-failure
StateChangeTimestamp=Sat 2026-11-21 06:50:01 UTC

Id=hostmind-rotate.timer
ActiveState=active
StateChangeTimestamp=Sat 2026-11-21 06:00:00 UTC
"""


def test_the_journal_line_decides_and_is_asked_only_about_failed_units(tmp_path: Path) -> None:
    journal = fake_journalctl(tmp_path, '{"MESSAGE": "Stopped x."}\n'
                              '{"MESSAGE": "hostmind-health.service: Start request repeated too quickly."}\n')
    systemctl = Systemctl(command=fake_systemctl(tmp_path, SHOW), journalctl=journal)
    health, timer = systemctl.show("hostmind-health.service", "hostmind-rotate.timer")
    assert health.start_limit_logged is True and health.breaker_tripped
    assert timer.start_limit_logged is None and not timer.breaker_tripped
    [call] = (tmp_path / "journal.log").read_text().splitlines()
    assert f"--since=@{int(NOW) - 2}" in call
    assert call.endswith("_PID=1 UNIT=hostmind-health.service")


def test_a_journal_without_the_line_means_not_tripped_whatever_the_state_suggests(
        tmp_path: Path) -> None:
    # E.g. a stop that timed out: failed, Restart=on-failure, yet systemd did not refuse a start.
    journal = fake_journalctl(tmp_path, '{"MESSAGE": "Failed with result \'signal\'."}\n')
    [health] = Systemctl(command=fake_systemctl(tmp_path, SHOW.split("\n\n")[0]),
                         journalctl=journal).show("hostmind-health.service")
    assert health.start_limit_logged is False and not health.breaker_tripped


def test_an_unreadable_journal_falls_back_to_the_restart_policy(tmp_path: Path) -> None:
    journal = fake_journalctl(tmp_path, "", code=1)
    [health] = Systemctl(command=fake_systemctl(tmp_path, SHOW.split("\n\n")[0]),
                         journalctl=journal).show("hostmind-health.service")
    assert health.start_limit_logged is None
    assert health.breaker_evidence == "failed (signal) although Restart=on-failure"
    assert start_limit_logged((str(tmp_path / "missing-journalctl"),), "x.service", NOW) is None


def lagging_journalctl(directory: Path, calls_before_the_line: int) -> tuple[str, ...]:
    """A journalctl whose start-limit line appears only from call `calls_before_the_line` + 1 on
    (journald still had the datagram in its socket before that)."""
    script = directory / "journalctl"
    script.write_text(
        f'#!/bin/sh\necho "$*" >> {directory}/journal.log\n'
        f'if [ "$(wc -l < {directory}/journal.log)" -gt {calls_before_the_line} ]; then\n'
        '  echo \'{"MESSAGE": "hostmind-health.service: Start request repeated too quickly."}\'\n'
        "fi\n", encoding="utf-8")
    script.chmod(0o755)
    return (str(script),)


class FakeClock:
    """A wall clock that moves only when slept on."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_right_after_the_failure_a_journal_that_lags_is_read_again_until_the_line_arrives(
        tmp_path: Path) -> None:
    clock = FakeClock(NOW + 0.5)  # the OnFailure= handler asks half a second after the failure
    systemctl = Systemctl(command=fake_systemctl(tmp_path, SHOW.split("\n\n")[0]),
                          journalctl=lagging_journalctl(tmp_path, 2), clock=clock,
                          sleep=clock.sleep)
    [health] = systemctl.show("hostmind-health.service")
    assert health.start_limit_logged is True and health.breaker_tripped
    assert len((tmp_path / "journal.log").read_text().splitlines()) == 3
    assert clock.slept == [0.25, 0.25]


def test_the_journal_is_read_again_only_within_the_lag_and_only_when_the_policy_suggests_it(
        tmp_path: Path) -> None:
    never = lagging_journalctl(tmp_path, 1_000)
    clock = FakeClock(NOW + 0.5)
    [health] = Systemctl(command=fake_systemctl(tmp_path, SHOW.split("\n\n")[0]),
                         journalctl=never, clock=clock, sleep=clock.sleep).show(
        "hostmind-health.service")
    # A stop that timed out, say: no line ever comes, and the answer waits out the lag only.
    assert health.start_limit_logged is False and not health.breaker_tripped
    assert NOW + 4 <= clock.now < NOW + 4.5
    late = FakeClock(NOW + 60)  # `hostmind status` a minute later: one read is the answer
    (tmp_path / "journal.log").unlink()
    [health] = Systemctl(command=fake_systemctl(tmp_path, SHOW.split("\n\n")[0]),
                         journalctl=never, clock=late, sleep=late.sleep).show(
        "hostmind-health.service")
    assert health.start_limit_logged is False and late.slept == []
    config_error = SHOW.split("\n\n")[0].replace("Result=signal", "Result=exit-code").replace(
        "ExecMainStatus=9", "ExecMainStatus=78")
    at_once = FakeClock(NOW + 0.5)  # exit 78 is never restarted: nothing to wait for
    [health] = Systemctl(command=fake_systemctl(tmp_path, config_error), journalctl=never,
                         clock=at_once, sleep=at_once.sleep).show("hostmind-health.service")
    assert health.start_limit_logged is False and at_once.slept == []


def test_a_stand_in_systemctl_is_never_paired_with_the_real_journal(tmp_path: Path) -> None:
    systemctl = Systemctl(command=fake_systemctl(tmp_path, SHOW.split("\n\n")[0]))
    [health] = systemctl.show("hostmind-health.service")
    assert health.start_limit_logged is None


def test_starts_that_ended_in_a_config_error_still_count_when_the_limit_refuses_one() -> None:
    # Three starts exited 78 (not restarted), the config was fixed, the next start was refused:
    # ExecMainStatus still says 78 from the last run, the journal says the limit.
    state = unit("hostmind-health.service", "failed", "failed", "exit-code", exit_status=78,
                 restart_prevent_statuses=frozenset({78}), restart="on-failure",
                 start_limit_logged=True)
    assert state.breaker_tripped
    line, attention = describe(state, NOW)
    assert attention and "BREAKER TRIPPED" in line and "config error" not in line


def test_a_failure_time_in_the_future_never_stretches_the_wait_past_the_lag(tmp_path: Path) -> None:
    # StateChangeTimestamp in a zone parsed as another, or a clock stepped back: "failed" seems
    # an hour ahead. The re-reads still stop once the journal's lag would be over.
    never = lagging_journalctl(tmp_path, 1_000)
    clock = FakeClock(NOW - 3600)
    [health] = Systemctl(command=fake_systemctl(tmp_path, SHOW.split("\n\n")[0]),
                         journalctl=never, clock=clock, sleep=clock.sleep).show(
        "hostmind-health.service")
    assert health.start_limit_logged is False
    assert sum(clock.slept) <= 4.0 and len(clock.slept) == 16


def test_result_start_limit_hit_is_final_without_waiting_for_the_journal(tmp_path: Path) -> None:
    hit = SHOW.split("\n\n")[0].replace("Result=signal", "Result=start-limit-hit")
    clock = FakeClock(NOW + 0.5)
    [health] = Systemctl(command=fake_systemctl(tmp_path, hit),
                         journalctl=lagging_journalctl(tmp_path, 1_000), clock=clock,
                         sleep=clock.sleep).show("hostmind-health.service")
    assert health.breaker_tripped and clock.slept == []
