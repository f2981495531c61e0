"""The kinds of live lab: each has a page, a task, and a way to show its runs.

A lesson places a lab with a ```lab block naming one of these kinds; the event stream of a lab
page renders that lab's runs with its own fold and template.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .runs import runs_fold


@dataclass(frozen=True)
class LabKind:
    title: str
    url_name: str
    summary: str
    # The lab page; its "runs" partial renders the list of runs that the fold returns.
    template: str
    fold: Callable = runs_fold


LAB_KINDS = {
    "ping": LabKind(
        title="Ping the worker",
        url_name="labs:ping",
        summary="Queue a real Celery task and watch a worker report each step.",
        template="labs/ping.html",
    ),
}
