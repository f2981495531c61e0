"""The "Offload the slow email" lab through real processes: uvicorn, Redis, a Celery worker and
the labs' SMTP server, which holds each reply for the latency the email asks for."""

import re
import smtplib
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from labs.events import events_read
from labs.kinds.email.fold import EmailFold, compared_both
from labs.kinds.email.mail_server import mail_latency_ms
from labs.services import RUNS_IN_FLIGHT
from tests.http import LiveClient
from tests.stack import mail_port, web_service

PAGE = "/labs/email/"
EVENTS = "/streams/labs/email/events/"
SEND_NOW = "/labs/email/send-now/"
SEND_LATER = "/labs/email/send-in-background/"
PING = "/labs/email/ping/"


@pytest.fixture
def email_learner(live_url, mail_server) -> LiveClient:
    client = LiveClient(live_url)
    assert client.get(PAGE).status == 200
    return client


def server_ms(response) -> float:
    return float(re.fullmatch(r"app;dur=([\d.]+)", response.headers["Server-Timing"]).group(1))


def started_run(response) -> str:
    return re.search(r'data-run-id="(\w+)"', response.text).group(1)


def run_html(html: str, run_id: str) -> str:
    """The run's own article in a rendering of the runs, or "" when it is not there."""
    found = re.search(rf'<article [^>]*data-run-row="{run_id}".*?</article>', html, re.DOTALL)
    return found.group(0) if found else ""


def run_numbers(html: str) -> dict:
    status = re.search(r'data-status="(\w+)"', html).group(1)
    request = re.search(r'class="request-time">(\d+) ms<', html)
    delivered = re.search(r'class="delivered">(\d+) ms after', html)
    return {
        "status": status,
        "request_ms": int(request.group(1)) if request else None,
        "delivered_ms": int(delivered.group(1)) if delivered else None,
    }


def read_until(stream, predicate, limit: int = 200):
    for _ in range(limit):
        event = next(stream)
        if predicate(event):
            return event
    raise AssertionError("the expected event never came")


def run_finished(stream, run_id: str) -> dict:
    """The run's numbers once it is delivered (or failed) and its request has answered."""

    def finished(event) -> bool:
        html = run_html(event.data, run_id) if event.event == "runs" else ""
        if not html:
            return False
        numbers = run_numbers(html)
        return numbers["status"] in {"delivered", "failed"} and numbers["request_ms"] is not None

    event = read_until(stream, finished)
    return run_numbers(run_html(event.data, run_id)) | {"html": run_html(event.data, run_id)}


def test_send_now_waits_for_the_mail_server_and_the_email_arrives(email_learner):
    stream = email_learner.events(EVENTS)
    assert next(stream).event == "broker"

    began = time.monotonic()
    response = email_learner.htmx_post(SEND_NOW, {"latency_ms": "300"})
    elapsed = time.monotonic() - began

    assert response.status == 200
    # The mail server held its reply 300 ms, and the request waited on its socket all along.
    assert elapsed >= 0.3
    assert server_ms(response) >= 300
    run_id = started_run(response)
    assert "took the email after" in response.text
    run = run_finished(stream, run_id)
    stream.close()
    assert run["status"] == "delivered"
    assert 'data-mode="sync"' in run["html"]
    # Delivered while the request was still waiting for the server's reply.
    assert 300 <= run["delivered_ms"] <= run["request_ms"]
    assert "Delivered: the mail server has it" in run["html"]


def test_send_in_the_background_answers_before_the_mail_server_does(email_learner):
    stream = email_learner.events(EVENTS)
    next(stream)

    response = email_learner.htmx_post(SEND_LATER, {"latency_ms": "500"})

    assert response.status == 200
    # The answer does not wait for the mail server's 500 ms: a worker does. (Timed by the server,
    # so a slow client on a busy machine does not count.)
    assert server_ms(response) < 500
    run_id = started_run(response)
    run = run_finished(stream, run_id)
    stream.close()
    assert run["status"] == "delivered"
    assert 'data-mode="background"' in run["html"]
    assert run["request_ms"] < 500 <= run["delivered_ms"]
    assert re.search(r"A worker picked it up and is sending it", run["html"])


