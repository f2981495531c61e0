"""What a launch does here, and what the tool sends back to the platform.

A resource launch signs the platform user in as a site account of their own and opens the
lesson, or starts its quiz or test; a deep-linking launch lets an instructor pick one of those
to place in their course. A quiz or test started by a launch sends its score (the credit
earned out of the questions asked, not mere completion) to the launch's line item, from a
worker (``lti.tasks``).
"""

import hashlib
from dataclasses import dataclass

import requests
from django.contrib.auth import get_user_model, login
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from lti_tool.lti_core.constants import ContextRole
from lti_tool.lti_core.utils import normalize_role
from lti_tool.models import Key, LtiContext, LtiLaunch, LtiMembership
from lti_tool.services.nrps import sync_memberships
from lti_tool.utils import sync_data_from_launch
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.exception import LtiException
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.service_connector import ServiceConnector

from learners.identity import learner_adopt
from lessons.models import Lesson
from quiz.models import Attempt
from quiz.services import SubmissionError, attempt_start

from .models import LtiAttempt
from .tool import LaunchRefused

# What a placement opens: the lesson page, or a new attempt at its quiz or its test.
MODES = {"lesson": "Lesson", "quiz": "Quiz", "test": "Test"}
GRADED_MODES = (Attempt.Mode.QUIZ, Attempt.Mode.TEST)
# The line item a graded placement asks the platform to make; scores are sent as given out
# of maximum, and the platform scales them to this.
LINE_ITEM_MAXIMUM = 100
DEEP_LINKING_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
PLACING_ROLES = {ContextRole.INSTRUCTOR, ContextRole.ADMINISTRATOR, ContextRole.CONTENT_DEVELOPER}


class ScoreNotSent(Exception):
    pass


@dataclass(frozen=True)
class Placement:
    lesson: Lesson | None  # None: the course's home page
    mode: str


def placement_for(*, lesson_slug: str, mode: str) -> Placement:
    """The placement a launch's custom parameters name, or ``LaunchRefused`` (404)."""
    if not lesson_slug:
        return Placement(lesson=None, mode="lesson")
    lesson = Lesson.objects.active().filter(slug=lesson_slug).first()
    if lesson is None:
        raise LaunchRefused(
            f"This link opens the lesson '{lesson_slug[:80]}', which this site does not have "
            "(any more): ask your instructor to place it again.",
            status=404,
        )
    if mode not in MODES:
        raise LaunchRefused(
            f"This link asks for '{mode[:20]}': it must be one of {', '.join(MODES)}.", status=404
        )
    return Placement(lesson=lesson, mode=mode)


def launch_placement(*, lti_launch: LtiLaunch) -> Placement:
    return placement_for(
        lesson_slug=str(lti_launch.get_custom_claim("lesson") or ""),
        mode=str(lti_launch.get_custom_claim("mode") or "lesson"),
    )


def launch_is_placing(*, lti_launch: LtiLaunch) -> bool:
    """The launching user may place content in the course (an instructor, say)."""
    roles = {normalize_role(role) for role in lti_launch.roles_claim or []}
    return bool(roles & PLACING_ROLES)


def _user_for(lti_launch: LtiLaunch):
    """The site account of the launch's platform user (issuer, client and ``sub``)."""
    lti_user = lti_launch.user
    if lti_user.auth_user is None:
        registration = lti_launch.registration
        identity = f"{registration.issuer}\n{registration.client_id}\n{lti_user.sub}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
        user = get_user_model()(username=f"lti-{digest}", email=lti_user.email)
        user.first_name = lti_user.given_name[:150]
        user.last_name = lti_user.family_name[:150]
        user.set_unusable_password()  # they sign in through their platform only
        user.save()
        lti_user.auth_user = user
        lti_user.save(update_fields=["auth_user"])
    return lti_user.auth_user


