from celery import shared_task

from .services import PROGRAM_SECONDS, routing_execute


# "Routing, queues and priorities": a Redis and workers of the run's own, and the program.
@shared_task(bind=True, name="labs.routing_run", time_limit=PROGRAM_SECONDS + 90)
def routing_run(self, *, learner_id: str, run_id: str, setup: str) -> dict:
    return routing_execute(
        learner_id=learner_id, run_id=run_id, setup=setup, worker=self.request.hostname
    )
