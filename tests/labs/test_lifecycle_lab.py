"""The lab "A task's whole life" through real processes: uvicorn, Redis and Celery workers.

Each live test reads the learner's event stream and checks the states the page shows, in order.
The fold's tests at the end are pure: events made in the test, no Redis.
"""

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from labs.kinds.lifecycle import services, tasks
from labs.kinds.lifecycle.fold import LifecycleFold
from learnsite.celery import app as celery_app
from learnsite.redis import redis_client
from tests.http import LiveClient
from tests.labs.lifecycle_support import (
    PAGE,
    STREAM,
    collapse,
    deadline,
    run_in,
    start,
    watch,
)
from tests.stack import redis_service, web_service, worker_service


def start_canvas(client: LiveClient, shape: str) -> str:
    response = client.htmx_post(f"{PAGE}canvas/", {"shape": shape})
    assert response.status == 200, response.text
    return re.search(r"Run (\w+) is on the queue", response.text).group(1)


def queued_task_ids() -> set[str]:
    """The ids of the task messages waiting in the session Redis's default queue."""
    return {json.loads(raw)["headers"]["id"] for raw in redis_client().lrange("celery", 0, -1)}


@pytest.fixture
def client(live_url) -> LiveClient:
    """A learner with a fresh session, who has opened the lab page."""
    client = LiveClient(live_url)
    page = client.get(PAGE)
    assert page.status == 200 and "No runs yet" in page.text
    return client


@pytest.fixture
def stream(client):
    events = client.events(STREAM)
    yield events
    events.close()


def test_a_task_that_succeeds_goes_through_each_state_in_order(client, stream):
    run_id = start(client, "succeed")
    run = watch(stream, run_id, lambda run: run.state == "SUCCESS")

    assert run.states == ["PENDING", "RECEIVED", "STARTED", *["PROGRESS"] * 5, "SUCCESS"]
    assert [entry.detail for entry in run.of("PROGRESS")] == [
        f"{n * 20}% (step {n} of 5)" for n in range(1, 6)
    ]
    assert run.percent == 100
    offsets = [entry.offset_ms for entry in run.entries]
    assert offsets == sorted(offsets)
    assert re.fullmatch(r"attempt 1, in process \d+ of test-celery-\d+-\d+@localhost",
                        run.of("STARTED")[0].detail)  # fmt: skip
    # The result backend holds the same outcome as the page.
    assert celery_app.AsyncResult(run.task_id).state == "SUCCESS"


def test_a_task_that_fails_once_is_retried_after_its_countdown_then_succeeds(client, stream):
    run_id = start(client, "retry-once")
    run = watch(stream, run_id, lambda run: run.state == "SUCCESS")

    assert collapse(run.states) == [
        "PENDING", "RECEIVED", "STARTED", "PROGRESS", "RETRY",
        "RECEIVED", "STARTED", "PROGRESS", "SUCCESS",
    ]  # fmt: skip
    (retry,) = run.of("RETRY")
    assert retry.detail == "failed on purpose at step 2 of attempt 1; next attempt in 1 s"
    first, second = run.of("STARTED")
    assert first.detail.startswith("attempt 1,") and second.detail.startswith("attempt 2,")
    # The worker holds the retry's message until its countdown ends.
    assert "holds it until its countdown ends" in run.of("RECEIVED")[1].detail
    assert second.offset_ms - retry.offset_ms >= 1000
    assert run.percent == 100


def test_a_task_that_always_fails_backs_off_then_fails_when_its_retries_run_out(client, stream):
    run_id = start(client, "always-fail")
    run = watch(stream, run_id, lambda run: run.state == "FAILURE")

    attempt = ["RECEIVED", "STARTED", "PROGRESS"]
    assert collapse(run.states) == [
        "PENDING", *attempt, "RETRY", *attempt, "RETRY", *attempt, "FAILURE",
    ]  # fmt: skip
    retries = run.of("RETRY")
    assert [re.search(r"next attempt in (\d+) s", r.detail).group(1) for r in retries] == [
        "1",
        "2",
    ]
    starts = run.of("STARTED")
    # Each attempt starts no sooner than its countdown allows: 1 s, then 2 s.
    assert starts[1].offset_ms - retries[0].offset_ms >= 1000
    assert starts[2].offset_ms - retries[1].offset_ms >= 2000
    (failure,) = run.of("FAILURE")
    assert failure.detail == (
        "SimulatedFailure: failed on purpose at step 2 of attempt 3, "
        "with no retries left (max_retries=2)"
    )
    assert celery_app.AsyncResult(run.task_id).state == "FAILURE"


