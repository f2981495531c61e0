from django.core.management.base import BaseCommand

from lti.models import LtiAttempt
from lti.tasks import score_send_task


class Command(BaseCommand):
    help = "Queue again every finished quiz or test score that has not reached its platform."

    def handle(self, *args, **options) -> None:
        pending = LtiAttempt.objects.filter(
            score_sent_at__isnull=True, attempt__finished_at__isnull=False
        ).exclude(lineitem_url="")
        ids = list(pending.values_list("attempt_id", flat=True))
        for attempt_id in ids:
            score_send_task.delay(attempt_id)
        self.stdout.write(f"{len(ids)} score(s) queued.")
