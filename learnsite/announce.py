"""`make run` and `make serve` print where the site is once it answers, not before.

honcho starts every process of the Procfile at once, and the web server takes seconds to
import Django and bind its port: a URL printed with them is a "connection refused" for
whoever opens it at once. ``python -m learnsite.announce HOST PORT MESSAGE`` (a Procfile
entry) asks ``/healthz/live`` there until it answers, prints MESSAGE, then stays until honcho
stops it, since honcho ends every process when one of them exits.
"""

import http.client
import signal
import sys
import time

ASK_EVERY_SECONDS = 0.2
# Past this the site is not coming up by itself: the web process's lines above say why.
GIVE_UP_SECONDS = 120.0


def site_answers(host: str, port: int) -> bool:
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", "/healthz/live")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):  # refused while the web server starts
        return False
    finally:
        connection.close()


def main(host: str, port: str, message: str) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while not site_answers(host, int(port)):
        if time.monotonic() > deadline:
            print(f"The site on {host}:{port} did not answer in {GIVE_UP_SECONDS:.0f} s: "
                  "see the web process's lines above.", flush=True)  # fmt: skip
            break
        time.sleep(ASK_EVERY_SECONDS)
    else:
        print(f"\n  {message}\n", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main(*sys.argv[1:4])
