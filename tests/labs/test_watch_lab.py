"""Watching a live system: the alert and the dashboard as pure functions of a run's events, the
start form's checks, and (in tests/labs/test_course_predictions.py) a real run."""

import re

import pytest
from django.template.loader import render_to_string
from django.test import Client

from labs.kinds.watch.fold import (
    ALERT_FOR_MS,
    Sample,
    WatchFold,
    alert_changes,
    saw_the_alert_fire_and_clear,
)

pytestmark = pytest.mark.django_db


def samples(*lengths: int, every_ms: int = 500) -> list[Sample]:
    return [
        Sample(t=(n + 1) * every_ms, length=length, counts={}, heartbeats=0)
        for n, length in enumerate(lengths)
    ]


def test_the_alert_fires_only_after_the_length_held_for_its_time_and_clears_below():
    changes = alert_changes(samples(3, 12, 14, 11, 10, 9, 4, 0), threshold=10)
    # At or above 10 from 1000 ms: fires at 2000 ms (held 1 s), clears at the first reading below.
    assert [(c.t, c.fired) for c in changes] == [(1000 + ALERT_FOR_MS, True), (3000, False)]


def test_a_blip_over_the_threshold_never_fires():
    assert alert_changes(samples(12, 12, 4, 30, 30, 2), threshold=10) == []
    assert alert_changes(samples(9, 9, 9, 9), threshold=10) == []


def test_a_length_that_dips_starts_its_time_again():
    changes = alert_changes(samples(12, 12, 9, 12, 12, 12), threshold=10)
    assert [(c.t, c.fired) for c in changes] == [(3000, True)]


def events(*lengths: int, threshold: int = 10, end: str = "succeeded") -> list[tuple[str, dict]]:
    run = {"run": "r1", "lab": "watch"}
    made = [
        {"kind": "queued", "options": {"burst": 50, "threshold": threshold}},
        {"kind": "started", "worker": "labs-long@host"},
        {"kind": "ready", "sandbox_worker": "watch@host", "worker_start_ms": 1200},
        {"kind": "snapshot", "t": 90, "replied": True, "active": 2, "reserved": 2, "length": 46},
    ]
    for n, length in enumerate(lengths):
        counts = {"task-sent": 50, "task-received": 50 - length, "task-succeeded": 48 - length}
        made.append({"kind": "sample", "t": (n + 1) * 500, "length": length, "counts": counts,
                     "heartbeats": n // 4})  # fmt: skip
    result = {"states": {"SUCCESS": 50}, "heartbeats": 3, "online_seen": 0, "offline_seen": 1}
    made.append({"kind": end, "result": result, "error": "The worker did not start."})
    return [(f"{n + 1}-0", {**run, "at": 1000.0 + n, **event}) for n, event in enumerate(made)]


def predicted(choice: str) -> tuple[str, dict]:
    return ("0-1", {"kind": "predicted", "choice": choice, "at": 999.0})


def test_a_run_whose_alert_fired_and_cleared_answers_the_prediction_and_meets_the_goal():
    runs = WatchFold.fold([predicted("fired-cleared"), *events(41, 30, 20, 12, 2, 0)], now=1100)
    [run] = runs
    assert run.fired and run.cleared and run.status_label == "Done, alert clear"
    assert runs.prediction.observed == "fired-cleared" and runs.prediction.right
    assert saw_the_alert_fire_and_clear(runs)


def test_a_run_that_stayed_under_the_threshold_shows_never():
    runs = WatchFold.fold([predicted("fired-cleared"), *events(3, 1, 0, threshold=5)], now=1100)
    assert runs.prediction.observed == "never"
    assert not saw_the_alert_fire_and_clear(runs)


def test_a_run_in_flight_or_failed_answers_nothing():
    in_flight = events(41, 30, 20)[:-1]
    runs = WatchFold.fold([predicted("never"), *in_flight], now=1010)
    assert runs[0].alerting and runs[0].status_label == "Watching, alert firing"
    assert runs.prediction.observed is None
    failed = WatchFold.fold([predicted("never"), *events(3, end="failed")], now=1100)
    assert failed.prediction.observed is None and failed[0].error


def test_the_dashboard_says_the_alert_in_words_and_draws_each_reading():
    runs = WatchFold.fold(events(41, 30, 20, 12, 2, 0), now=1100)
    html = render_to_string("labs/watch.html#runs", {"runs": runs})
    assert 'data-alert="clear"' in html and "Alert: <strong>clear</strong>" in html
    assert [m for m in re.findall(r'data-change="(\w+)"', html)] == ["fired", "cleared"]
    assert len(re.findall(r'<rect class="bar-', html)) == 6
    assert "Queue length every 0.5 s: 41, 30, 20, 12, 2, 0." in html
    assert 'data-active="2" data-reserved="2"' in html
    assert "<code>worker-online</code>: not seen" in html


def test_a_dashboard_with_bad_fields_still_renders():
    bad = [("1-0", {"kind": "queued", "run": "r1", "at": 1.0, "options": {"burst": "x"}}),
           ("2-0", {"kind": "sample", "run": "r1", "at": 2.0, "t": -3, "length": "many",
                    "counts": "none"})]  # fmt: skip
    runs = WatchFold.fold(bad, now=3.0)
    assert runs[0].samples[0].length == 0
    assert "Watch run r1" in render_to_string("labs/watch.html#runs", {"runs": runs})


@pytest.mark.parametrize("form", [{"burst": "500", "threshold": "10"},
                                  {"burst": "50", "threshold": "1; FLUSHALL"}, {}])  # fmt: skip
def test_a_burst_or_threshold_not_in_the_lists_is_refused(client: Client, redis_url, form):
    response = client.post("/labs/watch/start/", form, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "Nothing was started" in response.content.decode()


def test_starting_needs_the_csrf_token(redis_url):
    client = Client(enforce_csrf_checks=True)
    assert client.get("/labs/watch/").status_code == 200
    response = client.post("/labs/watch/start/", {"burst": "5", "threshold": "5"})
    assert response.status_code == 403
