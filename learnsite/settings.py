"""Settings for learnsite, read from the environment.

Every setting has a default that works on a laptop: SQLite and an embedded Redis under
``var/``. A deployment sets the variables listed in README.md ("Settings").
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from learnsite.redis import celery_broker_url
from learnsite.workers import DEFAULT_QUEUE, task_routes

BASE_DIR = Path(__file__).resolve().parent.parent
# Runtime state (SQLite file, the embedded Redis socket, the dev secret key). Tests point it
# elsewhere so that they never touch the state of `make run`.
VAR_DIR = Path(os.environ.get("LEARNSITE_VAR_DIR", BASE_DIR / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def dev_secret_key() -> str:
    """A key generated once per checkout and kept under var/, for laptops only."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or dev_secret_key()
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# HTTPS hardening is on whenever DEBUG is off; DJANGO_HTTPS=0 turns it off for a plain-HTTP
# staging box. Behind a TLS-terminating proxy, DJANGO_PROXY_SSL_HEADER=1 trusts its header.
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31_536_000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", HTTPS)
# Health probes (a load balancer's, a container runtime's) come over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz"]
if env_bool("DJANGO_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Scripts and styles come from our own files only: no inline script or style, no eval (htmx's
# allowEval is off in templates/base.html), no plugins, no framing. The event streams are
# same-origin, so connect-src is 'self' too.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "learners",
    "lessons",
    "quiz",
    "labs",
    "authoring",
    "lti_tool",
    "lti",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "learnsite.middleware.NulRefusedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "learnsite.urls"
ASGI_APPLICATION = "learnsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
    {
        # The run cards, which the labs' event streams render on every event (learnsite/jinja.py).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "learnsite.jinja.environment",
            # The macros every run card uses (queue place, lost, timeline), as globals.
            "macro_templates": ("labs/_run_parts.jinja",),
            "trim_blocks": True,
            "lstrip_blocks": True,
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", 0)),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and tests write to one file: wait for a lock instead of failing, and take
    # the write lock at BEGIN so that two writers never deadlock on an upgrade.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # A file, not memory, so that the web and worker processes a test starts share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A process runs its requests on up to 32 threads (learnsite/asgi.py) and its streams'
    # database work on others, so a persistent connection (CONN_MAX_AGE) per thread would be
    # dozens, mostly idle; each process keeps a pool instead (psycopg_pool), as opening a
    # PostgreSQL connection costs a process on the server.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Added to the URL's options (a unix socket's folder comes as ?host=), not in their place.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": int(os.environ.get("DATABASE_POOL_SIZE", 8)),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "lessons:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The courses, as files (content/README.md); on several machines every one reads the same.
CONTENT_DIR = Path(os.environ.get("LEARNSITE_CONTENT_DIR", BASE_DIR / "content")).resolve()
# Authoring mode: open pages refresh when a content file is saved (`make run` watches the
# files), and pages show the errors of the last load. Staff see those errors in any mode.
CONTENT_AUTHORING = env_bool("LEARNSITE_CONTENT_AUTHORING", DEBUG)
# How long a process serves pages of the content version it read last (lessons/rendered.py):
# a content_load shows everywhere within this long, and a page costs no query for it. Authors
# see each edit at once.
CONTENT_VERSION_SECONDS = float(
    os.environ.get("LEARNSITE_CONTENT_VERSION_SECONDS") or (0 if CONTENT_AUTHORING else 1)
)

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# Served by ServeStatic before Django (learnsite/asgi.py: a static file never becomes a Django
# request), with these settings as its middleware would read them. By default straight from
# the app folders, so no collectstatic step is needed before the site can
# start. `make serve` runs collectstatic first and sets LEARNSITE_STATIC_COLLECTED=1: then the
# files served are the collected ones, with hashed names (cached for ever by browsers) and
# compressed copies (gzip, sent to browsers that accept it).
if env_bool("LEARNSITE_STATIC_COLLECTED", False):
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "servestatic.storage.CompressedManifestStaticFilesStorage"},
    }
else:
    SERVESTATIC_USE_FINDERS = True

# Redis: the broker, the result backend and the lab event streams. Unset, it is the embedded
# redis-server that `make run` starts on a unix socket under var/ (learnsite/embedded_redis.py).
REDIS_URL = os.environ.get("REDIS_URL") or f"unix://{VAR_DIR / 'redis.sock'}"
# The LTI tool's login state, nonces and launch data (lti/tool.py): in Redis, so that a launch
# may reach another web process than its login did.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "lti": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "learnsite:lti",
    },
    # Rendered lesson, course and home pages, keyed by the content version (lessons/rendered.py).
    # In each process's memory: a hit costs no round trip, and each process renders a page once
    # per version. Bounded: a culled page is only rendered again.
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "pages",
        "TIMEOUT": None,
        "OPTIONS": {"MAX_ENTRIES": 2000},
    },
}
# How long a page waits for Redis before it says the broker is unavailable.
REDIS_TIMEOUT_SECONDS = 1.0

# At most one quiz statistics refresh is queued per this many seconds; it runs at the end of
# the window, so the answers that arrive meanwhile are in it.
QUIZ_STATS_DEBOUNCE_SECONDS = 10

# Email goes to the labs' own SMTP server on loopback (`manage.py mail_server`), which holds
# each reply for as long as the email asks (1 s at most). A short timeout: a mail server that
# is down or stuck is reported within two seconds. (MAILERS, not the EMAIL_HOST/EMAIL_PORT/
# EMAIL_TIMEOUT settings, which Django 6.1 deprecates.)
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "127.0.0.1",
            "port": int(os.environ.get("LEARNSITE_MAIL_PORT", 8025)),
            "timeout": 1.5,
        },
    }
}
DEFAULT_FROM_EMAIL = "learnsite labs <labs@learnsite.invalid>"

CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# visibility_timeout: a message a worker took but has not acknowledged (acks_late tasks) goes
# back on the queue this long after it was taken, if that worker is gone. It must be longer
# than any task runs or waits for its countdown/ETA, or a healthy task would run twice.
# Workers look for such messages at start and every 10 s (as often as the timeout, if it is
# shorter, so that a short one set for a test is not outwaited by the look); kombu 5.7 would
# scan Redis only on every 10th of those looks (100 s) unless unacked_restore_throttle is 1.
_VISIBILITY_TIMEOUT_SECONDS = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT_SECONDS", 300))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "visibility_timeout": _VISIBILITY_TIMEOUT_SECONDS,
    "unacked_restore_interval": min(10, _VISIBILITY_TIMEOUT_SECONDS),
    "unacked_restore_throttle": 1,
}
CELERY_RESULT_EXPIRES = 3600
# A lab run not over that has had no event for this many seconds is shown as lost (its worker
# or Redis was lost). Unset: each lab's own deadline (labs/fold.py, LabFold.deadline_seconds).
LAB_RUN_DEADLINE_SECONDS = (
    float(os.environ["LEARNSITE_LAB_RUN_DEADLINE_SECONDS"])
    if os.environ.get("LEARNSITE_LAB_RUN_DEADLINE_SECONDS")
    else None
)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = DEFAULT_QUEUE
# Which queue each task goes to, and so which worker and pool runs it: learnsite/workers.py.
CELERY_TASK_ROUTES = task_routes()
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
