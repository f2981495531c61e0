from django.apps import AppConfig

from learnsite.celery import app as celery_app
from learnsite.hub import hub_patterns_register


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Live labs"

    def ready(self) -> None:
        from .events import learner_channel  # TEMPORARY: module level once the registry is pure
        from .registry import LAB_KINDS  # TEMPORARY

        # Every learner's announcements wake their open lab streams in this process.
        hub_patterns_register(learner_channel("*"))
        # Each lab's Celery tasks live in its own package: labs/kinds/<kind>/tasks.py. Found
        # now, not on Celery's import_modules signal, which Django's set-up runs inside of.
        celery_app.autodiscover_tasks([f"labs.kinds.{kind}" for kind in LAB_KINDS], force=True)
