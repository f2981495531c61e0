"""The admin of the quiz. Questions and their versions come from the content files, answers
and attempts from grading, statistics from quiz/stats.py: all of those are read-only here."""

from django.contrib import admin

from lessons.admin import ReadOnlyAdmin

from .models import (
    Answer,
    Attempt,
    AttemptQuestion,
    LessonStats,
    LessonTestStats,
    Question,
    QuestionStats,
    QuestionTestStats,
    QuestionVersion,
    QuestionVersionStats,
    ReviewItem,
)


@admin.register(Question)
class QuestionAdmin(ReadOnlyAdmin):
    list_display = ["key", "lesson", "position", "current_version", "retired"]
    list_filter = ["lesson", "retired"]
    search_fields = ["key"]
    list_select_related = ["lesson", "current_version__question"]


@admin.register(QuestionVersion)
class QuestionVersionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "question", "number", "difficulty", "kind", "created_at"]
    list_filter = ["difficulty", "kind", "question__lesson"]
    search_fields = ["question__key"]
    list_select_related = ["question"]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "learner", "lesson", "mode", "created_at", "finished_at",
                    "score", "max_score", "percent"]  # fmt: skip
    list_filter = ["mode", ("finished_at", admin.EmptyFieldListFilter), "lesson"]
    search_fields = ["learner__key", "learner__user__username"]
    date_hierarchy = "created_at"
    list_select_related = ["learner__user", "lesson"]


@admin.register(AttemptQuestion)
class AttemptQuestionAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "attempt", "position", "version", "hints_shown"]
    list_filter = ["attempt__mode", "version__question__lesson"]
    search_fields = ["version__question__key"]
    list_select_related = ["attempt", "version__question"]


@admin.register(Answer)
class AnswerAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "question_key", "chosen", "correct", "credit", "created_at"]
    list_filter = ["correct", "item__attempt__mode", "item__version__question__lesson"]
    search_fields = ["item__version__question__key", "item__attempt__learner__key"]
    date_hierarchy = "created_at"
    list_select_related = ["item__attempt", "item__version__question"]

    @admin.display(description="question", ordering="item__version__question__key")
    def question_key(self, answer: Answer) -> str:
        return str(answer.item.version)


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = ["learner", "question", "due_at", "interval_days"]
    list_filter = ["question__lesson"]
    search_fields = ["learner__key", "question__key"]
    raw_id_fields = ["learner", "question"]
    list_select_related = ["learner__user", "question"]


@admin.register(QuestionVersionStats)
class QuestionVersionStatsAdmin(ReadOnlyAdmin):
    list_display = ["version", "answers", "percent_correct", "discrimination", "flag_count",
                    "computed_at"]  # fmt: skip
    list_filter = ["version__question__lesson"]
    search_fields = ["version__question__key"]
    list_select_related = ["version__question"]

    @admin.display(description="flags")
    def flag_count(self, stats: QuestionVersionStats) -> int:
        return len(stats.flags)


@admin.register(QuestionStats)
class QuestionStatsAdmin(ReadOnlyAdmin):
    list_display = ["question", "answers", "percent_correct", "discrimination", "computed_at"]
    list_filter = ["question__lesson"]
    search_fields = ["question__key"]
    list_select_related = ["question"]


@admin.register(LessonStats)
class LessonStatsAdmin(ReadOnlyAdmin):
    list_display = ["lesson", "learners_started", "learners_finished", "completion_percent",
                    "tests_finished", "average_test_percent", "computed_at"]  # fmt: skip
    list_select_related = ["lesson"]


@admin.register(LessonTestStats)
class LessonTestStatsAdmin(ReadOnlyAdmin):
    list_display = ["lesson", "attempts", "tests", "mean", "sd", "alpha", "standard_error",
                    "computed_at"]  # fmt: skip
    list_filter = ["attempts"]
    list_select_related = ["lesson"]


@admin.register(QuestionTestStats)
class QuestionTestStatsAdmin(ReadOnlyAdmin):
    list_display = ["version", "test_stats", "tests", "facility", "discrimination_index",
                    "discriminative_efficiency"]  # fmt: skip
    list_filter = ["test_stats__attempts", "version__question__lesson"]
    search_fields = ["version__question__key"]
    list_select_related = ["version__question", "test_stats__lesson"]
