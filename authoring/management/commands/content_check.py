from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from authoring.content import content_validate


class Command(BaseCommand):
    help = "Check the course files: every error is printed as file:line: what to change."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=settings.CONTENT_DIR, type=Path)

    def handle(self, *args, path: Path, **options):
        courses, errors = content_validate(root=path)
        for error in errors:
            self.stderr.write(str(error))
        if errors:
            raise CommandError(f"{len(errors)} error(s) in {path}")
        lessons = sum(len(course.lessons) for course in courses)
        questions = sum(len(lesson.questions) for c in courses for lesson in c.lessons)
        summary = f"{len(courses)} course(s), {lessons} lesson(s), {questions} question(s)"
        self.stdout.write(self.style.SUCCESS(f"{path}: {summary}, no errors"))