def test_a_task_that_overruns_its_time_limit_fails_with_that_reason(client, stream):
    run_id = start(client, "overrun")
    run = watch(stream, run_id, lambda run: run.state == "FAILURE")

    assert collapse(run.states) == ["PENDING", "RECEIVED", "STARTED", "PROGRESS", "FAILURE"]
    (started,), (failure,) = run.of("STARTED"), run.of("FAILURE")
    assert failure.detail.startswith("time limit: still running after its soft time limit of 3 s")
    assert "SoftTimeLimitExceeded" in failure.detail
    assert failure.offset_ms - started.offset_ms >= 3000
    assert run.percent < 100
    assert celery_app.AsyncResult(run.task_id).state == "FAILURE"


def test_cancelling_a_running_task_terminates_it(client, stream):
    run_id = start(client, "overrun")
    watch(stream, run_id, lambda run: run.state == "PROGRESS")

    response = client.htmx_post(f"{PAGE}cancel/", {"run": run_id})
    assert response.status == 200
    assert f"cancel run {run_id}, terminating its process" in response.text
    revoked = watch(stream, run_id, lambda run: run.state == "REVOKED")
    assert collapse(revoked.states) == [
        "PENDING", "RECEIVED", "STARTED", "PROGRESS", "CANCEL", "REVOKED",
    ]  # fmt: skip
    assert revoked.of("CANCEL")[0].detail == "revoke(terminate=True)"
    assert revoked.of("REVOKED")[0].detail == (
        "terminated while running: its pool process got SIGTERM"
    )

    # It stopped: the worker's process is free for the next task at once, and the revoked
    # run never reports again (not even the failure its time limit would have caused).
    next_run = start(client, "succeed")
    watch(stream, next_run, lambda run: run.state == "SUCCESS")
    after = run_in(client.get(PAGE).text, run_id)
    assert after.states == revoked.states
    assert celery_app.AsyncResult(revoked.task_id).state == "REVOKED"


def test_a_cancel_form_sent_without_htmx_is_not_refused(client, stream):
    """The runs come down the stream; their cancel form works as a plain form too (a click that
    lands before htmx has taken over a freshly swapped form)."""
    run_id = start(client, "overrun")
    with deadline(30):
        frame = next(
            event.data for event in stream
            if event.event == "runs" and (run := run_in(event.data, run_id))
            and run.state == "PROGRESS"
        )  # fmt: skip
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', frame).group(1)

    page = client.request("POST", f"{PAGE}cancel/", {"csrfmiddlewaretoken": token, "run": run_id})
    assert page.status == 200, page.text
    watch(stream, run_id, lambda run: run.state == "REVOKED")


def test_a_chain_runs_its_tasks_one_after_another(client, stream):
    run_id = start_canvas(client, "chain")
    task_id = run_in(client.get(PAGE).text, run_id).task_id
    # A chain sends each task only when the one before it has succeeded.
    assert not {f"{task_id}-2", f"{task_id}-3"} & queued_task_ids()

    run = watch(stream, run_id, lambda run: run.state == "SUCCESS")
    assert run.nodes == ["SUCCESS"] * 3
    for node in (1, 2, 3):
        node_states = [entry.state for entry in run.entries if entry.node == node]
        assert collapse(node_states) == ["RECEIVED", "STARTED", "PROGRESS", "SUCCESS"]
        assert celery_app.AsyncResult(f"{task_id}-{node}").state == "SUCCESS"
    for node in (1, 2):
        last_progress = max(
            i for i, e in enumerate(run.entries) if e.node == node and e.state == "PROGRESS"
        )
        next_received = min(
            i for i, e in enumerate(run.entries) if e.node == node + 1 and e.state == "RECEIVED"
        )
        assert last_progress < next_received


