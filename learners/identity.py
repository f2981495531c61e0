"""Who the learner is: a ``Learner`` row, found through their session.

Anonymous learners get one on first use; signing up or logging in moves what they did to their
account (``learner_adopt``). Everything a learner owns in Redis (lab events, rate-limit
counters) is keyed by ``Learner.key``, and that key is only ever read from the session, never
from the request, so one learner cannot name another's channel.
"""

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest

from .models import LabGoalMet, Learner
from .signals import learner_merging

SESSION_KEY = "learner_id"


def learner_for(request: HttpRequest) -> Learner:
    """The learner of this request, created on first use."""
    user = request.user if request.user.is_authenticated else None
    key = request.session.get(SESSION_KEY)
    learner = Learner.objects.filter(key=key).first() if key else None
    if user is not None and (learner is None or learner.user_id != user.pk):
        return learner_adopt(request=request, user=user)
    if learner is None:
        learner = Learner.objects.create(key=secrets.token_urlsafe(16))
        request.session[SESSION_KEY] = learner.key
    return learner


def learner_existing(request: HttpRequest) -> Learner | None:
    """The learner of this request if there is one yet (reading pages creates none)."""
    key = request.session.get(SESSION_KEY)
    return Learner.objects.filter(key=key).first() if key else None


def learner_id_for(request: HttpRequest) -> str:
    return learner_for(request).key


async def alearner_id(request: HttpRequest) -> str | None:
    """The learner's key from an async view, or None for a session that never had one."""
    return await request.session.aget(SESSION_KEY)


@transaction.atomic
def learner_adopt(*, request: HttpRequest, user) -> Learner:
    """Give ``user`` the session's anonymous learner, or merge it into the one they have."""
    # Two requests adopting for one user at once (PostgreSQL) wait here, so only one creates.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    key = request.session.get(SESSION_KEY)
    anonymous = Learner.objects.filter(key=key, user__isnull=True).first() if key else None
    learner = Learner.objects.filter(user=user).first()
    if learner is None:
        learner = anonymous or Learner(key=secrets.token_urlsafe(16))
        learner.user = user
        learner.save()
    elif anonymous is not None:
        learner_merging.send(sender=Learner, source=anonymous, target=learner)
        met = set(learner.goals.values_list("lab", "goal"))
        for goal in anonymous.goals.all():
            if (goal.lab, goal.goal) not in met:
                LabGoalMet.objects.filter(pk=goal.pk).update(learner=learner)
        anonymous.delete()
    request.session[SESSION_KEY] = learner.key
    return learner


def learner_for_user(user) -> Learner:
    """The learner of ``user``, created on first use: for requests that carry no session (an
    API token names the user)."""
    learner, _ = Learner.objects.get_or_create(
        user=user, defaults={"key": secrets.token_urlsafe(16)}
    )
    return learner