@transaction.atomic
def launch_accept(
    *, request: HttpRequest, lti_launch: LtiLaunch, placement: Placement
) -> Attempt | None:
    """Record a checked launch (django-lti's platform, context and user rows), sign its user
    in on a fresh session, and start the placement's quiz or test if it has one."""
    sync_data_from_launch(lti_launch)
    user = _user_for(lti_launch)
    request.session.flush()  # whoever used this browser here before is signed out
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    learner = learner_adopt(request=request, user=user)
    if not lti_launch.is_resource_launch or placement.mode not in GRADED_MODES:
        return None
    try:
        attempt = attempt_start(learner=learner, mode=placement.mode, lesson=placement.lesson)
    except SubmissionError as error:
        raise LaunchRefused(error.message, status=404) from error
    ags = lti_launch.ags_claim or {}
    LtiAttempt.objects.create(
        attempt=attempt,
        lti_user=lti_launch.user,
        resource_link=lti_launch.resource_link,
        lineitem_url=ags.get("lineitem", ""),
        ags_scopes=ags.get("scope", []),
    )
    return attempt


def deep_link_answer(
    *, lti_launch: LtiLaunch, placement: Placement, launch_url: str
) -> tuple[str, str]:
    """Where the answer to a deep-linking request goes, and the answer, signed: one link to
    ``launch_url`` that opens the placement (custom parameters), with a line item for a quiz
    or test."""
    assert placement.lesson is not None
    title = f"{placement.lesson.title}: {MODES[placement.mode].lower()}"
    resource = (
        DeepLinkResource()
        .set_url(launch_url)
        .set_title(title)
        .set_custom_params({"lesson": placement.lesson.slug, "mode": placement.mode})
    )
    if placement.mode in GRADED_MODES:
        resource.set_lineitem(
            LineItem()
            .set_label(title)
            .set_score_maximum(LINE_ITEM_MAXIMUM)
            .set_resource_id(f"{placement.lesson.slug}:{placement.mode}")
        )
    deep_link = lti_launch.get_message_launch().get_deep_link()
    settings = lti_launch.get_claim(DEEP_LINKING_SETTINGS)
    return settings["deep_link_return_url"], deep_link.get_response_jwt([resource])


def score_send(*, attempt_id: int) -> None:
    """Send a finished attempt's score to its line item, once; ``ScoreNotSent`` on failure
    (the error is kept on the row, and the task tries again)."""
    lti_attempt = (
        LtiAttempt.objects.select_related("attempt", "lti_user__registration")
        .filter(attempt_id=attempt_id)
        .first()
    )
    if lti_attempt is None:
        return  # the attempt was deleted (with its learner) before its score went
    attempt = lti_attempt.attempt
    if lti_attempt.score_sent_at is not None or attempt.finished_at is None:
        return
    connector = ServiceConnector(lti_attempt.lti_user.registration.to_registration())
    service = AssignmentsGradesService(
        connector, {"scope": lti_attempt.ags_scopes, "lineitem": lti_attempt.lineitem_url}
    )
    grade = (
        Grade()
        .set_score_given(attempt.score)
        .set_score_maximum(attempt.max_score)
        .set_timestamp(attempt.finished_at.isoformat())
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_user_id(lti_attempt.lti_user.sub)
    )
    try:
        service.put_grade(grade)
    except (LtiException, requests.RequestException) as error:
        LtiAttempt.objects.filter(pk=lti_attempt.pk).update(score_error=str(error)[:2000])
        raise ScoreNotSent(str(error)) from error
    LtiAttempt.objects.filter(pk=lti_attempt.pk).update(
        score_sent_at=timezone.now(), score_error=""
    )


def roster_sync(*, context: LtiContext) -> list[LtiMembership]:
    """The context's members as the platform lists them now (Names and Role Provisioning)."""
    if not context.memberships_url:
        raise LtiException(
            f"The platform gave no roster service for '{context}': it has to grant the Names "
            "and Role Provisioning service to this tool."
        )
    sync_memberships(context)
    return list(context.memberships.select_related("user").order_by("user__sub"))


@transaction.atomic
def keys_rotate() -> tuple[Key, int]:
    """A new signing key; the key it replaces stays in the JWKS until the next rotation, so a
    platform can still check what it signed; older keys leave. Returns the new key and how
    many left."""
    previous = Key.objects.active().order_by("-datetime_created").first()
    key = Key.objects.generate()
    keep = [key.pk] + ([previous.pk] if previous else [])
    retired = Key.objects.active().exclude(pk__in=keep).update(is_active=False)
    return key, retired
