from celery import signals
from django.apps import AppConfig

from learnsite.celery import app as celery_app
from learnsite.hub import hub_patterns_register

from .queues import run_waiting_signals_connect
from .registry import LAB_KINDS


def _worker_signals_connect(**_) -> None:
    """Connect the labs' task signal handlers in a worker that is starting.

    Those signals (task_received, task_prerun, task_success, task_failure, task_revoked) fire
    only in a worker, so a web process needs none of the handlers. Celery sends worker_init in
    the worker's main process once it is configured (Django set up, tasks imported) and before
    it starts its pool: the prefork pool's processes are forked from it afterwards and inherit
    what it connected (the solo and threads pools run tasks in that very process). The handlers'
    dispatch_uids make connecting twice harmless.
    """
    from .kinds.lifecycle.signals import lifecycle_signals_connect  # needs the models: see ready

    lifecycle_signals_connect()
    run_waiting_signals_connect()


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Live labs"

    def ready(self) -> None:
        # Imported once the apps' models are: recording an event records the goals it meets.
        from .events import learner_channel

        # Every learner's announcements wake their open lab streams in this process.
        hub_patterns_register(learner_channel("*"))
        # Each lab's Celery tasks live in its own package: labs/kinds/<kind>/tasks.py. Found
        # now, not on Celery's import_modules signal, which Django's set-up runs inside of.
        celery_app.autodiscover_tasks([f"labs.kinds.{kind}" for kind in LAB_KINDS], force=True)
        # Only a worker sends worker_init: see _worker_signals_connect.
        signals.worker_init.connect(_worker_signals_connect, dispatch_uid="labs.worker_signals")
