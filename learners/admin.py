from django.contrib import admin

from .models import Learner


@admin.register(Learner)
class LearnerAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "created_at"]
    search_fields = ["key", "user__username", "user__email"]
    readonly_fields = ["key", "created_at"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]
