from django.urls import path
from lti_tool.views import jwks

from . import views

app_name = "lti"
urlpatterns = [
    path("login/", views.oidc_login, name="login"),
    path("launch/", views.launch, name="launch"),
    path("deep-link/", views.deep_link, name="deep-link"),
    path("jwks.json", jwks, name="jwks"),
]
