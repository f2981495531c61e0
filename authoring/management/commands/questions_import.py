from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from authoring.checks import DIFFICULTIES
from authoring.content import ContentInvalid
from authoring.interchange.files import IMPORT_FORMATS, file_write_new, questions_import


class Command(BaseCommand):
    help = (
        "Turn a GIFT or Moodle XML file into a questions file (to stdout, or --output); "
        "errors are printed as file:line: what to change, and then nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--output", type=Path, help="a new questions file (stdout if left out)")
        parser.add_argument("--format", choices=IMPORT_FORMATS, default="",
                            help="default: Moodle XML for .xml files, GIFT otherwise")  # fmt: skip
        parser.add_argument("--difficulty", choices=DIFFICULTIES, default="medium",
                            help="for questions without a difficulty:... tag")  # fmt: skip

    def handle(self, *args, file: Path, output: Path | None, format: str, difficulty: str,
               **options):  # fmt: skip
        notes = []
        try:
            markdown = questions_import(path=file, difficulty=difficulty, source_format=format,
                                        notes=notes)  # fmt: skip
        except ContentInvalid as invalid:
            for error in invalid.errors:
                self.stderr.write(str(error))
            raise CommandError(
                f"{len(invalid.errors)} error(s) in {file}: nothing written"
            ) from None
        for note in notes:
            self.stderr.write(str(note))
        if output is None:
            self.stdout.write(markdown, ending="")
            return
        try:
            file_write_new(path=output, data=markdown.encode())
        except FileExistsError as exists:
            raise CommandError(str(exists)) from None
        self.stderr.write(f"wrote {output}")
