"""CPU per request of the home, course and lesson pages, beside a view that renders nothing
(``/healthz/live``), in one process through Django's test client: time.process_time over 200
requests after 20 to warm up, for a first visitor (no cookie) and for a learner with a session
who has read the lesson. CPU time, not wall time, so it holds on a busy machine.

    .venv/bin/python bench/page_cpu.py [--tree PATH]

--tree measures another checkout (e.g. the lead's tree before a change) with this script.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSON = "/lessons/offloading-slow-work/"
PAGES = {"nothing": "/healthz/live", "home": "/", "course": "/courses/redis-broker/",
         "lesson": LESSON}  # fmt: skip
RENDERS = 200
SCRIPT = """
import time, django
django.setup()
from django.test import Client
visitor, learner = Client(), Client()
learner.get({lesson!r})  # before issue 13 this marked the lesson read
learner.post({lesson!r} + "read/")  # since, a POST does
for name, url in {pages!r}.items():
    for who, client in (("visitor", visitor), ("learner", learner)):
        for _ in range(20):
            status = client.get(url).status_code
        start = time.process_time()
        for _ in range({renders}):
            client.get(url)
        took = 1000 * (time.process_time() - start) / {renders}
        print(f"  {{name + ' ' + who:<18}}{{took:>7.2f}}" + ("" if status == 200 else
              f"  (status {{status}})"))
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT)
    tree = parser.parse_args().tree.resolve()
    var_dir = Path(tempfile.mkdtemp(prefix="lsbench-cpu-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "learnsite.settings",
        "LEARNSITE_VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "REDIS_URL": f"unix://{var_dir / 'no-redis.sock'}",  # the pages must not need it
        "DJANGO_DEBUG": "0",
        "DJANGO_HTTPS": "0",
        "ALLOWED_HOSTS": "testserver",
    }
    try:
        for command in (["migrate", "--no-input"], ["content_load"]):
            subprocess.run([sys.executable, "manage.py", *command, "-v", "0"], cwd=tree,
                           env=env, check=True, capture_output=True, timeout=300)  # fmt: skip
        script = SCRIPT.format(lesson=LESSON, pages=PAGES, renders=RENDERS)
        print(f"CPU per request in ms, {tree}, test client, mean of {RENDERS}:", flush=True)
        subprocess.run([sys.executable, "-c", script], cwd=tree, env=env, check=True,
                       timeout=600)  # fmt: skip
        return 0
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
