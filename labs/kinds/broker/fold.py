"""The "Inside the broker" lab, as the page shows it: the ping lab's task runs, and where the
page's first read of Redis found the message of a task that a worker held.

A run's events are a ping run's (labs/kinds/ping/fold.py) and, for a run sent with a countdown,
``found``: where the page's first read of Redis while a worker held it found its message
("list", "unacked" or "nowhere"). That is what a prediction observes.
"""

from labs.kinds.ping.fold import TaskFold, TaskRun


class BrokerFold(TaskFold):
    # Predict, then observe: where the message of a task held by a worker is.
    outcomes = {
        "list": "Still in the queue's list",
        "unacked": "Taken by the worker, with a copy in unacked",
        "nowhere": "Nowhere in Redis",
    }

    def apply(self, event_id: str, event: dict) -> list[TaskRun]:
        if event.get("kind") == "found":
            run = self.runs.get(event.get("run"))
            if run is None:
                return []
            run.found = run.found or event.get("where", "")  # the first read is the one kept
            return [run]
        return super().apply(event_id, event)

    def observed(self, run: TaskRun) -> str | None:
        """Where the first read while a worker held the run's task found its message."""
        return run.found or None
