from django.apps import AppConfig

from learnsite.hub import hub_patterns_register

from .live_reload import CONTENT_CHANNEL


class LessonsConfig(AppConfig):
    name = "lessons"

    def ready(self) -> None:
        hub_patterns_register(CONTENT_CHANNEL)  # open pages refresh when the content changes
