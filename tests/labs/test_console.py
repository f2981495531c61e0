"""The Redis console against a real Redis: redis-cli's replies, the learner's own space, limits,
the lost message and the waiting job, the challenges, and the page with and without htmx."""

import html
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings as django_settings

from labs.events import KEY_PREFIX, LEARNER_TTL_SECONDS
from labs.lab_console import (
    BLOCK_MAX_SECONDS,
    BLOCKING_CONNECTIONS,
    COMMANDS_PER_MINUTE,
    MAX_ARGS,
    MAX_CONSUMERS,
    MAX_ENTRIES,
    MAX_GROUPS,
    MAX_KEYS,
    MAX_LINE_BYTES,
    MAX_SUBSCRIPTIONS,
    MAX_VALUE_BYTES,
    READ_MAX,
    console_channel,
    console_execute,
    console_key,
    console_moved_three_jobs,
    console_runs_fold,
    console_shared_a_stream,
    console_split,
)
from learners.models import LabGoalMet
from learnsite.redis import redis_client
from tests.http import LiveClient
from tests.stack import wait_until

from .console_support import (
    ChannelWatcher,
    console_owns,
    make_learner_id,
    neighbours_plant,
    outside_snapshot,
    redis_of_its_own,
)


@pytest.fixture
def own_redis(start_services, settings):
    client = redis_of_its_own(start_services, settings)
    yield client
    redis_client.cache_clear()  # back to the session's Redis for the tests after this one


def run(learner_id: str, *lines: str) -> list[str]:
    return [console_execute(learner_id=learner_id, line=line).text for line in lines]


def subscriber(client: redis.Redis, channel: str):
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"
    return pubsub


# Lines and replies, as redis-cli has them.


@pytest.mark.parametrize(
    ("line", "args"),
    [
        ("SET a b", ["SET", "a", "b"]),
        ('  set  "hello world"  x ', ["set", "hello world", "x"]),
        ('SET k "a\\nb\\t\\"c\\"\\\\"', ["SET", "k", 'a\nb\t"c"\\']),
        ('SET k "\\x41\\xc3\\xa9"', ["SET", "k", "Aé"]),
        ("SET k 'it\\'s \"fine\"'", ["SET", "k", 'it\'s "fine"']),
        ('SET k ""', ["SET", "k", ""]),
        ('SET k a"b c"', ["SET", "k", "ab c"]),
    ],
)
def test_lines_are_split_as_redis_cli_splits_them(line, args):
    assert console_split(line) == args


@pytest.mark.parametrize("line", ['SET k "open', "SET k 'open", 'SET k "a"b', "SET k 'a'b"])
def test_unbalanced_quotes_are_an_error_as_in_redis_cli(redis_url, line):
    with pytest.raises(ValueError):
        console_split(line)
    reply = console_execute(learner_id=make_learner_id(), line=line)
    assert reply.status == "refused" and reply.text.startswith("(error) ERR Invalid argument(s)")


def test_replies_look_like_redis_cli(own_redis):
    learner = make_learner_id()
    assert run(learner, "PING", "ping hello", "SET greeting 'hi there'", "GET greeting") == [
        "PONG", '"hello"', "OK", '"hi there"',
    ]  # fmt: skip
    assert run(learner, "GET nothing", "DEL greeting nothing", "LRANGE nothing 0 -1") == [
        "(nil)", "(integer) 1", "(empty array)",
    ]  # fmt: skip
    assert run(learner, "RPUSH jobs one two", "LRANGE jobs 0 -1") == [
        "(integer) 2", '1) "one"\n2) "two"',
    ]  # fmt: skip
    assert run(learner, "GET jobs") == [
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value"
    ]
    assert run(learner, 'SET text "caf\\xc3\\xa9 \\"x\\"\\n"', "GET text")[1] == (
        '"caf\\xc3\\xa9 \\"x\\"\\n"'  # bytes outside printable ASCII as \xHH, as redis-cli does
    )
    entry_id = run(learner, "XADD events * kind signup user 7")[0].strip('"')
    assert re.fullmatch(r"\d+-\d+", entry_id)
    assert run(learner, "XRANGE events - +")[0] == (
        f'1) 1) "{entry_id}"\n   2) 1) "kind"\n      2) "signup"\n      3) "user"\n      4) "7"'
    )
    wide = run(learner, "RPUSH many " + " ".join(str(n) for n in range(12)), "LRANGE many 0 -1")
    assert wide[1].splitlines()[0] == ' 1) "0"' and wide[1].splitlines()[-1] == '12) "11"'
    reply = console_execute(learner_id=learner, line="FLUSHALL")
    assert reply.status == "refused" and reply.text.startswith(
        "(error) ERR FLUSHALL is not allowed"
    )


