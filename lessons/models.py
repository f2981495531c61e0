from django.db import models


class CourseQuerySet(models.QuerySet):
    def with_lessons(self):
        return self.prefetch_related(models.Prefetch("lessons", queryset=Lesson.objects.active()))


class Course(models.Model):
    """A folder under content/. The files are the source of truth; content_load writes these."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self) -> str:
        return self.title


class LessonQuerySet(models.QuerySet):
    def active(self):
        return self.filter(retired=False)


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="lessons")
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    track = models.CharField(max_length=100, blank=True)
    summary = models.TextField(blank=True)
    order = models.PositiveIntegerField()
    minutes = models.PositiveIntegerField()
    impact = models.CharField(max_length=10, blank=True)
    prerequisites = models.JSONField(default=list)
    # content_load writes the body as markdown (intro_markdown, and "markdown" parts in
    # sections); lessons.body renders it to sanitized HTML the first time a page needs it and
    # stores that in place (body_rendered), once per content version for every process.
    intro_markdown = models.TextField(blank=True)
    intro_html = models.TextField(blank=True)
    # [{kind, title, anchor, parts: [...]}, ...]; a part is markdown ({type: "markdown", text,
    # effect?}) until rendered ({type: "html", html, effect?}), or a placed lab with what its
    # card shows ({type: "lab", kind, goal, title, summary, url_name, goal_description}).
    sections = models.JSONField(default=list)
    body_rendered = models.BooleanField(default=False)
    source_path = models.CharField(max_length=300)
    questions_path = models.CharField(max_length=300, blank=True)
    content_hash = models.CharField(max_length=64)
    # A lesson whose file was removed is retired, not deleted: answers to its questions remain.
    retired = models.BooleanField(default=False)

    objects = LessonQuerySet.as_manager()

    class Meta:
        ordering = ["course__order", "order", "slug"]

    def __str__(self) -> str:
        return self.title

    def layout(self) -> list[dict]:
        """The sections in page order, with a bad pattern and the good pattern after it paired,
        so the page can show them side by side."""
        blocks: list[dict] = []
        labs = 0
        for section in self.sections:
            for part in section["parts"]:
                if part["type"] == "lab":
                    labs += 1
                    part["number"] = labs  # ids stay unique with several labs on a page
            previous = blocks[-1] if blocks else None
            if section["kind"] == "good" and previous and previous["kind"] == "bad":
                blocks[-1] = {"kind": "patterns", "bad": previous, "good": section}
            else:
                blocks.append(section)
        return blocks

    def has_lab(self) -> bool:
        return any(part["type"] == "lab" for s in self.sections for part in s["parts"])


class ContentProblem(models.Model):
    """An error found the last time content was loaded; cleared by the next clean load."""

    path = models.CharField(max_length=300)
    line = models.PositiveIntegerField()
    message = models.TextField()

    class Meta:
        ordering = ["path", "line"]

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ContentVersion(models.Model):
    """One row: a new random token each time content_load writes, in the same transaction.

    Rendered pages are cached under it (``lessons.rendered``), so a load that commits makes
    every process render again, and one that rolls back leaves the old token and the old pages.
    Random rather than a counter, so a token is never reused for other content."""

    token = models.CharField(max_length=32)
    loaded_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"content version {self.token}"
