from django.db import models


class LabRunStarted(models.Model):
    """A lab run as it was started: the record that outlives Redis. A Redis that restarts
    without its data loses the run's events, and with them the run; this row lets the lab page
    still show it, as lost (labs/lost.py)."""

    learner_key = models.CharField(max_length=32)  # learners.Learner.key: no lookup to write it
    lab = models.CharField(max_length=32)
    run_id = models.CharField(max_length=16)
    started_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["learner_key", "lab", "started_at"], name="lab_run_started_by"),
        ]

    def __str__(self) -> str:
        return f"{self.lab} run {self.run_id} of learner {self.learner_key[:8]}"
