"""Scaling out, proven across processes: two web processes (uvicorn) and two Celery workers for
each queue the labs here use, every one a process of its own, on one PostgreSQL and one Redis.

PostgreSQL is the project's own (``learnsite.embedded_postgres``, a cluster made for this
module), or the server DATABASE_URL names, in a database made for this module and
migrated by ``manage.py migrate`` as a release does. Only the servers use it: this module talks
to them over HTTP, and reads the learners' records in Redis, which is this module's own too.
Everything starts once (session-scoped, below); a test that kills a process has it started
again by the next test that needs it.
"""

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from psycopg import sql

from labs.events import learner_stream_key
from labs.fold import STREAM_RESUMED, stream_id_after
from labs.kinds.ping.fold import LABELS, PING_STEPS
from learnsite.processes import die_with_parent
from learnsite.workers import DEFAULT_QUEUE
from tests.http import LiveClient, frame_until
from tests.labs import lifecycle_support as lifecycle
from tests.labs.lifecycle_support import deadline
from tests.labs.ping_support import events_until_done, run_id_of
from tests.stack import (
    ROOT,
    Service,
    child_env,
    redis_service,
    services_start,
    wait_until,
    web_service,
    worker_service,
)

pytestmark = pytest.mark.xdist_group("scale-out")

PING_PAGE = "/labs/ping/"
PING_STREAM = "/streams/labs/ping/events/"
# A lifecycle run works for 1.5 s: a message taken this long ago by a worker that is gone is
# put back on the queue (and looked for as often), so a lost run comes back in seconds.
VISIBILITY_TIMEOUT_SECONDS = "3"
READY_SECONDS = 90  # six Python processes start at once on two cores
# The cluster is made in memory: on disk, initdb's and each migration's fsyncs, and removing
# its thousand files after, cost seconds. Named by this process, so a later run can tell when
# it is left over.
PG_PARENT = Path("/dev/shm")
PG_PREFIX = "learnsite-test-pg-"


@dataclass
class Web:
    service: Service
    url: str


@dataclass
class Stack:
    webs: list[Web]
    labs_workers: list[Service]  # the queue "labs": the ping lab's runs
    celery_workers: list[Service]  # the default queue: the lifecycle lab's acks_late runs
    redis: redis.Redis

    def running(self, *services: Service) -> None:
        """Start again those of ``services`` that an earlier test killed."""
        services_start([s for s in services if s.process.poll() is not None], READY_SECONDS)

    def record(self, run_id: str) -> list[tuple[str, dict]]:
        """The ping events recorded for the learner whose run ``run_id`` is, oldest first."""
        for key in self.redis.scan_iter(match=learner_stream_key("*", "ping")):
            events = [(i, json.loads(fields["event"])) for i, fields in self.redis.xrange(key)]
            if any(event.get("run") == run_id for _, event in events):
                return events
        raise AssertionError(f"no record holds run {run_id}")


def hostname(worker: Service) -> str:
    return f"{worker.name}@localhost"  # tests/stack.py names each worker so


@contextlib.contextmanager
def made_database(server_url: str):
    """A database of this module's own on the PostgreSQL of ``server_url``; dropped after."""
    name = f"learnsite_scale_out_{os.getpid()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


# Session-scoped, though only this module uses them: pytest-xdist may run another module's test
# between two of these, and a module scope would then start the whole stack again (about 30 s).
@pytest.fixture(scope="session")
def scale_redis_url():
    service, url = redis_service()
    service.start()
    yield url
    service.stop()


def leftovers_remove() -> None:
    """The clusters of earlier runs whose process is gone (killed before its teardown)."""
    for folder in PG_PARENT.glob(f"{PG_PREFIX}*"):
        pid = folder.name.removeprefix(PG_PREFIX).partition("-")[0]
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Database:
    url: str
    server: Service | None  # the project's own PostgreSQL, started for this module


