from django.dispatch import Signal

# Sent by the course page with ``learner`` (never None) and ``slugs`` (the course's lessons):
# each receiver answers {slug: the steps done}, among "quiz" (a quiz finished) and "test" (a
# test passed). quiz answers it; lessons knows only which steps a lesson offers.
lesson_steps_asked = Signal()
