"""The lifecycle lab's Celery tasks: thin, each calls its body in ``services``."""

from celery import shared_task

from . import services

# "A task's whole life": acknowledged only after the task ends (acks_late), and requeued if its
# pool process dies (reject_on_worker_lost), so a task whose worker is lost runs again. The lab's
# page explains each option; ``signals`` reports every state the task goes through.
LIFECYCLE_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "track_started": True,
    "soft_time_limit": 3,
    "time_limit": 6,
}


@shared_task(bind=True, name="labs.lifecycle_task", max_retries=2, **LIFECYCLE_TASK_OPTIONS)
def lifecycle_task(self, *, learner_id: str, run_id: str, behaviour: str) -> dict:
    return services.lifecycle_run_execute(
        task=self, learner_id=learner_id, run_id=run_id, behaviour=behaviour
    )


@shared_task(bind=True, name="labs.lifecycle_step", **LIFECYCLE_TASK_OPTIONS)
def lifecycle_step(self, *, learner_id: str, run_id: str, node: int) -> dict:
    return services.lifecycle_step_execute(
        task=self, learner_id=learner_id, run_id=run_id, node=node
    )
