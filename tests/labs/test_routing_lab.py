"""The routing lab: its fold and its program's lines as pure functions, and its page and form
through the live server. The lab's real run (a Redis and workers of its own) is its prediction's
test, in tests/labs/test_course_predictions.py."""

from labs.kinds.routing.fold import TASK_LABELS, RoutingFold, ran_both_setups, wait_in_slow_tasks
from labs.kinds.routing.services import SETUP_DETAILS, _task_event
from tests.http import LiveClient


def run_events(run: str, setup: str, waits: dict[str, int], *, at: float, end: str = "succeeded"):
    """A run's events as the lab records them: every task queued at once, then started after
    its wait and finished (slow ones 1.5 s later)."""
    events = [
        {"kind": "queued", "run": run, "at": at, "options": {"setup": setup}},
        {"kind": "started", "run": run, "at": at + 1, "worker": "labs-long@here"},
        {"kind": "ready", "run": run, "at": at + 3, "workers": [{"queue": "celery", "slots": 2}]},
    ]
    for label, wait in waits.items():
        ran = 1500 if label.startswith("slow") else 1
        for step, t in (("queued", 0), ("started", wait), ("finished", wait + ran)):
            line = {"kind": "task", "run": run, "at": at + 4, "task": label, "step": step, "t": t}
            if step == "finished":
                line |= {"queue": "celery", "wait_ms": wait}
            events.append(line)
    events.append({"kind": end, "run": run, "at": at + 9})
    return [(f"{int(e['at'] * 1000)}-{n}", {"lab": "routing", **e}) for n, e in enumerate(events)]


ONE_QUEUE = {
    "slow 1": 0,
    "slow 2": 0,
    "slow 3": 1500,
    "slow 4": 1500,
    "fast 1": 3010,
    "fast 2": 3020,
}
ROUTED = {"slow 1": 0, "slow 2": 1500, "slow 3": 3000, "slow 4": 4500, "fast 1": 20, "fast 2": 25}


def predicted(choice: str, at: float):
    return (f"{int(at * 1000)}-0", {"kind": "predicted", "lab": "routing", "choice": choice})


def test_a_one_queue_run_answers_the_prediction_with_its_fast_tasks_wait_in_slow_tasks():
    events = [
        predicted("two", 100),
        *run_events("a", "routed", ROUTED, at=110),  # a routed run answers nothing
        *run_events("b", "one-queue", ONE_QUEUE, at=130),
    ]
    runs = RoutingFold.fold(events, now=140)
    assert (runs.prediction.observed, runs.prediction.run) == ("two", "b")
    one_queue, routed = runs
    assert (one_queue.fast_wait_ms, routed.fast_wait_ms) == (3020, 25)
    assert [run.setup for run in runs.compared] == ["one-queue", "routed"]
    assert ran_both_setups(runs)
    assert [wait_in_slow_tasks(ms) for ms in (0, 749, 750, 2249, 2250, 4499, 4500, 6000)] == [
        "none", "none", "one", "one", "two", "two", "four", "four",
    ]  # fmt: skip


def test_an_unfinished_or_failed_run_is_not_compared_nor_counted_for_the_goal():
    partial = dict(list(ONE_QUEUE.items())[:4])
    events = [
        *run_events("a", "one-queue", partial, at=100),  # its fast tasks never came
        *run_events("b", "routed", ROUTED, at=120, end="failed"),
    ]
    runs = RoutingFold.fold(events, now=130)
    assert runs.compared == [] and not ran_both_setups(runs)
    assert runs[1].fast_wait_ms is None and runs[1].slow_done_ms == 3000
    assert len(runs[1].chart["bars"]) == 4


def test_the_chart_shows_each_task_waiting_then_running_on_one_time_scale():
    [run] = RoutingFold.fold(run_events("a", "one-queue", ONE_QUEUE, at=100), now=110)
    chart = run.chart
    bars = {bar["label"]: bar for bar in chart["bars"]}
    assert [bar["label"] for bar in chart["bars"]] == list(TASK_LABELS)
    assert [tick["label"] for tick in chart["ticks"]] == ["0 s", "1 s", "2 s", "3 s", "4 s"]
    fast, slow = bars["fast 1"], bars["slow 1"]
    assert fast["run_x"] == fast["wait_x"] + fast["wait_width"]  # ran when its wait ended
    assert fast["wait_width"] > bars["slow 3"]["wait_width"] > slow["wait_width"]
    assert "fast 2 waited 3020 ms" in chart["description"]


def test_only_the_programs_task_lines_become_events():
    line = '{"task": "fast 1", "step": "finished", "t": 12, "queue": "fast", "wait_ms": 9, "x": 1}'
    assert _task_event(line) == {
        "kind": "task", "task": "fast 1", "step": "finished", "t": 12,
        "queue": "fast", "wait_ms": 9,
    }  # fmt: skip
    for other in ("Traceback (most recent call last):", "[1]", '{"task": "rm", "step": "queued"}',
                  '{"task": "fast 1", "step": "exploded", "t": 1}'):  # fmt: skip
        assert _task_event(other) is None
    assert SETUP_DETAILS["routed"].commands == [
        "celery -A tasks worker -Q slow -P threads -c 1 -n slow@%h",
        "celery -A tasks worker -Q fast -P threads -c 1 -n fast@%h",
        "python tasks.py routed",
    ]


def test_the_page_shows_the_program_and_a_setup_not_offered_is_refused(live_url):
    client = LiveClient(live_url)
    page = client.get("/labs/routing/")
    assert page.status == 200
    assert 'value="one-queue"' in page.text and 'value="routed"' in page.text
    assert "celery -A tasks worker -P threads -c 2 -n celery@%h" in page.text
    refused = client.htmx_post("/labs/routing/start/", {"setup": "slow; FLUSHALL"})
    assert refused.status == 400 and "Choose a setup" in refused.text
    assert "data-run-id" not in refused.text
