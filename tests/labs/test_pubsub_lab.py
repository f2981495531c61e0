"""Publish and subscribe, through real processes: uvicorn, Redis and a Celery worker.

Every subscriber here is a real Redis subscription: a tab's live feed (an event stream that
holds one while it is open) or the Python subscriber in the worker.
"""

import html
import re
import subprocess
import sys
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from labs.kinds.pubsub.fold import PubsubFold, PubsubRuns, lost_and_kept
from learners.identity import SESSION_KEY
from learnsite.redis import redis_url_shareable
from quiz.models import Answer, Attempt
from tests.authoring.factory import make_lesson, make_questions, predict_question_text
from tests.http import LiveClient, frame_until
from tests.stack import load_course


def lab_learner(live_url) -> LiveClient:
    client = LiveClient(live_url)
    assert client.get("/labs/pubsub/").status == 200
    return client


def feed(client: LiveClient, subscribe: str, tab: str):
    """A tab's live feed, once Redis has confirmed its subscription."""
    query = urlencode({"subscribe": subscribe, "tab": tab})
    stream = client.events(f"/streams/labs/pubsub/feed/?{query}")
    subscribed = next(stream)
    assert subscribed.event == "subscribed" and "Subscribed" in subscribed.data
    return stream


def received(stream) -> str:
    """The next message a feed received, as the tab shows it."""
    event = next(event for event in stream if event.event == "received")
    return html.unescape(event.data)


def send(client: LiveClient, channel: str, message: str, via: str = "pubsub"):
    data = {"channel": channel, "message": message, "via": via}
    return client.htmx_post("/labs/pubsub/send/", data)


def receivers(response) -> int:
    assert response.status == 200, response.text
    return int(re.search(r'data-sent="pubsub" data-receivers="(\d+)"', response.text).group(1))


def read(client: LiveClient, channel: str, via: str):
    return client.htmx_post("/labs/pubsub/read/", {"channel": channel, "via": via})


def test_a_publish_with_two_subscribers_reports_two_and_both_receive(live_url):
    client = lab_learner(live_url)
    first, second = feed(client, "updates", "aaaa"), feed(client, "updates", "bbbb")
    lab = client.events("/streams/labs/pubsub/events/")

    assert receivers(send(client, "updates", "hello both")) == 2

    assert "updates</code>: hello both" in received(first)
    assert "updates</code>: hello both" in received(second)
    # Each subscriber recorded what it got: the page shows who received it.
    frame = frame_until(lab, lambda data: "tab aaaa" in data and "tab bbbb" in data)
    assert re.search(
        r'data-receivers="2" data-received-by="tab (aaaa\|tab bbbb|bbbb\|tab aaaa)"', frame
    )
    for stream in (first, second, lab):
        stream.close()


def test_a_publish_with_nobody_subscribed_reports_zero_and_nothing_waits(live_url):
    client = lab_learner(live_url)
    response = send(client, "quiet", "lost message")
    assert receivers(response) == 0
    assert "Nobody was listening, so the message is gone" in response.text

    late = feed(client, "quiet", "cccc")
    assert receivers(send(client, "quiet", "marker")) == 1
    # The first thing the late subscriber gets is the marker: the earlier message waited nowhere.
    first = received(late)
    assert "marker" in first and "lost message" not in first
    late.close()


def test_lpush_then_brpop_later_gets_the_item(live_url):
    client = lab_learner(live_url)
    pushed = send(client, "jobs", "kept in a list", via="list")
    assert 'data-sent="list" data-length="1"' in pushed.text

    first = read(client, "jobs", "list")
    assert first.status == 200
    assert "<q data-item>kept in a list</q>" in first.text and "now holds 0" in first.text
    # BRPOP removed it: a second read finds nothing.
    assert "nothing was waiting" in read(client, "jobs", "list").text


def test_xadd_then_xread_later_gets_it_and_the_stream_keeps_it(live_url):
    client = lab_learner(live_url)
    added = send(client, "log", "kept in a stream", via="stream")
    entry = re.search(r'data-entry="(\d+-\d+)"', added.text).group(1)

    first = read(client, "log", "stream")
    assert f"<q data-item>kept in a stream</q> (<code>{entry}</code>)" in first.text
    assert "still holds 1" in first.text
    # XREAD moved the learner's position: nothing new, yet the entry is still in the stream.
    again = read(client, "log", "stream")
    assert "nothing was waiting" in again.text and "still holds 1" in again.text


