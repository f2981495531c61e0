"""The admin of the course content. The files under content/ are the source of truth and
``content_load`` writes these rows, so the admin shows them and changes nothing."""

from django.contrib import admin
from django.http import HttpRequest

from .models import ContentProblem, Course, Lesson


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by a loader or by grading: staff look, nobody adds, edits or deletes."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Course)
class CourseAdmin(ReadOnlyAdmin):
    list_display = ["title", "slug", "order"]
    search_fields = ["title", "slug"]


@admin.register(Lesson)
class LessonAdmin(ReadOnlyAdmin):
    list_display = ["title", "slug", "course", "order", "minutes", "impact", "retired"]
    list_filter = ["course", "retired", "impact", "track"]
    search_fields = ["title", "slug", "source_path"]
    list_select_related = ["course"]
    exclude = ["sections"]  # markdown or HTML in JSON: the lesson page shows it better


@admin.register(ContentProblem)
class ContentProblemAdmin(ReadOnlyAdmin):
    list_display = ["path", "line", "message"]
    search_fields = ["path", "message"]