@pytest.fixture(scope="session")
def database(scale_redis_url):
    """An empty PostgreSQL database for this module's servers."""
    existing = os.environ.get("DATABASE_URL", "")
    if existing.startswith(("postgres://", "postgresql://")):
        with made_database(existing) as url:
            yield Database(url, server=None)
        return
    leftovers_remove()
    folder = Path(tempfile.mkdtemp(prefix=f"{PG_PREFIX}{os.getpid()}-", dir=PG_PARENT))
    folder.chmod(0o755)  # as root, the server runs as the postgres user, which must get in
    url = f"postgres://learnsite@/scale_out?host={folder}/pg"
    argv = [sys.executable, "-m", "learnsite.embedded_postgres"]
    env = child_env(scale_redis_url) | {"DATABASE_URL": url}
    server = Service("postgres", argv, lambda: "embedded postgres on" in server.log(), env)
    server.spawn()  # waited for by ``stack``, while its processes start
    yield Database(url, server)
    server.stop()  # a fast shutdown
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def stack(scale_redis_url, database):
    url, env = scale_redis_url, {"DATABASE_URL": database.url}
    webs = [Web(*web_service(url, **env)) for _ in range(2)]
    labs_workers = [worker_service(url, "labs", **env) for _ in range(2)]
    celery_workers = [
        worker_service(
            url, DEFAULT_QUEUE, **env, CELERY_VISIBILITY_TIMEOUT_SECONDS=VISIBILITY_TIMEOUT_SECONDS
        )
        for _ in range(2)
    ]
    services = [*(web.service for web in webs), *labs_workers, *celery_workers]
    try:
        # None of them reads the database to start: the schema is made meanwhile.
        for service in services:
            service.spawn()
        if database.server:
            database.server.wait_ready(READY_SECONDS)
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT,
            env=child_env(url) | env, capture_output=True, text=True, timeout=READY_SECONDS,
            preexec_fn=die_with_parent(),
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        for service in services:
            service.wait_ready(READY_SECONDS)
        client = redis.Redis.from_url(url, decode_responses=True)
        yield Stack(webs, labs_workers, celery_workers, client)
        client.close()
    finally:
        # Killed, not asked to stop: nothing of them is used after, and a worker's warm
        # shutdown alone takes a second or two.
        for service in services:
            service.stop(signal.SIGKILL)


def run_article(frame_html: str, run_id: str) -> str:
    match = re.search(
        rf'<article [^>]*aria-labelledby="run-{run_id}-title">.*?</article>', frame_html, re.S
    )
    assert match, f"run {run_id} is not in the frame"
    return match.group(0)


def timeline(article_html: str) -> list[str]:
    return re.findall(r"</time> ([^<]+)</li>", article_html)


def done(frame_html: str, run_ids: list[str]) -> bool:
    return all(
        f'id="run-{run_id}-title">Run {run_id} <span class="status">Done<' in frame_html
        for run_id in run_ids
    )


def label(event: dict) -> str:
    """The timeline entry a recorded ping event makes on the page (labs/kinds/ping/fold.py)."""
    if event["kind"] == STREAM_RESUMED:
        replayed = event["replayed"]
        return (
            f"Stream dropped and resumed: {replayed} event{'' if replayed == 1 else 's'} replayed"
        )
    if event["kind"] == "progress":
        return f"{LABELS['progress']}: step {event['step']} of {event['of']}"
    return LABELS[event["kind"]]


EVERY_EVENT = [
    "Queued on the broker",
    "Picked up by a worker",
    *(f"Progress: step {step} of {PING_STEPS}" for step in range(1, PING_STEPS + 1)),
    "Finished",
]


def test_learners_on_either_web_process_get_every_event_of_runs_on_either_worker(stack):
    web_a, web_b = stack.webs
    stack.running(web_a.service, web_b.service, *stack.labs_workers)
    alice, bob = LiveClient(web_a.url), LiveClient(web_b.url)
    streams = {}
    for learner in (alice, bob):
        assert learner.get(PING_PAGE).status == 200
        streams[learner] = learner.events(PING_STREAM, timeout=30)
        next(streams[learner])  # connected: the stream's first frame
    # Each learner starts a run on each web process, whatever process streams to them.
    runs = {
        learner: [run_id_of(learner.at(web.url).htmx_post(f"{PING_PAGE}start/").text)
                  for web in (web_a, web_b)]
        for learner in (alice, bob)
    }  # fmt: skip

    workers = set()
    for learner, stream in streams.items():
        # A frame carries the cards of the runs that changed: the page shows each run's newest.
        cards: dict[str, str] = {}

        def shown_done(html: str, learner=learner, cards=cards) -> bool:
            for run_id in re.findall(r'aria-labelledby="run-(\w+)-title"', html):
                cards[run_id] = run_article(html, run_id)
            return done("".join(cards.values()), runs[learner])

        with deadline(30):  # frame_until's own deadline needs frames to come
            frame_until(stream, shown_done)
        stream.close()
        assert sorted(cards) == sorted(runs[learner])  # theirs, and only theirs
        for run_id in runs[learner]:
            article = cards[run_id]
            assert timeline(article) == EVERY_EVENT
            [worker] = re.findall(r"Worker <code>([^<]+)</code>", article)
            workers.add(worker)
            # What the page shows is what the worker recorded, event for event.
            recorded = [event for _, event in stack.record(run_id) if event["run"] == run_id]
            assert [label(event) for event in recorded] == EVERY_EVENT
            assert recorded[1]["worker"] == worker
    assert workers == {hostname(worker) for worker in stack.labs_workers}


