"""What every bench script needs: the site's environment, its Redis and web process, child
processes that stop with their children, free ports, /proc readings and nearest-rank
percentiles."""

import asyncio
import contextlib
import http.client
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The bench runs as scripts from bench/: the site's packages are in the folder above.
sys.path.insert(0, str(ROOT))

from learnsite.embedded_redis import redis_server_argv, socket_answers  # noqa: E402

PYTHON = sys.executable
STEP_TIMEOUT_SECONDS = 30.0


def site_env(var_dir: Path, **extra: str) -> dict:
    """The environment of a site the bench starts in ``var_dir``: the production settings over
    plain HTTP, its own Redis on a socket there, and SQLite there unless ``extra`` says."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "learnsite.settings",
        "LEARNSITE_VAR_DIR": str(var_dir),
        "REDIS_URL": f"unix://{var_dir / 'redis.sock'}",
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        **extra,
    }


def redis_start(env: dict, var_dir: Path) -> "Child":
    """The site's embedded redis-server on the socket ``env`` names, once it answers."""
    socket_path = Path(env["REDIS_URL"].removeprefix("unix://"))
    redis = Child("redis", redis_server_argv(socket_path=socket_path, workdir=var_dir), env,
                  var_dir)  # fmt: skip
    redis.wait_ready(lambda: socket_answers(socket_path))
    return redis


def site_web_argv(port: int, workers: int = 1) -> list[str]:
    """The site under uvicorn, as `make run` (one worker) or `make serve` (one per core) runs it."""
    return [
        PYTHON, "-m", "uvicorn", "learnsite.asgi:application", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--lifespan", "off",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


class Child:
    """One child process in its own session, so that it can be stopped with its children."""

    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, ready, timeout: float = STEP_TIMEOUT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
    except OSError:
        return False
    return True


def proc_status(pid: int) -> tuple[int, float]:
    """(threads, RSS in MB) of a process, from /proc."""
    threads, rss_kb = 0, 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
        elif line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return threads, rss_kb / 1024


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and of its children (uvicorn's workers), while they run."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return proc_cpu_seconds(pid) + sum(proc_cpu_seconds(int(child)) for child in children)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def sse_open(port: int, path: str, cookie: str = "") -> tuple:
    """A raw HTTP/1.1 event stream: (reader, writer, chunked), once its 200 head is read."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port), STEP_TIMEOUT_SECONDS
    )
    cookie_line = f"Cookie: {cookie}\r\n" if cookie else ""
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Accept: text/event-stream\r\n{cookie_line}\r\n"
        ).encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), STEP_TIMEOUT_SECONDS)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    if " 200 " not in status_line + " ":
        writer.close()
        raise RuntimeError(f"stream answered {status_line!r}")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines if line)
    }
    return reader, writer, headers.get("transfer-encoding", "").lower() == "chunked"


async def sse_frames(reader, chunked: bool):
    """Each frame of an event stream as it arrives: (event, id, data, perf_counter)."""
    buffer = b""
    while True:
        if chunked:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                return
            data = (await reader.readexactly(size + 2))[:-2]
        else:
            data = await reader.read(65536)
            if not data:
                return
        received = time.perf_counter()
        buffer += data
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            event, event_id, lines = "", "", []
            for line in frame.decode().split("\n"):
                name, _, value = line.partition(":")
                if name == "event":
                    event = value.strip()
                elif name == "id":
                    event_id = value.strip()
                elif name == "data":
                    lines.append(value)
            yield event, event_id, "\n".join(lines), received


async def writer_close(writer) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 2)
