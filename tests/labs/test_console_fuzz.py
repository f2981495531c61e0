"""Random command lines thrown at the console, against a real Redis: each is refused with a
message or runs strictly inside the learner's space, and none raises."""

import pytest
import redis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labs.events import LEARNER_TTL_SECONDS
from labs.lab_console import (
    ALLOWED,
    WHY_NOT,
    Command,
    Refusal,
    Reply,
    Space,
    console_execute,
    console_parse,
)
from learnsite.redis import redis_client

from .console_support import (
    ChannelWatcher,
    console_owns,
    make_learner_id,
    neighbours_plant,
    outside_snapshot,
    redis_of_its_own,
)

COMMANDS = [*ALLOWED, *WHY_NOT, "MSET", "RENAME", "COPY", "OBJECT", "SORT", "BLMOVE", "HSET"]
PIECES = [
    "*", "?", "[a-z]", "[^a]", "\\", "\\*", "..", "/", ":", "$", "-", "+", "0", "-1", "1", "2",
    "0.5", "1e9", "99999999999999999999", "-0", "EX", "NX", "XX", "PX", "KEEPTTL", "COUNT",
    "BLOCK", "STREAMS", "MATCH", "jobs", "updates", "celery", "unacked", "events", "announce",
    "learnsite:", "learnsite:learner:", "learnsite:learner:someone-else:console:greeting",
    "learnsite-labs:learner:someone-else:pubsub:updates", "LEARNSITE:LEARNER:", "learnsite*",
    '"', "'", '"a b"', "'a b'", '"\\x00"', '"\\xff"', '"\\xc3\\xa9"', '"\\n"', "é", "🙂",
    "\u202e", "\x00", "\t", "\n", "\ud800", "x" * 600, "é" * 300, "y" * 1100,
]  # fmt: skip

token = st.one_of(st.sampled_from(PIECES), st.text(max_size=12))
glued = st.lists(token, min_size=1, max_size=3).map("".join)
quoted = token.map(lambda text: f'"{text}"') | token.map(lambda text: f"'{text}'")
argument = st.one_of(token, glued, quoted)
name = st.sampled_from(COMMANDS).flatmap(
    lambda command: st.sampled_from([command, command.lower(), command.title()])
)
soup = st.builds(
    lambda command, args, space: space.join([command, *args]),
    st.one_of(name, token),
    st.lists(argument, max_size=8),
    st.sampled_from([" ", "  ", "\t"]),
)

# Lines shaped like each allowed command, so that most of them reach Redis; every slot also
# draws hostile values now and then.
short_name = st.one_of(
    st.sampled_from(["jobs", "greeting", "updates", "celery", "events", "news.x", "user:1", "é"]),
    st.from_regex(r"[\w.:-]{1,12}", fullmatch=True),
)
plain_text = st.text(
    st.characters(exclude_categories=["Cc", "Cs"], exclude_characters="\"'\\"), max_size=16
).map(lambda text: f'"{text}"')
SLOTS = {
    "k": st.one_of(short_name, short_name, argument),
    "c": st.one_of(short_name, short_name, argument),
    "p": st.one_of(st.from_regex(r"[\w.:*?\[\]^\\-]{1,12}", fullmatch=True), argument),
    "v": st.one_of(short_name, plain_text, plain_text, argument),
    "n": st.sampled_from(["0", "1", "2", "3", "-1", "-3", "20", "21", "3600", "3601", "x"]),
    "t": st.sampled_from(["0.05", "0.05", "0.05", "0.1", "1", "0", "-1", "x"]),
    "b": st.sampled_from(["10", "10", "50", "0", "-5", "x"]),
    "i": st.sampled_from(["0", "0-1", "1-1", "$", "-", "+", "*", "(0", "abc", "99-99"]),
}
SHAPES = {
    "PING": ["", "v"], "GET": ["k"], "TTL": ["k"], "LLEN": ["k"], "DEL": ["k", "k k"],
    "SET": ["k v", "k v EX n", "k v NX", "k v EX n XX", "k v KEEPTTL"], "EXPIRE": ["k n"],
    "LPUSH": ["k v", "k v v v"], "RPUSH": ["k v", "k v v v"], "LPOP": ["k", "k n"],
    "RPOP": ["k", "k n"], "BRPOP": ["k t", "k k t"], "LRANGE": ["k n n"],
    "XADD": ["k * v v", "k i v v v v", "k * v"], "XRANGE": ["k - +", "k i i COUNT n"],
    "XREAD": ["STREAMS k i", "COUNT n STREAMS k k i i", "BLOCK b STREAMS k $"],
    "PUBLISH": ["c v"], "SUBSCRIBE": ["c", "c c"], "PSUBSCRIBE": ["p", "p p"],
    "UNSUBSCRIBE": ["", "c"], "PUNSUBSCRIBE": ["", "p"],
}  # fmt: skip


