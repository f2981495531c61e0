"""quiz's answers to other apps' signals (connected in QuizConfig.ready)."""

from .gradebook import lesson_steps_done
from .services import learner_work_move


def learner_merging_receive(sender, *, source, target, **_) -> None:
    """An anonymous learner is being merged into an account's: their attempts and reviews go
    with them."""
    learner_work_move(source=source, target=target)


def lesson_steps_receive(sender, *, learner, slugs, **_) -> dict[str, set[str]]:
    """The course page asks which quiz steps the learner did: a quiz finished, a test passed."""
    return lesson_steps_done(learner=learner, slugs=slugs)
