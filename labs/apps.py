from django.apps import AppConfig

from learnsite.hub import hub_patterns_register


class LabsConfig(AppConfig):
    name = "labs"
    verbose_name = "Live labs"

    def ready(self) -> None:
        # TEMPORARY (wt-lifecycle, until the lead's apps.py lands): the hub's channel patterns,
        # which labs/hub.py used to subscribe to itself before it moved to learnsite/hub.py.
        hub_patterns_register("learnsite:learner:*:announce", "learnsite:content:*")
