from django.db import models


class QuestionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(retired=False, current_version__isnull=False)


class Question(models.Model):
    """A question as its stable id in the content files; what it says lives in its versions."""

    lesson = models.ForeignKey("lessons.Lesson", on_delete=models.PROTECT, related_name="questions")
    key = models.SlugField(max_length=100, unique=True)
    position = models.PositiveIntegerField()
    # "quiz", "practice", "predict"; every question without a lab is in the test bank
    sets = models.JSONField(default=list)
    current_version = models.ForeignKey(
        "QuestionVersion", on_delete=models.PROTECT, null=True, related_name="+"
    )
    # Removed from the files: kept, with its versions, so answers already given keep their meaning.
    retired = models.BooleanField(default=False)

    objects = QuestionQuerySet.as_manager()

    class Meta:
        ordering = ["lesson", "position"]

    def __str__(self) -> str:
        return self.key


class QuestionVersion(models.Model):
    """What a question said at one time. Never changed once written: answers point here."""

    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    difficulty = models.CharField(max_length=10)
    kind = models.CharField(max_length=10)  # "single" or "multiple"
    partial_credit = models.BooleanField(default=False)
    title_html = models.TextField()
    prompt_html = models.TextField(blank=True)
    # [{"key": "a", "html": ..., "correct": bool, "feedback_html": ...}, ...] in file order.
    options = models.JSONField()
    solution_html = models.TextField()
    quick_check_html = models.TextField()
    hints = models.JSONField(default=list)  # rendered hints, shown one at a time
    mistakes_html = models.TextField()
    # A prediction a lab asks before a run: the lab's kind, and the outcome code (one of the
    # lab's outcomes) each option stands for, in option order. Empty for other questions.
    lab = models.CharField(max_length=30, blank=True, default="")
    observes = models.JSONField(default=list, blank=True)
    # content_load writes a new version's texts as markdown ({"title", "prompt", "options":
    # [{"text", "feedback"}], "solution", "quick_check", "hints", "mistakes"}; options then hold
    # their key and right mark only), and quiz.rendering renders them into the fields above the
    # first time something shows the version, and stores that in place (rendered), once for
    # every process. The markdown is then dropped: the version never changes again.
    markdown = models.JSONField(default=dict, blank=True)
    rendered = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["question_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["question", "number"], name="unique_version_number"),
            models.UniqueConstraint(
                fields=["question", "content_hash"], name="unique_version_hash"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question.key} v{self.number}"


class Attempt(models.Model):
    class Mode(models.TextChoices):
        PRACTICE = "practice", "Practice"
        QUIZ = "quiz", "Quiz"
        TEST = "test", "Test"
        REVIEW = "review", "Review"
        PREDICT = "predict", "Predict"  # one answer, given on a lab's page before a run

    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="attempts"
    )
    # Null for a review, which spans the whole course.
    lesson = models.ForeignKey(
        "lessons.Lesson", on_delete=models.PROTECT, null=True, related_name="attempts"
    )
    mode = models.CharField(max_length=10, choices=Mode.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)  # sum of credit, set when finished
    max_score = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} #{self.pk}"

    @property
    def percent(self) -> int | None:
        if self.score is None or not self.max_score:
            return None
        return round(100 * self.score / self.max_score)


class AttemptQuestion(models.Model):
    """One question of an attempt, at the version it was asked in and in this attempt's order."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    version = models.ForeignKey(QuestionVersion, on_delete=models.PROTECT, related_name="+")
    option_order = models.JSONField()  # option keys in the order this learner sees them
    hints_shown = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempt", "position"]
        constraints = [
            models.UniqueConstraint(fields=["attempt", "position"], name="unique_attempt_position")
        ]

    def __str__(self) -> str:
        return f"{self.attempt} Q{self.position}"


class Answer(models.Model):
    """The learner's answer to one question of an attempt: one per question, never replaced."""

    item = models.OneToOneField(AttemptQuestion, on_delete=models.CASCADE, related_name="answer")
    chosen = models.JSONField()  # sorted option keys
    correct = models.BooleanField()
    credit = models.FloatField()  # 0..1
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.item}: {','.join(self.chosen)}"


class ReviewItem(models.Model):
    """When a question comes back in this learner's review, and what FSRS knows of the learner's
    memory of it (``quiz.services.review_schedule``): at once after a miss, later after a hit."""

    learner = models.ForeignKey(
        "learners.Learner", on_delete=models.CASCADE, related_name="reviews"
    )
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    due_at = models.DateTimeField()
    # Days from the last answer to due_at, as last scheduled (0 after a miss); for display.
    interval_days = models.FloatField(default=0)
    # The FSRS card (fsrs.Card.to_dict()): state, stability, difficulty, last review. Empty
    # until the first answer is scheduled.
    card = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "question"], name="unique_review_item")
        ]

    def __str__(self) -> str:
        return f"{self.learner} {self.question} due {self.due_at:%Y-%m-%d %H:%M}"


