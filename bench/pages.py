"""Serving pages: requests per second and latency of the home, course and lesson pages next to a
hello-world Django view in the same server, and the CPU each page costs to render.

Loads the real course into a fresh temp folder (DEBUG off), then for uvicorn (1 worker, as
`make run`) and gunicorn sync (2 workers, the WSGI floor) runs `wrk` for each page, as a first
visitor (no cookie) and as a learner with a session who has read a lesson. Ratios to the hello
view of the same server and run are what to compare: the machine is shared and noisy. Last,
the CPU per request in one process through Django's test client (time.process_time over 200).

    .venv/bin/python bench/pages.py [--tree PATH] [--seconds 8] [--connections 32]

--tree serves another checkout (e.g. /work/main) with this same script, for a before/after.
Needs `wrk` (apt-get install wrk) and gunicorn (requirements.txt).
"""

import argparse
import http.client
import http.cookies
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSON = "offloading-slow-work"
PAGES = {"hello": "/bench/hello/", "home": "/", "course": "/courses/redis-broker/",
         "lesson": f"/lessons/{LESSON}/"}  # fmt: skip
RENDERS = 200
WSGI_APP = "django.core.wsgi:get_wsgi_application()"

SETTINGS = """
from learnsite.settings import *  # noqa: F403
ROOT_URLCONF = "benchsite.urls"
"""
URLS = """
from django.http import HttpResponse
from django.urls import include, path

def hello(request):
    return HttpResponse("Hello, world.")

urlpatterns = [path("bench/hello/", hello), path("", include("learnsite.urls"))]
"""
CPU = """
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
        took = time.process_time() - start
        print(f"{{name}} {{who}}\t{{status}}\t{{1000 * took / {renders}:.2f}}")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, method: str, path: str, cookie: str = "", body: str = "") -> tuple:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    return response.status, response.getheaders(), response.read().decode()


def wait_until_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited; see its log")
        try:
            if request(port, "GET", "/healthz/live")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer within 30 s")


def learner_cookie(port: int) -> str:
    """A session of a learner who has read the lesson: its cookies, as a Cookie header."""
    jar = http.cookies.SimpleCookie()
    _, headers, html = request(port, "GET", PAGES["lesson"])
    for name, value in headers:
        if name.lower() == "set-cookie":
            jar.load(value)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    cookie = "; ".join(f"{key}={morsel.value}" for key, morsel in jar.items())
    body = f"csrfmiddlewaretoken={token}"
    _, headers, _ = request(port, "POST", f"/lessons/{LESSON}/read/", cookie, body)
    for name, value in headers:
        if name.lower() == "set-cookie":
            jar.load(value)
    return "; ".join(f"{key}={morsel.value}" for key, morsel in jar.items())


def wrk(port: int, path: str, cookie: str, seconds: int, connections: int) -> dict:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
            f"http://127.0.0.1:{port}{path}"]  # fmt: skip
    if cookie:
        argv[1:1] = ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{path} answered errors under load:\n{out}")

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"rate": rate, "p50": ms("50%"), "p99": ms("99%")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cpu-only", action="store_true", help="skip the servers and wrk")
    args = parser.parse_args()
    tree = args.tree.resolve()
    python = str(ROOT / ".venv/bin/python")
    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    try:
        (folder / "benchsite").mkdir()
        (folder / "benchsite/__init__.py").write_text("")
        (folder / "benchsite/settings.py").write_text(SETTINGS)
        (folder / "benchsite/urls.py").write_text(URLS)
        env = os.environ | {
            "PYTHONPATH": f"{folder}:{tree}",
            "DJANGO_SETTINGS_MODULE": "benchsite.settings",
            "LEARNSITE_VAR_DIR": str(folder / "var"),
            "DJANGO_DEBUG": "0",
            "DJANGO_HTTPS": "0",
            "DJANGO_SECRET_KEY": "bench-" + "x" * 50,
            "ALLOWED_HOSTS": "127.0.0.1,testserver",
            "REDIS_URL": f"unix://{folder}/no-redis.sock",  # pages must not need it
        }
        manage = [python, str(tree / "manage.py")]
        for command in (["migrate", "-v0"], ["content_load"]):
            subprocess.run(manage + command, env=env, cwd=tree, check=True, capture_output=True)
        print(f"tree {tree}; wrk -t2 -c{args.connections} -d{args.seconds}s per row; "
              f"ratio = req/s over the hello view's on the same server")  # fmt: skip
        print(f"{'server':<18}{'page':<8}{'who':<9}{'req/s':>8}{'ratio':>7}"
              f"{'p50 ms':>9}{'p99 ms':>9}")  # fmt: skip
        cookies = {}
        for server in () if args.cpu_only else ("uvicorn x1", "gunicorn sync x2"):
            port = free_port()
            if server.startswith("uvicorn"):
                argv = [python, "-m", "uvicorn", "learnsite.asgi:application", "--port",
                        str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
            else:
                argv = [python, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
                        "--log-level", "warning", WSGI_APP]  # fmt: skip
            log = (folder / f"{server.split()[0]}.log").open("w")
            process = subprocess.Popen(argv, env=env, cwd=tree, stdout=log, stderr=log)
            try:
                wait_until_up(port, process)
                cookies.setdefault("learner", learner_cookie(port))
                hello = None
                for page, path in PAGES.items():
                    if request(port, "GET", path)[0] != 200:
                        print(f"{server:<18}{page:<8}(not on this tree)")
                        continue
                    for who in ("visitor", "learner"):
                        if page == "hello" and who == "learner":
                            continue
                        cookie = cookies["learner"] if who == "learner" else ""
                        wrk(port, path, cookie, 1, args.connections)  # warm up
                        row = wrk(port, path, cookie, args.seconds, args.connections)
                        hello = hello or row["rate"]
                        ratio = row["rate"] / hello
                        print(f"{server:<18}{page:<8}{who:<9}{row['rate']:>8.0f}{ratio:>7.2f}"
                              f"{row['p50']:>9.1f}{row['p99']:>9.1f}")  # fmt: skip
            finally:
                process.terminate()
                process.wait(10)
        script = CPU.format(lesson=PAGES["lesson"], pages=PAGES, renders=RENDERS)
        out = subprocess.run([python, "-c", script], env=env, cwd=tree, check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
        print(f"\nCPU per request, test client, mean of {RENDERS} (ms):")
        for line in out.splitlines():
            name, status, ms = line.split("\t")
            print(f"  {name:<18}{ms:>7}" + ("" if status == "200" else f"  (status {status})"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
