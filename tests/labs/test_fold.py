"""The fold skeleton every lab shares (labs/fold.py): a stream adds events as they come, and the
page it shows must be the page a fresh fold of the same events shows."""

import copy

import pytest

from labs.fold import STREAM_RESUMED, WAITING_HINT_AFTER_SECONDS
from labs.frames import card_template
from labs.registry import LAB_KINDS


def ping_events() -> list[tuple[str, dict]]:
    raw = [
        {"kind": "predicted", "choice": "all", "label": "Every step, once"},
        {"kind": "queued", "run": "a", "task_id": "t-a"},
        {"kind": "started", "run": "a", "worker": "w"},
        *({"kind": "progress", "run": "a", "step": n, "of": 5, "percent": 20 * n} for n in (1, 2)),
        {"kind": STREAM_RESUMED, "after": "1003-0", "replayed": 1},
        *({"kind": "progress", "run": "a", "step": n, "of": 5, "percent": 20 * n} for n in (3, 4)),
        {"kind": "queued", "run": "b", "task_id": "t-b"},
        {"kind": "progress", "run": "a", "step": 5, "of": 5, "percent": 100},
        {"kind": "succeeded", "run": "a", "result": {"worker": "w"}},
        {"kind": "failed", "run": "b", "error": "boom"},
    ]
    return [(f"{1000 + n}-0", {"lab": "ping", "at": float(n), **e}) for n, e in enumerate(raw)]


def lifecycle_events() -> list[tuple[str, dict]]:
    raw = [
        {"kind": "predicted", "choice": "retry-success", "label": "Retries, then succeeds"},
        {"kind": "queued", "run": "r", "task_id": "t", "options": {"behaviour": "flaky"}},
        {"kind": "state", "run": "r", "state": "RECEIVED", "worker": "w"},
        {"kind": "state", "run": "r", "state": "STARTED", "attempt": 1},
        {"kind": "state", "run": "r", "state": "RETRY", "error": "no", "countdown": 1},
        {"kind": "state", "run": "r", "state": "STARTED", "attempt": 2},
        {"kind": "state", "run": "r", "state": "SUCCESS"},
    ]
    return [(f"{2000 + n}-0", {"lab": "lifecycle", "at": n / 2, **e}) for n, e in enumerate(raw)]


@pytest.mark.parametrize(
    ("lab", "events"), [("ping", ping_events()), ("lifecycle", lifecycle_events())]
)
def test_events_added_one_at_a_time_show_what_all_at_once_show(lab, events):
    fold_type = LAB_KINDS[lab].fold
    stream = fold_type()
    for count, (event_id, event) in enumerate(events, start=1):
        stream.add(event_id, event)
        shown = copy.deepcopy(stream.result(now=count))  # what the page got then
        fresh = fold_type.fold(events[:count], now=count)
        assert shown == fresh and shown.prediction == fresh.prediction
    assert shown.prediction.observed is not None  # the runs answered the prediction


def test_a_run_left_waiting_for_a_worker_is_flagged_once_the_hint_is_due():
    events = [("1-0", {"lab": "ping", "at": 10.0, "kind": "queued", "run": "q"})]
    assert not LAB_KINDS["ping"].fold.fold(events, now=11.0)[0].waiting
    assert LAB_KINDS["ping"].fold.fold(events, now=13.5)[0].waiting


def test_a_run_and_its_timeline_answer_the_template_engines_subscript_with_their_fields():
    # The template engine tries run["status"] before run.status; a name a run lacks must still
    # fall through to its other lookups (and render as nothing), not raise.
    fold = LAB_KINDS["ping"].fold()
    for event_id, event in ping_events():
        fold.add(event_id, event)
    run = fold.runs["a"]
    assert run["status"] == run.status == "succeeded" and run["status_label"] == "Done"
    assert run["timeline"][0]["label"] == "Queued on the broker"
    with pytest.raises(KeyError):
        run["no_such_field"]


@pytest.mark.parametrize("kind", sorted(kind for kind in LAB_KINDS if card_template(kind)))
def test_a_card_left_waiting_says_how_to_start_its_queues_worker(kind):
    # With no worker running, a queued run waits for ever: its card must say what to start.
    events = [("1-0", {"lab": kind, "at": 0.0, "kind": "queued", "run": "q", "task_id": "t"})]
    (run,) = LAB_KINDS[kind].fold.fold(events, now=WAITING_HINT_AFTER_SECONDS)
    assert run.waiting
    card = card_template(kind).render(run=run, oob="", csrf_token="")
    assert f"python -m learnsite.workers {run.queue}" in card
