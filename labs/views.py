# UNTRACKED SHIM for local testing only
from .pages import *  # noqa
from .pages import lab_page, lab_started, _goals_shown  # noqa