def test_all_three_ways_with_nobody_listening_meets_the_goal(live_url):
    client = lab_learner(live_url)
    response = send(client, "nobody", "three ways", via="all")
    assert receivers(response) == 0
    assert 'data-sent="list" data-length="1"' in response.text
    assert 'data-sent="stream" data-entry=' in response.text
    assert "is-done" not in client.get("/labs/pubsub/").text

    assert "<q data-item>three ways</q>" in read(client, "nobody", "list").text
    page = client.get("/labs/pubsub/").text
    assert re.search(
        r'class="goal is-done" data-goal-done>.*see it lost on the channel', page, re.S
    )


def test_a_pattern_subscription_gets_matching_channels_only(live_url):
    client = lab_learner(live_url)
    tab = feed(client, "news updates.*", "dddd")

    assert receivers(send(client, "updates.sports", "goal!")) == 1
    assert receivers(send(client, "weather", "not for this tab")) == 0
    assert receivers(send(client, "updates", "no dot, no match")) == 0
    assert receivers(send(client, "news", "several channels at once")) == 1

    first, second = received(tab), received(tab)
    assert "updates.sports</code> (pattern <code>updates.*</code>): goal!" in first
    assert "news</code>: several channels at once" in second
    tab.close()


def test_a_channel_and_a_pattern_on_one_connection_count_twice(live_url):
    client = lab_learner(live_url)
    tab = feed(client, "updates.sports updates.*", "eeee")
    assert receivers(send(client, "updates.sports", "twice")) == 2
    assert "twice" in received(tab) and "twice" in received(tab)
    tab.close()


def test_the_take_home_program_on_the_page_hears_what_the_page_publishes(live_url, redis_url):
    client = lab_learner(live_url)
    page = client.get("/labs/pubsub/?subscribe=updates").text
    program = html.unescape(
        re.search(r'class="take-home-program"[^>]*><code>(.*?)</code>', page, re.S).group(1)
    )
    channel = re.search(r"pubsub.subscribe\(\'([^\']+)\'\)", program).group(1)
    assert channel.endswith(":pubsub:updates") and learner_key(client) in channel
    # The learner's own program, as they would run it: a plain redis-py process of its own.
    listener = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().split()[0] == "subscribe"
        assert receivers(send(client, "updates", "hello from the page")) == 1
        assert listener.stdout.readline() == f"message {channel} hello from the page\n"
    finally:
        listener.kill()
        listener.wait()


def test_a_redis_url_with_a_password_is_never_shown_to_a_learner():
    assert redis_url_shareable("redis://:secret@redis.example:6379/0") is None
    assert redis_url_shareable("rediss://app:secret@redis.example:6380/0") is None
    assert redis_url_shareable("unix:///srv/redis.sock") == "unix:///srv/redis.sock"


def test_another_learners_channel_of_the_same_name_is_separate(live_url):
    alice, bob = lab_learner(live_url), lab_learner(live_url)
    alice_tab = feed(alice, "updates", "aaaa")

    assert receivers(send(bob, "updates", "from bob")) == 0
    assert receivers(send(alice, "updates", "from alice")) == 1
    first = received(alice_tab)
    assert "from alice" in first and "from bob" not in first
    alice_tab.close()
    assert "from alice" not in bob.get("/labs/pubsub/").text


@pytest.mark.parametrize(
    "name",
    ["has space", "a" * 41, "learnsite:learner:x:announce", "updates*", "ünï", "../x", "a/b"],
)
def test_an_invalid_channel_name_is_refused_with_a_message(live_url, name):
    client = lab_learner(live_url)
    response = send(client, name, "never sent")
    assert response.status == 400
    assert "is not a channel name here" in html.unescape(response.text)
    assert "letters, digits, dots and dashes" in response.text


def test_a_feed_refused_for_its_channel_name_escapes_the_name(db, redis_url):
    # A link can name any subscription: what it names must not become the page's HTML.
    client = Client()
    client.get("/labs/pubsub/")
    query = {"tab": "abcd", "subscribe": "<a/href=//x.test>x</a>"}
    response = client.get("/streams/labs/pubsub/feed/", query)
    assert response.status_code == 400
    assert "“&lt;a/href=//x.test&gt;x&lt;/a&gt;” is not a" in response.content.decode()


