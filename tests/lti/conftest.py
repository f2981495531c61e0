import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from lti_tool.models import Key, LtiDeployment, LtiRegistration

from tests.quiz.factory import make_question, make_quiz_lesson

from .platform import DEPLOYMENT_ID, Platform, rsa_key


@pytest.fixture
def tool_key(db) -> Key:
    """The tool's signing key (the lti migration's is gone after a transactional test)."""
    pem = rsa_key("tool")[0].private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    return Key.objects.create_from_jwk(JWK.from_pem(pem))


@pytest.fixture
def registered_platform(redis_url, tool_key):
    """The test platform, registered in the tool as an administrator does in the admin (a
    registration and its active deployment)."""
    with Platform() as platform:
        registration = LtiRegistration.objects.create(**platform.registration_fields())
        LtiDeployment.objects.create(
            registration=registration, deployment_id=DEPLOYMENT_ID, is_active=True
        )
        yield platform


@pytest.fixture
def platform(registered_platform, client):
    """The registered test platform, knowing the tool's keys from its JWKS URL."""
    registered_platform.tool_jwks = client.get("/lti/jwks.json").json()
    return registered_platform


@pytest.fixture
def quiz_lesson(db, tmp_path):
    """A lesson whose quiz asks three questions; option "a" is right in each."""
    questions = [make_question(f"lti-q{n}") for n in (1, 2, 3)]
    return make_quiz_lesson(tmp_path, *questions, slug="lti-lesson")
