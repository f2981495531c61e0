"""The "Offload the slow email" lab's work: send an email inside the web request, or hand it to a
worker.

Both ways send a real email through Django's mail API to the labs' SMTP server on loopback
(mail_server.py, next to this), which holds its reply for the latency the learner picks. The
events of a run are listed in fold.py. The sender says ``failed`` instead of ``succeeded`` when
the mail server does not take it. (``succeeded`` and ``failed`` end a run for every lab: the
limit on runs in flight counts on them, labs/services.py.)
"""

import contextlib
import secrets
import smtplib
import time
from dataclasses import dataclass

from django.core.mail import EmailMessage
from redis.exceptions import RedisError

from labs.events import event_publish
from labs.services import BROKER_DOWN, BrokerUnavailable, LabError, lab_rate_check

from .mail_server import LAB_HEADER, LATENCY_HEADER, LEARNER_HEADER, RUN_HEADER

LAB = "email"

LATENCY_MIN_MS, LATENCY_MAX_MS, LATENCY_DEFAULT_MS = 100, 500, 300
LATENCY_INVALID = (
    "Set the mail server's latency to a whole number of milliseconds from "
    f"{LATENCY_MIN_MS} to {LATENCY_MAX_MS}. Nothing was sent."
)
RECIPIENT = "learner@lab-mail.localhost"


class MailServerUnavailable(LabError):
    status = 503

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


@dataclass(frozen=True)
class EmailSent:
    run_id: str
    send_ms: int


def _mail_failure(error: OSError) -> str:
    """What went wrong, in words a learner can act on."""
    if isinstance(error, ConnectionRefusedError):
        return "the mail server refused the connection: it is not running"
    # smtplib reports a reply that timed out as a disconnection, caused by the timeout.
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        return "the mail server did not answer in time"
    return f"the mail server failed: {error}"


def email_send(*, learner_id: str, run_id: str, latency_ms: int) -> int:
    """Send the run's email through Django's mail API; returns the milliseconds it took.

    Raises OSError (smtplib.SMTPException is one) when the mail server does not take it.
    """
    message = EmailMessage(
        subject=f"Lab run {run_id}",
        body=f"An email from the 'Offload the slow email' lab, run {run_id}.",
        to=[RECIPIENT],
        headers={
            LATENCY_HEADER: str(latency_ms),
            LEARNER_HEADER: learner_id,
            RUN_HEADER: run_id,
            LAB_HEADER: LAB,
        },
    )
    started = time.perf_counter()
    message.send()
    return round((time.perf_counter() - started) * 1000)


def _publish(*, learner_id: str, run_id: str, kind: str, **fields) -> None:
    event = {"kind": kind, "run": run_id, "lab": LAB, **fields}
    event_publish(learner_id=learner_id, lab=LAB, event=event)


def _publish_quietly(*, learner_id: str, run_id: str, kind: str, **fields) -> None:
    """Record an event of a run that has already happened: a Redis outage now only loses the
    record (the page says the broker is away), not the answer to the learner."""
    with contextlib.suppress(RedisError, OSError):
        _publish(learner_id=learner_id, run_id=run_id, kind=kind, **fields)


def lab_email_send_now(*, learner_id: str, latency_ms: int) -> EmailSent:
    """Send a run's email here and now: returns when the mail server has replied."""
    try:
        lab_rate_check(learner_id=learner_id, lab=LAB)  # shared with the background button
        run_id = secrets.token_hex(4)
        options = {"latency_ms": latency_ms}
        _publish(learner_id=learner_id, run_id=run_id, kind="sending", options=options)
    except (RedisError, OSError) as error:
        raise BrokerUnavailable(BROKER_DOWN) from error
    try:
        send_ms = email_send(learner_id=learner_id, run_id=run_id, latency_ms=latency_ms)
    except (OSError, smtplib.SMTPException) as error:
        reason = _mail_failure(error)
        _publish_quietly(learner_id=learner_id, run_id=run_id, kind="failed", error=reason)
        raise MailServerUnavailable(
            f"The email was not sent: {reason}. Is `python manage.py mail_server` running? "
            "(`make run` starts it.)",
            run_id=run_id,
        ) from error
    _publish_quietly(learner_id=learner_id, run_id=run_id, kind="succeeded", send_ms=send_ms)
    return EmailSent(run_id=run_id, send_ms=send_ms)


def lab_email_answered(*, learner_id: str, run_id: str, request_ms: int) -> None:
    """Record the server time of the request that started a run (sent or queued it)."""
    _publish_quietly(learner_id=learner_id, run_id=run_id, kind="answered", request_ms=request_ms)


def lab_email_execute(*, learner_id: str, run_id: str, latency_ms: int, worker: str) -> dict:
    """The worker's side of "in the background": send the email, report how it went."""
    _publish(learner_id=learner_id, run_id=run_id, kind="started", worker=worker)
    try:
        send_ms = email_send(learner_id=learner_id, run_id=run_id, latency_ms=latency_ms)
    except (OSError, smtplib.SMTPException) as error:
        # A real application would retry later (Celery's autoretry_for); the lab shows the
        # failure at once instead.
        reason = _mail_failure(error)
        _publish(learner_id=learner_id, run_id=run_id, kind="failed", error=reason)
        return {"sent": False, "error": reason, "worker": worker}
    _publish(learner_id=learner_id, run_id=run_id, kind="succeeded", send_ms=send_ms, worker=worker)
    return {"sent": True, "send_ms": send_ms, "worker": worker}
