from celery import shared_task

from .services import ScoreNotSent, score_send


# acks_late: a worker that dies mid-send leaves the message to be taken again. A score that
# cannot be sent is tried again after 30 s, 60 s, 120 s, then every 240 s (about 40 minutes
# in all; a countdown stays under the broker's visibility timeout, 300 s, or the message would
# be delivered twice) and stays on its LtiAttempt row, with the error, for
# `manage.py lti_scores_send`.
@shared_task(
    name="lti.score_send",
    acks_late=True,
    autoretry_for=(ScoreNotSent,),
    retry_backoff=30,
    retry_backoff_max=240,
    retry_jitter=False,
    max_retries=12,
)
def score_send_task(attempt_id: int) -> None:
    score_send(attempt_id=attempt_id)
