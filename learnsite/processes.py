"""Child processes that end with the process that started them."""

import ctypes
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess``: the child gets SIGKILL when this process ends.

    The kernel sends it when the thread that forked the child ends, so start children from the
    main thread or from a thread that outlives them. (A Celery prefork worker's pool processes
    ask for the same themselves.)
    """
    parent = os.getpid()

    def preexec() -> None:
        if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            os._exit(127)
        if os.getppid() != parent:  # the parent ended before the signal was asked for
            os._exit(127)

    return preexec


def end_with_parent() -> None:
    """The same for this process itself: SIGKILL when its parent ends."""
    if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() == 1:  # the parent is gone already
        os._exit(1)
