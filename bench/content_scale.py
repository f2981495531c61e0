"""Content at scale: the real course copied into many courses, checked, loaded and reloaded.

Copies content/redis-broker N times (77 copies of its 13 lessons: 1,001 lessons, 16,632
questions) into a temp folder, each copy with its own lesson slugs and question ids, then times,
in a fresh database: content_check, the first content_load, a content_load with nothing changed,
and a content_load after one lesson file was edited. Each figure is shown with its goal (issue
13, item 6). Then the pages that list lessons (home, a course, a search), a lesson page, whose
first view renders its body, and its quiz, whose first start renders its questions (the load
leaves both markdown): their size and time.

Run with ``make bench`` or ``.venv/bin/python bench/content_scale.py [--copies N]``. Uses
SQLite in a temp folder, or the database of DATABASE_URL if it is set (its tables are dropped
and made again: give it a scratch database).
"""

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "content" / "redis-broker"
QUESTION_ID = re.compile(r"^id:\s*(\S+)\s*$", re.MULTILINE)
SLUG = re.compile(r"^slug:\s*(\S+)\s*$", re.MULTILINE)


def content_copies(dest: Path, *, copies: int, source: Path = COURSE) -> Path:
    """``copies`` courses under ``dest``, each the course at ``source`` with its lesson slugs
    (and the links and prerequisites naming them) and its question ids made unique."""
    files = sorted(path for path in source.iterdir() if path.suffix in {".md", ".yaml"})
    texts = {path.name: path.read_text(encoding="utf-8") for path in files}
    slugs = {slug for text in texts.values() for slug in SLUG.findall(text)}
    # A slug as a whole word: not part of a longer slug or of a file name ('01-<slug>.md').
    slug_words = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, slugs)) + r")(?![\w-])")
    for number in range(1, copies + 1):
        suffix = f"-c{number:03d}"
        folder = dest / f"{source.name}{suffix}"
        folder.mkdir(parents=True)
        for name, text in texts.items():
            if name == "course.yaml":
                text = re.sub(r"^order:.*$", f"order: {number}", text, flags=re.MULTILINE)
                text = re.sub(r"^title: (.*)$", rf"title: \1 ({number})", text, flags=re.MULTILINE)
            elif name.endswith(".questions.md"):
                text = QUESTION_ID.sub(lambda m, s=suffix: f"id: {m.group(1)}{s}", text)
            else:
                text = slug_words.sub(lambda m, s=suffix: m.group(1) + s, text)
            (folder / name).write_text(text, encoding="utf-8")
    return dest


def _cpu() -> float:
    """CPU seconds of this process and of its ended children (content_load's render pool)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def timed(what, *args, **kwargs) -> tuple[tuple[float, float], object]:
    """Wall and CPU seconds of ``what``: on a shared machine the CPU time is the steadier."""
    started, cpu = time.perf_counter(), _cpu()
    result = what(*args, **kwargs)
    return (time.perf_counter() - started, _cpu() - cpu), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--copies", type=int, default=77, help="copies of the course (77: 1,001 lessons)"
    )
    arguments = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="content-scale-"))
    try:
        return _bench(scratch, arguments.copies)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _bench(scratch: Path, copies: int) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")
    os.environ["LEARNSITE_VAR_DIR"] = str(scratch / "var")
    sys.path.insert(0, str(ROOT))
    # Imported once the environment names the scratch folder: settings read it.
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from authoring.content import content_load, content_validate

    root = content_copies(scratch / "content", copies=copies)
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    call_command("migrate", verbosity=0)
    if engine != "sqlite3":  # a scratch database of DATABASE_URL, emptied
        call_command("flush", interactive=False, verbosity=0)

    check_seconds, (courses, errors) = timed(content_validate, root=root)
    if errors:
        print("\n".join(str(error) for error in errors[:10]), file=sys.stderr)
        return 1
    lessons = [lesson for course in courses for lesson in course.lessons]
    questions = sum(len(lesson.questions) for lesson in lessons)
    # The first load in a process of its own, as `make run` and `make serve` run it: the files
    # read and checked again (this process keeps what content_check read), then written.
    load = [sys.executable, "manage.py", "content_load", str(root)]
    first_seconds, _ = timed(subprocess.run, load, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    unchanged_seconds, unchanged = timed(content_load, root=root)
    assert unchanged.lessons_unchanged == len(lessons), unchanged
    # Twice, as an author edits.
    edits = []
    for lesson in (lessons[len(lessons) // 2], lessons[len(lessons) // 3]):
        lesson.path.write_text(lesson.path.read_text().replace("## Tips", "## Tips\n\nEdited.", 1))
        seconds, report = timed(content_load, root=root)
        assert report.changed == [lesson.meta["slug"]], report
        edits.append(seconds)

    print(f"content at scale: {len(courses)} courses, {len(lessons)} lessons, "
          f"{questions} questions, {engine}; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")  # fmt: skip
    print(f"{'step':<24}{'seconds':>10}{'cpu s':>10}{'goal':>10}{'ratio':>8}")
    rows = [
        ("content_check", check_seconds, 10.0),
        ("first content_load", first_seconds, 10.0),  # a new process
        ("unchanged reload", unchanged_seconds, 10.0),
        ("one edited lesson", edits[0], 0.3),
        ("another edited lesson", edits[1], 0.3),
    ]
    for name, (seconds, cpu), goal in rows:
        print(f"{name:<24}{seconds:>10.3f}{cpu:>10.3f}{goal:>10.1f}{seconds / goal:>8.2f}")
    # The pages as a web process serves them, which holds none of what this one read: the
    # collector's next full pass over that (0.3 s, put off by the loads, which pause it) would
    # otherwise fall on one of them.
    gc.collect()
    _pages(courses)
    return 0  # a goal not met is a figure in the table, as in the other benches, not a failure


def _pages(courses: list) -> None:
    """The pages that list lessons, at this scale, a lesson page and its quiz: bytes, and
    milliseconds for the first view of this content version (built; for the lesson, its body
    rendered and stored; for the quiz, started and shown, its questions rendered and stored) and
    the next (cached; another quiz started)."""
    from django.test import Client

    client = Client(SERVER_NAME="localhost")
    lesson = courses[-1].lessons[-1].meta
    title = lesson["title"]
    pages = [
        ("home page", "/"),
        ("a course page", f"/courses/{courses[-1].slug}/"),
        (f"search {title.split()[0]!r}", f"/search/?q={title.split()[0]}"),
        ("a lesson page", f"/lessons/{lesson['slug']}/"),
    ]
    print(f"{'page':<24}{'KB':>10}{'first ms':>10}{'next ms':>10}")
    views = [(name, client.get, (url,), {}) for name, url in pages]
    quiz = (f"/lessons/{lesson['slug']}/attempts/", {"mode": "quiz"})
    views.append(("its quiz, started", client.post, quiz, {"follow": True}))
    for name, view, args, kwargs in views:
        (first, _), response = timed(view, *args, **kwargs)
        (again, _), _ = timed(view, *args, **kwargs)
        assert response.status_code == 200, (args[0], response.status_code)
        size = len(response.content) / 1024
        print(f"{name:<24}{size:>10.1f}{first * 1000:>10.1f}{again * 1000:>10.1f}")


if __name__ == "__main__":
    sys.exit(main())
