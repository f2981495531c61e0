from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from authoring.content import ContentInvalid
from authoring.interchange.files import (
    EXPORT_FORMATS,
    file_write_new,
    lesson_find,
    questions_export,
)


class Command(BaseCommand):
    help = (
        "Write a lesson's questions as GIFT or Moodle XML (to stdout, or --output) or as a QTI "
        "1.2 zip for Canvas (--output)."
    )

    def add_arguments(self, parser):
        parser.add_argument("lesson", help="the lesson's slug, lesson file or questions file")
        parser.add_argument("--format", choices=EXPORT_FORMATS, required=True)
        parser.add_argument("--output", type=Path, help="a new file (stdout if left out)")
        parser.add_argument("--content", type=Path, default=settings.CONTENT_DIR)

    def handle(self, *args, lesson: str, format: str, output: Path | None, content: Path,
               **options):  # fmt: skip
        if format == "qti" and output is None:
            raise CommandError("a QTI package is a zip: give --output FILE.zip")
        try:
            data = questions_export(lesson=lesson_find(root=content, lesson=lesson), to=format)
        except ContentInvalid as invalid:
            for error in invalid.errors:
                self.stderr.write(str(error))
            raise CommandError("fix the lesson's files first (content_check)") from None
        except LookupError as missing:
            raise CommandError(str(missing)) from None
        if output is None:
            self.stdout.write(data.decode(), ending="")
            return
        try:
            file_write_new(path=output, data=data)
        except FileExistsError as exists:
            raise CommandError(str(exists)) from None
        self.stderr.write(f"wrote {output}")
