from celery import shared_task

from .services import SUBSCRIBER_SECONDS, subscriber_execute


# "Publish and subscribe": a Python subscriber that listens for a minute at most (the learner can
# stop it sooner); the hard time limit is only the backstop.
@shared_task(bind=True, name="labs.pubsub_subscriber", time_limit=SUBSCRIBER_SECONDS + 30)
def pubsub_subscriber(self, *, learner_id: str, run_id: str, channels: list, patterns: list
                      ) -> dict:  # fmt: skip
    return subscriber_execute(
        learner_id=learner_id, run_id=run_id, channels=channels, patterns=patterns,
        worker=self.request.hostname,
    )  # fmt: skip
