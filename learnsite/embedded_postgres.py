"""The project's own PostgreSQL, started by `make serve` when DATABASE_URL names no other server.

``python -m learnsite.embedded_postgres`` (the Procfile's ``postgres`` entry) runs the
machine's PostgreSQL server binaries on a cluster under var/pg/: made by initdb on the first
start, listening only on a unix socket in var/pg/ (no TCP port), with the database and user
that DATABASE_URL names. It stops with a fast shutdown (open sessions are ended, nothing is
lost) when it is asked to stop (honcho's SIGTERM, Ctrl-C), and is killed with this process.

PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` system user
(Debian's package makes it), which owns var/pg/. Connections over the socket are trusted, and
only the socket's owner (and root) can open it.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

from learnsite.embedded import socket_path_check
from learnsite.processes import die_with_parent

PORT = 5432  # only names the socket file (.s.PGSQL.5432): nothing listens on TCP
READY_SECONDS = 60


def postgres_bin_dir() -> Path:
    """Where initdb and postgres are: on PATH, else the newest of Debian's versioned folders."""
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    versions = Path("/usr/lib/postgresql").glob("*/bin")
    folders = sorted(
        (folder for folder in versions if folder.parent.name.isdigit()),
        key=lambda folder: int(folder.parent.name),
    )
    if not folders or not (folders[-1] / "postgres").exists():
        raise SystemExit(
            "No PostgreSQL server binaries found (postgres, initdb): install them (Debian: "
            "apt-get install postgresql) or set DATABASE_URL to an existing PostgreSQL."
        )
    return folders[-1]


def server_user() -> pwd.struct_passwd:
    """Who runs the server: this user, or as root the ``postgres`` user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise SystemExit(
            "PostgreSQL does not run as root, and there is no `postgres` user to run it as: "
            "create one (useradd --system postgres), run as another user, or set DATABASE_URL."
        ) from None


def as_user(user: pwd.struct_passwd) -> dict:
    """``subprocess`` options that run a child as ``user`` (only root can switch)."""
    if os.geteuid() != 0:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def cluster_init(*, bin_dir: Path, data_dir: Path, db_user: str, user: pwd.struct_passwd) -> None:
    if (data_dir / "PG_VERSION").exists():
        return
    print(f"embedded postgres: creating the cluster in {data_dir} (initdb)", flush=True)
    argv = [
        str(bin_dir / "initdb"), "-D", str(data_dir), "-U", db_user, "--auth=trust",
        "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions",
    ]  # fmt: skip
    result = subprocess.run(  # noqa: S603 (fixed binary, fixed arguments)
        argv, capture_output=True, text=True, check=False, **as_user(user)
    )
    if result.returncode != 0:
        raise SystemExit(f"initdb failed:\n{result.stdout}{result.stderr}")


def database_create(*, socket_dir: Path, db_user: str, name: str) -> None:
    """Creates the database ``name`` unless it exists."""
    with psycopg.connect(
        host=str(socket_dir), port=PORT, user=db_user, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def server_ready(*, socket_dir: Path, db_user: str) -> bool:
    try:
        psycopg.connect(
            host=str(socket_dir), port=PORT, user=db_user, dbname="postgres", connect_timeout=1
        ).close()
    except psycopg.OperationalError:
        return False
    return True


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")
    from django.conf import settings

    db = settings.DATABASES["default"]
    socket_dir = Path(db["OPTIONS"].get("host") or db["HOST"] or "relative")
    if db["ENGINE"] != "django.db.backends.postgresql" or not socket_dir.is_absolute():
        raise SystemExit(
            f"DATABASE_URL names {db['ENGINE']} on {db['HOST'] or 'no host'}: only a PostgreSQL "
            "on a unix socket folder (postgres://USER@/NAME?host=/abs/var/pg) is started here."
        )
    socket_path_check(path=socket_dir / f".s.PGSQL.{PORT}", server="PostgreSQL")
    bin_dir, user = postgres_bin_dir(), server_user()
    socket_dir.mkdir(parents=True, exist_ok=True)
    socket_dir.chmod(0o700)
    os.chown(socket_dir, user.pw_uid, user.pw_gid)
    data_dir = socket_dir / "data"
    cluster_init(bin_dir=bin_dir, data_dir=data_dir, db_user=db["USER"], user=user)

    # Large values (a lesson's sections, 18 KB of JSON) compressed by lz4, not pglz: a first
    # content load of 1,001 lessons spent 0.4 s of the server's 1.7 s compressing with pglz.
    # Values read back the same; stored about a tenth larger.
    argv = [
        str(bin_dir / "postgres"), "-D", str(data_dir), "-k", str(socket_dir), "-p", str(PORT),
        "-c", "listen_addresses=", "-c", "unix_socket_permissions=0700",
        "-c", "default_toast_compression=lz4",
    ]  # fmt: skip
    # A session of its own, so that a stop signal sent to this process group (honcho's) reaches
    # only this process, which turns it into the fast shutdown: postgres's own answer to
    # SIGTERM is a smart shutdown, which waits for every client to leave.
    server = subprocess.Popen(  # noqa: S603 (fixed binary, fixed arguments)
        argv, start_new_session=True, preexec_fn=die_with_parent(), **as_user(user)
    )

    def stop(signum, frame) -> None:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)  # fast shutdown

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)

    deadline = time.monotonic() + READY_SECONDS
    while not server_ready(socket_dir=socket_dir, db_user=db["USER"]):
        if server.poll() is not None:
            raise SystemExit(f"postgres exited with {server.returncode} before it was ready")
        if time.monotonic() > deadline:
            stop(signal.SIGTERM, None)
            raise SystemExit(f"postgres did not answer within {READY_SECONDS} s")
        time.sleep(0.1)
    database_create(socket_dir=socket_dir, db_user=db["USER"], name=db["NAME"])
    print(f"embedded postgres on {socket_dir}, database {db['NAME']}", flush=True)
    sys.exit(server.wait())


if __name__ == "__main__":
    main()
