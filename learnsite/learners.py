"""Who the learner is: a random id kept in their session.

Everything a learner owns in Redis (lab events, rate-limit counters) is keyed by this id, and it
is only ever read from the session, never from the request, so one learner cannot name another's
channel.
"""

import secrets

from django.http import HttpRequest

SESSION_KEY = "learner_id"


def learner_id_for(request: HttpRequest) -> str:
    """The learner's id, created on first use."""
    learner_id = request.session.get(SESSION_KEY)
    if learner_id is None:
        learner_id = secrets.token_urlsafe(16)
        request.session[SESSION_KEY] = learner_id
    return learner_id


async def alearner_id(request: HttpRequest) -> str | None:
    """The learner's id from an async view, or None for a session that never opened a lab."""
    return await request.session.aget(SESSION_KEY)
