"""Reading the lifecycle lab's pages and event stream, for the tests that drive it over HTTP."""

import contextlib
import html
import re
import signal
from dataclasses import dataclass, field

from tests.http import LiveClient

PAGE = "/labs/lifecycle/"
STREAM = "/streams/labs/lifecycle/events/"
ENTRY = re.compile(
    r'<li class="entry entry-\w+" data-offset-ms="(?P<offset>-?\d+)">.*?'
    r'(?:<span class="entry-node">task (?P<node>\d+)</span> )?'
    r'<strong class="state">(?P<state>\w+)</strong>[^<]*'
    r'(?:<span class="detail">(?P<detail>[^<]*)</span>)?</li>',
    re.S,
)


@dataclass
class Entry:
    state: str
    offset_ms: int
    detail: str
    node: int | None


@dataclass
class Run:
    """One run as a frame of the stream (or the page) shows it."""

    state: str
    task_id: str
    percent: int
    entries: list[Entry]
    nodes: list[str] = field(default_factory=list)

    @property
    def states(self) -> list[str]:
        return [entry.state for entry in self.entries]

    def of(self, state: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.state == state]


def run_in(page_html: str, run_id: str) -> Run | None:
    match = re.search(rf'<article [^>]*id="run-{run_id}".*?</article>', page_html, re.S)
    if match is None:
        return None
    article = match.group(0)
    entries = [
        Entry(
            state=m["state"],
            offset_ms=int(m["offset"]),
            detail=html.unescape(m["detail"] or ""),
            node=int(m["node"]) if m["node"] else None,
        )
        for m in ENTRY.finditer(article)
    ]
    return Run(
        state=re.search(r'class="status">(\w+)<', article).group(1),
        task_id=re.search(r'<code class="task-id">([^<]+)</code>', article).group(1),
        percent=int(re.search(r'<progress max="100" value="(\d+)"', article).group(1)),
        entries=entries,
        nodes=re.findall(r'<span class="node-state">(\w+)</span>', article),
    )


def collapse(states: list[str]) -> list[str]:
    """The states with each series of PROGRESS shown once."""
    return [s for i, s in enumerate(states) if not (s == "PROGRESS" and states[i - 1] == s)]


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail whatever waits inside (a stream read included) once ``seconds`` have passed."""

    def expire(signum, frame):
        raise TimeoutError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def watch(stream, run_id: str, until, seconds: float = 30) -> Run:
    """The run as the first frame that satisfies ``until`` shows it."""
    with deadline(seconds):
        for event in stream:
            if event.event == "runs" and (run := run_in(event.data, run_id)) and until(run):
                return run
    raise AssertionError("the stream ended first")


def start(client: LiveClient, behaviour: str) -> str:
    response = client.htmx_post(f"{PAGE}start/", {"behaviour": behaviour})
    assert response.status == 200, response.text
    return re.search(r"Run (\w+) is on the queue", response.text).group(1)
