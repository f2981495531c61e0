from celery import shared_task

from .services import BACKSTOP_SECONDS, failure_run_execute


# "When Redis fails": a crash or a full memory, on a Redis of the run's own.
@shared_task(bind=True, name="labs.failure_run", time_limit=BACKSTOP_SECONDS)
def failure_run(self, *, learner_id: str, run_id: str, mode: str) -> dict:
    return failure_run_execute(
        learner_id=learner_id, run_id=run_id, mode=mode, worker=self.request.hostname
    )
