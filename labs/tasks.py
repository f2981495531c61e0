from celery import shared_task

from labs.kinds.lifecycle import tasks as _lifecycle_tasks  # noqa: F401

from . import lab_listen, lab_pubsub
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


# "Publish and subscribe": a Python subscriber that listens for a minute at most (the learner can
# stop it sooner); the hard time limit is only the backstop.
@shared_task(
    bind=True, name="labs.pubsub_subscriber", time_limit=lab_pubsub.SUBSCRIBER_SECONDS + 30
)
def pubsub_subscriber(self, *, learner_id: str, run_id: str, channels: list, patterns: list
                      ) -> dict:  # fmt: skip
    return lab_pubsub.subscriber_execute(
        learner_id=learner_id, run_id=run_id, channels=channels, patterns=patterns,
        worker=self.request.hostname,
    )  # fmt: skip


# "The blocking listen() trap": runs the sandbox process and kills it at its limit.
@shared_task(bind=True, name="labs.listen_trap", time_limit=lab_listen.BACKSTOP_SECONDS)
def listen_trap(self, *, learner_id: str, run_id: str) -> dict:
    return lab_listen.listen_trap_execute(
        learner_id=learner_id, run_id=run_id, worker=self.request.hostname
    )
