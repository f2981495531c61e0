from django.apps import AppConfig

from learners.signals import learner_merging
from lessons.signals import lesson_steps_asked


class QuizConfig(AppConfig):
    name = "quiz"

    def ready(self) -> None:
        # Connected at start-up, not on import; the receiver's module needs the models loaded.
        from .receivers import learner_merging_receive, lesson_steps_receive

        learner_merging.connect(learner_merging_receive, dispatch_uid="quiz.learner_work_move")
        lesson_steps_asked.connect(lesson_steps_receive, dispatch_uid="quiz.lesson_steps")
