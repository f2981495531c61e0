from celery import shared_task

from .services import broker_specimen_execute


@shared_task(bind=True, name="labs.broker_specimen", acks_late=True)
def broker_specimen(self, *, learner_id: str, run_id: str) -> dict:
    # Acknowledged after it returns (acks_late), so its copy stays in the "unacked" hash while
    # it runs, for the "Inside the broker" lab to show.
    return broker_specimen_execute(
        learner_id=learner_id, run_id=run_id, worker=self.request.hostname
    )
