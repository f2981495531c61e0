"""Random command lines thrown at the console, against a real Redis: each is refused with a
message or runs strictly inside the learner's space, and none raises."""

import pytest
import redis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labs.events import LEARNER_TTL_SECONDS
from labs.kinds.console.commands import Space
from labs.kinds.console.parse import ALLOWED, WHY_NOT, Command, Refusal, console_parse
from labs.kinds.console.services import Reply, console_execute
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
    "BLOCK", "STREAMS", "MATCH", "GROUP", "CREATE", "MKSTREAM", "DESTROY", "SETID", "IDLE",
    "NOACK", ">", "jobs", "updates", "celery", "unacked", "events", "announce",
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
    st.sampled_from(
        ["jobs", "greeting", "updates", "celery", "events", "orders", "news.x", "user:1", "é"]
    ),
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
    "i": st.sampled_from(["0", "0-1", "1-1", "$", ">", "-", "+", "*", "(0", "abc", "99-99"]),
    # A consumer group's or a consumer's name: not a key, but a plain short name all the same.
    "g": st.one_of(st.sampled_from(["mailers", "audit", "a", "b"]), short_name, argument),
    "s": st.sampled_from(["CREATE", "CREATE", "create", "DESTROY", "SETID", "HELP", "x"]),
}
SHAPES = {
    "PING": ["", "v"], "GET": ["k"], "TTL": ["k"], "LLEN": ["k"], "DEL": ["k", "k k"],
    "SET": ["k v", "k v EX n", "k v NX", "k v EX n XX", "k v KEEPTTL"], "EXPIRE": ["k n"],
    "LPUSH": ["k v", "k v v v"], "RPUSH": ["k v", "k v v v"], "LPOP": ["k", "k n"],
    "RPOP": ["k", "k n"], "BRPOP": ["k t", "k k t"], "LRANGE": ["k n n"],
    "XADD": ["k * v v", "k i v v v v", "k * v"], "XRANGE": ["k - +", "k i i COUNT n"],
    "XREAD": ["STREAMS k i", "COUNT n STREAMS k k i i", "BLOCK b STREAMS k $"],
    "XLEN": ["k"],
    "XGROUP": ["s k g i", "s k g $ MKSTREAM", "s k g i MKSTREAM", "s k g", "s k g g", "s"],
    "XREADGROUP": ["GROUP g g STREAMS k >", "GROUP g g COUNT n STREAMS k k > i",
                   "GROUP g g BLOCK b STREAMS k >", "GROUP g g NOACK STREAMS k >",
                   "GROUP g g STREAMS k i", "g g STREAMS k >"],
    "XACK": ["k g i", "k g i i", "k g"],
    "XPENDING": ["k g", "k g - + n", "k g i i n g", "k g IDLE n - + n", "k g - +"],
    "PUBLISH": ["c v"], "SUBSCRIBE": ["c", "c c"], "PSUBSCRIBE": ["p", "p p"],
    "UNSUBSCRIBE": ["", "c"], "PUNSUBSCRIBE": ["", "p"],
}  # fmt: skip


@st.composite
def shaped(draw, commands: tuple[str, ...] = tuple(sorted(SHAPES)), slots: dict = SLOTS) -> str:
    command = draw(st.sampled_from(commands))
    shape = draw(st.sampled_from(SHAPES[command]))
    words = [draw(slots[slot]) if slot in slots else slot for slot in shape.split()]
    return " ".join([draw(st.sampled_from([command, command.lower()])), *words])


line = st.one_of(soup, shaped(), shaped(), shaped())
# A stream with a consumer group first, and group commands that mostly name them (and the
# entries' ids), so that most of them reach Redis and change the group.
GROUP_SETUP = [
    "XADD orders 1-1 order 1",
    "XADD orders 2-1 order 2",
    "XGROUP CREATE orders mailers 0",
]
GROUP_SLOTS = SLOTS | {
    "k": st.sampled_from(["orders", "orders", "orders", "jobs", "audit"]),
    "g": st.sampled_from(["mailers", "mailers", "a", "b", "audit"]),
    "i": st.sampled_from([">", ">", "0", "1-1", "2-1", "$", "3-1"]),
    "s": st.sampled_from(["CREATE", "CREATE", "CREATE", "DESTROY"]),
    "v": short_name,
    "n": st.sampled_from(["1", "1", "2", "10", "21", "0"]),
    "b": st.sampled_from(["10", "10", "0"]),
}
GROUP_COMMANDS = ("XGROUP", "XREADGROUP", "XREADGROUP", "XACK", "XPENDING", "XLEN", "XADD", "DEL")
group_line = shaped(commands=GROUP_COMMANDS, slots=GROUP_SLOTS)
group_session = st.lists(group_line, min_size=1, max_size=6).map(lambda lines: GROUP_SETUP + lines)


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
@example(
    lines=[*GROUP_SETUP, "XREADGROUP GROUP mailers a STREAMS orders >", "XPENDING orders mailers",
           "XPENDING orders mailers - + 10 a", "XACK orders mailers 0-1", "XLEN orders"]
)  # fmt: skip
@example(
    lines=["XGROUP CREATE celery mailers $ MKSTREAM", "XGROUP DESTROY celery mailers",
           "XREADGROUP GROUP mailers a BLOCK 10 STREAMS celery >", "XACK jobs mailers 1-1"]
)  # fmt: skip
def test_every_line_is_refused_or_runs_inside_the_learners_space(own_redis, lines):
    lines_run_inside_the_learners_space(own_redis, lines)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=group_session)
@example(lines=[*GROUP_SETUP, "XGROUP CREATE orders audit $", "XGROUP CREATE jobs a 0 MKSTREAM"])
@example(
    lines=[*GROUP_SETUP, "XREADGROUP GROUP mailers a COUNT 1 STREAMS orders >",
           "XREADGROUP GROUP mailers b STREAMS orders >", "XACK orders mailers 1-1",
           "XPENDING orders mailers - + 10 b", "XREADGROUP GROUP mailers b STREAMS orders 0"]
)  # fmt: skip
def test_consumer_group_lines_run_inside_the_learners_space(own_redis, lines):
    """Group commands on a stream that has a group: they create groups and consumers, hand
    out entries and acknowledge them, all inside the learner's stream."""
    lines_run_inside_the_learners_space(own_redis, lines)


def lines_run_inside_the_learners_space(own_redis: redis.Redis, lines: list[str]) -> None:
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
