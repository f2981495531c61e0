from celery import signals
from django.apps import AppConfig

from learnsite.hub import hub_patterns_register

from .kinds.lifecycle.signals import lifecycle_signals_connect


def _worker_signals_connect(**_) -> None:
    """Connect the labs' task signal handlers in a worker that is starting.

    Those signals (task_received, task_prerun, task_success, task_failure, task_revoked) fire
    only in a worker, so a web process needs none of the handlers. Celery sends worker_init in
    the worker's main process once it is configured (Django set up, tasks imported) and before
    it starts its pool: the prefork pool's processes are forked from it afterwards and inherit
    what it connected (the solo and threads pools run tasks in that very process). The handlers'
    dispatch_uids make connecting twice harmless.
    """
    lifecycle_signals_connect()


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Live labs"

    def ready(self) -> None:
        # TEMPORARY (wt-lifecycle, until the lead's apps.py lands): the hub's channel patterns,
        # which labs/hub.py used to subscribe to itself before it moved to learnsite/hub.py.
        hub_patterns_register("learnsite:learner:*:announce", "learnsite:content:*")
        # Only a worker sends worker_init: see _worker_signals_connect.
        signals.worker_init.connect(_worker_signals_connect, dispatch_uid="labs.worker_signals")