def test_a_group_sends_its_tasks_at_once_and_each_succeeds(client, stream):
    run_id = start_canvas(client, "group")
    task_id = run_in(client.get(PAGE).text, run_id).task_id
    # All three are sent at once; the worker of the queue celery (2 processes, one message each
    # at a time) has taken at most the first two, which work for a second.
    assert f"{task_id}-3" in queued_task_ids()

    run = watch(stream, run_id, lambda run: run.state == "SUCCESS")
    assert run.nodes == ["SUCCESS"] * 3
    for node in (1, 2, 3):
        node_states = [entry.state for entry in run.entries if entry.node == node]
        assert collapse(node_states) == ["RECEIVED", "STARTED", "PROGRESS", "SUCCESS"]
        assert celery_app.AsyncResult(f"{task_id}-{node}").state == "SUCCESS"


def test_another_learner_cannot_cancel_your_run(live_url):
    alice, bob = LiveClient(live_url), LiveClient(live_url)
    alice.get(PAGE)
    bob.get(PAGE)
    alice_stream = alice.events(STREAM)
    run_id = start(alice, "succeed")
    running = watch(alice_stream, run_id, lambda run: run.state == "PROGRESS")

    # Bob names Alice's run, then her task id: neither is among his runs.
    for name in (run_id, running.task_id):
        response = bob.htmx_post(f"{PAGE}cancel/", {"run": name})
        assert response.status == 404
        assert "You have no such run to cancel." in response.text

    done = watch(alice_stream, run_id, lambda run: run.state == "SUCCESS")
    alice_stream.close()
    assert "CANCEL" not in done.states and "REVOKED" not in done.states
    # Once finished, not even Alice can cancel it.
    response = alice.htmx_post(f"{PAGE}cancel/", {"run": run_id})
    assert response.status == 400
    assert f"Run {run_id} has already finished (SUCCESS): nothing to cancel." in response.text


def test_an_unknown_behaviour_or_shape_is_refused_with_a_message(client):
    response = client.htmx_post(f"{PAGE}start/", {"behaviour": "explode"})
    assert response.status == 400
    assert "Choose how the task behaves: one of succeed, retry-once" in response.text
    response = client.htmx_post(f"{PAGE}canvas/", {"shape": "tree"})
    assert response.status == 400
    assert "Choose a chain or a group: one of chain, group." in response.text
    # Without htmx (a plain form post), the page itself says so.
    token = client.csrf_token()
    response = client.request(
        "POST", f"{PAGE}start/", data={"behaviour": "", "csrfmiddlewaretoken": token}
    )
    assert response.status == 400
    assert "Choose how the task behaves" in response.text and "No runs yet" in response.text
    response = client.htmx_post(f"{PAGE}cancel/", {"run": "nope"})
    assert response.status == 404


def test_a_task_whose_worker_is_killed_runs_again_on_a_new_worker(start_services):
    redis, redis_url = redis_service()
    start_services(redis)
    web, base_url = web_service(redis_url)
    start_services(web)
    # A message taken but not acknowledged goes back on the queue this long after it was taken.
    env = {"CELERY_VISIBILITY_TIMEOUT_SECONDS": "3"}
    first = start_services(worker_service(redis_url, **env))
    learner = LiveClient(base_url)
    learner.get(PAGE)
    stream = learner.events(STREAM, timeout=30)
    run_id = start(learner, "succeed")
    watch(stream, run_id, lambda run: run.state == "PROGRESS")

    first.stop(signal.SIGKILL)  # the worker and its pool process, mid-task, with no goodbye
    second = start_services(worker_service(redis_url, **env))
    # The new worker looks for abandoned messages when it starts, then every 10 s.
    run = watch(stream, run_id, lambda run: run.state == "SUCCESS", seconds=60)
    stream.close()

    assert collapse(run.states) == [
        "PENDING", "RECEIVED", "STARTED", "PROGRESS", "RECEIVED", "STARTED", "PROGRESS", "SUCCESS",
    ]  # fmt: skip
    taken, retaken = run.of("RECEIVED")
    assert "redelivered" not in taken.detail
    assert "redelivered: the worker that had it was lost" in retaken.detail
    began, began_again = run.of("STARTED")
    assert began.detail.endswith(f"of {first.name}@localhost")
    # Not a retry: the same first attempt, run again from the start by the new worker.
    assert began_again.detail.startswith("attempt 1,")
    assert began_again.detail.endswith(f"of {second.name}@localhost")
    assert run.percent == 100


# ---- The fold, pure: events made here, no Redis, no worker


