"""The deploy lab: its fold and goal as pure functions over events recorded from real runs (the
live run is the course prediction's, tests/labs/test_course_predictions.py), and its start
button's refusals through Django's test client."""

import time

import pytest
from django.test import Client

from labs.events import event_publish
from labs.kinds.deploy.fold import DeployFold, stopped_three_ways
from learners.identity import SESSION_KEY

AT = 1_800_000_000.0


def run_events(run: str, *, late: str, stop: str, steps: list[dict], log: list[dict]) -> list:
    """A run's events as the lab's task publishes them (the shape of real runs)."""
    events = [{"kind": "queued", "options": {"late": late, "stop": stop}}, {"kind": "started"}]
    events += [{"kind": "step", **step} for step in steps]
    events += [{"kind": "log", "entries": [entry]} for entry in log]
    events.append({"kind": "succeeded", "result": {}})
    return [
        (f"{index}-0", {"run": run, "lab": "deploy", "at": AT + index, **event})
        for index, event in enumerate(events)
    ]


def entry(task: str, event: str, worker: str, t: int) -> dict:
    return {"task": task, "event": event, "worker": worker, "t": t, "redelivered": False}


# Recorded from real runs (the times, ms since the run started, rounded).
COLD_A = run_events(
    "cold",
    late="A",
    stop="cold",
    steps=[
        {"what": "old-up", "t": 3300},
        {"what": "stop", "t": 4440, "signal": "SIGQUIT"},
        {"what": "old-exited", "t": 5970, "code": 0},
        {"what": "snapshot", "t": 5976, "queue": ["A", "B", "C"], "redelivered": ["A"]},
        {"what": "new-up", "t": 8010},
    ],
    log=[
        entry("A", "started", "old", 3380),
        entry("A", "started", "new", 7070),
        entry("A", "finished", "new", 9090),
        entry("B", "started", "new", 9090),
        entry("B", "finished", "new", 11190),
        entry("C", "started", "new", 11200),
        entry("C", "finished", "new", 13200),
    ],
)
KILL_B = run_events(
    "kill",
    late="B",
    stop="kill",
    steps=[
        {"what": "stop", "t": 3720, "signal": "SIGKILL"},
        {"what": "old-exited", "t": 3820, "code": -9},
        {"what": "snapshot", "t": 3820, "queue": ["C"], "unacked": ["B"], "back_at": {"B": 8630}},
        {"what": "new-up", "t": 11000},
    ],
    log=[
        entry("A", "started", "old", 2620),
        entry("B", "started", "new", 9940),
        entry("B", "finished", "new", 11980),
        entry("C", "started", "new", 11980),
        entry("C", "finished", "new", 13990),
    ],
)
# The old worker's lines come in before Redis is read: it wrote them before it exited.
WARM_NONE = run_events(
    "warm",
    late="none",
    stop="warm",
    steps=[{"what": "stop", "t": 3400, "signal": "SIGTERM"}],
    log=[entry("A", "started", "old", 2340), entry("A", "finished", "old", 4350)],
)
WARM_NONE[-1:-1] = [
    (
        "90-0",
        {"run": "warm", "lab": "deploy", "at": AT + 90, "kind": "step", "what": "snapshot",
         "t": 6910, "queue": ["B", "C"], "redelivered": ["B"]},
    )
]  # fmt: skip


def fates(run) -> dict[str, str]:
    return {task.name: task.fate for task in run.task_list}


def test_each_task_is_told_where_it_went_from_what_redis_held_after_the_stop():
    runs = DeployFold.fold(COLD_A + KILL_B + WARM_NONE, now=AT + 100)
    cold, kill, warm = ({run.id: run for run in runs}[name] for name in ("cold", "kill", "warm"))
    assert fates(cold) == {"A": "restored", "B": "waited", "C": "waited"}
    assert cold.queue_after == ["A", "B", "C"] and cold.status == "succeeded"
    assert fates(kill) == {"A": "lost", "B": "visibility", "C": "waited"}
    assert kill.tasks["B"].back_at == 8630 and kill.tasks["B"].new_finished == 11980
    assert fates(warm) == {"A": "warm", "B": "restored", "C": "waited"}
    assert [task.late for task in cold.task_list] == [True, False, False]


