"""Graded answers a second through the JSON API: 16 clients with tokens, each starting a test,
then submitting every answer at once, for 10 s; on SQLite, and on PostgreSQL: the one
BENCH_POSTGRES_URL names, else the project's own, started for the run from the machine's
server binaries. Then every attempt acknowledged is checked in the database: nothing lost,
nothing doubled.

Two loads on each database: as fast as the clients can go (the most answers a second: with 16
requests always in the server, a submit's time is mostly its wait behind the other 15), and
the goal's rate, 500 answers a second sent on a schedule, where the submit p99 is the goal's.

Run with ``make bench`` (``.venv/bin/python bench/grading.py``).
"""

import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    PYTHON,
    ROOT,
    Child,
    free_port,
    http_answers,
    percentile,
    proc_tree_cpu_seconds,
    redis_start,
    site_env,
    site_web_argv,
)

from learnsite.serve_web import web_workers

CLIENTS = 16
SECONDS = 10
LESSON = "offloading-slow-work"
GOAL_ANSWERS_PER_SECOND = 500


@dataclass
class Client:
    token: str
    submits_ms: list[float] = field(default_factory=list)
    acknowledged: dict[int, int] = field(default_factory=dict)  # attempt id -> answers sent
    errors: list[str] = field(default_factory=list)


