from celery import shared_task

from .services import RUN_SECONDS, pools_run_execute


# "Worker pools": a Redis and a worker of the run's own, eight tasks on the chosen pool.
@shared_task(bind=True, name="labs.pools_run", time_limit=RUN_SECONDS)
def pools_run(self, *, learner_id: str, run_id: str, pool: str, concurrency: int,
              workload: str) -> dict:  # fmt: skip
    return pools_run_execute(
        learner_id=learner_id, run_id=run_id, worker=self.request.hostname,
        pool=pool, concurrency=concurrency, workload=workload,
    )  # fmt: skip
