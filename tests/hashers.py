"""A password hasher for the test process only: Django's PBKDF2 with few iterations.

Its hashes name their iterations (``pbkdf2_sha256$1000$...``), so the site's servers, which a
test starts with the site's own settings, still check them; only the test process saves time on
each signup and login through the test client."""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1_000