@st.composite
def shaped(draw) -> str:
    command = draw(st.sampled_from(sorted(SHAPES)))
    shape = draw(st.sampled_from(SHAPES[command]))
    words = [draw(SLOTS[slot]) if slot in SLOTS else slot for slot in shape.split()]
    return " ".join([draw(st.sampled_from([command, command.lower()])), *words])


line = st.one_of(soup, shaped(), shaped(), shaped())


@pytest.fixture
def own_redis(start_services, settings):
    client = redis_of_its_own(start_services, settings)
    yield client
    redis_client.cache_clear()


@settings(max_examples=2000, deadline=None)
@given(text=st.one_of(line, st.text(max_size=200)))
def test_parsing_any_text_gives_a_command_or_a_refusal(text):
    parsed = console_parse(text)
    assert isinstance(parsed, Command | Refusal)
    if isinstance(parsed, Refusal):
        assert parsed.text.startswith("(error) ERR ") and len(parsed.message) > 8
    else:
        assert parsed.name in ALLOWED
        for key in parsed.keys:
            assert "*" not in key and not key.casefold().startswith("learnsite")
            assert len(key.encode()) <= 64


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.lists(line, min_size=1, max_size=4))
@example(lines=["KEYS *", "FLUSHALL", "EVAL 'return 1' 0", "CONFIG SET save ''"])
@example(lines=["PSUBSCRIBE *", "PUBLISH updates x", "SUBSCRIBE learnsite:*"])
@example(lines=["SET learnsite:learner:someone-else:console:greeting x", "DEL * jobs"])
@example(lines=["LPUSH jobs a b c", "BRPOP jobs celery 1", "XADD s * k v", "XREAD STREAMS s 0"])
def test_every_line_is_refused_or_runs_inside_the_learners_space(own_redis, lines):
    learner = make_learner_id()
    own_redis.flushall()  # the test's own Redis: each example starts from its neighbours only
    neighbours_plant(own_redis, learner)
    watcher = ChannelWatcher(django_settings.REDIS_URL)
    before = outside_snapshot(own_redis, learner)
    try:
        for text in lines:
            reply = console_execute(learner_id=learner, line=text)
            assert isinstance(reply, Reply) and reply.text
            assert reply.status in {"ok", "error", "refused"}, reply.text
            if reply.status == "refused":
                assert reply.text.startswith("(error) ERR "), reply.text
        assert outside_snapshot(own_redis, learner) == before
        assert watcher.outside(learner) == []
        for key in own_redis.keys("*"):
            if console_owns(learner, key.decode()):
                assert 0 < own_redis.ttl(key) <= LEARNER_TTL_SECONDS, key
    finally:
        watcher.close()


glob_piece = st.sampled_from(["a", "b", ".", ":", "-", "é", "*", "?", "[", "]", "^", "\\", "a-z"])
glob_text = st.lists(glob_piece, max_size=6).map("".join)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pattern=glob_text, channel=glob_text)
@example(pattern="*", channel="")
@example(pattern="[^a]", channel="é")
@example(pattern="[a-]", channel="b")
@example(pattern="a\\", channel="a\\")
def test_a_console_pattern_matches_only_the_learners_channels(own_redis, pattern, channel):
    """A pattern, put after the learner's prefix as the console's feed subscribes to it, never
    matches a channel outside the learner's space, by a real PSUBSCRIBE."""
    space = Space(make_learner_id())
    pubsub = redis.Redis.from_url(django_settings.REDIS_URL).pubsub()
    pubsub.psubscribe(space.pattern(pattern))
    assert pubsub.get_message(timeout=2)["type"] == "psubscribe"
    try:
        others = [
            "elsewhere:" + space.channel(channel),
            Space(make_learner_id()).channel(channel),
            channel,
        ]
        assert [own_redis.publish(other, "x") for other in others] == [0, 0, 0]
    finally:
        pubsub.close()
