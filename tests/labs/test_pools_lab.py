"""Worker pools: the fold and goals over events written here, the choices the start form takes,
and (in test_course_predictions.py, through ``run_cpu_on_threads``) a real run, on a Redis and
a worker of its own."""

import re
import time

import pytest

from labs.events import event_publish, events_read
from labs.frames import card_template, slot_render
from labs.kinds.pools.fold import PoolsFold, compared_cpu_pools, compared_workloads
from labs.kinds.pools.services import pools_options, pools_run_execute
from labs.services import LabError
from tests.http import LiveClient, frame_until

PAGE = "/labs/pools/"


@pytest.fixture
def client(live_url) -> LiveClient:
    """A learner with a fresh session, who has opened the lab page."""
    client = LiveClient(live_url)
    page = client.get(PAGE)
    assert page.status == 200 and "No runs yet" in page.text
    return client


def start(client: LiveClient, *, pool: str, concurrency: str, workload: str) -> str:
    options = {"pool": pool, "concurrency": concurrency, "workload": workload}
    response = client.htmx_post(f"{PAGE}start/", options)
    assert response.status == 200, response.text
    return re.search(r'data-run-id="(\w+)"', response.text).group(1)


def run_cpu_on_threads(client: LiveClient) -> None:
    """The prediction's run: the CPU-bound tasks on threads, concurrency 8, watched to the end."""
    stream = client.events("/streams/labs/pools/events/")
    run_id = start(client, pool="threads", concurrency="8", workload="cpu")
    frame = frame_until(
        stream, lambda data: f'data-run-row="{run_id}" data-status="succeeded"' in data
    )
    stream.close()
    run = frame[frame.index(f'data-run-row="{run_id}"') :]
    # Its own worker said what its pool is, and the 8 tasks ran on threads of one process (as
    # many as the executor started: it reuses a thread that is idle).
    assert "<code>celery.concurrency.thread:TaskPool</code>, <code>max-concurrency</code> 8" in run
    assert 'data-finished="8"' in run
    assert len(set(re.findall(r"process (\d+), thread ThreadPoolExecutor", run))) == 1


