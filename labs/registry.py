"""The kinds of live lab a lesson can place with a ```lab block, and where each one lives."""

from dataclasses import dataclass


@dataclass(frozen=True)
class LabKind:
    title: str
    url_name: str
    summary: str


LAB_KINDS = {
    "ping": LabKind(
        title="Ping the worker",
        url_name="labs:ping",
        summary="Queue a real Celery task and watch a worker report each step.",
    ),
}
