"""The labs' SMTP server: a real mail server on loopback that is slow on purpose.

It accepts every message and throws it away, but first it holds its reply to DATA for the
latency the message asks for in its ``X-Lab-Latency-Ms`` header, the way a busy mail provider
would. A client that sends inside a web request really waits on its socket for that long.
When a message names a lab run (the learner's key and the run id), the server records a
"delivered" event for that run, so the learner's page shows when the email arrived.

``python manage.py mail_server`` runs it (``make run`` starts it with the rest).
"""

import asyncio
import logging
import re
import signal
from collections.abc import Callable
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from aiosmtpd.smtp import SMTP, Envelope, Session
from redis.exceptions import RedisError

from labs.events import event_publish

log = logging.getLogger(__name__)

LATENCY_HEADER = "X-Lab-Latency-Ms"
LEARNER_HEADER = "X-Lab-Learner"
RUN_HEADER = "X-Lab-Run"
LAB_HEADER = "X-Lab-Kind"
# A message cannot make the server hold its reply for longer than this.
LATENCY_MAX_MS = 1000
# Lab emails are a few hundred bytes; anything much larger is refused.
DATA_SIZE_LIMIT = 1024 * 1024

# Only well-formed names reach Redis keys: learner keys are token_urlsafe, run ids hex.
_LEARNER = re.compile(r"^[\w-]{1,64}$")
_RUN = re.compile(r"^[0-9a-f]{1,32}$")
_LAB = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def mail_latency_ms(value: str | None) -> int:
    """The reply delay a message asks for, in whole milliseconds from 0 to LATENCY_MAX_MS."""
    try:
        latency = int(str(value).strip())
    except ValueError:
        return 0
    return min(max(latency, 0), LATENCY_MAX_MS)


class LabMailHandler:
    """aiosmtpd's handler: every hook not defined here keeps aiosmtpd's default behaviour."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        headers = BytesHeaderParser(policy=default_policy).parsebytes(content)
        latency_ms = mail_latency_ms(headers.get(LATENCY_HEADER))
        # Only this connection waits: the server goes on serving the others meanwhile.
        await asyncio.sleep(latency_ms / 1000)
        learner, run, lab = (
            str(headers.get(name, "")).strip() for name in (LEARNER_HEADER, RUN_HEADER, LAB_HEADER)
        )
        if _LEARNER.match(learner) and _RUN.match(run) and _LAB.match(lab):
            event = {"kind": "delivered", "run": run, "lab": lab, "latency_ms": latency_ms}
            try:
                # The Redis client blocks: run it on a thread, not on this server's event loop.
                await asyncio.to_thread(event_publish, learner_id=learner, lab=lab, event=event)
            except (RedisError, OSError) as error:
                log.warning("run %s delivered, but its event was not recorded: %s", run, error)
        log.info("accepted %d bytes after holding the reply %d ms", len(content), latency_ms)
        return "250 OK: delivered to the lab mail server"


async def mail_server_serve(*, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve SMTP on ``host:port`` until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    handler = LabMailHandler()
    server = await loop.create_server(
        # hostname given: aiosmtpd would otherwise look up the machine's FQDN for every client.
        lambda: SMTP(handler, hostname="lab-mail.localhost", data_size_limit=DATA_SIZE_LIMIT),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ready(f"lab mail server listening on {host}:{port}")
    async with server:
        await stop.wait()