def test_names_are_rewritten_into_the_learners_space_and_shown_short(own_redis):
    learner = make_learner_id()
    run(learner, "SET greeting hi", "LPUSH jobs a", "XADD events * k v")
    assert own_redis.get(console_key(learner, "greeting")) == b"hi"
    assert own_redis.llen(console_key(learner, "jobs")) == 1
    assert own_redis.xlen(console_key(learner, "events")) == 1
    assert own_redis.exists("greeting", "jobs", "events") == 0
    # Replies that name a key name it as the learner typed it.
    assert run(learner, "BRPOP nothing jobs 1") == ['1) "jobs"\n2) "a"']
    assert run(learner, "XREAD COUNT 1 STREAMS events 0")[0].startswith('1) 1) "events"\n')
    # PUBLISH goes to the learner's channel, and counts its real subscribers.
    mine = subscriber(own_redis, console_channel(learner, "updates"))
    bare = subscriber(own_redis, "updates")
    assert run(learner, "PUBLISH updates hello") == ["(integer) 1"]
    assert mine.get_message(timeout=2)["data"] == b"hello"
    assert bare.get_message(timeout=0.2) is None


REFUSED = [
    "KEYS *",
    "SCAN 0",
    "SCAN 0 MATCH learnsite:*",
    "EVAL \"return redis.call('FLUSHALL')\" 0",
    "EVALSHA abc 0",
    "FUNCTION LIST",
    "CONFIG GET *",
    "CONFIG SET appendonly yes",
    "FLUSHALL",
    "FLUSHDB",
    "CLIENT LIST",
    "CLIENT KILL TYPE normal",
    "MONITOR",
    "DEBUG SLEEP 0",
    "SELECT 1",
    "RENAME greeting jobs",
    "OBJECT ENCODING jobs",
    "PUBSUB CHANNELS",
    "SUBSCRIBE *",
    "SUBSCRIBE learnsite:*",
    "PSUBSCRIBE learnsite:*",
    "PSUBSCRIBE learnsite-labs:*",
    "PSUBSCRIBE ../*",
    "PUBLISH learnsite:content:changed x",
    "GET learnsite:learner:someone-else:console:greeting",
    "GET LEARNSITE:learner:someone-else:console:greeting",
    'GET "../greeting"',
    'GET "a b"',
    "GET gree*",
    "GET greet?ng",
    "GET [g]reeting",
    "DEL * jobs",
    'LPUSH "jobs\\x00" x',
    "XREAD STREAMS learnsite:learner:x:events 0",
    "EXPIRE jobs 99999999",
    "SET greeting x KEEPTTL",
    "SET greeting x PX 1",
    "MSET greeting x jobs y",
    "XGROUP DESTROY events mailers",
    "XGROUP SETID events mailers $",
    "XGROUP CREATE learnsite:learner:someone-else:console:jobs g $ MKSTREAM",
    "XGROUP CREATE events * $ MKSTREAM",
    "XREADGROUP GROUP g c STREAMS learnsite:learner:someone-else:console:jobs >",
    "XREADGROUP GROUP g c STREAMS events $",
    "XACK learnsite:learner:someone-else:console:jobs g 1-1",
    "XPENDING events g IDLE 0 - + 10",
]
# Names that are the site's own elsewhere: here they are the learner's console keys and channels.
CONTAINED = [
    "BRPOP jobs celery 1",
    "SET celery x",
    "LPUSH unacked x",
    "SET events x",
    "SET console-keys x",
    "SET :rate:console 1",
    "DEL jobs greeting celery events",
    "RPOP jobs",
    "XADD announce * k v",
    "PSUBSCRIBE *",
    "SUBSCRIBE announce",
    "PUBLISH announce x",
    "PUBLISH updates x",
    "XGROUP CREATE celery mailers $ MKSTREAM",
    "XLEN celery",
    "XACK celery mailers 1-1",
]


@pytest.mark.parametrize("line", REFUSED + CONTAINED)
def test_nothing_outside_the_learners_space_is_touched(own_redis, line):
    learner = make_learner_id()
    neighbours_plant(own_redis, learner)
    watcher = ChannelWatcher(django_settings.REDIS_URL)
    before = outside_snapshot(own_redis, learner)

    reply = console_execute(learner_id=learner, line=line)

    assert reply.status == ("ok" if line in CONTAINED else "refused"), reply.text
    assert reply.text.startswith("(error) ERR ") == (reply.status == "refused")
    assert outside_snapshot(own_redis, learner) == before
    assert watcher.outside(learner) == []
    watcher.close()
    keys = [key.decode() for key in own_redis.keys("*")]
    assert all(own_redis.ttl(key) > 0 for key in keys if console_owns(learner, key))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("KEYS *", "every key on the server"),
        ("EVAL 'return 1' 0", "a script can touch any key"),
        ("CONFIG GET *", "runs the whole server"),
        ("CLIENT LIST", "other people's connections"),
        ("SUBSCRIBE news.*", "patterns go with PSUBSCRIBE"),
        ("GET learnsite:learner:x:console:a", "type the short name"),
        ("PSUBSCRIBE learnsite*", "type the short pattern"),
        ("HELLO 3", "not allowed"),
    ],
)
def test_a_refusal_says_why(redis_url, line, message):
    reply = console_execute(learner_id=make_learner_id(), line=line)
    assert reply.status == "refused" and message in reply.text


