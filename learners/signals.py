from django.dispatch import Signal

# Sent inside ``learner_adopt``'s transaction, just before an anonymous learner is merged into
# the account's learner and deleted, with ``source`` (the anonymous one) and ``target``: each
# app that keeps rows of a learner moves them (quiz: attempts and reviews).
learner_merging = Signal()
