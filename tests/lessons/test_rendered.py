"""Pages paid for once per content version (lessons/rendered.py), without a database."""

import secrets
import threading

from lessons import rendered
from lessons.rendered import rendered_cached


def _another_thread_may_build() -> bool:
    """Whether a request in another thread could start a build now."""
    answer = []

    def probe() -> None:
        took = rendered._build_lock.acquire(blocking=False)
        if took:
            rendered._build_lock.release()
        answer.append(took)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return answer[0]


def test_a_page_is_built_once_and_one_at_a_time():
    """Requests that miss a page at once (a new version under load) wait for one build."""
    version, builds = secrets.token_hex(8), []

    def build() -> str:
        builds.append(_another_thread_may_build())
        return "the page"

    for _ in range(2):
        assert rendered_cached(version=version, key="page", build=build) == "the page"
    assert builds == [False]