def events(run: str, pool: str, concurrency: int, workload: str, notes: list, total_ms: int,
           at: float = 100.0) -> list[tuple[str, dict]]:  # fmt: skip
    """A run's events as its task records them; ``notes``: (task, event, ms, pid, thread, cpu)."""
    options = {"pool": pool, "concurrency": concurrency, "workload": workload}
    base = {"lab": "pools", "run": run}
    points = [
        {"task": task, "event": event, "ms": ms, "pid": pid, "thread": thread, "cpu_ms": cpu}
        for task, event, ms, pid, thread, cpu in notes
    ]
    made = [
        {"kind": "queued", "options": options, "queue": "labs-long", "pool": "threads"},
        {"kind": "started", "worker": "labs-long@here"},
        {"kind": "ready", "start_ms": 1200, "prefetch_count": 4 * concurrency,
         "pool": {"implementation": f"{pool}:TaskPool", "max_concurrency": concurrency}},
        {"kind": "points", "points": points[: len(points) // 2]},
        {"kind": "points", "points": points[len(points) // 2 :]},
        {"kind": "succeeded", "total_ms": total_ms},
    ]  # fmt: skip
    return [(f"{int(at)}-{n}", {**base, **event, "at": at + n}) for n, event in enumerate(made)]


def threads_cpu(run: str = "t1", cpu: int = 250, at: float = 100.0) -> list:
    """8 tasks on 8 threads of process 7, all started at once, each 2,000 ms long."""
    notes = [(n, "start", 10 * n, 7, f"T-{n}", 0) for n in range(1, 9)]
    notes += [(n, "finish", 2000 + 10 * n, 7, f"T-{n}", cpu) for n in range(1, 9)]
    return events(run, "threads", 8, "cpu", notes, total_ms=2080, at=at)


def prefork_cpu(run: str = "p1", at: float = 200.0) -> list:
    """8 tasks on 2 processes, two at a time, each 500 ms long and all CPU."""
    notes = []
    for n in range(1, 9):
        pid, begin = 10 + n % 2, 500 * ((n - 1) // 2)
        notes += [(n, "start", begin, pid, "MainThread", 0)]
        notes += [(n, "finish", begin + 500, pid, "MainThread", 500)]
    return events(run, "prefork", 2, "cpu", sorted(notes, key=lambda note: note[2]), 2000, at=at)


def test_a_runs_card_says_its_figures_with_no_more_than_the_run():
    # The stream renders a card from its run alone, as the page does: no page context to lean on.
    [run] = PoolsFold.fold(prefork_cpu(), now=210.0)
    card = slot_render(run, "true", card=card_template("pools"), csrf_token="token")
    assert "8 of 8 tasks done" in card and "after the 8 tasks were sent" in card
    assert 'data-cores-busy="2.00"' in card and "more than one core at work at once" in card


def test_a_run_folds_into_its_tasks_slots_and_cores_busy():
    [run] = PoolsFold.fold(threads_cpu(), now=110.0)
    assert (run.status, run.worker_pool, run.worker_concurrency, run.workload) == (
        "succeeded", "threads", 8, "cpu",
    )  # fmt: skip
    assert run.pool_info["max_concurrency"] == 8 and run.prefetch_count == 32
    assert [bar.slot for bar in run.tasks] == list(range(1, 9))
    assert (run.finished, run.slots_used, run.most_at_once) == (8, 8, 8)
    assert run.tasks[0].where == "process 7, thread T-1"
    assert run.cpu_ms == 2000 and run.cores_busy == pytest.approx(2000 / 2080)
    chart = run.chart
    assert [bar.number for bar in chart.bars] == list(range(1, 9))
    assert all(bar.width > 400 for bar in chart.bars)  # each spans most of the 2.08 s
    assert "Task 8: started at 0.08 s, took 2.00 s, slot 8 (process 7, thread T-8)" in (
        chart.description
    )

    [run] = PoolsFold.fold(prefork_cpu(), now=210.0)
    assert [bar.slot for bar in run.tasks] == [1, 2] * 4
    assert (run.slots_used, run.most_at_once) == (2, 2)  # a finish and a start at one ms: 2
    assert run.tasks[0].where == "process 11" and run.cores_busy == 2.0


def test_a_run_still_going_has_no_total_and_draws_what_has_started():
    running = [event for event in threads_cpu() if event[1]["kind"] != "succeeded"][:-1]
    [run] = PoolsFold.fold(running, now=105.0)
    assert run.status == "ready" and run.active and run.cores_busy is None
    assert (run.finished, len(run.chart.bars)) == (0, 8)
    assert all(bar.running for bar in run.chart.bars)


def test_only_a_finished_cpu_run_on_threads_answers_the_prediction():
    predicted = [("50-0", {"lab": "pools", "kind": "predicted", "choice": "one", "at": 50.0})]
    io_run = threads_cpu("io", at=60.0)
    io_run[0][1]["options"]["workload"] = "io"
    answered = PoolsFold.fold(predicted + prefork_cpu(at=60.0) + io_run, now=300.0)
    assert answered.prediction.observed is None  # neither is a CPU-bound run on threads
    runs = predicted + prefork_cpu(at=60.0) + threads_cpu(at=70.0)
    assert PoolsFold.fold(runs, now=300.0).prediction.observed == "one"
    # Were the threads to compute on two cores at once, the fold would say so.
    several = PoolsFold.fold(predicted + threads_cpu(cpu=400, at=70.0), now=300.0)
    assert several.prediction.observed == "several" and not several.prediction.right


def test_the_goals_ask_for_both_pools_on_cpu_and_both_workloads_on_one_pool():
    def runs(*made) -> list:
        return PoolsFold.fold([event for events in made for event in events], now=300.0)

    assert not compared_cpu_pools(runs(threads_cpu()))
    assert compared_cpu_pools(runs(threads_cpu(), prefork_cpu()))
    one_process = prefork_cpu()
    one_process[0][1]["options"]["concurrency"] = 1
    assert not compared_cpu_pools(runs(threads_cpu(), one_process))
    io_run = threads_cpu("io", at=300.0)
    io_run[0][1]["options"]["workload"] = "io"
    assert not compared_workloads(runs(threads_cpu(), prefork_cpu()))
    assert compared_workloads(runs(threads_cpu(), io_run))


def test_the_start_form_takes_only_its_choices():
    assert pools_options(pool="solo", concurrency="8", workload="io") == {
        "pool": "solo", "concurrency": 1, "workload": "io",
    }  # fmt: skip
    for bad in (
        {"pool": "gevent", "concurrency": "2", "workload": "cpu"},
        {"pool": "threads", "concurrency": "3", "workload": "cpu"},
        {"pool": "threads", "concurrency": "2; rm", "workload": "cpu"},
        {"pool": "threads", "concurrency": "2", "workload": "disk"},
    ):
        with pytest.raises(LabError):
            pools_options(**bad)


def test_a_bad_choice_is_a_400_with_a_message(client):
    response = client.htmx_post(f"{PAGE}start/", {"pool": "gevent", "concurrency": "2"})
    assert response.status == 400
    assert "Choose a pool: prefork, threads, solo." in response.text
    token = client.csrf_token()  # a plain form post: the page itself says so
    data = {"pool": "threads", "concurrency": "99", "workload": "cpu"}
    response = client.request("POST", f"{PAGE}start/", data={**data, "csrfmiddlewaretoken": token})
    assert response.status == 400
    assert "Choose a concurrency: 1, 2, 4, 8." in response.text and "No runs yet" in response.text


def test_a_worker_that_does_not_start_is_a_failed_run_with_its_reason(redis_url, tmp_path):
    broken = tmp_path / "program.py"
    broken.write_text("from celery import Celery\n\napp = Celery('tasks'\n")  # a syntax error
    learner_id, options = "pools-broken", {"pool": "threads", "concurrency": 2, "workload": "io"}
    queued = {"kind": "queued", "run": "r1", "lab": "pools", "options": options}
    event_publish(learner_id=learner_id, lab="pools", event=queued)  # as lab_run_start does
    result = pools_run_execute(
        learner_id=learner_id, run_id="r1", worker="here", pool="threads", concurrency=2,
        workload="io", program=broken,
    )  # fmt: skip
    assert "did not start" in result["error"] and "SyntaxError" in result["error"]
    [run] = PoolsFold.fold(events_read(learner_id=learner_id, lab="pools"), now=time.time())
    assert (run.status, run.status_label) == ("failed", "Failed")
    assert "SyntaxError" in run.error and not run.bars
