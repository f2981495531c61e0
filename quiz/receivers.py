"""quiz's answers to other apps' signals (connected in QuizConfig.ready)."""

from .services import learner_work_move


def learner_merging_receive(sender, *, source, target, **_) -> None:
    """An anonymous learner is being merged into an account's: their attempts and reviews go
    with them."""
    learner_work_move(source=source, target=target)
