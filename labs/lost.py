"""Runs whose events Redis no longer has: a Redis restarted without its data (no append-only
file) loses every event of the runs in flight, and with them the runs themselves. Each start is
also recorded in the database (``LabRunStarted``, by ``lab_run_start``), so the lab page can
still show such a run, as one that never reported: lost at its lab's deadline."""

import time
from datetime import UTC, datetime

from django.apps import apps

from .events import LEARNER_TTL_SECONDS
from .fold import STAND_IN_EVENT_ID, Event
from .registry import LAB_KINDS

# A record older than this is not looked at: its events would have expired from Redis anyway.
RECORD_LOOKED_AT_SECONDS = LEARNER_TTL_SECONDS


def _records():
    """The model's manager, looked up when used: labs/apps.py imports the services that import
    this module, before Django may load any model."""
    return apps.get_model("labs", "LabRunStarted").objects


def lab_run_record(*, learner_id: str, lab: str, run_id: str) -> None:
    """Record that a run of ``lab`` started: one INSERT, and one DELETE of the learner's records
    of that lab too old to be looked at again, so that the table holds about an hour of runs,
    not every run ever."""
    now = time.time()
    records = _records()
    too_old = datetime.fromtimestamp(now - RECORD_LOOKED_AT_SECONDS, UTC)
    records.filter(learner_key=learner_id, lab=lab, started_at__lt=too_old).delete()
    started_at = datetime.fromtimestamp(now, UTC)
    records.create(learner_key=learner_id, lab=lab, run_id=run_id, started_at=started_at)


def runs_vanished(*, learner_id: str, lab: str, events: list[Event], now: float) -> list[Event]:
    """A stand-in "queued" event for each of the learner's newest recorded runs of ``lab`` of
    the last hour that has no event in ``events`` (all of the lab's events Redis holds): folded
    with them, each shows as a run that went silent. Only the runs the page can show are looked
    at, so a run whose events the capped stream has dropped (dozens of runs ago) is never
    taken for one."""
    since = datetime.fromtimestamp(now - RECORD_LOOKED_AT_SECONDS, UTC)
    recorded = (
        _records()
        .filter(learner_key=learner_id, lab=lab, started_at__gte=since)
        .order_by("-started_at")[: LAB_KINDS[lab].fold.runs_shown]
    )
    known = {event.get("run") for _, event in events}
    queued = {"kind": "queued", "lab": lab}
    return [
        (STAND_IN_EVENT_ID, queued | {"run": record.run_id, "at": record.started_at.timestamp()})
        for record in recorded
        if record.run_id not in known
    ]
