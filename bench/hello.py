"""The anchor for page speed: the smallest Django project that answers a request, one view that
returns "Hello, world". The same Django as the site, served the same way, so that the ratio to
it is what the site's own work costs. WSGI for gunicorn (``hello:application``), ASGI for
uvicorn (``hello:asgi_application``)."""

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application
from django.http import HttpResponse
from django.urls import path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="bench-hello-world-not-secret",
    MIDDLEWARE=[],
)


def hello(request):
    return HttpResponse("Hello, world")


urlpatterns = [path("", hello)]

application = get_wsgi_application()
asgi_application = get_asgi_application()
