"""When Redis fails: the fold and goals as pure functions over events written here, and one live
run of each experiment that only a real Redis of the run's own can show (the crash without
persistence is tests/labs/test_course_predictions.py's)."""

import re

from labs.kinds.failure.fold import (
    JOBS,
    MEMORY_JOBS,
    PUBLISHED,
    FailureFold,
    compared_policies,
    restarted_both_ways,
)
from tests.http import LiveClient, frame_until


def crash_events(run: str, mode: str, *, jobs_after: int, errors: int = 1) -> list[dict]:
    received = {"plain": PUBLISHED, "retry": PUBLISHED}
    return [
        {"kind": "queued", "run": run, "options": {"mode": mode}},
        {"kind": "started", "run": run, "worker": "labs-long@host"},
        {"kind": "step", "run": run, "phase": "ready", "numbers": {"appendonly": "no"}},
        {"kind": "step", "run": run, "phase": "filled",
         "numbers": {"jobs": JOBS, "entries": JOBS, "received": received}},
        {"kind": "step", "run": run, "phase": "killed", "numbers": {}},
        {"kind": "step", "run": run, "phase": "restarted", "numbers": {"down_ms": 60}},
        {"kind": "step", "run": run, "phase": "after",
         "numbers": {"jobs": jobs_after, "entries": jobs_after, "received": received,
                     "errors": {"plain": errors, "retry": 0}}},
        {"kind": "succeeded", "run": run, "result": {}},
    ]  # fmt: skip


def memory_events(run: str, policy: str, *, accepted: int, in_list: int) -> list[dict]:
    numbers = {"pushed": MEMORY_JOBS, "accepted": accepted, "refused": MEMORY_JOBS - accepted,
               "in_list": in_list, "evicted_keys": 0, "error": ""}  # fmt: skip
    return [
        {"kind": "queued", "run": run, "options": {"mode": policy}},
        {"kind": "step", "run": run, "phase": "full", "numbers": numbers},
        {"kind": "succeeded", "run": run, "result": {}},
    ]


def fold(*runs: list[dict]):
    events = [event for run in runs for event in run]
    stamped = [
        (f"{1000 + n}-0", {"lab": "failure", "at": float(n), **e}) for n, e in enumerate(events)
    ]
    return FailureFold.fold(stamped, now=len(events))


def test_a_crash_run_is_folded_into_its_before_and_after_table_and_its_outcome():
    runs = {run.id: run for run in fold(
        crash_events("none", "none", jobs_after=0),
        crash_events("rdb", "rdb", jobs_after=2),
        crash_events("aof", "aof", jobs_after=3),
    )}  # fmt: skip
    none = runs["none"]
    assert none.status == "succeeded" and none.crash
    rows = {
        row.key: (row.before, row.after, row.before_percent, row.after_percent) for row in none.rows
    }
    assert rows["jobs"] == (3, 0, 100, 0) and rows["got-plain"] == (3, 3, 100, 100)
    assert none.errors == {"plain": 1, "retry": 0}
    observed = {run_id: FailureFold().observed(run) for run_id, run in runs.items()}
    assert observed == {"none": "0", "rdb": "some", "aof": "all"}


def test_a_run_not_over_or_of_the_memory_experiment_answers_no_prediction():
    crash = crash_events("going", "none", jobs_after=0)[:-1]  # no "succeeded" yet
    memory = memory_events("full", "allkeys-lru", accepted=MEMORY_JOBS, in_list=858)
    runs = {run.id: run for run in fold(crash, memory)}
    assert runs["going"].active and FailureFold().observed(runs["going"]) is None
    full = runs["full"]
    assert FailureFold().observed(full) is None and not full.crash
    assert full.memory_lost == MEMORY_JOBS - 858
    assert full.memory_percent == {"accepted": 100, "refused": 0, "in_list": 43}


def test_an_unknown_phase_or_an_event_of_no_known_run_changes_nothing():
    events = crash_events("r", "aof", jobs_after=3)
    events.insert(2, {"kind": "step", "run": "r", "phase": "rm -rf", "numbers": {}})
    events.append({"kind": "step", "run": "stranger", "phase": "after", "numbers": {}})
    [run] = fold(events)
    assert "rm -rf" not in run.phases and run.jobs_after == 3


def test_the_goals_need_both_crashes_and_both_policies():
    none = crash_events("a", "none", jobs_after=0)
    aof = crash_events("b", "aof", jobs_after=3)
    lru = memory_events("c", "allkeys-lru", accepted=MEMORY_JOBS, in_list=800)
    refuse = memory_events("d", "noeviction", accepted=1100, in_list=1100)
    assert not restarted_both_ways(fold(none)) and restarted_both_ways(fold(none, aof))
    assert not compared_policies(fold(lru, none)) and compared_policies(fold(lru, refuse))


def run_to_the_end(client: LiveClient, stream, mode: str) -> str:
    started = client.htmx_post("/labs/failure/start/", {"mode": mode})
    assert started.status == 200, started.text
    run_id = re.search(r"Run (\w+) is on the queue", started.text).group(1)
    return frame_until(
        stream,
        lambda html: f'data-run-row="{run_id}" data-mode="{mode}" data-status="succeeded"' in html,
    )


def test_the_append_only_file_keeps_every_job_and_an_evicting_policy_loses_accepted_ones(live_url):
    client = LiveClient(live_url)
    assert client.get("/labs/failure/").status == 200
    refused = client.htmx_post("/labs/failure/start/", {"mode": "flushall"})
    assert refused.status == 400 and "Pick one of the experiments" in refused.text
    stream = client.events("/streams/labs/failure/events/")

    crash = run_to_the_end(client, stream, "aof")
    assert '<tr data-row="jobs">' in crash
    assert re.search(r'data-row="jobs">.*?data-before="3".*?data-after="3"', crash, re.S)
    assert re.search(r'data-row="entries">.*?data-after="3"', crash, re.S)
    # Both subscribers were back, subscribed by redis-py itself, for the messages after.
    assert re.search(rf'data-row="got-retry">.*?data-after="{PUBLISHED}"', crash, re.S)
    assert re.search(rf'data-row="got-plain">.*?data-after="{PUBLISHED}"', crash, re.S)

    full = run_to_the_end(client, stream, "allkeys-lru")
    stream.close()
    lost = int(re.search(r'data-lost="(\d+)"', full.split('data-mode="allkeys-lru"')[1]).group(1))
    assert lost > 0  # accepted, never refused, and gone from the list