def events(*made: tuple, start: int = 1) -> list[tuple[str, dict]]:
    """Lifecycle events, one a second from second ``start``: ("queued", run[, shape]),
    ("cancel", run[, terminate]), or (state, run[, node[, fields]]) for a state the worker
    reports."""
    folded = []
    for second, (kind, run, *more) in enumerate(made, start=start):
        if kind == "queued":
            options = {"shape": more[0], "size": 3} if more else {"behaviour": "succeed"}
            event = {"kind": kind, "task_id": f"task-{run}", "options": options}
        elif kind == "cancel":
            event = {"kind": kind, "terminate": bool(more and more[0])}
        else:
            node = more[0] if more else None
            fields = more[1] if len(more) > 1 else {}
            event = {"kind": "state", "state": kind, **fields}
            if node is not None:
                event["node"] = node
        event |= {"lab": "lifecycle", "run": run, "at": float(second)}
        folded.append((f"{second}-0", event))
    return folded


def test_the_fold_follows_a_task_to_success_and_its_timeline_keeps_every_state():
    (run,) = LifecycleFold.fold(
        events(
            ("queued", "a"),
            ("RECEIVED", "a", None, {"worker": "w1"}),
            ("STARTED", "a", None, {"pid": 7, "worker": "w1", "attempt": 1}),
            ("PROGRESS", "a", None, {"percent": 40, "step": 2, "of": 5}),
            ("SUCCESS", "a"),
        ),
        now=100.0,
    )
    assert (run.state, run.status, run.percent, run.attempts) == ("SUCCESS", "success", 100, 1)
    assert [entry.state for entry in run.timeline] == [
        "PENDING", "RECEIVED", "STARTED", "PROGRESS", "SUCCESS",
    ]  # fmt: skip
    assert [entry.offset_ms for entry in run.timeline] == [0, 1000, 2000, 3000, 4000]
    assert run.timeline[2].detail == "attempt 1, in process 7 of w1"
    assert run.timeline[3].detail == "40% (step 2 of 5)"
    assert run.timeline[1].clock == "00:00:02.000"
    assert not run.cancellable and LifecycleFold().observed(run) == "success"


def test_a_pending_run_is_queued_and_waits_for_a_worker_after_a_while():
    made = events(("queued", "a"))
    (run,) = LifecycleFold.fold(made, now=2.0)
    assert run.queued and run.status == "queued" and not run.waiting
    (run,) = LifecycleFold.fold(made, now=10.0)
    assert run.waiting and run.cancellable
    (run,) = LifecycleFold.fold([*made, *events(("RECEIVED", "a"), start=2)], now=10.0)
    assert not run.queued and not run.waiting and run.status == "received"


def test_what_comes_after_the_end_is_shown_but_changes_nothing_unless_it_is_redelivered():
    made = events(
        ("queued", "a"),
        ("STARTED", "a"),
        ("cancel", "a", True),
        ("REVOKED", "a", None, {"reason": "terminated"}),
        ("PROGRESS", "a", None, {"percent": 60}),  # sent just before the terminate
    )
    (run,) = LifecycleFold.fold(made, now=100.0)
    assert run.state == "REVOKED" and run.percent == 0 and run.cancel_requested
    assert [entry.state for entry in run.timeline][-3:] == ["CANCEL", "REVOKED", "PROGRESS"]
    assert run.timeline[2].detail == "revoke(terminate=True)"
    assert LifecycleFold().observed(run) == "revoked"
    failed = events(("queued", "b"), ("FAILURE", "b", None, {"error": "boom"}), ("RECEIVED", "b"))
    (run,) = LifecycleFold.fold(failed, now=100.0)
    assert run.state == "RECEIVED" and run.error == "boom"


