"""`make run` and `make serve` print where the site is once it answers, not before.

honcho starts every process of the Procfile at once, and the web server takes seconds to
import Django and bind its port: a URL printed with them is a "connection refused" for
whoever opens it at once. ``python -m learnsite.announce URL MESSAGE`` (a Procfile entry)
asks ``URL/healthz/live`` until it answers, prints MESSAGE, then stays until honcho stops it,
since honcho ends every process when one of them exits.
"""

import signal
import sys
import time
import urllib.error
import urllib.request

ASK_EVERY_SECONDS = 0.2
# Past this the site is not coming up by itself: the web process's lines above say why.
GIVE_UP_SECONDS = 120.0


def site_answers(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz/live", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(base_url: str, message: str) -> None:
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while not site_answers(base_url):
        if time.monotonic() > deadline:
            print(f"The site at {base_url} did not answer in {GIVE_UP_SECONDS:.0f} s: "
                  "see the web process's lines above.", flush=True)  # fmt: skip
            break
        time.sleep(ASK_EVERY_SECONDS)
    else:
        print(f"\n  {message}\n", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main(*sys.argv[1:3])
