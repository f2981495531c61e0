from django.db import models


class LabGoalMet(models.Model):
    """A lab goal this learner reached: it counts as done in their progress."""

    learner = models.ForeignKey("quiz.Learner", on_delete=models.CASCADE, related_name="goals")
    lab = models.CharField(max_length=30)
    goal = models.CharField(max_length=50)
    met_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "lab", "goal"], name="unique_goal_met")
        ]

    def __str__(self) -> str:
        return f"{self.learner} met {self.lab}:{self.goal}"
