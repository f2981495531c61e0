from celery import shared_task

from . import lab_lifecycle
from .lab_email import lab_email_execute


@shared_task(bind=True, name="labs.broker_specimen", acks_late=True)
def broker_specimen(self, *, learner_id: str, run_id: str) -> dict:
    # Acknowledged after it returns (acks_late), so its copy stays in the "unacked" hash while
    # it runs, for the "Inside the broker" lab to show. Imported here: lab_broker imports this.
    from .lab_broker import broker_specimen_execute

    return broker_specimen_execute(
        learner_id=learner_id, run_id=run_id, worker=self.request.hostname
    )


@shared_task(bind=True, name="labs.send_email")
def send_email(self, *, learner_id: str, run_id: str, latency_ms: int) -> dict:
    return lab_email_execute(
        learner_id=learner_id, run_id=run_id, latency_ms=latency_ms, worker=self.request.hostname
    )


# "A task's whole life": acknowledged only after the task ends (acks_late), and requeued if its
# pool process dies (reject_on_worker_lost), so a task whose worker is lost runs again. The lab's
# page explains each option; labs/lab_lifecycle.py reports every state the task goes through.
LIFECYCLE_TASK_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "track_started": True,
    "soft_time_limit": 3,
    "time_limit": 6,
}


@shared_task(bind=True, name="labs.lifecycle_task", max_retries=2, **LIFECYCLE_TASK_OPTIONS)
def lifecycle_task(self, *, learner_id: str, run_id: str, behaviour: str) -> dict:
    return lab_lifecycle.lab_lifecycle_execute(
        task=self, learner_id=learner_id, run_id=run_id, behaviour=behaviour
    )


@shared_task(bind=True, name="labs.lifecycle_step", **LIFECYCLE_TASK_OPTIONS)
def lifecycle_step(self, *, learner_id: str, run_id: str, node: int) -> dict:
    return lab_lifecycle.lab_lifecycle_step_execute(
        task=self, learner_id=learner_id, run_id=run_id, node=node
    )
