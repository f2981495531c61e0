from django.dispatch import Signal

# Sent inside the transaction that grades a quiz or test, once its score is stored, with
# ``attempt``: apps above quiz act on finished attempts without quiz knowing them (lti sends
# the score to the course platform the attempt was launched from).
attempt_finished = Signal()
