from django.conf import settings
from django.db import models


class Learner(models.Model):
    """Someone taking the course: anonymous (known by their session) until they sign up.

    ``key`` is random and also names the learner's Redis keys and channels in the labs.
    """

    key = models.CharField(max_length=32, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "quiz_learner"  # the table it had when quiz held it

    def __str__(self) -> str:
        return f"learner {self.key[:8]}" + (f" ({self.user})" if self.user else "")


class LabGoalMet(models.Model):
    """A lab goal this learner reached: it counts as done in their progress (the lesson page
    marks it, the lab page lists it)."""

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="goals")
    lab = models.CharField(max_length=30)
    goal = models.CharField(max_length=50)
    met_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "labs_labgoalmet"  # the table it had when labs held it
        constraints = [
            models.UniqueConstraint(fields=["learner", "lab", "goal"], name="unique_goal_met")
        ]

    def __str__(self) -> str:
        return f"{self.learner} met {self.lab}:{self.goal}"
