"""What the project's own servers (learnsite/embedded_redis.py, embedded_postgres.py) share."""

from pathlib import Path

# The kernel's limit for a unix socket path (sun_path), less the terminating NUL.
MAX_SOCKET_PATH = 107


def socket_path_check(*, path: Path, server: str) -> None:
    """Stops with a message saying what to do if ``path`` is too long for a unix socket."""
    if len(str(path)) > MAX_SOCKET_PATH:
        raise SystemExit(
            f"The {server} socket path {path} is longer than {MAX_SOCKET_PATH} bytes, the "
            "limit for unix sockets: set LEARNSITE_VAR_DIR to a shorter folder."
        )