def _call(conn: http.client.HTTPConnection, token: str, path: str, body: dict) -> dict:
    conn.request(
        "POST",
        f"/api/v1/{path}",
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status not in (200, 201):
        raise RuntimeError(f"{path}: {response.status} {data}")
    return data


def client_run(client: Client, port: int, until: float, every: float | None = None) -> None:
    """Tests started and submitted until ``until``: back to back, or one each ``every`` seconds
    (a test that overran its turn delays the next)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    due = time.monotonic() + (every or 0) * random.random()  # the clients spread over a turn
    while time.monotonic() < until:
        if every:
            time.sleep(max(0.0, due - time.monotonic()))
            due += every
        try:
            attempt = _call(conn, client.token, "attempts", {"lesson": LESSON, "mode": "test"})
            answers = {str(q["position"]): [q["options"][0]["key"]] for q in attempt["questions"]}
            started = time.perf_counter()
            _call(conn, client.token, f"attempts/{attempt['id']}/submit", {"answers": answers})
            client.submits_ms.append((time.perf_counter() - started) * 1000)
            client.acknowledged[attempt["id"]] = len(answers)
        except (OSError, RuntimeError, http.client.HTTPException) as error:
            client.errors.append(str(error)[:200])
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()


@dataclass(frozen=True)
class Result:
    database: str
    load: str  # "most": back to back; or the rate the tests were sent at
    answers_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float  # of the web processes, per attempt started and submitted
    errors: int
    lost: int
    doubled: int


def measure(database: str, env: dict, var_dir: Path) -> list[Result]:
    children: list[Child] = []
    try:
        for command in (["migrate", "--no-input"], ["content_load"]):
            subprocess.run([PYTHON, "manage.py", *command, "-v", "0"], cwd=ROOT, env=env,
                           check=True, timeout=300, capture_output=True)  # fmt: skip
        tokens = subprocess.run(
            [PYTHON, "-c", TOKENS.format(count=CLIENTS)], cwd=ROOT, env=env, check=True,
            capture_output=True, text=True,
        ).stdout.split()  # fmt: skip
        port = free_port()
        web = Child(f"web-{database}", site_web_argv(port, web_workers()), env, var_dir)
        children.append(web)
        web.wait_ready(lambda: http_answers(port))
        warming = Client(tokens[0])
        client_run(warming, port, time.monotonic() + 1)  # first renders, connections
        # A test's turn on each client, for the goal's answers a second over all the clients.
        answers_per_test = max(warming.acknowledged.values())
        paced = CLIENTS * answers_per_test / GOAL_ANSWERS_PER_SECOND
        return [
            _load(database, "most", tokens, port, web, env, None),
            _load(database, f"{GOAL_ANSWERS_PER_SECOND}/s", tokens, port, web, env, paced),
        ]
    finally:
        for child in reversed(children):
            child.stop()


def _load(database: str, load: str, tokens: list[str], port: int, web: Child, env: dict,
          every: float | None) -> Result:  # fmt: skip
    """One load of SECONDS, then the check of what was stored."""
    clients = [Client(token) for token in tokens]
    cpu_before = proc_tree_cpu_seconds(web.pid)
    started = time.monotonic()
    until = started + SECONDS
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(lambda c: client_run(c, port, until, every), clients))
    elapsed = time.monotonic() - started
    cpu_s = proc_tree_cpu_seconds(web.pid) - cpu_before
    acknowledged = {k: v for c in clients for k, v in c.acknowledged.items()}
    stored = json.loads(
        subprocess.run(
            [PYTHON, "-c", STORED.format(ids=sorted(acknowledged))], cwd=ROOT, env=env,
            check=True, capture_output=True, text=True,
        ).stdout
    )  # fmt: skip
    lost = sum(1 for key, sent in acknowledged.items() if stored.get(str(key), 0) < sent)
    doubled = sum(1 for key, sent in acknowledged.items() if stored.get(str(key), 0) > sent)
    submits = [ms for c in clients for ms in c.submits_ms]
    return Result(
        database=database,
        load=load,
        answers_per_second=sum(acknowledged.values()) / elapsed,
        p50_ms=percentile(submits, 50),
        p99_ms=percentile(submits, 99),
        cpu_ms=cpu_s * 1000 / max(len(submits), 1),
        errors=sum(len(c.errors) for c in clients),
        lost=lost,
        doubled=doubled,
    )


TOKENS = """
import secrets, django; django.setup()
from django.contrib.auth.models import User
from quiz.api import api_token_issue
run = secrets.token_hex(4)  # a PostgreSQL database may hold the users of an earlier run
for n in range({count}):
    user = User.objects.create_user(f"bench{{n}}-{{run}}", password="bench password {{n}}")
    print(api_token_issue(user=user))
"""

STORED = """
import json, django; django.setup()
from django.db.models import Count
from quiz.models import Answer
rows = Answer.objects.filter(item__attempt_id__in={ids}).values("item__attempt_id")
print(json.dumps({{str(r["item__attempt_id"]): r["n"] for r in rows.annotate(n=Count("id"))}}))
"""


def print_table(results: list[Result]) -> None:
    sqlite = {r.load: r for r in results if r.database == "SQLite"}
    header = (
        f"{'database':<12} {'load':>6} {'answers/s':>10} {'submit p50':>11} {'submit p99':>11} "
        f"{'CPU/attempt':>12} {'errors':>7} {'lost':>5} {'doubled':>8} {'x SQLite':>9} "
        f"{'x goal':>7}"
    )
    print()
    print(
        f"Grading through the JSON API: {CLIENTS} clients, a test started and submitted whole, "
        f"{SECONDS} s a load"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.database:<12} {r.load:>6} {r.answers_per_second:>10.0f} {r.p50_ms:>9.1f}ms "
            f"{r.p99_ms:>9.1f}ms {r.cpu_ms:>10.1f}ms {r.errors:>7} {r.lost:>5} {r.doubled:>8} "
            f"{r.answers_per_second / sqlite[r.load].answers_per_second:>8.2f}x "
            f"{r.answers_per_second / GOAL_ANSWERS_PER_SECOND:>6.2f}x"
        )
    print(
        f"""
"x goal" is answers/s over {GOAL_ANSWERS_PER_SECOND}, the goal on PostgreSQL (at "most"), with
a submit p99 <= 100 ms (at "{GOAL_ANSWERS_PER_SECOND}/s": the tests sent on a schedule at the
goal's rate); "x SQLite" compares with SQLite under the same load; "CPU/attempt" is the web
processes' CPU for starting and submitting one test;
"lost" and "doubled" count acknowledged attempts whose stored answers differ from those
sent."""
    )


def postgres_start(env: dict, var_dir: Path, children: list[Child]) -> str:
    """The project's own PostgreSQL (as `make serve` starts it) in ``var_dir``: its URL."""
    var_dir.chmod(0o755)  # as root, the server runs as the postgres user, which must get in
    url = f"postgres://learnsite@/bench_grading?host={var_dir}/pg"
    argv = [PYTHON, "-m", "learnsite.embedded_postgres"]
    server = Child("postgres", argv, env | {"DATABASE_URL": url}, var_dir)
    children.append(server)
    server.wait_ready(lambda: "embedded postgres on" in server.log_path.read_text(), timeout=120)
    return url


def main() -> int:
    var_dir = Path(tempfile.mkdtemp(prefix="lsbench-grading-"))
    base_env = site_env(var_dir)
    redis = redis_start(base_env, var_dir)
    children: list[Child] = []
    try:
        databases = {"SQLite": base_env["DATABASE_URL"]}
        databases["PostgreSQL"] = os.environ.get("BENCH_POSTGRES_URL") or postgres_start(
            base_env, var_dir, children
        )
        results = []
        for name, url in databases.items():
            results += measure(name, base_env | {"DATABASE_URL": url}, var_dir)
            print(f"bench: grading on {name} done", flush=True)
        print_table(results)
        return 0
    finally:
        for child in children:
            child.stop()  # the PostgreSQL this run started: a fast shutdown
        redis.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    threading.excepthook = lambda args: print(f"bench: {args.exc_value}", file=sys.stderr)
    sys.exit(main())