# Consumer groups.


def test_two_consumers_of_a_group_share_a_stream_and_xack_clears_what_is_pending(own_redis):
    learner = make_learner_id()
    run(learner, "XADD orders 1-1 order 1", "XADD orders 2-1 order 2", "XADD orders 3-1 order 3")
    assert run(learner, "XGROUP CREATE orders mailers 0", "XLEN orders") == ["OK", "(integer) 3"]
    # The group lives in the learner's stream, and nowhere else.
    groups = own_redis.xinfo_groups(console_key(learner, "orders"))
    assert [group["name"] for group in groups] == [b"mailers"]
    assert own_redis.exists("orders") == 0

    # Each entry goes to one consumer of the group: a takes two, b the one left, then nothing.
    assert run(learner, "XREADGROUP GROUP mailers a COUNT 2 STREAMS orders >") == [
        '1) 1) "orders"\n'
        '   2) 1) 1) "1-1"\n'
        '         2) 1) "order"\n'
        '            2) "1"\n'
        '      2) 1) "2-1"\n'
        '         2) 1) "order"\n'
        '            2) "2"'
    ]
    assert run(learner, "XREADGROUP GROUP mailers b STREAMS orders >") == [
        '1) 1) "orders"\n   2) 1) 1) "3-1"\n         2) 1) "order"\n            2) "3"'
    ]
    assert run(learner, "XREADGROUP GROUP mailers a STREAMS orders >") == ["(nil)"]

    # a acknowledges its two; b's one stays pending, under b's name.
    assert run(learner, "XACK orders mailers 1-1 2-1") == ["(integer) 2"]
    assert run(learner, "XPENDING orders mailers") == [
        '1) (integer) 1\n2) "3-1"\n3) "3-1"\n4) 1) 1) "b"\n      2) "1"'
    ]
    extended = run(learner, "XPENDING orders mailers - + 10")[0]
    assert re.fullmatch(
        r'1\) 1\) "3-1"\n   2\) "b"\n   3\) \(integer\) \d+\n   4\) \(integer\) 1', extended
    ), extended
    assert run(learner, "XPENDING orders mailers - + 10 a") == ["(empty array)"]
    # b, restarting, reads its own pending entry again (id 0), then acknowledges it.
    assert run(learner, "XREADGROUP GROUP mailers b STREAMS orders 0")[0].startswith(
        '1) 1) "orders"\n   2) 1) 1) "3-1"'
    )
    assert run(learner, "XACK orders mailers 3-1", "XACK orders mailers 3-1") == [
        "(integer) 1", "(integer) 0",
    ]  # fmt: skip
    assert run(learner, "XPENDING orders mailers") == [
        "1) (integer) 0\n2) (nil)\n3) (nil)\n4) (nil)"
    ]
    # Acknowledging deletes nothing: the stream still holds its three entries.
    assert run(learner, "XLEN orders") == ["(integer) 3"]


