"""The tool side of LTI 1.3 on django-lti and pylti1p3, with what they leave to the tool.

As shipped, django-lti 0.10.1 on pylti1p3 2.0.0 accepts a replayed launch (the nonce is only
checked to exist), raises on a bad token instead of refusing it, and saves a row for any
deployment id a token names. Here a launch is validated once, its nonce is spent at once
(a Redis ``SET NX``), an unknown or inactive deployment is refused, and every refusal is a
``LaunchRefused`` with a message for the person who launched; nothing is written to the
database before a launch has passed every check. django-lti's ``LtiLaunchMiddleware`` is not
installed: it would validate every launch a second time (and try every other POST as one).
"""

import jwt
from django.core.cache import caches
from lti_tool.models import LtiDeployment, LtiLaunch
from lti_tool.utils import DjangoToolConfig
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException

# Login state, nonces and launch data live in this cache (Redis: every web process sees what
# another stored at login), for as long as pylti1p3 keeps them.
CACHE = "lti"
LAUNCH_LIFETIME_SECONDS = 86_400


class LaunchRefused(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ToolConfig(DjangoToolConfig):
    """django-lti's registry of platforms, except that a deployment must already exist and be
    active (an administrator adds it to the platform's registration in the admin)."""

    def find_deployment(self, iss, deployment_id):
        return self._deployment(registration__issuer=iss, deployment_id=deployment_id)

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        return self._deployment(
            registration__issuer=iss,
            registration__client_id=client_id,
            deployment_id=deployment_id,
        )

    def _deployment(self, **lookups) -> Deployment | None:
        if self.registration_uuid is not None:
            lookups["registration__uuid"] = self.registration_uuid
        self.deployment = (
            LtiDeployment.objects.active().filter(registration__is_active=True, **lookups).first()
        )
        if self.deployment is None:
            return None
        return Deployment().set_deployment_id(self.deployment.deployment_id)


def launch_storage() -> DjangoCacheDataStorage:
    return DjangoCacheDataStorage(cache_name=CACHE)


# pylti1p3's messages, said for the person who launched (a prefix of each is matched).
REFUSALS = {
    "Missing id_token": "This launch carries no id_token: start it from your course.",
    "Missing state param": "This launch carries no state: start it from your course.",
    "State not found": (
        "This launch does not answer a login started here (unknown state, or this browser "
        "blocked the tool's cookie): start it again from your course."
    ),
    "Invalid Nonce": (
        "This launch was already used or was never started here (its nonce is unknown): "
        "start it again from your course."
    ),
    "Registration not found": (
        "No active platform registration matches this launch's issuer and audience (aud): "
        "the token was not meant for this tool, or an administrator has to register the "
        "platform."
    ),
    "Client id not registered": (
        "This launch's audience (aud) is not the client id registered for its issuer."
    ),
    "Unable to find deployment": (
        "This launch's deployment is not registered here or is not active: an administrator "
        "has to add its deployment id to the platform's registration."
    ),
    "Can't decode id_token: Signature has expired": (
        "This launch's token has expired (exp is past): start it again from your course."
    ),
    "Can't decode id_token: Signature verification failed": (
        "This launch's token is not signed by the platform's key (bad signature)."
    ),
    "Can't decode id_token": "This launch's token cannot be verified",
    "Missing %s cookie": (
        "This browser did not send back the cookie the tool set at login (it may block "
        "cookies for this site): allow them, or open the tool in a new window."
    ),
    "Unable to find public key": (
        "This launch's token names a key (kid) that the platform's key set does not hold."
    ),
}


NUL_REFUSED = (
    "This launch holds a NUL character (\\u0000), which no LTI value may hold: the "
    "platform's administrator has to correct what it sends."
)


def _refusal(error: LtiException) -> LaunchRefused:
    text = str(error)
    for prefix, message in REFUSALS.items():
        if text.startswith(prefix):
            detail = text.removeprefix(prefix) if message.endswith("verified") else ""
            return LaunchRefused(message + detail)
    return LaunchRefused(f"This launch is refused: {text}")


def _nul_in(value: object) -> bool:
    """Whether text in ``value`` (JSON-like) holds a NUL character: PostgreSQL refuses it in a
    query, so a lookup of it would fail (a 500) instead of finding nothing."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_nul_in(key) or _nul_in(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_nul_in(item) for item in value)
    return False


def _claims_unverified(token: str) -> object:
    """The token's claims as it states them (pylti1p3 looks its issuer up before it checks the
    signature); None when it cannot be read, which pylti1p3 then says."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None


def launch_validate(*, request) -> LtiLaunch:
    """The launch this POST carries, checked once, its nonce spent; or ``LaunchRefused``."""
    if not request.POST.get("id_token"):
        raise LaunchRefused(REFUSALS["Missing id_token"], status=400)
    # Its posted fields were checked for NUL with every request's (learnsite/middleware.py);
    # the token's claims are encoded in it.
    if _nul_in(_claims_unverified(request.POST["id_token"])):
        raise LaunchRefused(NUL_REFUSED, status=400)
    try:
        # Over HTTPS, the storage needs the session cookie that the login set: the
        # constructor refuses a launch without it.
        message_launch = DjangoMessageLaunch(
            request, ToolConfig(), launch_data_storage=launch_storage()
        )
        message_launch.validate()
    except LtiException as error:
        raise _refusal(error) from error
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        # pylti1p3 reads the token's claims as it checks them: a token whose body is not the
        # object a launch is (a list, say) fails there.
        raise LaunchRefused("This launch's token is not a valid LTI message.") from error
    body = message_launch.get_launch_data()
    spent = caches[CACHE].add(
        f"lti1p3-nonce-spent-{body['iss']}-{body['nonce']}", 1, LAUNCH_LIFETIME_SECONDS
    )
    if not spent:
        raise LaunchRefused(
            "This launch was already used (its nonce is spent): start it again from your course."
        )
    return LtiLaunch(message_launch)


def launch_restore(*, request, launch_id: str) -> LtiLaunch:
    """A launch validated earlier in this session (a deep-linking choice is made after it)."""
    try:
        message_launch = DjangoMessageLaunch.from_cache(
            launch_id, request, ToolConfig(), launch_data_storage=launch_storage()
        )
    except LtiException as error:
        raise LaunchRefused(
            "This choice is no longer tied to a launch (it expired): start it again from your "
            "course.",
            status=400,
        ) from error
    return LtiLaunch(message_launch)
