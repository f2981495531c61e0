from celery import shared_task


@shared_task(bind=True, name="labs.broker_specimen", acks_late=True)
def broker_specimen(self, *, learner_id: str, run_id: str) -> dict:
    # Acknowledged after it returns (acks_late), so its copy stays in the "unacked" hash while
    # it runs, for the "Inside the broker" lab to show. Imported here: lab_broker imports this.
    from .lab_broker import broker_specimen_execute

    return broker_specimen_execute(
        learner_id=learner_id, run_id=run_id, worker=self.request.hostname
    )
