import gc
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from authoring.content import ContentInvalid, content_load, content_problems_record
from lessons.live_reload import content_changed_announce

# A load that wrote this many lessons ends with a full pass of Python's garbage collector: this
# process keeps what it read (``sources.lesson_read_cached``), hundreds of thousands of objects
# after a first load of 1,000 lessons, and the collector's next full pass over them (0.3 s)
# would otherwise fall on the author's first edit, a load that should take a tenth of that.
# (``content_load``, whose process ends after its one load, has no use for it.)
COLLECT_MIN_LESSONS = 100


def content_files_state(root: Path) -> dict[Path, tuple[int, int]]:
    """Each content file with its modification time and size: any edit changes this."""
    state = {}
    for path in root.rglob("*"):
        if path.suffix in {".md", ".yaml"} and path.is_file():
            stat = path.stat()
            state[path] = (stat.st_mtime_ns, stat.st_size)
    return state


class Command(BaseCommand):
    help = "Reload the course files whenever one changes (run by `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=settings.CONTENT_DIR, type=Path)
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between looks")

    def handle(self, *args, path: Path, interval: float, **options):
        state = content_files_state(path)
        self.reload(path)
        self.stdout.write(f"watching {path} for changes", ending="\n")
        self.stdout.flush()
        while True:
            time.sleep(interval)
            current = content_files_state(path)
            if current != state:
                state = current
                self.reload(path)

    def reload(self, path: Path) -> None:
        # content_load reads, checks and renders again only the files changed since the last
        # time: in this long-running process that is the file just saved.
        started = time.perf_counter()
        try:
            report = content_load(root=path)
        except ContentInvalid as invalid:
            content_problems_record(errors=invalid.errors, root=path)
            self.stderr.write(f"content not loaded, nothing changed:\n{invalid}")
        else:
            content_problems_record(errors=[], root=path)
            took = round((time.perf_counter() - started) * 1000)
            self.stdout.write(f"content loaded in {took} ms: {report}")
            if len(report.changed) >= COLLECT_MIN_LESSONS:
                gc.collect()
        self.stdout.flush()
        content_changed_announce()
