"""The kinds of live lab: each has a page, a task, and a way to show its runs.

A lesson places a lab with a ```lab block naming one of these kinds; the event stream of a lab
page renders that lab's runs with its own fold and template.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from .runs import runs_fold


@dataclass(frozen=True)
class Goal:
    """Something a lesson can ask the learner to do in a lab, checked from their runs."""

    description: str
    met: Callable[[list], bool]  # given the learner's recent runs of the lab, as folded


@dataclass(frozen=True)
class LabKind:
    title: str
    url_name: str
    summary: str
    # The lab page; its "runs" partial renders the list of runs that the fold returns.
    template: str
    fold: Callable = runs_fold
    # A lesson's ```lab block names one of these as its goal; a met goal counts as done.
    goals: dict[str, Goal] = field(default_factory=dict)


LAB_KINDS = {
    "ping": LabKind(
        title="Ping the worker",
        url_name="labs:ping",
        summary="Queue a real Celery task and watch a worker report each step.",
        template="labs/ping.html",
        goals={
            "finish-a-run": Goal(
                description="Queue a task and watch a worker finish it.",
                met=lambda runs: any(run.status == "succeeded" for run in runs),
            ),
        },
    ),
    "broker": LabKind(
        title="Inside the broker",
        url_name="labs:broker",
        summary="Read your own task in Redis: the queue's list, the unacked hash, the result key.",
        template="labs/broker.html",
    ),
}
