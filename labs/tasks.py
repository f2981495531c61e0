from celery import shared_task

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
