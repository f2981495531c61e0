from django.db import models
from lti_tool.models import LtiResourceLink, LtiUser

from quiz.models import Attempt


class LtiAttempt(models.Model):
    """A quiz or test started by a launch, and the line item its score goes to.

    It is also the outbox of that score: ``score_sent_at`` stays empty until the platform has
    taken it, so a score that could not be sent is still here to send again.
    """

    attempt = models.OneToOneField(Attempt, on_delete=models.CASCADE, related_name="lti")
    lti_user = models.ForeignKey(LtiUser, on_delete=models.CASCADE, related_name="+")
    resource_link = models.ForeignKey(LtiResourceLink, on_delete=models.CASCADE, related_name="+")
    # The launch's AGS claim: where scores go ("" when the platform gave no line item: nothing
    # to send) and the scopes granted.
    lineitem_url = models.URLField(max_length=1000, blank=True)
    ags_scopes = models.JSONField(default=list)
    score_sent_at = models.DateTimeField(null=True, blank=True)
    score_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.attempt} from {self.resource_link}"
