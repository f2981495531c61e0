"""Lab work sized for a class: each queue's worker and pool (learnsite/workers.py), fair share
per learner, and a queued run's place in its queue, through the real workers `make run` starts."""

import re

from labs.events import events_read
from learnsite.workers import QUEUES
from tests.http import LiveClient, frame_until
from tests.labs.ping_support import run_id_of
from tests.stack import wait_until


def lab_learner(base_url: str, lab: str) -> LiveClient:
    client = LiveClient(base_url)
    assert client.get(f"/labs/{lab}/").status == 200
    return client


def runs_recorded(client: LiveClient, lab: str) -> dict[str, dict[str, float]]:
    """Each of the learner's runs of ``lab``: when each kind of its events (each state, for the
    lifecycle lab) was first recorded."""
    runs: dict[str, dict[str, float]] = {}
    for _, event in events_read(learner_id=client.learner_key(), lab=lab):
        if "run" in event:
            kind = event["state"] if event["kind"] == "state" else event["kind"]
            runs.setdefault(event["run"], {}).setdefault(kind, event["at"])
    return runs


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of the intervals that overlap at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_ping_runs_of_a_class_run_side_by_side(live_url):
    # Twenty runs of seven learners, each run 2 s of sleeps: a prefork pool of 2 would run two
    # at a time; the threads pool of the labs queue runs them all at once.
    learners = [lab_learner(live_url, "ping") for _ in range(7)]
    for number in range(20):
        response = learners[number % 7].htmx_post("/labs/ping/start/")
        assert response.status == 200, response.text

    def finished() -> list[dict]:
        runs = [run for client in learners for run in runs_recorded(client, "ping").values()]
        return runs if all("succeeded" in run for run in runs) else []

    wait_until(finished, seconds=30)
    intervals = [(run["started"], run["succeeded"]) for run in finished()]
    assert len(intervals) == 20
    assert most_at_once(intervals) >= 10 > QUEUES["celery"].concurrency


def test_long_runs_hold_their_own_queue_and_one_place_each(live_url):
    holders = [lab_learner(live_url, "pubsub") for _ in range(2)]
    subscribers = []
    for client in holders:
        started = client.htmx_post("/labs/pubsub/subscriber/start/", {"subscribe": "updates"})
        assert started.status == 200, started.text
        subscribers.append(re.search(r'data-run-id="(\w+)"', started.text).group(1))
    for client, run_id in zip(holders, subscribers, strict=True):
        wait_until(lambda c=client, r=run_id: "listening" in runs_recorded(c, "pubsub").get(r, {}))

    # Fair share: one long run at a time per learner, whatever the lab.
    refused = holders[0].htmx_post("/labs/listen/start/")
    assert refused.status == 429
    assert "You already have 1 run waiting or running in the queue labs-long" in refused.text

    # While both subscribers listen, another learner's ping runs and finishes.
    pinger = lab_learner(live_url, "ping")
    ping_run = run_id_of(pinger.htmx_post("/labs/ping/start/").text)
    wait_until(lambda: "succeeded" in runs_recorded(pinger, "ping").get(ping_run, {}))
    for client, run_id in zip(holders, subscribers, strict=True):
        assert "succeeded" not in runs_recorded(client, "pubsub")[run_id]  # still listening
        stopped = client.htmx_post("/labs/pubsub/subscriber/stop/", {"run": run_id})
        assert stopped.status == 200, stopped.text
    for client, run_id in zip(holders, subscribers, strict=True):
        wait_until(lambda c=client, r=run_id: "succeeded" in runs_recorded(c, "pubsub")[r])


def test_a_queued_run_shows_its_queue_pool_and_the_runs_ahead_as_they_start(live_url):
    # The lifecycle lab's queue, celery, has a prefork pool of 2 processes (it teaches them).
    hog, other, learner = (lab_learner(live_url, "lifecycle") for _ in range(3))
    hogging = [start_lifecycle(hog, "overrun"), start_lifecycle(hog, "succeed")]  # 3 s, 1.5 s
    wait_until(lambda: all("STARTED" in runs_recorded(hog, "lifecycle")[run] for run in hogging))
    start_lifecycle(other, "succeed")
    start_lifecycle(learner, "succeed")

    page = learner.get("/labs/lifecycle/").text
    assert '<p class="queue-place" data-queue="celery" data-ahead="1">' in page
    pool = QUEUES["celery"]
    said = f"runs {pool.concurrency} tasks at a time in a <strong>{pool.pool}</strong> pool"
    assert said in " ".join(page.split())
    assert "1 run ahead of yours</strong>" in page

    # The short run ends and the other learner's run starts: this learner's open page is told,
    # though none of their own events says so.
    stream = learner.events("/streams/labs/lifecycle/events/")
    frame = frame_until(stream, lambda data: 'data-ahead="0"' in data)
    assert "No run is ahead of yours</strong>" in frame and ">PENDING<" in frame
    stream.close()


def start_lifecycle(client: LiveClient, behaviour: str) -> str:
    response = client.htmx_post("/labs/lifecycle/start/", {"behaviour": behaviour})
    assert response.status == 200, response.text
    return run_id_of(response.text)