def test_a_canvas_run_takes_its_state_from_its_members_and_observes_nothing():
    made = events(
        ("queued", "g", "group"),
        ("STARTED", "g", 1),
        ("SUCCESS", "g", 1),
        ("SUCCESS", "g", 4),  # no such member: ignored
        ("PROGRESS", "g", None, {"percent": 50}),  # names no member: ignored
    )
    (run,) = LifecycleFold.fold(made, now=100.0)
    assert [node.task_id for node in run.nodes] == ["task-g-1", "task-g-2", "task-g-3"]
    assert [node.state for node in run.nodes] == ["SUCCESS", "PENDING", "PENDING"]
    assert (run.state, run.percent, run.title) == ("STARTED", 33, "Group of 3")
    assert len(run.timeline) == 3 and not run.cancellable
    done = [*made, *events(("SUCCESS", "g", 2), ("SUCCESS", "g", 3), start=6)]
    (run,) = LifecycleFold.fold(done, now=100.0)
    assert run.state == "SUCCESS" and LifecycleFold().observed(run) is None
    failed = [*made, *events(("FAILURE", "g", 2), start=6)]
    assert LifecycleFold.fold(failed, now=100.0)[0].state == "FAILURE"


def test_events_of_a_run_whose_queued_event_is_gone_are_left_out():
    made = events(("queued", "a"), ("queued", "a"), ("STARTED", "gone"), ("RECEIVED", "a"))
    (run,) = LifecycleFold.fold(made, now=100.0)
    assert run.id == "a" and [entry.state for entry in run.timeline] == ["PENDING", "RECEIVED"]


def test_the_services_send_the_tasks_by_their_registered_names():
    assert (tasks.lifecycle_task.name, tasks.lifecycle_step.name) == (
        services.TASK_NAME,
        services.STEP_TASK_NAME,
    )


# ---- The worker's signal handlers: connected in a worker, never by an import

# Run in a fresh interpreter, so that nothing this test process imported counts.
SIGNALS_SCRIPT = """
import importlib, json, os, pkgutil
from celery import signals

WATCHED = ("task_received", "task_prerun", "task_success", "task_failure", "task_revoked")

def receivers():
    return {name: sorted(str(key[0]) for key, _ in getattr(signals, name).receivers)
            for name in WATCHED}

before = receivers()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")
import django
django.setup()
import labs
for module in pkgutil.walk_packages(labs.__path__, "labs."):
    if not module.name.startswith(("labs.migrations", "labs.sandbox")):
        importlib.import_module(module.name)
imported = receivers()
from labs.kinds.lifecycle.signals import lifecycle_signals_connect
lifecycle_signals_connect()
lifecycle_signals_connect()
worker_init = [str(key[0]) for key, _ in signals.worker_init.receivers]
print(json.dumps({"before": before, "imported": imported, "connected": receivers(),
                  "worker_init": worker_init}))
"""


def test_importing_the_labs_connects_no_task_signal_handler_until_a_worker_asks():
    done = subprocess.run(
        [sys.executable, "-c", SIGNALS_SCRIPT],
        cwd=Path(__file__).resolve().parents[2],  # the project, whatever pytest's directory
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    assert found["imported"] == found["before"]
    assert "labs.worker_signals" in found["worker_init"]  # connected by LabsConfig.ready()
    for name, uids in found["connected"].items():
        ours = [uid for uid in uids if uid.startswith("labs.lifecycle.")]
        assert len(ours) == 1, (name, uids)  # once, however many times it is connected


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [("start/", {"behaviour": "explode"}, 400), ("canvas/", {"shape": "star"}, 400),
     ("cancel/", {"run": "nope"}, 404)],
)  # fmt: skip
def test_a_refused_form_sent_without_htmx_gives_back_the_page_with_its_forms(
    db, redis_url, path, form, status
):
    response = Client().post(f"{PAGE}{path}", form)
    page = response.content.decode()
    assert response.status_code == status
    assert 'name="behaviour" value="always-fail"' in page
    assert 'name="shape" value="chain"' in page
    assert f"{tasks.lifecycle_task.max_retries} retries" in page


def test_cancels_are_limited_per_minute(db, redis_url):
    # Each one is a revoke broadcast to every worker.
    learner, other = Client(), Client()
    headers = {"HX-Request": "true"}
    statuses = [learner.post(f"{PAGE}cancel/", {"run": "nope"}, headers=headers).status_code
                for _ in range(services.CANCELS_PER_MINUTE + 1)]  # fmt: skip
    assert statuses == [404] * services.CANCELS_PER_MINUTE + [429]
    refused = learner.post(f"{PAGE}cancel/", {"run": "nope"}, headers=headers)
    assert "times in the last minute, the limit" in refused.content.decode()
    assert other.post(f"{PAGE}cancel/", {"run": "nope"}, headers=headers).status_code == 404