def test_the_prediction_is_answered_only_by_a_cold_run_with_a_acks_late():
    fold = DeployFold()
    for event_id, event in COLD_A + KILL_B + WARM_NONE:
        fold.add(event_id, event)
    assert fold.observed(fold.runs["cold"]) == "restored"
    assert fold.observed(fold.runs["kill"]) is None
    assert fold.observed(fold.runs["warm"]) is None


def test_the_chart_has_a_bar_per_worker_that_ran_a_task_and_the_cut_one_is_marked():
    [cold] = DeployFold.fold(COLD_A, now=AT + 100)
    a, b, c = cold.chart.rows
    assert [(bar.worker, bar.cut) for bar in a.bars] == [("old", True), ("new", False)]
    assert [bar.worker for bar in b.bars] == ["new"] and [bar.worker for bar in c.bars] == ["new"]
    assert [mark.label for mark in cold.chart.marks] == ["stop", "new"]
    assert "A: Put back on the queue at shutdown" in cold.chart.description


def test_the_goal_needs_a_finished_run_of_each_way_of_stopping():
    runs = DeployFold.fold(COLD_A + KILL_B, now=AT + 100)
    assert not stopped_three_ways(runs)
    assert stopped_three_ways(DeployFold.fold(COLD_A + KILL_B + WARM_NONE, now=AT + 100))


def test_events_of_no_run_or_of_an_unknown_step_change_nothing():
    noise = [
        ("1-0", {"kind": "step", "what": "stop", "t": 5, "at": AT}),  # no run
        ("2-0", {"run": "other", "kind": "log", "entries": [], "at": AT}),  # never queued
    ]
    odd = [("99-0", {"run": "cold", "kind": "step", "what": "rm -rf", "t": 1, "at": AT + 99})]
    assert DeployFold.fold(noise, now=AT) == []
    [cold] = DeployFold.fold(COLD_A[:-1] + odd, now=AT + 100)
    assert "rm -rf" not in [step["what"] for step in cold.steps]


@pytest.mark.django_db
def test_a_choice_not_in_the_list_is_a_400_with_a_message():
    client = Client(headers={"HX-Request": "true"})
    for data, message in [
        ({"late": "D", "stop": "warm"}, "Choose which task is acks_late: one of A, B, none."),
        ({"late": "A", "stop": "kill -9 1"}, "Choose how to stop the worker: one of warm, cold"),
        ({}, "Choose which task is acks_late"),
    ]:
        response = client.post("/labs/deploy/start/", data)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_the_page_shows_where_each_task_went_and_what_the_acl_user_was_refused(db, redis_url):
    client = Client()
    client.post("/labs/deploy/start/", {}, headers={"HX-Request": "true"})  # makes the learner
    learner_id = client.session[SESSION_KEY]
    acl = {"what": "acl", "t": 14000, "checks": [
        {"command": "LLEN celery", "answer": "0", "refused": False},
        {"command": "FLUSHALL", "answer": "NOPERM this user has no permissions", "refused": True},
    ]}  # fmt: skip
    acl_step = run_events("kill", late="B", stop="kill", steps=[acl], log=[])[2]
    for _, event in [*KILL_B[:-1], acl_step, KILL_B[-1]]:
        event_publish(learner_id=learner_id, lab="deploy", event=event | {"at": time.time()})
    page = client.get("/labs/deploy/").content.decode()
    assert 'data-queue="C" data-unacked="B"' in page
    assert 'data-task="A" data-fate="lost"' in page and 'data-task="C" data-fate="waited"' in page
    assert (
        "Left in unacked: back on the queue after the visibility timeout (due back at 8630 ms)"
        in page
    )
    assert '<li data-refused="yes"><code>FLUSHALL</code>' in page
    assert "def step_late(self, name: str) -&gt; None:" in page  # the program, escaped
