"""The ping fold and a resumed stream: which runs it marks, and the steps a timeline holds."""

from labs.fold import STREAM_RESUMED
from labs.kinds.ping.fold import PingFold


def make_events(*events: dict) -> list[tuple[str, dict]]:
    """Events with stream ids 1000-0, 1001-0... and times one second apart."""
    return [
        (f"{1000 + n}-0", {"lab": "ping", "at": float(n), **event})
        for n, event in enumerate(events)
    ]


def step(run: str, n: int) -> dict:
    return {"kind": "progress", "run": run, "step": n, "of": 5, "percent": n * 20}


def test_a_resume_marks_the_runs_the_page_had_not_seen_end():
    events = make_events(
        {"kind": "queued", "run": "seen"},  # 1000-0
        {"kind": "succeeded", "run": "seen"},  # 1001-0: the page saw it end
        {"kind": "queued", "run": "going"},  # 1002-0
        step("going", 1),  # 1003-0: the last event the page had
        {"kind": "queued", "run": "missed"},  # 1004-0: queued while the stream was down
        {"kind": "succeeded", "run": "missed"},  # 1005-0
        {"kind": STREAM_RESUMED, "after": "1003-0", "replayed": 2},  # 1006-0
        {"kind": "queued", "run": "later"},  # 1007-0
    )
    runs = {run.id: run for run in PingFold.fold(events, now=0)}
    assert {run_id for run_id, run in runs.items() if run.resumed} == {"going", "missed"}
    going = runs["going"].timeline[-1]
    assert (going.label, going.detail, going.offset_ms) == (
        "Stream dropped and resumed", "2 events replayed", 4000,
    )  # fmt: skip


def test_steps_are_what_the_timeline_holds_in_order():
    events = make_events(
        {"kind": "queued", "run": "r"},
        step("r", 1),
        step("r", 2),
        step("r", 2),
        step("r", 4),
        {"kind": "succeeded", "run": "r"},
    )
    [run] = PingFold.fold(events, now=0)
    assert run.steps == [1, 2, 2, 4] and not run.resumed


def resumed_run(*steps: int) -> list[tuple[str, dict]]:
    """A prediction, then a run with these steps whose stream dropped and resumed while it ran."""
    return make_events(
        {"kind": "predicted", "choice": "all"},
        {"kind": "queued", "run": "r"},
        *(step("r", n) for n in steps[:1]),
        {"kind": STREAM_RESUMED, "after": "1002-0", "replayed": len(steps) - 1},
        *(step("r", n) for n in steps[1:]),
        {"kind": "succeeded", "run": "r"},
    )


def test_a_resumed_run_shows_each_step_once_a_gap_or_a_step_twice():
    observed = {
        steps: PingFold.fold(resumed_run(*steps), now=0).prediction.observed
        for steps in [(1, 2, 3, 4, 5), (1, 2, 4, 5), (1, 2, 2, 3, 4, 5)]
    }
    assert observed == {(1, 2, 3, 4, 5): "all", (1, 2, 4, 5): "gap", (1, 2, 2, 3, 4, 5): "twice"}


def test_a_run_whose_stream_never_dropped_answers_no_prediction():
    events = make_events(
        {"kind": "predicted", "choice": "all"},
        {"kind": "queued", "run": "r"},
        *(step("r", n) for n in range(1, 6)),
        {"kind": "succeeded", "run": "r"},
    )
    prediction = PingFold.fold(events, now=0).prediction
    assert (prediction.choice, prediction.observed) == ("all", None)