def test_invalid_names_are_refused_everywhere_a_channel_is_named(live_url):
    client = lab_learner(live_url)
    empty = send(client, "", "never sent")
    assert empty.status == 400 and "Name a channel" in empty.text
    subscriber = client.htmx_post("/labs/pubsub/subscriber/start/", {"subscribe": "a:b"})
    assert subscriber.status == 400 and "is not a channel name here" in html.unescape(
        subscriber.text
    )
    feed_response = client.get("/streams/labs/pubsub/feed/?subscribe=x%20y%5B%2A&tab=abcd")
    assert feed_response.status == 400 and "is not a pattern here" in html.unescape(
        feed_response.text
    )
    # Without JavaScript: the page again, with the message.
    plain = client.request(
        "POST",
        "/labs/pubsub/send/",
        data={"channel": "no spaces", "message": "x", "via": "pubsub"},
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert plain.status == 400 and "is not a channel name here" in html.unescape(plain.text)


def test_the_python_subscriber_prints_what_it_receives_and_stops_when_asked(live_url):
    client = lab_learner(live_url)
    lab = client.events("/streams/labs/pubsub/events/")
    started = client.htmx_post("/labs/pubsub/subscriber/start/", {"subscribe": "updates alerts.*"})
    run_id = re.search(r'data-run-id="(\w+)"', started.text).group(1)
    frame_until(lab, lambda data: f'data-run-row="{run_id}" data-status="listening"' in data)

    assert receivers(send(client, "alerts.fire", "fire!")) == 1
    assert receivers(send(client, "updates", "hello python")) == 1
    printed = "alerts.fire (pattern alerts.*): fire!\nupdates: hello python"
    frame = frame_until(lab, lambda data: printed in html.unescape(data))
    assert f"Python subscriber {run_id}" in frame  # counted as a receiver of each publish

    stop = client.htmx_post("/labs/pubsub/subscriber/stop/", {"run": run_id})
    assert stop.status == 200
    frame = frame_until(
        lab, lambda data: f'data-run-row="{run_id}" data-status="succeeded"' in data
    )
    assert "stopped when you asked" in frame
    lab.close()
    # Stopped: nobody is subscribed any more.
    assert receivers(send(client, "updates", "after the stop")) == 0


def load_prediction(folder, redis_url: str, *, expected: str) -> None:
    """A lesson whose questions hold the pubsub lab's prediction, loaded as `make run` does."""
    options = {code: f"{label} receive it" for code, label in PubsubFold.outcomes.items()}
    question = predict_question_text(
        qid="pubsub-how-many", lab="pubsub", options=options, expected=expected
    )
    make_questions(make_lesson(folder / "course", slug="pubsub-predicting"), question)
    load_course(folder, redis_url)


def learner_key(client: LiveClient) -> str:
    session_key = next(cookie.value for cookie in client.cookies if cookie.name == "sessionid")
    return SessionStore(session_key=session_key)[SESSION_KEY]


def test_without_a_prediction_question_the_lab_asks_none(live_url):
    page = lab_learner(live_url).get("/labs/pubsub/").text
    assert "Record my prediction" not in page


def test_a_prediction_is_an_answer_and_the_publish_answers_it(live_url, redis_url, tmp_path):
    load_prediction(tmp_path, redis_url, expected="1")
    client = lab_learner(live_url)
    page = client.get("/labs/pubsub/").text
    assert "Predict first." in page and "Two receive it" in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    # Options a-d stand for 0, 1, 2, 3+: the learner predicts two, the author expects one.
    predicted = client.htmx_post("/labs/pubsub/predict/", {"version": version, "choice": "c"})
    assert predicted.status == 200 and "Prediction recorded: Two receive it" in predicted.text

    answer = Answer.objects.get(item__attempt__learner__key=learner_key(client))
    assert (answer.item.attempt.mode, answer.chosen, answer.correct) == (
        Attempt.Mode.PREDICT, ["c"], False,
    )  # fmt: skip
    assert answer.item.version.question.key == "pubsub-how-many"

    tab = feed(client, "updates", "ffff")
    assert receivers(send(client, "updates", "who hears this?")) == 1
    tab.close()
    page = client.get("/labs/pubsub/").text
    assert 'data-prediction="2" data-observed="1"' in page
    assert "You predicted <strong>Two receive it</strong>; the run showed <strong>One" in page


def test_a_prediction_for_another_version_or_option_is_refused(live_url, redis_url, tmp_path):
    load_prediction(tmp_path, redis_url, expected="1")
    client = lab_learner(live_url)
    version = re.search(r'name="version" value="(\d+)"', client.get("/labs/pubsub/").text)
    stale = client.htmx_post("/labs/pubsub/predict/", {"version": "0", "choice": "a"})
    assert stale.status == 400 and "reload the page" in stale.text
    unknown = client.htmx_post(
        "/labs/pubsub/predict/", {"version": version.group(1), "choice": "z"}
    )
    assert unknown.status == 400 and "Choose one of the answers" in unknown.text
    assert not Answer.objects.filter(item__attempt__learner__key=learner_key(client)).exists()


# The fold, the goal and the prediction's outcome: pure, over events made here.


def folded(*events: dict, now: float = 100.0) -> PubsubRuns:
    """The page's runs for ``events``, recorded a second apart from 1.0 on."""
    return PubsubFold.fold(
        [
            (f"{n}-0", {"lab": "pubsub", "at": float(n), **event})
            for n, event in enumerate(events, 1)
        ],
        now=now,
    )


LOST = {"kind": "published", "channel": "news", "data": "anyone?", "receivers": 0}
PUSHED = {"kind": "pushed", "channel": "news", "data": "anyone?", "length": 1}
POPPED = {"kind": "popped", "channel": "news", "items": [["", "anyone?"]], "length": 0}
ADDED = {"kind": "added", "channel": "news", "data": "anyone?", "entry": "5-0", "length": 1}
READ = {"kind": "read", "channel": "news", "items": [["5-0", "anyone?"]], "length": 1}


def test_a_message_lost_on_the_channel_then_read_from_the_list_or_stream_meets_the_goal():
    assert not lost_and_kept(folded(LOST, PUSHED, ADDED))
    from_the_list = folded(LOST, PUSHED, POPPED)
    assert lost_and_kept(from_the_list)
    assert [action.command for action in from_the_list.list_actions] == ["BRPOP", "LPUSH"]
    from_the_stream = folded(LOST, ADDED, READ)
    assert lost_and_kept(from_the_stream)
    assert [action.items for action in from_the_stream.stream_actions] == [
        [("5-0", "anyone?")],
        [("5-0", "anyone?")],
    ]


def test_a_message_someone_heard_or_another_message_read_back_does_not_meet_the_goal():
    heard = {**LOST, "receivers": 1}
    assert not lost_and_kept(folded(heard, PUSHED, POPPED))
    other = {**POPPED, "items": [["", "something else"]]}
    assert not lost_and_kept(folded(LOST, PUSHED, other))
    elsewhere = {**READ, "channel": "weather"}
    assert not lost_and_kept(folded(LOST, ADDED, elsewhere))


def test_each_delivery_counts_with_its_publish_and_the_python_subscriber_prints_it():
    runs = folded(
        {"kind": "queued", "run": "r1", "options": {"channels": ["news"], "patterns": ["n*"]}},
        {"kind": "started", "run": "r1", "worker": "w@host"},
        {"kind": "listening", "run": "r1"},
        {**LOST, "receivers": 2},
        {"kind": "received", "subscriber": "tab aaaa", "channel": "news", "data": "anyone?"},
        {"kind": "received", "run": "r1", "channel": "news", "data": "anyone?", "line": "news: x"},
        {"kind": "succeeded", "run": "r1", "result": {"reason": "stopped"}},
    )
    (publish,) = runs.publishes
    assert publish.received_by == ["tab aaaa", "Python subscriber r1"]
    (run,) = runs
    assert (run.status, run.status_label, run.active) == ("succeeded", "Stopped", False)
    assert (run.lines, run.received, run.reason, run.worker) == (
        ["news: x"],
        1,
        "stopped",
        "w@host",
    )
    assert run.subscription_text == "news n*"


def test_a_subscriber_run_waits_for_a_worker_and_one_begun_before_the_stream_is_not_shown():
    runs = folded(
        {"kind": "started", "run": "gone"},  # its "queued" fell out of the capped stream
        {"kind": "queued", "run": "r2"},
        now=10.0,
    )
    assert [(run.id, run.status, run.waiting) for run in runs] == [("r2", "queued", True)]


def test_the_prediction_is_answered_by_the_next_publish_not_by_a_subscriber_run():
    predicted = {"kind": "predicted", "choice": "2", "label": "Two receive it"}
    waiting = folded(predicted, {"kind": "queued", "run": "r1"}, {"kind": "listening", "run": "r1"})
    assert waiting.prediction.choice == "2" and waiting.prediction.observed is None
    answered = folded(predicted, {"kind": "queued", "run": "r1"}, {**LOST, "receivers": 1})
    assert answered.prediction.observed == "1" and not answered.prediction.right
    assert answered.prediction.run == "3-0"  # the publish's event


def test_a_publish_shows_how_many_received_it_as_an_outcome():
    codes = [
        PubsubFold().observed(publish)
        for publish in folded(*({**LOST, "receivers": n} for n in (0, 1, 2, 3, 7))).publishes
    ]
    assert codes == ["3+", "3+", "2", "1", "0"]  # newest first
    assert set(codes) == set(PubsubFold.outcomes)