@pytest.mark.parametrize(
    ("line", "status", "message"),
    [
        ("XGROUP DESTROY orders mailers", "refused", "runs only XGROUP CREATE"),
        ("XGROUP CREATECONSUMER orders mailers c", "refused", "not XGROUP CREATECONSUMER"),
        ("XGROUP HELP", "refused", "runs only XGROUP CREATE"),
        ("XGROUP CREATE orders mailers", "refused", "takes XGROUP CREATE key group"),
        ("XGROUP CREATE orders mailers $ ENTRIESREAD 3", "refused", "syntax error"),
        ("XGROUP CREATE orders mailers abc", "refused", "Invalid stream ID"),
        ("XGROUP CREATE orders 'a b' $", "refused", "is not a group name"),
        ("XGROUP CREATE orders mailers 0", "error", "BUSYGROUP Consumer Group name already"),
        ("XGROUP CREATE nothing mailers $", "error", "requires the key to exist"),
        ("XREADGROUP GROUP mailers a STREAMS orders $", "refused", "Invalid stream ID"),
        ("XREADGROUP GROUP mailers a STREAMS orders", "refused", "Unbalanced 'xreadgroup'"),
        ("XREADGROUP mailers a STREAMS orders >", "refused", "takes XREADGROUP GROUP group"),
        ("XREADGROUP GROUP mailers a NOACK STREAMS orders >", "refused", "syntax error"),
        ("XREADGROUP GROUP mailers a COUNT x STREAMS orders >", "refused", "not an integer"),
        ("XREADGROUP GROUP mailers a BLOCK -1 STREAMS orders >", "refused", "negative"),
        ("XREADGROUP GROUP mailers * STREAMS orders >", "refused", "is not a consumer name"),
        ("XREADGROUP GROUP nobody a STREAMS orders >", "error", "NOGROUP No such key 'orders'"),
        ("XACK orders mailers", "refused", "wrong number of arguments for 'xack'"),
        ("XACK orders mailers >", "refused", "Invalid stream ID"),
        ("XACK orders mailers 1-1 abc", "refused", "Invalid stream ID"),
        ("XPENDING orders", "refused", "wrong number of arguments for 'xpending'"),
        ("XPENDING orders mailers - +", "refused", "takes XPENDING key group"),
        ("XPENDING orders mailers - + x", "refused", "not an integer"),
        ("XPENDING orders mailers x + 10", "refused", "Invalid stream ID"),
        ("XPENDING orders nobody", "error", "NOGROUP No such key 'orders'"),
        ("XPENDING jobs mailers", "error", "WRONGTYPE"),
        ("XLEN", "refused", "wrong number of arguments for 'xlen'"),
    ],
)
def test_a_bad_group_command_gets_an_error_line(own_redis, line, status, message):
    learner = make_learner_id()
    run(learner, "XADD orders * order 1", "XGROUP CREATE orders mailers 0", "LPUSH jobs x")
    reply = console_execute(learner_id=learner, line=line)
    assert (reply.status, reply.http_status) == (status, 200), reply.text
    assert reply.text.startswith("(error) ") and message in reply.text, reply.text
    assert "learnsite" not in reply.text  # errors naming a key name it short
    assert "(error) ERR " in reply.text if status == "refused" else True


def test_groups_and_their_consumers_are_bounded(own_redis):
    learner = make_learner_id()
    run(learner, "XADD orders * order 1")
    for n in range(MAX_GROUPS):
        assert run(learner, f"XGROUP CREATE orders g{n} 0") == ["OK"]
    assert f"at most {MAX_GROUPS} groups" in run(learner, "XGROUP CREATE orders one-more 0")[0]
    assert run(learner, "XGROUP CREATE orders g0 0")[0].startswith("(error) BUSYGROUP")
    run(learner, *(f"XADD orders * order {n}" for n in range(MAX_CONSUMERS)))
    for n in range(MAX_CONSUMERS):
        run(learner, f"XREADGROUP GROUP g0 c{n} COUNT 1 STREAMS orders >")
    assert (
        f"at most {MAX_CONSUMERS} consumers"
        in run(learner, "XREADGROUP GROUP g0 one-more STREAMS orders >")[0]
    )
    assert run(learner, "XREADGROUP GROUP g0 c3 STREAMS orders >")[0].startswith('1) 1) "orders"')
    consumers = own_redis.xinfo_consumers(console_key(learner, "orders"), "g0")
    assert len(consumers) == MAX_CONSUMERS
    reply = console_execute(
        learner_id=learner, line="XREADGROUP GROUP g1 a COUNT 99 STREAMS orders >"
    )
    assert reply.status == "ok" and "at most 20 entries" in reply.note
    reply = console_execute(learner_id=learner, line="XPENDING orders g1 - + 99")
    assert reply.status == "ok" and "at most 20 pending entries" in reply.note
    assert (
        "at most 4 streams" in run(learner, "XREADGROUP GROUP g1 a STREAMS a b c d e > > > > >")[0]
    )
    assert "is not a group name" in run(learner, "XACK orders " + "g" * 65 + " 1-1")[0]
    # MKSTREAM makes a key: it counts among the learner's keys.
    for n in range(MAX_KEYS - 1):
        run(learner, f"SET key{n} v")
    assert "at most 20 keys" in run(learner, "XGROUP CREATE fresh g $ MKSTREAM")[0]


