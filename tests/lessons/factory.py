from pathlib import Path

COURSE_YAML = "title: Test course\nsummary: A course written for the tests.\norder: 1\n"


def make_lesson(folder: Path, *, slug: str, order: int, title: str = "", body: str = "",
                extra: str = "") -> Path:  # fmt: skip
    """A lesson file in ``folder`` (a course folder, created with its course.yaml if new)."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "course.yaml").exists():
        (folder / "course.yaml").write_text(COURSE_YAML)
    path = folder / f"{order:02d}-{slug}.md"
    title = title or f"Lesson {slug}"
    path.write_text(
        f"---\nslug: {slug}\ntitle: {title}\norder: {order}\n{extra}---\n\n"
        + (body or f"## About {slug}\n\nSome words about {slug}.\n")
    )
    return path
