from django.apps import AppConfig

from quiz.signals import attempt_finished


class LtiConfig(AppConfig):
    name = "lti"
    verbose_name = "LTI 1.3 tool"

    def ready(self) -> None:
        # Connected at start-up, not on import; the receiver's module needs the models loaded.
        from .receivers import attempt_finished_receive

        attempt_finished.connect(attempt_finished_receive, dispatch_uid="lti.score_queue")
