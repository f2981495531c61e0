"""Lab goals: which ones a learner's runs meet (the record of met goals is the learner's:
learners/progress.py)."""

from .registry import LabKind


def lab_goals_met(*, lab: LabKind, runs: list) -> set[str]:
    return {name for name, goal in lab.goals.items() if goal.met(runs)}