def test_a_delivered_background_send_no_longer_counts_as_in_flight(email_learner):
    stream = email_learner.events(EVENTS)
    next(stream)
    # One after another, more than the runs a learner may have in flight at once.
    for _ in range(RUNS_IN_FLIGHT + 1):
        response = email_learner.htmx_post(SEND_LATER, {"latency_ms": "100"})
        assert response.status == 200, response.text
        assert run_finished(stream, started_run(response))["status"] == "delivered"
    stream.close()


@pytest.mark.parametrize("path", [SEND_NOW, SEND_LATER])
@pytest.mark.parametrize("latency", ["99", "501", "-300", "300.5", "abc", ""])
def test_a_latency_outside_100_to_500_ms_is_refused(email_learner, path, latency):
    response = email_learner.htmx_post(path, {"latency_ms": latency})
    assert response.status == 400
    assert "whole number of milliseconds from 100 to 500" in response.text
    assert "data-run-id" not in response.text


def test_without_javascript_a_refused_latency_shows_the_page_with_the_message(email_learner):
    headers = {"X-CSRFToken": email_learner.csrf_token()}
    response = email_learner.request("POST", SEND_NOW, {"latency_ms": "5000"}, headers=headers)
    assert response.status == 400
    assert '<h1 id="lab-title">Offload the slow email</h1>' in response.text
    assert "whole number of milliseconds from 100 to 500" in response.text


def test_with_the_mail_server_down_the_lab_says_so_at_once(email_learner, mail_server):
    stream = email_learner.events(EVENTS)
    next(stream)
    mail_server.stop()
    try:
        response = email_learner.htmx_post(SEND_NOW, {"latency_ms": "300"})
        assert response.status == 503
        assert "The email was not sent" in response.text
        assert "manage.py mail_server" in response.text
        # The server's own time (a busy machine stretches the client's clock): refused at once,
        # within the 1.5 s SMTP timeout, never a hang.
        assert server_ms(response) < 2000
        sync_run = started_run(response)

        response = email_learner.htmx_post(SEND_LATER, {"latency_ms": "300"})
        assert response.status == 200
        background_run = started_run(response)
        failed = run_finished(stream, background_run)
        assert failed["status"] == "failed"
        assert "refused the connection" in failed["html"]
        # The failed send now is a run too, with the same reason.
        page = email_learner.get(PAGE).text
        assert run_numbers(run_html(page, sync_run))["status"] == "failed"
    finally:
        mail_server.start()
        stream.close()


def test_a_stuck_mail_server_is_reported_within_two_seconds(redis_url, start_services):
    # A port that takes connections (the kernel's backlog) but never says a word.
    with socket.socket() as stuck:
        stuck.bind(("127.0.0.1", 0))
        stuck.listen()
        port = str(stuck.getsockname()[1])
        web, base_url = web_service(redis_url, LEARNSITE_MAIL_PORT=port)
        start_services(web)
        learner = LiveClient(base_url)
        learner.get(PAGE)
        response = learner.htmx_post(SEND_NOW, {"latency_ms": "100"})
    assert response.status == 503
    assert "did not answer in time" in response.text
    assert server_ms(response) < 2000  # the 1.5 s SMTP timeout, by the server's own clock


