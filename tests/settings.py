"""The project's settings, with the runtime state under var/test/ instead of var/.

So a test run starts its own Redis on its own socket and its own SQLite files, and never
touches (or collides with) a `make run` on the same checkout.
"""

import os
from pathlib import Path

os.environ.setdefault("LEARNSITE_VAR_DIR", str(Path(__file__).resolve().parent.parent / "var/test"))

from learnsite.settings import *  # noqa: F403
