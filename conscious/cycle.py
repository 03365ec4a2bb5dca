"""One conscious cycle: take events, decide whether to think, ask once, write at most one proposal.

Events are taken from the inbox (and the deferred ones are looked at again). When the cycle
cannot handle them now (disabled, paused, no key, budget or cap spent, API down, unusable
reply) they go to `deferred/`, so the path unit is not re-triggered in a loop and nothing is
lost; otherwise to `processed/`. Every model call, decision, proposal and refusal is audited,
through the redactor.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from conscious.api_state import ApiState, blocks_calls, fingerprint, ok_state, read_state, write_state
from conscious.audit import AuditError, AuditLog, anchor, audit_path
from conscious.budget import BudgetExhausted, BudgetLedger, DayUsage, ledger_path
from conscious.context_builder import gather, proposals_dir
from conscious.credentials import read_api_key
from conscious.model import (
    NON_RETRYABLE_STATUSES,
    ModelError,
    ModelRequest,
    call_model,
    local_upper_bound,
    new_request_id,
    stop_problem,
)
from conscious.project import read_project, update_project
from conscious.prompt import build_request, should_cache
from conscious.redact import Redactor
from conscious.repeat_guard import repeated_rollback
from conscious.reply import RailsRefused, ReplyError, check_reply
from conscious.settings import ConsciousSettings
from conscious.usage import record_expectation
from unconscious.atomic import AtomicWriteError, atomic_write_json, atomic_write_text
from unconscious.events import Event, EventSpool
from unconscious.locks import FileLock, LockBusy
from unconscious.paths import Paths
from unconscious.pause import read_pause

if TYPE_CHECKING:
    from conscious.budget import UsageCounts
    from conscious.model import ModelReply
    from conscious.rails.proposal import ProposalJSON
    from conscious.rails.settings import RailSettings
    from unconscious.config.loader import LoadedConfig
    from unconscious.json_types import JsonObject, JsonValue
    from unconscious.log import Logger

#: After this many cycles in a row whose reply was unusable, the events are given up (processed,
#: audited) so a model that keeps answering badly cannot keep the same events forever.
MAX_REJECTED_CYCLES = 3
#: Room for the reply's own fields (evidence, reasoning, rationale) beyond the files' bytes.
REPLY_OVERHEAD_BYTES = 256 * 1024


@dataclass
class CycleResult:
    """What one cycle did; printed by `hostmind think --json` and kept as evidence counters."""

    outcome: str
    reason: str
    events: int = 0
    processed: int = 0
    deferred: int = 0
    request_id: str | None = None
    usage: UsageCounts | None = None
    proposal_id: str | None = None
    proposal_path: str | None = None
    estimate: int | None = None
    cuts: list[str] = field(default_factory=list)
    redactions: int = 0

    def to_json(self) -> JsonObject:
        return asdict(self)

    @property
    def ok(self) -> bool:
        return self.outcome not in ("api_error", "failing", "rejected", "failed")


@dataclass
class Cycle:
    """The collaborators of one cycle; every one injectable for tests."""

    paths: Paths
    settings: ConsciousSettings
    logger: Logger
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    rails: RailSettings | None = None
    config: LoadedConfig | None = None
    known_secrets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.rails is None:
            from conscious.rails.settings import RailSettings

            self.rails = RailSettings(live_tree=self.settings.live_tree(),
                                      state_dir=self.paths.state_dir,
                                      allowed_paths=self.settings.allowed_paths)
        self.rail_settings: RailSettings = self.rails
        self.spool = EventSpool(self.paths.events_dir, clock=self.clock)
        self.api_key = read_api_key(self.environ)
        self.redactor = Redactor.build(self.settings.secret_files, self.settings.secret_env_names,
                                       environ=self.environ,
                                       extra=[*self.known_secrets,
                                              *([self.api_key] if self.api_key else [])])
        self.audit = AuditLog(audit_path(self.paths), clock=self.clock, redact=self.redactor)
        self.ledger = BudgetLedger(ledger_path(self.paths), clock=self.clock)
        self.conscious_dir = self.paths.state_dir / "conscious"

    # -- events -----------------------------------------------------------------------------

    def _settle(self, inbox: list[Event], deferred: list[Event], to_state: str) -> int:
        moved = 0
        for event, state in [(item, "inbox") for item in inbox] + [(item, "deferred") for item in deferred]:
            if state == to_state:
                continue
            try:
                self.spool.move(event, state, to_state)
                moved += 1
            except FileNotFoundError:
                continue  # taken by a concurrent `hostmind think`
        return moved

    def _defer(self, result: CycleResult, inbox: list[Event], deferred: list[Event]) -> CycleResult:
        self._settle(inbox, deferred, "deferred")
        result.deferred = len(inbox) + len(deferred)
        return result

    def _process(self, result: CycleResult, inbox: list[Event], deferred: list[Event]) -> CycleResult:
        self._settle(inbox, deferred, "processed")
        result.processed = len(inbox) + len(deferred)
        return result

    # -- the cycle --------------------------------------------------------------------------

    def run(self, dry_run: bool = False) -> CycleResult:
        """Run one cycle; return what it did. Raise AtomicWriteError/AuditError on lost writes.

        Only one cycle runs at a time (the service and `hostmind think` may overlap): a second
        one returns the outcome `busy` at once and leaves the events where they are.
        """
        lock = FileLock(self.conscious_dir / "cycle.lock", 0)
        try:
            lock.acquire()
        except LockBusy:
            return CycleResult(outcome="busy", reason="another cycle is running")
        with lock:
            try:
                return self._run(dry_run)
            except (AtomicWriteError, AuditError):
                if not dry_run:
                    # Keep the events for the next timer cycle instead of leaving them in the
                    # inbox, where the path unit would start us again at once, in a loop.
                    self._settle(self.spool.read("inbox"), [], "deferred")
                raise

    def _run(self, dry_run: bool) -> CycleResult:
        inbox = self.spool.read("inbox")
        deferred = self.spool.read("deferred")
        events = sorted(inbox + deferred, key=lambda event: (event.time, event.id))
        result = CycleResult(outcome="", reason="", events=len(events))
        if not dry_run:
            try:
                self.ledger.settle_stale()
            except BudgetExhausted:
                pass  # an unreadable ledger: `_refusal` reports it and refuses the call
        refusal = self._refusal()
        if refusal is not None and not dry_run:
            result.outcome, result.reason = refusal
            self._announce(result.outcome, result.reason, events)
            if not events:
                return result
            self.audit.append("cycle_deferred", outcome=result.outcome, reason=result.reason,
                              events=[event.id for event in events])
            return self._defer(result, inbox, deferred)
        if self.api_key is not None and (self.conscious_dir / "dormant").exists() and not dry_run:
            (self.conscious_dir / "dormant").unlink()
        quiet = None if events else self._quiet_reason()
        if quiet is not None:
            result.outcome, result.reason = "idle", quiet
            return result
        parts = gather(self.paths, self.settings, events, self.clock, self.config)
        try:
            today = self.ledger.today()
            last_call = self.ledger.last_call_time()
        except BudgetExhausted:  # only reachable in a dry run: a real cycle was refused above
            today, last_call = DayUsage("", 0, 0, 0, 0), None
        parts.budget = {"tokens_used": today.tokens, "token_budget": self.settings.daily_token_budget,
                        "changes": today.changes, "change_cap": self.settings.daily_change_cap}
        cache = should_cache(self.settings, None if last_call is None else self.clock() - last_call)
        request, result.cuts = build_request(parts, self.settings, self.redactor, cache)
        result.redactions = self.redactor.total
        if result.cuts and result.cuts[-1].startswith("nothing left to cut"):
            result.outcome, result.reason = "failed", "the context does not fit max_context_tokens"
            if dry_run:
                return result
            self.audit.append("cycle_deferred", outcome="context_too_large", cuts=result.cuts)
            return self._defer(result, inbox, deferred)
        if dry_run:
            result.outcome = "dry_run"
            result.estimate = local_upper_bound(request, self.settings)
            result.reason = f"would send about {result.estimate} input tokens (upper bound)"
            if refusal is not None:
                result.reason += f"; but a real cycle would stop now: {refusal[0]}: {refusal[1]}"
            self._write_dry_run(request)
            return result
        return self._think(request, parts.files.allowed, result, inbox, deferred)

    def _quiet_reason(self) -> str | None:
        """Return why a wake without events makes no paid call, or None when it should think.

        Nothing new since the last call means no call: goals alone earn one review per
        `review_interval`; an active project is looked at again once per timer wake only when
        the change history moved since the last call.
        """
        project = read_project(self.paths)
        if not project["active"] and not self.settings.goals:
            return "no events, no active project, no goals"
        try:
            last_call = self.ledger.last_call_time()
        except BudgetExhausted:
            last_call = None
        if project["active"]:
            if last_call is not None and self._history_mark() == self._read_mark():
                return "no events and nothing changed since the last call (project unchanged)"
            return None
        if last_call is not None and self.clock() - last_call < self.settings.review_interval:
            return (f"no events; goals are reviewed at most every "
                    f"{self.settings.review_interval:g}s (conscious.review_interval)")
        return None

    def _history_mark(self) -> str:
        """Return a digest of what a timer wake could newly see: change history and project."""
        from conscious.context_builder import change_history

        changes, _ = change_history(self.paths)
        material = json.dumps([[change.id, change.outcome] for change in changes]
                              + [read_project(self.paths)], sort_keys=True, default=str)
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _read_mark(self) -> str | None:
        try:
            return (self.conscious_dir / "last-call-mark").read_text(encoding="utf-8").strip()
        except OSError:
            return None

    def _refusal(self) -> tuple[str, str] | None:
        """Return (outcome, reason) when this cycle must not call the model, else None.

        Reads state only; `_announce` does the logging, so a dry run can report it silently.
        """
        if not self.settings.enabled:
            return "disabled", "conscious.enabled is false"
        pause = read_pause(self.paths)
        if pause is not None:
            return "paused", f"self-modification is paused: {pause.reason}"
        if self.api_key is None:
            return "dormant", "no API key (credential anthropic-api-key)"
        verdict = read_state(self.paths)
        if blocks_calls(verdict, self.api_key, self.settings, self.clock()):
            assert verdict is not None
            return "failing", (f"the API refused the last call ({verdict.detail}); no call "
                               "until the key, model or base_url change, `hostmind think "
                               "--check` passes, or conscious.failing_retry passes")
        try:
            today = self.ledger.today()
        except BudgetExhausted as error:
            return "budget_exhausted", str(error)
        if today.changes >= self.settings.daily_change_cap:
            return "budget_exhausted", (f"daily change cap reached: {today.changes} of "
                                        f"{self.settings.daily_change_cap}")
        if today.tokens + today.reserved >= self.settings.daily_token_budget:
            return "budget_exhausted", (f"daily token budget spent: {today.tokens} of "
                                        f"{self.settings.daily_token_budget}")
        return None

    def _announce(self, outcome: str, reason: str, events: list[Event]) -> None:
        """Log a refusal: budget every time, dormancy once (a marker file remembers it)."""
        if outcome == "budget_exhausted":
            self._exhausted(reason)
        elif outcome == "dormant":
            marker = self.conscious_dir / "dormant"
            if not marker.exists():
                self.logger.warning(
                    "conscious_dormant", events=len(events),
                    msg="no API key in $CREDENTIALS_DIRECTORY/anthropic-api-key: the conscious "
                        "layer is dormant; events are deferred, the unconscious layer is unaffected."
                        " To wake it: `systemd-creds encrypt - /etc/credstore.encrypted/"
                        "anthropic-api-key.encrypted` (paste the key, Ctrl-D), or put it in "
                        "/etc/credstore/anthropic-api-key (mode 0600)")
                atomic_write_text(marker, f"{self.clock()}\n")

    def _exhausted(self, reason: str) -> tuple[str, str]:
        self.logger.warning("budget_exhausted", reason=reason,
                            msg=f"{reason}; no model call, events deferred")
        return "budget_exhausted", reason

    def _think(self, request: ModelRequest, offered: list[str], result: CycleResult,
               inbox: list[Event], deferred: list[Event]) -> CycleResult:
        body = json.dumps(request.body(self.settings), sort_keys=True).encode("utf-8")
        request_sha = hashlib.sha256(body).hexdigest()
        request_id = new_request_id()
        result.request_id = request_id
        try:
            reply = call_model(self.settings, self.api_key or "", request, self.ledger,
                               request_id=request_id, sleep=self.sleep)
        except BudgetExhausted as error:
            result.outcome, result.reason = self._exhausted(str(error))
            self.audit.append("model_call", request_id=request_id, request_sha256=request_sha,
                              outcome="refused_budget", reason=str(error))
            return self._defer(result, inbox, deferred)
        except ModelError as error:
            return self._api_failed(error, request_id, request_sha, result, inbox, deferred)
        write_state(self.paths, ok_state(self.api_key, self.settings, "cycle", self.clock()))
        atomic_write_text(self.conscious_dir / "last-call-mark", self._history_mark() + "\n")
        result.usage = reply.usage.to_json()
        result.estimate = reply.estimate
        self.audit.append("model_call", request_id=request_id, request_sha256=request_sha,
                          outcome="ok", usage=reply.usage.to_json(), tokens=reply.usage.billable,
                          estimate=reply.estimate, estimate_source=reply.estimate_source,
                          attempts=reply.attempts, retried_errors=reply.errors,
                          model=self.settings.model)
        self.logger.info("model_call", request_id=request_id, tokens=reply.usage.billable,
                         attempts=reply.attempts,
                         msg=f"model answered after {reply.attempts} attempt(s), "
                             f"{reply.usage.billable} tokens")
        return self._use_reply(reply, offered, request_id, result, inbox, deferred)

    def _use_reply(self, reply: ModelReply, offered: list[str], request_id: str, result: CycleResult,
                   inbox: list[Event], deferred: list[Event]) -> CycleResult:
        """Act on an answered call: stop reason, size, redaction, the reply check, the spool."""
        problem = stop_problem(reply.stop_reason, reply.tool_input)
        if problem is not None:
            return self._rejected(result, problem, request_id, inbox, deferred)
        oversized = self._oversized(reply.tool_input)
        if oversized is not None:
            return self._rejected(result, oversized, request_id, inbox, deferred)
        # The reply is redacted before anything of it is checked, logged, audited or written:
        # a secret the model echoed from its context never reaches the spool or the journal.
        tool_input = self.redactor.value(reply.tool_input)
        try:
            checked = check_reply(tool_input, self.settings, offered, self.rail_settings)
        except RailsRefused as error:
            if error.suspected_injection:
                self.audit.append("suspected_injection", request_id=request_id,
                                  reason=str(error), proposal=_proposal_outline(tool_input))
                self.logger.warning("suspected_injection", reason=str(error),
                                    msg=f"the model proposed a change to what it is never "
                                        f"offered; refused before the spool: {error}")
            return self._rejected(result, str(error), request_id, inbox, deferred)
        except ReplyError as error:
            return self._rejected(result, str(error), request_id, inbox, deferred)
        self._reset_rejections()
        update_project(self.paths, checked.project, self.clock)
        if checked.decision == "nothing" or checked.proposal is None:
            result.outcome, result.reason = "nothing", checked.summary
            self.audit.append("decision", request_id=request_id, decision="nothing",
                              summary=checked.summary)
            return self._process(result, inbox, deferred)
        repeated = repeated_rollback(self.paths, self.settings.live_tree(), checked.proposal)
        if repeated is not None:
            return self._rejected(result, repeated, request_id, inbox, deferred)
        return self._propose(checked.proposal, checked.summary, checked.usage_evidence or {},
                             request_id, result, inbox, deferred)

    def _oversized(self, tool_input: JsonObject | None) -> str | None:
        """Return why a reply is too big for any proposal the rails accept, or None.

        Checked before the reply is redacted or parsed: a reply of megabytes costs no more
        than its size to refuse, and it is never spooled nor counted against the change cap.
        """
        size = len(json.dumps(tool_input or {}, ensure_ascii=False).encode("utf-8"))
        rails = self.rail_settings
        limit = rails.max_files * rails.max_bytes + REPLY_OVERHEAD_BYTES
        if size <= limit:
            return None
        return (f"the reply is {size} bytes: more than any proposal the rails accept "
                f"({rails.max_files} files of at most {rails.max_bytes} bytes, "
                "apply.max_files and apply.max_bytes); nothing was spooled")

    def _api_failed(self, error: ModelError, request_id: str, request_sha: str,
                    result: CycleResult, inbox: list[Event], deferred: list[Event]) -> CycleResult:
        """Defer the events; a refusal of key, model or request (400/401/403/404/413) also
        raises one event and marks the API failing, so no later cycle repeats it in silence.

        The API's message may quote the request: it is redacted before it is written anywhere.
        """
        detail = self.redactor.text(error.detail())
        result.outcome, result.reason = "api_error", detail
        self.audit.append("model_call", request_id=request_id, request_sha256=request_sha,
                          outcome=error.kind, reason=detail)
        if error.status not in NON_RETRYABLE_STATUSES:
            self.logger.warning("model_call_failed", kind=error.kind, status=error.status,
                                msg=f"model call failed: {detail}; events deferred")
            return self._defer(result, inbox, deferred)
        result.outcome = "failing"
        self.logger.error("model_api_refused", kind=error.kind, status=error.status,
                          error_type=error.error_type, host=error.host,
                          msg=f"the API refused the call: {detail}; no further call "
                              "until this is fixed (then run `hostmind think --check`)")
        write_state(self.paths, ApiState(
            state="failing", time=self.clock(), detail=detail, source="cycle",
            fingerprint=fingerprint(self.api_key, self.settings), status=error.status,
            error_type=error.error_type, host=error.host, kind=error.kind))
        self.spool.emit("conscious", "model_api_refused", "critical",
                        f"the model API refused hostmind's call: {detail}",
                        data={"status": error.status, "error_type": error.error_type,
                              "host": error.host, "kind": error.kind},
                        dedup_key=f"model_api_refused:{error.status}:{error.error_type}")
        return self._defer(result, inbox, deferred)

    def _propose(self, proposal: ProposalJSON, summary: str, evidence: JsonObject,
                 request_id: str, result: CycleResult, inbox: list[Event],
                 deferred: list[Event]) -> CycleResult:
        spool_dir = self.paths.spool_dir
        try:
            spool_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AtomicWriteError(error.errno or 0, f"spool {spool_dir}: {error.strerror}") from error
        proposal = proposal.copy()
        base, suffix = proposal["id"], 1
        while (spool_dir / f"{proposal['id']}.json").exists():
            suffix += 1
            proposal["id"] = f"{base[:76]}-{suffix}"
        try:
            self.ledger.count_change(proposal["id"], self.settings.daily_change_cap)
        except BudgetExhausted as error:
            result.outcome, result.reason = self._exhausted(str(error))
            self.audit.append("proposal_refused", request_id=request_id, id=proposal["id"],
                              reason=str(error))
            return self._defer(result, inbox, deferred)
        path = spool_dir / f"{proposal['id']}.json"
        try:
            digest = atomic_write_json(path, proposal)
        except AtomicWriteError as error:
            self.audit.append("proposal_write_failed", request_id=request_id, id=proposal["id"],
                              file=str(path), reason=str(error))
            raise
        record_expectation(self.paths, proposal["id"], proposal["title"], evidence)
        # A copy for the next cycles' change history (the diff of what this change changed).
        proposals_dir(self.paths).mkdir(parents=True, exist_ok=True)
        atomic_write_json(proposals_dir(self.paths) / f"{proposal['id']}.json", proposal, mode=0o640)
        files = ([item["path"] for item in proposal["edits"]]
                 + [item["path"] for item in proposal["creates"]])
        self.audit.append("proposal", request_id=request_id, id=proposal["id"],
                          title=proposal["title"], files=files, restart=proposal["restart"],
                          spool_file=str(path), sha256=digest, summary=summary,
                          usage_evidence=evidence)
        self.logger.info("proposal_written", proposal=proposal["id"], file=str(path),
                         msg=f"proposal {proposal['id']} ({proposal['title']}) written to {path}")
        result.outcome, result.reason = "proposed", proposal["title"]
        result.proposal_id, result.proposal_path = proposal["id"], str(path)
        return self._process(result, inbox, deferred)

    def _rejected(self, result: CycleResult, reason: str, request_id: str,
                  inbox: list[Event], deferred: list[Event]) -> CycleResult:
        result.outcome, result.reason = "rejected", reason
        count = self._count_rejection()
        self.audit.append("reply_rejected", request_id=request_id, reason=reason,
                          consecutive=count)
        self.logger.warning("reply_rejected", reason=reason, consecutive=count,
                            msg=f"model reply rejected, nothing applied: {reason}")
        if count >= MAX_REJECTED_CYCLES:
            self.audit.append("events_given_up", events=[event.id for event in inbox + deferred],
                              reason=f"{count} unusable replies in a row")
            self._reset_rejections()
            return self._process(result, inbox, deferred)
        return self._defer(result, inbox, deferred)

    def _rejections_file(self) -> Path:
        return self.conscious_dir / "rejections.json"

    def _count_rejection(self) -> int:
        try:
            count = int(json.loads(self._rejections_file().read_text(encoding="utf-8"))["count"])
        except (OSError, ValueError, KeyError, TypeError):
            count = 0
        self.conscious_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self._rejections_file(), {"count": count + 1})
        return count + 1

    def _reset_rejections(self) -> None:
        try:
            self._rejections_file().unlink()
        except FileNotFoundError:
            pass

    def _write_dry_run(self, request: ModelRequest) -> None:
        """Keep the last dry-run request (redacted) so an operator can read what would be sent."""
        self.conscious_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.conscious_dir / "last-dry-run-request.json",
                          request.body(self.settings), mode=0o640)

    def maybe_anchor(self) -> bool:
        """Anchor the audit head when the last anchor is older than `anchor_every`."""
        if not self.audit.lines():
            return False
        last = self.audit.read_anchor_file()
        if last is not None and self.clock() - last.time < self.settings.anchor_every:
            return False
        anchor(self.audit, self.logger)
        return True


def _proposal_outline(value: JsonObject | None) -> JsonObject:
    """Return the paths and title of a refused proposal (never its content) for the audit."""
    proposal = (value or {}).get("proposal")
    if not isinstance(proposal, dict):
        return {}
    paths: list[JsonValue] = []
    for key in ("edits", "creates"):
        items = proposal.get(key)
        if isinstance(items, list):
            paths.extend(item.get("path") for item in items if isinstance(item, dict))
    return {"id": proposal.get("id"), "title": proposal.get("title"), "paths": paths}