def test_a_message_nobody_hears_is_lost_but_a_pushed_job_waits(own_redis):
    learner = make_learner_id()
    assert run(learner, "PUBLISH updates 'New data available'") == ["(integer) 0"]
    # Subscribing afterwards gets nothing: Redis kept nothing of it.
    late = subscriber(own_redis, console_channel(learner, "updates"))
    run(learner, "SUBSCRIBE updates")
    assert late.get_message(timeout=0.3) is None
    assert not [key for key in own_redis.keys("*") if b"updates" in key]

    assert run(learner, "LPUSH jobs 'resize photo 7'") == ["(integer) 1"]
    time.sleep(0.5)  # nobody is taking jobs meanwhile
    assert run(learner, "RPOP jobs", "RPOP jobs") == ['"resize photo 7"', "(nil)"]


def test_another_learner_does_not_see_your_keys(own_redis):
    learner, other = make_learner_id(), make_learner_id()
    run(learner, "SET secret 42", "LPUSH jobs mine", "SUBSCRIBE updates")
    assert run(other, "GET secret", "LLEN jobs", "RPOP jobs", "DEL secret jobs") == [
        "(nil)", "(integer) 0", "(nil)", "(integer) 0",
    ]  # fmt: skip
    assert run(learner, "GET secret", "LLEN jobs") == ['"42"', "(integer) 1"]


def test_every_key_the_console_writes_expires(own_redis):
    learner = make_learner_id()
    run(learner, "SET a 1", "LPUSH b x", "RPUSH c y", "XADD d * f v", "SUBSCRIBE e")
    run(learner, "PSUBSCRIBE f*", "EXPIRE b 30", "LPUSH b z", "SET g 1 EX 60", "EXPIRE a 10")
    run(learner, "SET a 2")  # SET clears a TTL: the console gives one back
    run(learner, "XGROUP CREATE h mailers $ MKSTREAM", "XADD d * f w")
    run(learner, "XGROUP CREATE d mailers 0", "XREADGROUP GROUP mailers a STREAMS d >")
    ttls = {key.decode(): own_redis.ttl(key) for key in own_redis.keys("*")}
    assert ttls and all(0 < ttl <= LEARNER_TTL_SECONDS for ttl in ttls.values()), ttls
    assert 0 < ttls[console_key(learner, "b")] <= 30  # LPUSH keeps the learner's own TTL
    assert 0 < ttls[console_key(learner, "g")] <= 60
    assert ttls[console_key(learner, "a")] > 60


