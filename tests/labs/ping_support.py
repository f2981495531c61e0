"""Reading the ping lab's answers and event stream, for the tests that drive it over HTTP."""

import re


def run_id_of(response_text: str) -> str:
    return re.search(r"Run (\w+) is on the queue", response_text).group(1)


def events_until_done(stream, run_id: str) -> list:
    seen = []
    for event in stream:
        seen.append(event)
        if event.event == "runs" and f"run-{run_id}-title" in event.data and ">Done<" in event.data:
            return seen
    raise AssertionError("the stream ended before the run finished")
