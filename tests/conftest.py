import os
import shutil
import signal
from collections import Counter
from pathlib import Path

import pytest
from _pytest.nodeid import coerce_node_id
from django.conf import settings

from learnsite.processes import end_with_parent

from .http import LiveClient
from .settings import TEST_VAR_ROOT
from .stack import (
    Service,
    mail_port,
    mail_service,
    redis_service,
    services_start,
    services_stop,
    web_service,
    worker_services,
)


def pytest_configure(config):
    # A pytest-xdist worker ends with the pytest that started it, and so, in turn, does every
    # process it started (tests/stack.py): a killed run leaves nothing behind.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        end_with_parent()


def pytest_sessionstart(session):
    # The state of earlier runs whose process is gone (this run's own is kept until the next).
    for folder in TEST_VAR_ROOT.glob("run-*"):
        pid = int(folder.name.removeprefix("run-"))
        if not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis that this process's code uses (settings.REDIS_URL), started for the session.

    With REDIS_URL set in the environment, that Redis is used as it is.
    """
    if os.environ.get("REDIS_URL"):
        yield settings.REDIS_URL
        return
    service, url = redis_service(Path(settings.REDIS_URL.removeprefix("unix://")))
    service.start()
    yield url
    service.stop()


@pytest.fixture(scope="session")
def workers(redis_url, django_db_setup) -> list[Service]:
    """The site's real Celery workers, one per queue as `make run` starts them, on the
    session's Redis."""
    services = services_start(worker_services(redis_url))
    yield services
    services_stop(services)


@pytest.fixture(scope="session")
def live_url(redis_url, django_db_setup, workers) -> str:
    """A real uvicorn server running the site, with the session's Redis and workers."""
    service, base_url = web_service(redis_url)
    service.start()
    yield base_url
    service.stop()


@pytest.fixture(scope="session")
def mail_server(redis_url, django_db_setup) -> Service:
    """The labs' real SMTP server on this run's mail port, where the web and worker send."""
    service = mail_service(redis_url, mail_port()).start()
    yield service
    service.stop()


@pytest.fixture
def learner(live_url) -> LiveClient:
    """A learner with a fresh session, who has opened the lab page."""
    client = LiveClient(live_url)
    assert client.get("/labs/ping/").status == 200
    return client


@pytest.fixture
def start_services():
    """Start services for one test (a Redis to stop, a stack with no worker); all stop after."""
    started: list[Service] = []

    def start(service: Service) -> Service:
        started.append(service)
        return service.start()

    yield start
    # Killed, not asked to stop: nothing of them is used after the test, and a Celery worker's
    # warm shutdown alone takes one or two seconds.
    for service in reversed(started):
        service.stop(signal.SIGKILL)


def pytest_collection_modifyitems(config, items):
    # Schemathesis gives the tests it makes for each API operation one node id, their
    # function's; pytest-xdist schedules by node id (--dist loadgroup ran only the first of
    # equal ids), so each gets the id pytest itself would give it, its name with the operation
    # in brackets. (pytest 9 keeps the id in the private ``_id``.)
    seen = Counter(item.nodeid for item in items)
    for item in items:
        if seen[item.nodeid] > 1:
            item._id = item.parent.id.child(item.name)
    # --dist loadgroup sends the tests whose node id ends in "@<group>" to one worker.
    # pytest-xdist 3.8 adds that ending to ``_nodeid``, which pytest 9 no longer reads, so each
    # group was spread over the workers: every worker started the scale-out stack, and ran
    # every course example, for the share of the group it was given.
    if getattr(config, "workerinput", None) is not None and config.getvalue("loadgroup"):
        for item in items:
            groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group")})
            if groups and not item.nodeid.endswith(f"@{'_'.join(groups)}"):
                item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")
    # Processes started for a test share its database, so they must see committed data, and the
    # test database must exist: give those tests a transactional database.
    for item in items:
        if {"workers", "live_url", "start_services"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.django_db(transaction=True))
