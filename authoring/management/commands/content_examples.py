from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from authoring.content import content_validate
from authoring.examples import example_check, examples_find


class Command(BaseCommand):
    help = (
        "Run the course's runnable examples (```python run blocks), each against a Redis of "
        "its own, and print file:line: for each one that does not print what the course says."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "files", nargs="*", type=Path, help="only the examples of these lessons or questions"
        )
        parser.add_argument("--content", default=settings.CONTENT_DIR, type=Path)

    def handle(self, *args, files: list[Path], content: Path, **options):
        courses, errors = content_validate(root=content)
        chosen = {path.resolve() for path in files}
        examples = [
            example
            for example in examples_find(courses)
            if not chosen or example.path.resolve() in chosen
        ]
        failures = 0
        for example in examples:
            problem = example_check(example)
            if problem:
                failures += 1
                self.stderr.write(f"{example}: {problem}")
            else:
                self.stdout.write(f"{example}: ok")
        if errors:
            self.stderr.write(f"(content_check also reports {len(errors)} error(s))")
        if failures:
            raise CommandError(f"{failures} of {len(examples)} example(s) failed")
        self.stdout.write(self.style.SUCCESS(f"{len(examples)} example(s), all as the course says"))
