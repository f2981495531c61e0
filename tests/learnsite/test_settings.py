import os
import subprocess
import sys

from tests.stack import ROOT


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LEARNSITE_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_deploy_check_passes_when_production_variables_are_set(tmp_path):
    env = {
        "LEARNSITE_VAR_DIR": str(tmp_path),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "x7-" + "k2Lq9vZp" * 8,
        "ALLOWED_HOSTS": "learn.example.com",
        # and what `make serve` sets besides
        "LEARNSITE_STATIC_COLLECTED": "1",
        "DATABASE_URL": f"postgres://learnsite@/learnsite?host={tmp_path}/pg",
    }
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    # No dev key was written: the key came from the environment.
    assert not (tmp_path / "secret_key").exists()


def test_the_deploy_check_fails_on_laptop_defaults(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING",
                    env={"LEARNSITE_VAR_DIR": str(tmp_path)})  # fmt: skip
    assert result.returncode != 0
    assert "DEBUG" in result.stderr + result.stdout


def test_a_dev_secret_key_is_generated_once_and_kept(tmp_path):
    script = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {"LEARNSITE_VAR_DIR": str(tmp_path)}
    first = manage("shell", "-v", "0", "-c", script, env=env).stdout.strip()
    second = manage("shell", "-v", "0", "-c", script, env=env).stdout.strip()
    assert len(first) >= 50 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_database_and_redis_urls_come_from_the_environment(tmp_path):
    script = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], "
        "s.REDIS_URL, s.CELERY_BROKER_URL)"
    )
    env = {
        "LEARNSITE_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://learn:pw@db.internal:5432/learnsite",
        "REDIS_URL": "redis://cache.internal:6379/2",
    }
    printed = manage("shell", "-v", "0", "-c", script, env=env).stdout.split()
    assert printed == [
        "django.db.backends.postgresql", "learnsite",
        "redis://cache.internal:6379/2", "redis://cache.internal:6379/2",
    ]  # fmt: skip
