import pytest
from lti_tool.models import LtiDeployment, LtiRegistration

from lti.services import keys_rotate
from tests.quiz.factory import make_question, make_quiz_lesson

from .platform import DEPLOYMENT_ID, Platform


@pytest.fixture
def platform(redis_url, db, client):
    """The test platform, registered in the tool as an administrator does in the admin (a
    registration and its active deployment), knowing the tool's JWKS."""
    with Platform() as platform:
        keys_rotate()  # the tool's signing key (the migration's is gone in transactional tests)
        registration = LtiRegistration.objects.create(**platform.registration_fields())
        LtiDeployment.objects.create(
            registration=registration, deployment_id=DEPLOYMENT_ID, is_active=True
        )
        platform.tool_jwks = client.get("/lti/jwks.json").json()
        yield platform


@pytest.fixture
def quiz_lesson(db, tmp_path):
    """A lesson whose quiz asks three questions; option "a" is right in each."""
    questions = [make_question(f"lti-q{n}") for n in (1, 2, 3)]
    return make_quiz_lesson(tmp_path, *questions, slug="lti-lesson")
