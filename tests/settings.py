"""The project's settings, with the runtime state under var/test/run-<pid>/ instead of var/.

So each test run starts its own Redis on its own socket, with its own SQLite files and logs:
it never touches a `make run` on the same checkout, nor another test run going on beside it.
Each pytest-xdist worker is a test run of its own in this sense: the folder its controller
(or a pytest that runs pytest) put in the environment is replaced by the worker's own.
"""

import os
import socket
from pathlib import Path

TEST_VAR_ROOT = Path(__file__).resolve().parent.parent / "var/test"
_inherited = os.environ.get("LEARNSITE_VAR_DIR")
if not _inherited or Path(_inherited).parent == TEST_VAR_ROOT:
    os.environ["LEARNSITE_VAR_DIR"] = str(TEST_VAR_ROOT / f"run-{os.getpid()}")
# The labs' mail server of this run (tests/stack.py mail_service) gets a free port of its own,
# whatever the shell says: never the one of a `make run`.
with socket.socket() as _sock:
    _sock.bind(("127.0.0.1", 0))
    os.environ["LEARNSITE_MAIL_PORT"] = str(_sock.getsockname()[1])

from learnsite.settings import *  # noqa: E402, F403

# Signups and logins through the test client hash with few iterations (tests/hashers.py).
PASSWORD_HASHERS = ["tests.hashers.FastPBKDF2PasswordHasher"]
