"""The anchors' own virtualenv (var/bench-anchors): what the site is measured against, kept out
of the site's requirements. gunicorn serves the hello-world anchor; django-eventstream is the
streaming anchor. Django and uvicorn are the site's own versions, so that only the code
differs. Built once per list of pins."""

import hashlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from harness import ROOT

VENV = ROOT / "var" / "bench-anchors"
PINS = [
    f"Django=={version('django')}",
    f"uvicorn=={version('uvicorn')}",
    f"redis=={version('redis')}",
    "gunicorn==27.0.1",
    "django-eventstream==5.3.4",
]


def anchors_python() -> Path:
    """The anchors' python, with every pin installed."""
    python = VENV / "bin" / "python"
    stamp = VENV / f".installed-{hashlib.sha1(' '.join(PINS).encode()).hexdigest()[:12]}"
    if not stamp.exists():
        print(f"bench: installing the anchors into {VENV} ({', '.join(PINS)})", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *PINS], check=True, timeout=600
        )
        stamp.touch()
    return python
