from celery import shared_task

from .services import BACKSTOP_SECONDS, listen_trap_execute


# "The blocking listen() trap": runs the sandbox process and kills it at its limit.
@shared_task(bind=True, name="labs.listen_trap", time_limit=BACKSTOP_SECONDS)
def listen_trap(self, *, learner_id: str, run_id: str) -> dict:
    return listen_trap_execute(learner_id=learner_id, run_id=run_id, worker=self.request.hostname)
