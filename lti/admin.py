from django.contrib import admin
from lti_tool.models import Key

from .models import LtiAttempt


@admin.register(Key)
class KeyAdmin(admin.ModelAdmin):
    """The tool's signing keys, read-only: ``manage.py lti_keys_rotate`` makes and retires
    them."""

    list_display = ["__str__", "is_active", "datetime_created"]
    fields = ["public_key", "is_active", "datetime_created"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a tool without a key could not sign; rotation retires old keys


@admin.register(LtiAttempt)
class LtiAttemptAdmin(admin.ModelAdmin):
    """Quizzes and tests started from a platform, and whether their score reached it."""

    list_display = ["attempt", "lti_user", "resource_link", "score_sent_at", "score_error"]
    list_filter = ["score_sent_at"]
    readonly_fields = [field.name for field in LtiAttempt._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
