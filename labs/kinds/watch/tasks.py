from celery import shared_task

from .services import BACKSTOP_SECONDS, watch_run_execute


# "Watching a live system": a private Redis and worker, watched through a burst of tasks.
@shared_task(bind=True, name="labs.watch_run", time_limit=BACKSTOP_SECONDS)
def watch_run(self, *, learner_id: str, run_id: str, burst: int, threshold: int) -> dict:
    return watch_run_execute(
        learner_id=learner_id,
        run_id=run_id,
        burst=burst,
        threshold=threshold,
        worker=self.request.hostname,
    )
