from celery import shared_task

from .services import lab_email_execute


@shared_task(bind=True, name="labs.send_email")
def send_email(self, *, learner_id: str, run_id: str, latency_ms: int) -> dict:
    return lab_email_execute(
        learner_id=learner_id, run_id=run_id, latency_ms=latency_ms, worker=self.request.hostname
    )