def frames_until_cut(stream) -> list:
    """What a stream still delivers until its server's death cuts the connection."""
    seen = []
    with contextlib.suppress(OSError, http.client.HTTPException):
        seen.extend(stream)
    return seen


def test_a_learner_whose_web_process_is_killed_mid_run_resumes_on_the_other_and_misses_nothing(
    stack,
):
    web_a, web_b = stack.webs
    stack.running(web_a.service, web_b.service, *stack.labs_workers)
    learner = LiveClient(web_a.url)
    assert learner.get(PING_PAGE).status == 200
    stream = learner.events(PING_STREAM, timeout=30)
    next(stream)
    run_id = run_id_of(learner.htmx_post(f"{PING_PAGE}start/").text)
    with deadline(30):
        running = next(e for e in stream if e.event == "runs" and ">Running<" in e.data)

        web_a.service.stop(signal.SIGKILL)
        last = [event for event in [running, *frames_until_cut(stream)] if event.id][-1]
        # While the browser waits to reconnect the run goes on: it has events to miss.
        wait_until(lambda: stack.record(run_id)[-1][0] != last.id)
        # The browser reconnects, to the process left, with the id of the last frame it had.
        resumed = learner.at(web_b.url).events(PING_STREAM, last_event_id=last.id, timeout=30)
        frames = [event for event in events_until_done(resumed, run_id) if event.event == "runs"]
        resumed.close()

    record = stack.record(run_id)
    [(resume_id, resume)] = [(i, e) for i, e in record if e["kind"] == STREAM_RESUMED]
    after_last = [(i, e) for i, e in record if stream_id_after(i, last.id)]
    assert any(e["kind"] == "succeeded" for _, e in after_last), "it had ended before the kill"
    missed = [i for i, _ in after_last if stream_id_after(resume_id, i)]
    assert resume["after"] == last.id and resume["replayed"] == len(missed) > 0
    # Each frame after the reconnect is newer than the last, and the last frame is the record's
    # last event: the page has everything there is, once.
    ids = [frame.id for frame in frames]
    assert all(stream_id_after(b, a) for a, b in zip([last.id, *ids], ids, strict=False))
    assert ids[-1] == record[-1][0]
    # The page's timeline: what it had, then what it missed, the resume, and the rest, in the
    # record's order; every step once.
    had = timeline(run_article(last.data, run_id))
    final = timeline(run_article(frames[-1].data, run_id))
    assert final[: len(had)] == had
    assert final == [label(event) for _, event in record]
    assert [entry for entry in final if not entry.startswith("Stream dropped")] == EVERY_EVENT


def test_an_acks_late_run_whose_worker_is_killed_runs_again_on_the_other_worker(stack):
    _, web_b = stack.webs
    stack.running(web_b.service, *stack.celery_workers)
    learner = LiveClient(web_b.url)
    assert learner.get(lifecycle.PAGE).status == 200
    stream = learner.events(lifecycle.STREAM, timeout=30)
    run_id = lifecycle.start(learner, "succeed")
    running = lifecycle.watch(stream, run_id, lambda run: run.state == "PROGRESS")
    [began] = running.of("STARTED")
    [first] = [w for w in stack.celery_workers if began.detail.endswith(f"of {hostname(w)}")]
    [other] = [w for w in stack.celery_workers if w is not first]

    first.stop(signal.SIGKILL)  # the worker and its pool processes, mid-task, with no goodbye
    # The other worker finds the message nobody acknowledged and takes it again.
    run = lifecycle.watch(stream, run_id, lambda run: run.state == "SUCCESS", seconds=60)
    stream.close()

    assert lifecycle.collapse(run.states) == [
        "PENDING", "RECEIVED", "STARTED", "PROGRESS", "RECEIVED", "STARTED", "PROGRESS", "SUCCESS",
    ]  # fmt: skip
    retaken = run.of("RECEIVED")[1]
    assert "redelivered: the worker that had it was lost" in retaken.detail
    began_again = run.of("STARTED")[1]
    assert began_again.detail.startswith("attempt 1,")
    assert began_again.detail.endswith(f"of {hostname(other)}")
    # The page, rendered from the record by the web process, shows it done.
    page = learner.get(lifecycle.PAGE).text
    shown = lifecycle.run_in(page, run_id)
    assert shown.state == "SUCCESS" and shown.percent == 100
