from django.db import models


class Course(models.Model):
    """A folder under content/; its files are the source of truth, loaded by content_load."""

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "slug"]

    def __str__(self) -> str:
        return self.title


class Lesson(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="lessons")
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    order = models.PositiveIntegerField()
    minutes = models.PositiveIntegerField()
    impact = models.CharField(max_length=10, blank=True)
    # Rendered and sanitized once by content_load; views only read it.
    body_html = models.TextField()
    source_path = models.CharField(max_length=300)

    class Meta:
        ordering = ["course__order", "order", "slug"]

    def __str__(self) -> str:
        return self.title
