"""CPU and queries per graded test (start, then submit all ten answers) through the JSON API
with a token, in one process through Django's test client, on the project's own PostgreSQL
started for the run (as bench/grading.py starts it) or on SQLite: time.process_time over 200
tests after 20 to warm up. CPU time and query counts, not wall time, so they hold on a busy
machine; bench/grading.py measures the throughput and latency under load.

    .venv/bin/python bench/grading_cpu.py [--tree PATH] [--sqlite] [--profile]

--tree measures another checkout (e.g. the lead's tree before a change) with this script;
--profile prints the functions that took the most CPU (cProfile, cumulative).
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grading import LESSON, postgres_start
from harness import Child, redis_start, site_env

ROOT = Path(__file__).resolve().parent.parent
TESTS = 200
SCRIPT = """
import cProfile, json, pstats, time, django
django.setup()
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

class Queries(list):
    # A wrapper, not CaptureQueriesContext: each request starts by emptying the query log.
    def __call__(self, execute, sql, params, many, context):
        self.append(sql)
        return execute(sql, params, many, context)

from quiz.api import api_token_issue
token = api_token_issue(user=User.objects.create_user("cpu", password="cpu password 1"))
client = Client(headers={{"Authorization": f"Bearer {{token}}"}})

def post(path, body):
    response = client.post(f"/api/v1/{{path}}", json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 201), response.content
    return response.json()

def test():
    attempt = post("attempts", {{"lesson": {lesson!r}, "mode": "test"}})
    answers = {{str(q["position"]): [q["options"][0]["key"]] for q in attempt["questions"]}}
    post(f"attempts/{{attempt['id']}}/submit", {{"answers": answers}})
    return attempt["id"]

for _ in range(20):
    test()
with connection.execute_wrapper(started := Queries()):
    attempt = post("attempts", {{"lesson": {lesson!r}, "mode": "test"}})
answers = {{str(q["position"]): [q["options"][0]["key"]] for q in attempt["questions"]}}
with connection.execute_wrapper(submitted := Queries()):
    post(f"attempts/{{attempt['id']}}/submit", {{"answers": answers}})
profile = cProfile.Profile(time.process_time) if {profile} else None  # CPU, not waits
start = time.process_time()
if profile:
    profile.enable()
for _ in range({tests}):
    test()
if profile:
    profile.disable()
took = 1000 * (time.process_time() - start) / {tests}
print(f"  {{connection.vendor:<11}} CPU per test {{took:6.2f}} ms   queries: start "
      f"{{len(started)}}, submit {{len(submitted)}}")
if {verbose}:
    for name, queries in (("start", started), ("submit", submitted)):
        print(f"  -- {{name}}")
        for query in queries:
            print("    " + query[query.find(" FROM "):][:400])
if profile:
    pstats.Stats(profile).sort_stats({sort!r}).print_stats(250)
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="cProfile order: tottime...")
    parser.add_argument("--queries", action="store_true", help="print the queries' SQL")
    args = parser.parse_args()
    tree = args.tree.resolve()
    var_dir = Path(tempfile.mkdtemp(prefix="lsbench-gradecpu-"))
    env = site_env(var_dir, ALLOWED_HOSTS="testserver")
    children: list[Child] = [redis_start(env, var_dir)]  # finished tests queue statistics
    try:
        if not args.sqlite:
            env["DATABASE_URL"] = postgres_start(env, var_dir, children)
        for command in (["migrate", "--no-input"], ["content_load"]):
            subprocess.run([sys.executable, "manage.py", *command, "-v", "0"], cwd=tree,
                           env=env, check=True, capture_output=True, timeout=300)  # fmt: skip
        script = SCRIPT.format(lesson=LESSON, tests=TESTS, profile=args.profile, sort=args.sort,
                               verbose=args.queries)  # fmt: skip
        print(f"A test started and submitted, {tree}, test client, mean of {TESTS}:", flush=True)
        subprocess.run([sys.executable, "-c", script], cwd=tree, env=env, check=True,
                       timeout=600)  # fmt: skip
        return 0
    finally:
        for child in reversed(children):
            child.stop()
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
