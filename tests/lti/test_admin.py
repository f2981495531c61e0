"""An administrator registers a platform and its deployment in the admin; launches from it
are then accepted."""

import pytest
from django.contrib.auth import get_user_model
from lti_tool.models import Key, LtiDeployment, LtiRegistration

from .platform import DEPLOYMENT_ID, Platform


@pytest.fixture
def admin_client(client, db):
    """A superuser's client (no password: hashing one costs a good part of a second)."""
    admin = get_user_model().objects.create(username="lti-admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


def test_a_platform_registered_in_the_admin_can_launch(admin_client, redis_url, tool_key):
    with Platform() as platform:
        form = platform.registration_fields() | {
            "uuid": "6f1c1b1e-3c7a-4a53-9a43-1a2b3c4d5e6f",
            "is_active": "on",
            "deployments-TOTAL_FORMS": "1",
            "deployments-INITIAL_FORMS": "0",
            "deployments-0-deployment_id": DEPLOYMENT_ID,
            "deployments-0-is_active": "on",
        }
        response = admin_client.post("/admin/lti_tool/ltiregistration/add/", form)
        assert response.status_code == 302, response.content.decode()[:3000]
        registration = LtiRegistration.objects.get(issuer=platform.registration_fields()["issuer"])
        assert LtiDeployment.objects.get(registration=registration).is_active

        launched, _ = platform.launch(admin_client)
        assert launched.status_code == 302
        assert launched["Location"] == "/"


def test_the_signing_keys_are_listed_read_only_in_the_admin(admin_client, tool_key):
    assert str(tool_key) in admin_client.get("/admin/lti_tool/key/").content.decode()
    assert admin_client.get("/admin/lti_tool/key/add/").status_code == 403
    delete = f"/admin/lti_tool/key/{tool_key.pk}/delete/"
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Key.objects.filter(pk=tool_key.pk).exists()
