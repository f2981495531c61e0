from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from lessons.content import ContentInvalid, content_load


class Command(BaseCommand):
    help = "Load the courses under content/ into the database, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("root", nargs="?", default=settings.CONTENT_DIR, type=Path)

    def handle(self, *args, root: Path, **options):
        try:
            count = content_load(root=root)
        except ContentInvalid as invalid:
            raise CommandError(f"content not loaded, nothing changed:\n{invalid}") from None
        self.stdout.write(self.style.SUCCESS(f"Loaded {count} lessons from {root}"))
