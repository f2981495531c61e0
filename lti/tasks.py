from celery import shared_task

from .services import ScoreNotSent, score_send


# acks_late: a worker that dies mid-send leaves the message to be taken again; a score that
# cannot be sent is tried again with backoff (about 2 hours in all), and stays on its
# LtiAttempt row (with the error) for `manage.py lti_scores_send`.
@shared_task(
    name="lti.score_send",
    acks_late=True,
    autoretry_for=(ScoreNotSent,),
    retry_backoff=5,
    retry_backoff_max=1800,
    max_retries=10,
)
def score_send_task(attempt_id: int) -> None:
    score_send(attempt_id=attempt_id)