def test_sizes_are_bounded(own_redis):
    learner = make_learner_id()
    too_long = "SET k " + "x" * MAX_LINE_BYTES
    assert "lines of at most" in run(learner, too_long)[0]
    assert "arguments of at most" in run(learner, "SET k " + "é" * (MAX_VALUE_BYTES // 2 + 1))[0]
    assert "at most" in run(learner, "DEL " + " ".join(f"k{n}" for n in range(MAX_ARGS)))[0]
    assert "is not a key name" in run(learner, "GET " + "k" * 65)[0]
    assert "keeps keys at most" in run(learner, "EXPIRE k 3601")[0]
    assert "keeps keys 1 to" in run(learner, "SET k v EX 3601")[0]
    assert "at most 20 at a time" in run(learner, "RPOP k 21")[0]

    for start in range(0, MAX_ENTRIES - 1, 10):
        run(
            learner,
            "RPUSH long "
            + " ".join(str(n) for n in range(start, min(start + 10, MAX_ENTRIES - 1))),
        )
    assert "keeps lists to" in run(learner, "RPUSH long a b")[0]
    assert run(learner, "RPUSH long last") == [f"(integer) {MAX_ENTRIES}"]
    reply = console_execute(learner_id=learner, line="LRANGE long 0 -1")
    assert len(reply.text.splitlines()) == READ_MAX and "at most 20 elements" in reply.note
    reply = console_execute(learner_id=learner, line="XRANGE nothing - + COUNT 1000")
    assert reply.text == "(empty array)" and "at most 20 entries" in reply.note

    for n in range(MAX_KEYS - 1):
        run(learner, f"SET key{n} v")
    assert "at most 20 keys" in run(learner, "SET one-too-many v")[0]
    assert run(learner, "DEL key0", "SET one-too-many v") == ["(integer) 1", "OK"]
    assert len([k for k in own_redis.keys(console_key(learner, "*"))]) == MAX_KEYS

    run(learner, "SUBSCRIBE " + " ".join(f"c{n}" for n in range(MAX_SUBSCRIPTIONS)))
    assert "at most 10 subscriptions" in run(learner, "PSUBSCRIBE more*")[0]


def test_blocking_commands_wait_at_most_two_seconds(own_redis):
    learner = make_learner_id()
    started = time.monotonic()
    reply = console_execute(learner_id=learner, line="BRPOP empty 0")
    waited = time.monotonic() - started
    assert reply.text.startswith("(nil)\n(2.") and "at most 2 s" in reply.note
    assert BLOCK_MAX_SECONDS <= waited < BLOCK_MAX_SECONDS + 1
    started = time.monotonic()
    reply = console_execute(learner_id=learner, line="XREAD BLOCK 0 STREAMS s $")
    assert reply.text.startswith("(nil)") and "at most 2000 ms" in reply.note
    assert time.monotonic() - started < BLOCK_MAX_SECONDS + 1
    run(learner, "XGROUP CREATE s mailers $ MKSTREAM")
    started = time.monotonic()
    reply = console_execute(
        learner_id=learner, line="XREADGROUP GROUP mailers a BLOCK 0 STREAMS s >"
    )
    waited = time.monotonic() - started
    assert reply.text.startswith("(nil)\n(2.") and "at most 2000 ms" in reply.note
    assert BLOCK_MAX_SECONDS <= waited < BLOCK_MAX_SECONDS + 1


def test_only_so_many_learners_wait_at_once(own_redis, monkeypatch):
    # Waits longer than the console allows, so that however slowly the waiters' threads start
    # (each records its line), none is over by the time the last one waits. Under load, these
    # threads once built two blocking pools at once, and the 21st learner got a connection.
    monkeypatch.setattr("labs.lab_console.BLOCK_MAX_SECONDS", 30)
    waiting = [make_learner_id() for _ in range(BLOCKING_CONNECTIONS)]
    with ThreadPoolExecutor(len(waiting)) as pool:
        replies = [pool.submit(run, learner, "BRPOP jobs 30") for learner in waiting]
        wait_until(lambda: own_redis.info("clients")["blocked_clients"] == len(waiting), 30)
        reply = console_execute(learner_id=make_learner_id(), line="BRPOP jobs 1")
        assert reply.status == "refused" and "the console is busy" in reply.text
        for learner in waiting:  # what each one waits for
            run(learner, "LPUSH jobs done")
        assert all(future.result()[0].startswith('1) "jobs"\n2) "done"') for future in replies)
    assert console_execute(learner_id=make_learner_id(), line="BRPOP jobs 0.1").text == "(nil)"


def test_the_rate_limit_counts_lines_per_learner(own_redis):
    learner, other = make_learner_id(), make_learner_id()
    replies = [console_execute(learner_id=learner, line="PING") for _ in range(COMMANDS_PER_MINUTE)]
    assert {reply.text for reply in replies} == {"PONG"}
    over = console_execute(learner_id=learner, line="PING")
    assert over.http_status == 429 and "lines in the last minute" in over.text
    assert not over.recorded
    assert console_execute(learner_id=other, line="PING").text == "PONG"
    assert 0 < own_redis.ttl(f"{KEY_PREFIX}{learner}:rate:console") <= 60


def test_redis_away_is_said_not_raised(settings, tmp_path):
    settings.REDIS_URL = f"unix://{tmp_path}/nobody.sock"
    redis_client.cache_clear()
    try:
        reply = console_execute(learner_id=make_learner_id(), line="PING")
    finally:
        redis_client.cache_clear()
    assert reply.http_status == 503 and "not answering" in reply.text and not reply.recorded


def test_moving_three_jobs_means_three_pushed_items_popped_from_that_list():
    def command(name: str, key: str, *values: str) -> tuple[str, dict]:
        facts = {"key": key, "values": list(values)}
        event = {"kind": "command", "at": 0, "name": name, "line": "", "text": "", "status": "ok"}
        return ("0-0", event | {"facts": facts})

    def met(*events) -> bool:
        return console_moved_three_jobs(console_runs_fold(list(events), now=0))

    assert met(command("LPUSH", "jobs", "a", "b", "c"), command("RPOP", "jobs", "a", "b"),
               command("BRPOP", "jobs", "c"))  # fmt: skip
    assert not met(command("LPUSH", "jobs", "a", "b", "c"), command("LPOP", "jobs", "c", "b", "a"))
    assert not met(command("LPUSH", "jobs", "a", "b", "c"), command("RPOP", "other", "a", "b", "c"))
    assert not met(command("RPUSH", "jobs", "a", "b", "c"), command("RPOP", "jobs", "c", "b", "a"))
    assert not met(command("RPOP", "jobs", "a", "b", "c"), command("LPUSH", "jobs", "a", "b", "c"))


def test_sharing_a_stream_means_two_consumers_read_and_every_entry_read_is_acknowledged():
    def command(name: str, **facts) -> tuple[str, dict]:
        event = {"kind": "command", "at": 0, "name": name, "line": "", "text": "", "status": "ok"}
        return ("0-0", event | {"facts": facts})

    def read(consumer: str, *ids: str, key: str = "orders", group: str = "mailers"):
        return command("XREADGROUP", group=group, consumer=consumer, entries={key: list(ids)})

    def ack(count: int, key: str = "orders", group: str = "mailers"):
        return command("XACK", key=key, group=group, acked=count)

    def met(*events) -> bool:
        return console_shared_a_stream(console_runs_fold(list(events), now=0))

    assert met(read("a", "1-0"), read("b", "2-0"), ack(1), ack(1))
    # Rereading a pending entry (id 0) hands out nothing new.
    assert met(read("a", "1-0"), read("b", "2-0"), ack(1), read("b", "2-0"), ack(1))
    assert not met(read("a", "1-0"), read("b", "2-0"), ack(1))  # one still pending
    assert not met(read("a", "1-0"), read("a", "2-0"), ack(2))  # one consumer only
    assert not met(read("a", "1-0"), read("b"), ack(1))  # b was given nothing
    assert not met(read("a", "1-0"), read("b", "2-0", group="other"), ack(1), ack(1))
    assert not met(read("a", "1-0"), read("b", "2-0"), ack(2, key="elsewhere"))


# Through the site: the page, htmx, the event stream and the goals.


def channel_prefix_of(page: str) -> str:
    return re.search(r"<code data-channel-prefix>([^<]+)</code>", page).group(1)


def test_the_page_runs_a_line_with_htmx_and_without(live_url):
    learner = LiveClient(live_url)
    page = learner.get("/labs/console/")
    assert page.status == 200 and 'hx-post="/labs/console/run/"' in page.text

    answer = learner.htmx_post("/labs/console/run/", {"line": "SET greeting hello"})
    assert answer.status == 200 and '<pre class="console-reply">OK</pre>' in answer.text
    assert 'data-line="SET greeting hello"' in answer.text

    # Without JavaScript: a plain form post, then the page again with the reply in it.
    plain = learner.request(
        "POST", "/labs/console/run/",
        data={"line": "GET greeting", "csrfmiddlewaretoken": learner.csrf_token()},
    )  # fmt: skip
    assert plain.status == 200
    transcript = plain.text.split('id="console-transcript"')[1].split("</form>")[0]
    assert transcript.index("SET greeting hello") < transcript.index("GET greeting")
    assert "&quot;hello&quot;</pre>" in transcript


# The page's feed: a real subscription to the learner's console subscriptions.


def console_page(live_url: str) -> tuple[LiveClient, str]:
    """A learner with the console open, and the prefix of their channels."""
    learner = LiveClient(live_url)
    return learner, channel_prefix_of(learner.get("/labs/console/").text)


def console_feed(learner: LiveClient):
    """The page's feed, once Redis has made its subscriptions."""
    stream = learner.events("/streams/labs/console/feed/")
    assert next(stream).event == "subscribed"
    return stream


def console_line(learner: LiveClient, stream, line: str, listens_to: str) -> None:
    """Run a (P)SUBSCRIBE line; wait until the feed says it listens to ``listens_to``."""
    assert learner.htmx_post("/labs/console/run/", {"line": line}).status == 200
    wanted = f"<code>{listens_to}</code>"
    next(event for event in stream if event.event == "subscribed" and wanted in event.data)


def next_message(stream) -> str:
    """The next message the feed streamed, as the transcript shows it."""
    event = next(event for event in stream if event.event == "message")
    return html.unescape(re.sub(r"<[^>]+>", "", event.data))


def numbers(client: redis.Redis, channel: str) -> tuple[int, int]:
    """Subscribers of ``channel``, and pattern subscriptions on the server."""
    return client.pubsub_numsub(channel)[0][1], client.pubsub_numpat()


def test_a_message_published_anywhere_streams_into_the_console(live_url, redis_url):
    learner, prefix = console_page(live_url)
    other, other_prefix = console_page(live_url)
    stream, other_stream = console_feed(learner), console_feed(other)
    console_line(learner, stream, "SUBSCRIBE updates", "updates")
    console_line(other, other_stream, "SUBSCRIBE updates", "updates")

    client = redis.Redis.from_url(redis_url)
    assert client.publish(prefix + "updates", "hello") == 1  # plain redis-py, not the console
    assert next_message(stream) == '1) "message"\n2) "updates"\n3) "hello"'
    client.publish(other_prefix + "updates", "theirs")
    assert next_message(other_stream) == '1) "message"\n2) "updates"\n3) "theirs"'
    stream.close(), other_stream.close()


def test_a_pattern_gets_its_channels_only(live_url, redis_url):
    learner, prefix = console_page(live_url)
    stream = console_feed(learner)
    console_line(learner, stream, "PSUBSCRIBE updates.*", "updates.*")
    client = redis.Redis.from_url(redis_url)
    client.publish(prefix + "news", "not this")
    client.publish("updates.x", "nor this: not the learner's channel")
    client.publish(prefix + "updates.x", "this")
    assert next_message(stream) == '1) "pmessage"\n2) "updates.*"\n3) "updates.x"\n4) "this"'
    stream.close()


def test_publish_counts_the_open_page_and_nobody_else_gets_it(live_url, redis_url):
    learner, prefix = console_page(live_url)
    other, _ = console_page(live_url)
    stream, other_stream = console_feed(learner), console_feed(other)
    console_line(other, other_stream, "PSUBSCRIBE *", "*")
    console_line(learner, stream, "SUBSCRIBE updates", "updates")
    client = redis.Redis.from_url(redis_url)
    patterns = client.pubsub_numpat()

    reply = learner.htmx_post("/labs/console/run/", {"line": "PUBLISH updates 'hello page'"})
    assert '<pre class="console-reply">(integer) 1</pre>' in reply.text
    assert next_message(stream) == '1) "message"\n2) "updates"\n3) "hello page"'
    with_listener = subscriber(client, prefix + "updates")
    reply = learner.htmx_post("/labs/console/run/", {"line": "PUBLISH updates again"})
    assert '<pre class="console-reply">(integer) 2</pre>' in reply.text
    with_listener.close()
    # The other learner's page (subscribed to every channel of theirs) got none of it.
    other.htmx_post("/labs/console/run/", {"line": "PUBLISH mine theirs"})
    assert next_message(other_stream) == '1) "pmessage"\n2) "*"\n3) "mine"\n4) "theirs"'

    # A closed page lets go of its subscription.
    assert numbers(client, prefix + "updates") == (1, patterns)
    stream.close(), other_stream.close()
    wait_until(lambda: numbers(client, prefix + "updates") == (0, patterns - 1))


def test_unsubscribe_ends_the_pages_subscription(live_url, redis_url):
    learner, prefix = console_page(live_url)
    stream = console_feed(learner)
    console_line(learner, stream, "SUBSCRIBE updates news", "news")
    client = redis.Redis.from_url(redis_url)
    assert numbers(client, prefix + "updates")[0] == 1
    learner.htmx_post("/labs/console/run/", {"line": "UNSUBSCRIBE updates"})
    next(event for event in stream if event.event == "subscribed" and "updates" not in event.data)
    assert numbers(client, prefix + "updates")[0] == 0
    assert client.publish(prefix + "news", "still") == 1
    assert next_message(stream) == '1) "message"\n2) "news"\n3) "still"'
    stream.close()


def test_the_challenges_are_met_and_recorded(live_url, redis_url):
    learner = LiveClient(live_url)
    prefix = channel_prefix_of(learner.get("/labs/console/").text)
    client = redis.Redis.from_url(redis_url)
    listeners = [subscriber(client, prefix + "updates") for _ in range(2)]

    line = 'PUBLISH updates "New data available"'
    assert "(integer) 2" in learner.htmx_post("/labs/console/run/", {"line": line}).text
    for listener in listeners:
        assert listener.get_message(timeout=2)["data"] == b"New data available"
    for line in ["LPUSH jobs one two three", "RPOP jobs", "BRPOP jobs 1", "RPOP jobs"]:
        learner.htmx_post("/labs/console/run/", {"line": line})

    # Lesson 8's consumer-group walk, then its challenge.
    def typed(line: str) -> str:
        return learner.htmx_post("/labs/console/run/", {"line": line}).text

    ids = [re.search(r"\d{13}-\d+", typed(f"XADD orders * order {n}"))[0] for n in (1, 2)]
    for line in [
        "XGROUP CREATE orders mailers 0",
        "XREADGROUP GROUP mailers mailer-a COUNT 1 STREAMS orders >",
        "XREADGROUP GROUP mailers mailer-b COUNT 1 STREAMS orders >",
        f"XACK orders mailers {ids[0]}",
        "XREADGROUP GROUP mailers mailer-b STREAMS orders 0",
        f"XACK orders mailers {ids[1]}",
    ]:
        assert "(error)" not in typed(line), line
    assert "1) (integer) 0" in typed("XPENDING orders mailers")

    page = learner.get("/labs/console/").text
    goals = page.split('id="lab-goals"')[1].split("</ul>")[0]
    assert goals.count("is-done") == 3
    learner_key = prefix.split(":")[2]
    met = set(LabGoalMet.objects.filter(learner__key=learner_key).values_list("lab", "goal"))
    assert met == {
        ("console", "publish-while-two-listen"),
        ("console", "move-three-jobs"),
        ("console", "share-a-stream"),
    }
    # Another learner has met neither.
    other = LiveClient(live_url).get("/labs/console/").text
    assert other.split('id="lab-goals"')[1].split("</ul>")[0].count("is-done") == 0
