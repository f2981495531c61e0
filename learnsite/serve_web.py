"""The web process of `make serve` (the Procfile's ``serve-web`` entry).

It waits for the database (the embedded PostgreSQL starts beside it), brings it up to date
(``migrate``), loads the content (a content error is shown on the site, as under `make run`),
then replaces itself with uvicorn: one worker process per core this process may run on
(``WEB_WORKERS`` overrides), on httptools and uvloop, with the access log on. On several
machines run ``migrate`` and ``content_load`` once per release and the uvicorn command below on
each (README: "Several machines").
"""

import os
import sys
import time

import django
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection

DATABASE_WAIT_SECONDS = 60
# Open event streams do not end by themselves: uvicorn closes them this long after a stop.
GRACEFUL_SHUTDOWN_SECONDS = 3


def web_workers() -> int:
    return int(os.environ.get("WEB_WORKERS") or len(os.sched_getaffinity(0)))


def uvicorn_argv(*, host: str, port: str, workers: int) -> list[str]:
    return [
        "uvicorn", "learnsite.asgi:application", "--host", host, "--port", port,
        "--workers", str(workers), "--lifespan", "off", "--access-log",
        # uvicorn's C parser and event loop (requirements.txt): named, so a missing one fails.
        "--http", "httptools", "--loop", "uvloop",
        "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS),
    ]  # fmt: skip


def database_wait(*, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection.ensure_connection()
        except DatabaseError as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"No database answered within {seconds} s: {error}") from None
            time.sleep(0.2)
        else:
            return


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")
    django.setup()
    database_wait(seconds=DATABASE_WAIT_SECONDS)
    call_command("migrate", interactive=False, verbosity=1)
    try:
        call_command("content_load")
    except CommandError as error:
        print(f"content not loaded: {error}", file=sys.stderr, flush=True)
    argv = uvicorn_argv(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=os.environ.get("WEB_PORT", "8000"),
        workers=web_workers(),
    )
    print(" ".join(argv), flush=True)
    os.execvp(argv[0], argv)  # noqa: S606 (fixed arguments)


if __name__ == "__main__":
    main()