def test_a_ping_is_answered_while_send_now_waits(email_learner):
    stream = email_learner.events(EVENTS)
    next(stream)
    with ThreadPoolExecutor(max_workers=1) as pool:
        sending = pool.submit(email_learner.htmx_post, SEND_NOW, {"latency_ms": "500"})
        # The web request is sending: it recorded the run and waits on the mail server.
        read_until(stream, lambda e: e.event == "runs" and 'data-status="sending"' in e.data)
        pong = email_learner.get(PING, headers={"HX-Request": "true"})
        assert pong.status == 200
        assert re.search(r"the web process has \d+ threads", pong.text)
        # The ping got its answer while the send still waited for the mail server's reply.
        assert not sending.done()
        assert sending.result().status == 200
    stream.close()


def test_two_learners_never_see_each_others_runs(live_url, mail_server):
    alice, bob = LiveClient(live_url), LiveClient(live_url)
    alice.get(PAGE)
    bob.get(PAGE)
    bob_stream = bob.events(EVENTS)
    next(bob_stream)
    alice_stream = alice.events(EVENTS)
    next(alice_stream)

    alice_runs = [
        started_run(alice.htmx_post(SEND_NOW, {"latency_ms": "100"})),
        started_run(alice.htmx_post(SEND_LATER, {"latency_ms": "100"})),
    ]
    for run_id in alice_runs:
        assert run_finished(alice_stream, run_id)["status"] == "delivered"
    alice_stream.close()

    bob_run = started_run(bob.htmx_post(SEND_LATER, {"latency_ms": "100"}))
    seen = []
    read_until(bob_stream, lambda e: seen.append(e) or run_html(e.data, bob_run) != "")
    bob_stream.close()
    assert all(run_id not in event.data for event in seen for run_id in alice_runs)
    bob_page = bob.get(PAGE).text
    assert bob_run in bob_page
    assert all(run_id not in bob_page for run_id in alice_runs)


def test_the_mail_server_holds_its_reply_as_asked_but_never_past_a_second(mail_server, redis_url):
    message = (
        "X-Lab-Latency-Ms: 5000\r\nX-Lab-Learner: mail-server-test\r\nX-Lab-Run: 0a1b2c3d\r\n"
        "X-Lab-Kind: email\r\nSubject: clamped\r\n\r\nbody\r\n"
    )
    began = time.monotonic()
    with smtplib.SMTP("127.0.0.1", mail_port(), timeout=10) as client:
        client.sendmail("lab@localhost", ["learner@localhost"], message)
    elapsed = time.monotonic() - began
    assert 1.0 <= elapsed < 5.0  # held 1000 ms, the most, not the 5000 asked for
    events = [event for _, event in events_read(learner_id="mail-server-test", lab="email")]
    delivered = [event for event in events if event["run"] == "0a1b2c3d"]
    assert delivered[0]["kind"] == "delivered" and delivered[0]["latency_ms"] == 1000


@pytest.mark.parametrize(
    ("header", "latency"),
    [("300", 300), (" 120 ", 120), ("-5", 0), ("5000", 1000), ("soon", 0), (None, 0)],
)
def test_the_latency_header_is_read_as_whole_milliseconds_from_0_to_1000(header, latency):
    assert mail_latency_ms(header) == latency


def test_a_send_now_run_stays_delivered_when_its_reply_comes_after_the_delivery():
    base = {"run": "ab12cd34", "lab": "email"}
    events = [
        ("1-0", {**base, "at": 100.0, "kind": "sending", "options": {"latency_ms": 300}}),
        ("2-0", {**base, "at": 100.302, "kind": "delivered", "latency_ms": 300}),
        ("3-0", {**base, "at": 100.303, "kind": "succeeded", "send_ms": 303}),
        ("4-0", {**base, "at": 100.305, "kind": "answered", "request_ms": 305}),
    ]
    [run] = EmailFold.fold(events, now=101.0)
    assert (run.mode, run.status, run.latency_ms) == ("sync", "delivered", 300)
    assert (run.delivered_ms, run.send_ms, run.request_ms) == (302, 303, 305)


