"""The project's settings, with the runtime state under var/test/run-<pid>/ instead of var/.

So each test run starts its own Redis on its own socket, with its own SQLite files and logs:
it never touches a `make run` on the same checkout, nor another test run going on beside it.
"""

import os
from pathlib import Path

TEST_VAR_ROOT = Path(__file__).resolve().parent.parent / "var/test"
os.environ.setdefault("LEARNSITE_VAR_DIR", str(TEST_VAR_ROOT / f"run-{os.getpid()}"))

from learnsite.settings import *  # noqa: E402, F403
