"""Who the learner is: a ``quiz.Learner`` row, found through their session.

Anonymous learners get one on first use; signing up or logging in moves what they did to their
account (``learner_adopt``). Everything a learner owns in Redis (lab events, rate-limit
counters) is keyed by ``Learner.key``, and that key is only ever read from the session, never
from the request, so one learner cannot name another's channel.
"""

import secrets

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpRequest

from quiz.models import Attempt, Learner, ReviewItem

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
        Attempt.objects.filter(learner=anonymous).update(learner=learner)
        known = {item.question_id: item for item in ReviewItem.objects.filter(learner=learner)}
        for item in ReviewItem.objects.filter(learner=anonymous, question_id__in=known):
            kept = known[item.question_id]
            if item.due_at < kept.due_at:  # the sooner review wins: a recent miss is not lost
                kept.due_at, kept.interval_days = item.due_at, item.interval_days
                kept.save(update_fields=["due_at", "interval_days"])
        ReviewItem.objects.filter(learner=anonymous).exclude(question_id__in=known).update(
            learner=learner
        )
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