def test_the_chart_groups_the_runs_of_both_kinds_on_one_scale():
    def run_events(run_id, first, at, request_ms, delivered_ms):
        base = {"run": run_id, "lab": "email"}
        return [
            ("0-1", {**base, "at": at, "kind": first, "options": {"latency_ms": 300}}),
            ("0-2", {**base, "at": at + delivered_ms / 1000, "kind": "delivered"}),
            ("0-3", {**base, "at": at + 0.4, "kind": "answered", "request_ms": request_ms}),
        ]

    events = run_events("aaaa0001", "sending", 10.0, 305, 302) + run_events(
        "bbbb0002", "queued", 20.0, 6, 311
    )
    chart = EmailFold.fold(events, now=30.0).chart
    assert [group.mode for group in chart.groups] == ["sync", "background"]
    sync_request, sync_delivery = chart.groups[0].rows[0].bars
    background_request, background_delivery = chart.groups[1].rows[0].bars
    assert background_request.width < sync_request.width  # 6 ms against 305 ms
    assert sync_delivery.text == "302 ms" and background_delivery.text == "311 ms"
    assert "Send now, run aaaa0001: request 305 ms, delivered after 302 ms." in chart.description
    assert "In the background, run bbbb0002: request 6 ms" in chart.description


def email_run(run_id: str, *, mode: str, at: float, request_ms: int, delivered: bool = True
              ) -> list[tuple[str, dict]]:  # fmt: skip
    """The events of one run with a latency of 300 ms: its request answers after
    ``request_ms``, and the mail server has it after 300 ms (if ``delivered``)."""
    base = {"run": run_id, "lab": "email"}
    first = "sending" if mode == "sync" else "queued"
    events = [
        (f"{at:.0f}-1", {**base, "at": at, "kind": first, "options": {"latency_ms": 300}}),
        (f"{at:.0f}-2", {**base, "at": at + request_ms / 1000, "kind": "answered",
                         "request_ms": request_ms}),
    ]  # fmt: skip
    if delivered:
        events.append((f"{at:.0f}-3", {**base, "at": at + 0.3, "kind": "delivered"}))
    return events


def predicted(choice: str, at: float) -> tuple[str, dict]:
    return (f"{at:.0f}-0", {"lab": "email", "at": at, "kind": "predicted", "choice": choice})


def test_a_prediction_is_answered_by_the_next_delivered_email_and_how_long_its_request_took():
    waited = [predicted("returns", 1.0), *email_run("aaaa0001", mode="sync", at=2, request_ms=305)]
    prediction = EmailFold.fold(waited, now=10.0).prediction
    assert (prediction.choice, prediction.observed, prediction.run) == (
        "returns", "waits", "aaaa0001",
    )  # fmt: skip
    assert prediction.observed_label == "The request waits for the mail server"

    returned = [predicted("returns", 1.0),
                *email_run("bbbb0002", mode="background", at=2, request_ms=6)]  # fmt: skip
    assert EmailFold.fold(returned, now=10.0).prediction.right


def test_an_email_not_delivered_leaves_the_prediction_waiting_for_the_next():
    events = [
        predicted("waits", 1.0),
        *email_run("aaaa0001", mode="sync", at=2, request_ms=305, delivered=False),
    ]
    assert EmailFold.fold(events, now=10.0).prediction.observed is None
    events += email_run("bbbb0002", mode="background", at=3, request_ms=6)
    prediction = EmailFold.fold(events, now=10.0).prediction
    assert (prediction.observed, prediction.run) == ("returns", "bbbb0002")


def test_the_goal_is_met_once_an_email_sent_each_way_is_delivered():
    sync = email_run("aaaa0001", mode="sync", at=1, request_ms=305)
    background = email_run("bbbb0002", mode="background", at=2, request_ms=6, delivered=False)
    assert not compared_both(EmailFold.fold(sync + background, now=10.0))
    delivered = email_run("cccc0003", mode="background", at=3, request_ms=6)
    assert compared_both(EmailFold.fold(sync + background + delivered, now=10.0))
