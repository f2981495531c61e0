from celery import shared_task

from .services import deploy_run_execute


# "Stop a worker mid-task": a Redis and two workers of the run's own, about 15 s.
@shared_task(bind=True, name="labs.deploy_run", time_limit=120)
def deploy_run(self, *, learner_id: str, run_id: str, late: str, stop: str) -> dict:
    return deploy_run_execute(
        learner_id=learner_id, run_id=run_id, late=late, stop=stop, worker=self.request.hostname
    )
