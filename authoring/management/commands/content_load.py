from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from authoring.content import ContentInvalid, content_load, content_problems_record


class Command(BaseCommand):
    help = "Load the course files into the database, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=settings.CONTENT_DIR, type=Path)

    def handle(self, *args, path: Path, **options):
        try:
            report = content_load(root=path)
        except ContentInvalid as invalid:
            content_problems_record(errors=invalid.errors, root=path)
            raise CommandError(f"content not loaded, nothing changed:\n{invalid}") from None
        content_problems_record(errors=[], root=path)
        self.stdout.write(self.style.SUCCESS(f"Loaded {path}: {report}"))
