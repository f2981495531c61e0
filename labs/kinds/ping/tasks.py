from celery import shared_task

from .services import lab_ping_execute


@shared_task(bind=True, name="labs.ping_worker")
def ping_worker(self, *, learner_id: str, run_id: str) -> dict:
    return lab_ping_execute(learner_id=learner_id, run_id=run_id, worker=self.request.hostname)