class QuestionVersionStats(models.Model):
    """How one question version did, recomputed from its answers by ``quiz.stats``.

    Definitions (percent correct, option counts, discrimination, flags) are in quiz/stats.py.
    """

    version = models.OneToOneField(QuestionVersion, on_delete=models.CASCADE, related_name="stats")
    answers = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    percent_correct = models.FloatField(null=True, blank=True)  # None without answers
    option_counts = models.JSONField(default=dict)  # {"a": 12, "b": 0, ...} in option order
    discrimination = models.FloatField(null=True, blank=True)  # -1..1, None when not computable
    flags = models.JSONField(default=list)  # [{"code": ..., "option": ..., "text": ...}, ...]
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "question version stats"

    def __str__(self) -> str:
        return f"stats of {self.version}"


class QuestionStats(models.Model):
    """How a question did over all its versions (answers pooled)."""

    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="stats")
    answers = models.PositiveIntegerField(default=0)
    correct = models.PositiveIntegerField(default=0)
    percent_correct = models.FloatField(null=True, blank=True)
    discrimination = models.FloatField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "question stats"

    def __str__(self) -> str:
        return f"stats of {self.question}"


class LessonStats(models.Model):
    """Completion and test scores of one lesson."""

    lesson = models.OneToOneField(
        "lessons.Lesson", on_delete=models.CASCADE, related_name="quiz_stats"
    )
    learners_started = models.PositiveIntegerField(default=0)
    learners_finished = models.PositiveIntegerField(default=0)
    completion_percent = models.FloatField(null=True, blank=True)  # None when nobody started
    tests_finished = models.PositiveIntegerField(default=0)
    average_test_percent = models.FloatField(null=True, blank=True)  # None without a test
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "lesson stats"

    def __str__(self) -> str:
        return f"stats of {self.lesson}"


class LessonTestStats(models.Model):
    """The statistics of a lesson's finished tests, as Moodle's quiz statistics report gives
    them (definitions in quiz/stats.py): one row for each learner's first test, one for all."""

    class Attempts(models.TextChoices):
        FIRST = "first", "Each learner's first test"
        ALL = "all", "Every finished test"

    lesson = models.ForeignKey(
        "lessons.Lesson", on_delete=models.CASCADE, related_name="test_stats"
    )
    attempts = models.CharField(max_length=5, choices=Attempts.choices)
    tests = models.PositiveIntegerField(default=0)
    questions = models.PositiveIntegerField(null=True, blank=True)  # None: tests differ in length
    # Scores as a percent of the test's maximum; None where too few tests (or SD 0) define them.
    mean = models.FloatField(null=True, blank=True)
    median = models.FloatField(null=True, blank=True)
    sd = models.FloatField(null=True, blank=True)
    skewness = models.FloatField(null=True, blank=True)
    kurtosis = models.FloatField(null=True, blank=True)
    alpha = models.FloatField(null=True, blank=True)  # Cronbach's alpha (KR-20), at most 1
    alpha_note = models.CharField(max_length=200, blank=True, default="")  # why alpha is None
    error_ratio = models.FloatField(null=True, blank=True)  # percent
    standard_error = models.FloatField(null=True, blank=True)  # percent of the maximum
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "lesson test stats"
        constraints = [
            models.UniqueConstraint(fields=["lesson", "attempts"], name="unique_lesson_test_stats")
        ]

    def __str__(self) -> str:
        return f"test stats of {self.lesson} ({self.attempts})"


class QuestionTestStats(models.Model):
    """How one question version did in the tests that ``test_stats`` counts."""

    test_stats = models.ForeignKey(
        LessonTestStats, on_delete=models.CASCADE, related_name="question_rows"
    )
    version = models.ForeignKey(QuestionVersion, on_delete=models.CASCADE, related_name="+")
    tests = models.PositiveIntegerField(default=0)  # tests that asked it
    facility = models.FloatField(null=True, blank=True)  # percent
    sd = models.FloatField(null=True, blank=True)  # percent of the question's mark
    random_guess = models.FloatField(null=True, blank=True)  # percent; None for multiple answer
    discrimination_index = models.FloatField(null=True, blank=True)  # -100..100
    discriminative_efficiency = models.FloatField(null=True, blank=True)  # percent

    class Meta:
        verbose_name_plural = "question test stats"
        constraints = [
            models.UniqueConstraint(
                fields=["test_stats", "version"], name="unique_question_test_stats"
            )
        ]

    def __str__(self) -> str:
        return f"test stats of {self.version}"
