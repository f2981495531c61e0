from django.core.management.base import BaseCommand

from lti.services import keys_rotate


class Command(BaseCommand):
    help = (
        "Make a new signing key for LTI. The key it replaces stays in the JWKS until the next "
        "rotation; older keys leave it."
    )

    def handle(self, *args, **options) -> None:
        key, retired = keys_rotate()
        self.stdout.write(f"New signing key {key}; {retired} older key(s) left the JWKS.")
