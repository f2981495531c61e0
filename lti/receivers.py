"""lti's answers to quiz's signals (connected in LtiConfig.ready)."""

from .models import LtiAttempt
from .tasks import score_send_task


def attempt_finished_receive(sender, *, attempt, **_) -> None:
    """A quiz or test started by a launch is graded: its score goes to the platform from a
    worker, once the grading is committed (the LtiAttempt row keeps it until it is sent)."""
    if LtiAttempt.objects.filter(attempt=attempt).exclude(lineitem_url="").exists():
        score_send_task.delay_on_commit(attempt.pk)
