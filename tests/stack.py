"""Real processes for the tests: redis-server, Celery workers and uvicorn, each in its own
process, started and stopped by fixtures. Nothing here fakes a service.

Every child is started with ``die_with_parent``: the kernel kills it when the test process
ends, however it ends (a SIGKILL runs no fixture teardown), so no run leaves a process behind.
A Celery prefork worker's pool processes do the same by themselves (celery's
``process_initializer`` sets their parent-death signal); uvicorn with one worker and
redis-server start no children.
"""

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from celery import Celery
from django.conf import settings
from django.db import connection
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from learnsite.embedded_redis import redis_server_argv, socket_answers
from learnsite.processes import die_with_parent
from learnsite.redis import celery_broker_url
from learnsite.workers import DEFAULT_QUEUE, QUEUES

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = settings.VAR_DIR / "logs"
_names = itertools.count(1)


class Service:
    """One child process, with a check that says when it is ready to use."""

    def __init__(self, name: str, argv: list[str], ready: Callable[[], bool], env: dict) -> None:
        self.name, self.argv, self.ready, self.env = name, argv, ready, env
        self.process: subprocess.Popen | None = None
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}.log"
        self.log_path.unlink(missing_ok=True)  # a restart of this service appends to it

    def start(self, timeout: float = 30.0) -> "Service":
        self.spawn()
        return self.wait_ready(timeout)

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent(),
            )  # fmt: skip

    def wait_ready(self, timeout: float) -> "Service":
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log_path}\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log()}")
            time.sleep(0.05)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.send(sig)
        self.wait_stopped()

    def send(self, sig: int) -> None:
        """Signal the process group, if the process still runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)

    def wait_stopped(self) -> None:
        """Wait for the process to end; after 15 s, kill its process group."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def wait_until(check: Callable[[], object], seconds: float = 10.0) -> None:
    """Polls until check() is true; fails the test after the given seconds."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The test database, for child processes (pytest-django has created it by then)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    host = urllib.parse.quote(db["HOST"], safe="")  # a unix socket's folder, too
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def mail_port() -> int:
    """This run's port for the labs' mail server: tests/settings.py picks a free one."""
    return int(os.environ["LEARNSITE_MAIL_PORT"])


def child_env(redis_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "learnsite.settings",
        "LEARNSITE_VAR_DIR": str(settings.VAR_DIR),
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url(),
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "PYTHONUNBUFFERED": "1",
        "LEARNSITE_MAIL_PORT": str(mail_port()),
        # A test loads content and reads its pages at once: no second of the old version.
        "LEARNSITE_CONTENT_VERSION_SECONDS": "0",
    }


def redis_service(socket_path: Path | None = None, *, durable: bool = False
                  ) -> tuple[Service, str]:  # fmt: skip
    """A Redis on its own socket; ``durable``, with `make serve`'s append-only file (in a
    folder of its own, which a restart of the service reads back)."""
    socket_path = socket_path or settings.VAR_DIR / f"redis-{next(_names)}.sock"
    socket_path.unlink(missing_ok=True)
    workdir = settings.VAR_DIR
    if durable:
        workdir = settings.VAR_DIR / f"{socket_path.stem}-data"
        workdir.mkdir(exist_ok=True)
    argv = redis_server_argv(socket_path=socket_path, workdir=workdir, durable=durable)
    service = Service(f"redis-{socket_path.stem}", argv, lambda: socket_answers(socket_path), {})
    return service, f"unix://{socket_path}"


def worker_service(redis_url: str, queue: str = DEFAULT_QUEUE, **env: str) -> Service:
    """The worker of ``queue`` as `make run` starts it (learnsite/workers.py), on
    ``redis_url``; ``env`` adds to its environment."""
    name = f"test-{queue}-{next(_names)}-{os.getpid()}@localhost"
    argv = [sys.executable, "-m", "learnsite.workers", queue, "--hostname", name,
            "--without-mingle", "--without-gossip"]  # fmt: skip
    env = child_env(redis_url) | env

    # Asks over the broker given to the worker, which may not be this process's own; not the
    # current app, which shared tasks in this process would otherwise send through.
    broker = Celery(broker=celery_broker_url(redis_url), set_as_current=False)

    def ready() -> bool:
        try:
            return bool(broker.control.ping(destination=[name], timeout=0.5))
        except (RedisError, OperationalError):  # a Redis just started again: not yet
            return False

    return Service(name.split("@")[0], argv, ready, env)


def worker_services(redis_url: str, **env: str) -> list[Service]:
    """Every worker `make run` starts, one per queue."""
    return [worker_service(redis_url, queue, **env) for queue in QUEUES]


def services_start(services: list[Service], timeout: float = 30.0) -> list[Service]:
    """Start the services side by side (each starts its process, then all are waited for)."""
    for service in services:
        service.spawn()
    for service in services:
        service.wait_ready(timeout)
    return services


def services_stop(services: list[Service]) -> None:
    """Stop the services side by side (each is asked to stop, then all are waited for): a
    Celery worker's warm shutdown alone takes a second or two."""
    for service in services:
        service.send(signal.SIGTERM)
    for service in services:
        service.wait_stopped()


def web_service(redis_url: str, **env: str) -> tuple[Service, str]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "learnsite.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
    ]
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            urllib.request.urlopen(f"{base_url}/", timeout=1).close()
        except urllib.error.HTTPError:
            return True  # it answered
        except OSError:
            return False
        return True

    return Service(f"web-{port}", argv, ready, child_env(redis_url) | env), base_url


def content_watch_service(redis_url: str, root: Path) -> Service:
    log_path = LOG_DIR / f"content-watch-{next(_names)}.log"
    argv = [sys.executable, "manage.py", "content_watch", str(root), "--interval", "0.2"]
    service = Service(
        log_path.stem, argv, lambda: "watching" in service.log(), child_env(redis_url)
    )
    return service


def load_course(folder: Path, redis_url: str) -> None:
    """content_load in its own process, as `make run` does, into the test database."""
    subprocess.run(
        [sys.executable, "manage.py", "content_load", str(folder)],
        cwd=ROOT, env=child_env(redis_url), check=True, capture_output=True,
        preexec_fn=die_with_parent(),
    )  # fmt: skip


def mail_service(redis_url: str, port: int) -> Service:
    """The labs' SMTP server (`manage.py mail_server`): ready when its port accepts connections."""
    argv = [sys.executable, "manage.py", "mail_server", "--port", str(port)]

    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    env = child_env(redis_url) | {"LEARNSITE_MAIL_PORT": str(port)}
    return Service(f"mail-{port}", argv, ready, env)
