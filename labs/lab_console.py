"""The lab "A Redis console": real Redis commands, typed in the page, run on the site's Redis.

A line goes through two steps:

1. ``console_parse`` (pure) splits it as redis-cli does (quotes, escapes), checks the command is
   on the allow-list, and checks its arguments: arity, names, numbers, sizes. A line that fails
   is a ``Refusal`` with a message, and nothing reaches Redis.
2. ``console_execute`` counts the line against the learner's rate limit, runs the ``Command``
   with every name rewritten into the learner's space, formats the reply as redis-cli prints it
   and records the line as a lab event (the transcript, the goals and the messages come from
   those events).

Namespacing. A ``Command`` keeps the names it touches apart from its other arguments: ``keys``
and ``channels`` (or patterns) are only ever sent to Redis with the learner's prefix in front,
and no other argument is ever a name:

- a key ``jobs`` is ``learnsite:learner:<learner key>:console:jobs``;
- a channel ``updates`` is the learner's channel of the "Publish and subscribe" lab,
  ``learnsite-labs:learner:<learner key>:pubsub:updates`` (``lab_pubsub.real_channel``), so that
  lab's real subscribers (the feed of each open tab of its page, its Python subscriber) receive
  what the console publishes, and count in PUBLISH's reply;
- a name is letters, digits and ``. _ : -`` (so no glob characters, spaces or quotes), at most
  ``MAX_NAME_BYTES``, and may not start with ``learnsite`` (type the short name: the console
  adds the prefix); a pattern may also hold ``* ? [ ] ^ \\``. The learner key is URL-safe
  base64, free of glob characters, so a pattern, put after the literal prefix, only ever
  matches channels of the learner's own space;
- commands that reach beyond one key (KEYS, SCAN, EVAL, CONFIG, FLUSHALL, CLIENT, MONITOR...)
  are not on the list; replies that name keys (BRPOP, XREAD, XREADGROUP) show the short names.

Subscriptions. SUBSCRIBE and PSUBSCRIBE add the channel or pattern to a Redis set of the
learner's (with a TTL); UNSUBSCRIBE and PUNSUBSCRIBE take it out. The subscription itself is
real: each open console page has a feed (``console_feed``, a server-sent event stream) holding
one Redis PubSub of its own, subscribed to what the sets hold, which it reads again whenever the
learner's lab events are announced (SUBSCRIBE records one) and at each heartbeat. Every message
it gets, from any publisher (the console's PUBLISH, the pubsub lab, redis-cli), goes into the
page's transcript as redis-cli prints it; so PUBLISH's reply, Redis's own count, includes each
open console page subscribed to the channel. Closing the page ends its subscription.

Limits: ``COMMANDS_PER_MINUTE`` lines a minute, lines, names and values bounded in bytes, at
most ``MAX_KEYS`` keys of at most ``MAX_ENTRIES`` entries each, reads of at most ``READ_MAX``
entries, waits (BRPOP, XREAD BLOCK, XREADGROUP BLOCK) of at most ``BLOCK_MAX_SECONDS``, and every
key the console writes gets a TTL of at most ``KEY_TTL_SECONDS``.

Consumer groups. XGROUP CREATE (its only subcommand here), XREADGROUP, XACK and XPENDING take
their stream keys through the same rewrite; a group's or a consumer's name is not a key (it
lives inside the stream) but is checked like one, plain and short. A stream holds at most
``MAX_GROUPS`` groups of at most ``MAX_CONSUMERS`` consumers, and goes away, groups and all,
with its TTL or a DEL. Errors that name a key (NOGROUP) show the short name.
"""

import asyncio
import contextlib
import functools
import re
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import redis
import redis.asyncio
from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from redis.exceptions import RedisError, ResponseError

from learners.identity import alearner_id, learner_id_for
from learnsite.htmx import HtmxHttpRequest

from .channels import FEED_RECONNECT_MS, FEED_SECONDS, real_channel
from .events import KEY_PREFIX, LEARNER_TTL_SECONDS, event_publish, learner_channel
from .limits import learner_allows
from .predictions import PredictionPairing, Runs
from .services import BROKER_DOWN, BrokerUnavailable, RateLimited
from .streaming import HEARTBEAT_SECONDS, KEEP_ALIVE, counted_sse_response, sse_event

LAB = "console"

# Predict, then observe: what the next RPOP or BRPOP of a list takes, against the order of the
# LPUSHes that filled it.
OUTCOMES = {
    "first": "The first job pushed",
    "last": "The last job pushed",
    "nil": "Nothing: (nil)",
}

COMMANDS_PER_MINUTE = 60
MAX_LINE_BYTES = 1024
MAX_ARGS = 24  # the command's name included
MAX_NAME_BYTES = 64
MAX_VALUE_BYTES = 512
MAX_KEYS = 20
MAX_ENTRIES = 50  # in one list or stream
READ_MAX = 20  # entries one read returns
MAX_STREAMS_READ = 4
MAX_SUBSCRIPTIONS = 10
MAX_GROUPS = 5  # consumer groups on one stream
MAX_CONSUMERS = 10  # consumers in one group
BLOCK_MAX_SECONDS = 2
KEY_TTL_SECONDS = LEARNER_TTL_SECONDS
# Blocking commands hold a connection while they wait: at most this many at once per process.
BLOCKING_CONNECTIONS = 20
# redis-cli shows how long a command took when it took this long.
SLOW_SECONDS = 0.5

TRANSCRIPT_SHOWN = 30
RECORDED_TEXT_MAX = 4000

ALLOWED = (
    "PING", "GET", "SET", "DEL", "EXPIRE", "TTL",
    "LPUSH", "RPUSH", "LPOP", "RPOP", "BRPOP", "LRANGE", "LLEN",
    "XADD", "XRANGE", "XREAD", "XLEN", "XGROUP", "XREADGROUP", "XACK", "XPENDING",
    "PUBLISH", "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
)  # fmt: skip
_EVERYONE = "it reaches every key on the server, everyone's, not just yours"
_SCRIPTS = "a script can touch any key on the server, not just yours"
_ADMIN = "it runs the whole server, which every learner shares"
_OTHERS = "it shows or changes other people's connections"
WHY_NOT = {
    **dict.fromkeys(["KEYS", "SCAN", "RANDOMKEY", "DBSIZE", "FLUSHALL", "FLUSHDB"], _EVERYONE),
    **dict.fromkeys(["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "SCRIPT", "FCALL", "FCALL_RO",
                     "FUNCTION"], _SCRIPTS),
    **dict.fromkeys(["CONFIG", "DEBUG", "SHUTDOWN", "SAVE", "BGSAVE", "BGREWRITEAOF", "REPLICAOF",
                     "SLAVEOF", "ACL", "MODULE", "SWAPDB", "SELECT", "MIGRATE", "FAILOVER",
                     "LATENCY", "MEMORY"], _ADMIN),
    **dict.fromkeys(["CLIENT", "MONITOR", "PUBSUB", "INFO", "SLOWLOG", "AUTH", "HELLO"], _OTHERS),
}  # fmt: skip

_NAME = re.compile(r"[\w.:-]+")
_PATTERN = re.compile(r"[\w.:*?\[\]^\\-]+")
_INTEGER = re.compile(r"-?\d{1,18}")
_SECONDS = re.compile(r"\d{1,9}(\.\d{1,6})?")
_XADD_ID = re.compile(r"\*|\d{1,20}(-\d{1,20})?")
_XRANGE_ID = re.compile(r"[-+]|\(?\d{1,20}(-\d{1,20})?")
_XREAD_ID = re.compile(r"\$|\d{1,20}(-\d{1,20})?")
_XREADGROUP_ID = re.compile(r">|\d{1,20}(-\d{1,20})?")
_ENTRY_ID = re.compile(r"\d{1,20}(-\d{1,20})?")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}
_HEX = frozenset("0123456789abcdefABCDEF")


# Parsing: pure functions of the line.


class Refused(Exception):
    """A command the console does not run, with the message to show (like a Redis error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Refusal:
    message: str

    @property
    def text(self) -> str:
        return f"(error) {self.message}"


@dataclass(frozen=True)
class Command:
    """A checked command. Names are short: the console adds the learner's prefix to each of
    ``keys`` and ``channels`` (patterns, for PSUBSCRIBE) when it runs the command; ``args`` are
    never names."""

    name: str
    keys: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    note: str = ""


def console_split(line: str) -> list[str]:
    """The arguments of a line, split as redis-cli splits them (``sdssplitargs``): double quotes
    with \\n \\r \\t \\b \\a \\xHH escapes, single quotes with \\' only. Raises ValueError for
    unbalanced quotes, a quote not followed by a space, or escapes that are not UTF-8."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = done = False
        while not done:
            c = line[i] if i < n else ""
            if in_double:
                if c == "\\" and _hex_escape_at(line, i):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    i += 1
                    current += _ESCAPES.get(line[i], line[i]).encode()
                elif c == '"':
                    if i + 1 < n and line[i + 1] not in " \t":
                        raise ValueError("a closing quote must be followed by a space")
                    done = True
                elif not c:
                    raise ValueError("unbalanced quotes")
                else:
                    current += c.encode()
            elif in_single:
                if c == "\\" and line[i + 1 : i + 2] == "'":
                    i += 1
                    current += b"'"
                elif c == "'":
                    if i + 1 < n and line[i + 1] not in " \t":
                        raise ValueError("a closing quote must be followed by a space")
                    done = True
                elif not c:
                    raise ValueError("unbalanced quotes")
                else:
                    current += c.encode()
            elif c in ("", " ", "\t"):
                done = True
            elif c == '"':
                in_double = True
            elif c == "'":
                in_single = True
            else:
                current += c.encode()
            if i < n:
                i += 1
        args.append(current.decode())  # UnicodeDecodeError is a ValueError


def _hex_escape_at(line: str, i: int) -> bool:
    digits = line[i + 2 : i + 4]
    return line[i + 1 : i + 2] == "x" and len(digits) == 2 and set(digits) <= _HEX


def _shown(token: str) -> str:
    """A token to echo in a message: control characters escaped, cut short."""
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in token[:32])
    return shown if len(token) <= 32 else shown + "…"


def _arity(name: str, args: list[str], least: int, most: int | None = None) -> None:
    if len(args) < least or (most is not None and len(args) > most):
        raise Refused(f"ERR wrong number of arguments for '{name.lower()}' command")


def _name(token: str, what: str = "key") -> str:
    if not _NAME.fullmatch(token) or len(token.encode()) > MAX_NAME_BYTES:
        hint = " (patterns go with PSUBSCRIBE)" if what == "channel" else ""
        raise Refused(
            f"ERR '{_shown(token)}' is not a {what} name here: use letters, digits and . _ : - "
            f"(at most {MAX_NAME_BYTES} bytes), like jobs or user:1{hint}"
        )
    if token.casefold().startswith("learnsite"):
        raise Refused(
            f"ERR type the short name, without 'learnsite…': the console already keeps your "
            f"{what}s in a space of your own"
        )
    return token


def _pattern(token: str) -> str:
    if not _PATTERN.fullmatch(token) or len(token.encode()) > MAX_NAME_BYTES:
        raise Refused(
            f"ERR '{_shown(token)}' is not a pattern here: use letters, digits, . _ : - and the "
            f"glob characters * ? [ ] ^ \\ (at most {MAX_NAME_BYTES} bytes), like news.*"
        )
    if token.casefold().startswith("learnsite"):
        raise Refused(
            "ERR type the short pattern, without 'learnsite…': the console already matches "
            "only the channels of your own space"
        )
    return token


def _integer(token: str) -> int:
    if not _INTEGER.fullmatch(token):
        raise Refused("ERR value is not an integer or out of range")
    return int(token)


def _count(token: str, *, most: int, what: str) -> int:
    count = _integer(token)
    if count < 1:
        raise Refused("ERR value is out of range, must be positive")
    if count > most:
        raise Refused(f"ERR the console {what} at most {most} at a time")
    return count


def _single_key(name: str, args: list[str]) -> Command:
    _arity(name, args, 1, 1)
    return Command(name, keys=(_name(args[0]),))


def _ping(name: str, args: list[str]) -> Command:
    _arity(name, args, 0, 1)
    return Command(name, args=tuple(args))


def _set(name: str, args: list[str]) -> Command:
    _arity(name, args, 2)
    key, value, options, rest = _name(args[0]), args[1], [], args[2:]
    usage = "ERR syntax error: the console's SET takes SET key value [EX seconds] [NX|XX]"
    while rest:
        option = rest.pop(0).upper()
        if option == "EX" and rest:
            seconds = _integer(rest.pop(0))
            if not 0 < seconds <= KEY_TTL_SECONDS:
                raise Refused(f"ERR the console keeps keys 1 to {KEY_TTL_SECONDS} seconds")
            options += ["EX", str(seconds)]
        elif option in ("NX", "XX") and not {"NX", "XX"} & set(options):
            options.append(option)
        else:
            raise Refused(usage)
    return Command(name, keys=(key,), args=(value, *options))


def _del(name: str, args: list[str]) -> Command:
    _arity(name, args, 1)
    return Command(name, keys=tuple(_name(arg) for arg in args))


def _expire(name: str, args: list[str]) -> Command:
    _arity(name, args, 2, 2)
    seconds = _integer(args[1])
    if seconds > KEY_TTL_SECONDS:
        raise Refused(f"ERR the console keeps keys at most {KEY_TTL_SECONDS} seconds")
    return Command(name, keys=(_name(args[0]),), args=(str(seconds),))


def _push(name: str, args: list[str]) -> Command:
    _arity(name, args, 2)
    return Command(name, keys=(_name(args[0]),), args=tuple(args[1:]))


def _pop(name: str, args: list[str]) -> Command:
    _arity(name, args, 1, 2)
    count = [str(_count(arg, most=READ_MAX, what="pops")) for arg in args[1:]]
    return Command(name, keys=(_name(args[0]),), args=tuple(count))


def _brpop(name: str, args: list[str]) -> Command:
    _arity(name, args, 2)
    keys, timeout = tuple(_name(arg) for arg in args[:-1]), args[-1]
    if timeout.startswith("-") and _SECONDS.fullmatch(timeout[1:]):
        raise Refused("ERR timeout is negative")
    if not _SECONDS.fullmatch(timeout):
        raise Refused("ERR timeout is not a float or out of range")
    note = ""
    if float(timeout) == 0 or float(timeout) > BLOCK_MAX_SECONDS:
        asked = "0 (for ever)" if float(timeout) == 0 else timeout
        note = f"The console waits at most {BLOCK_MAX_SECONDS} s: you asked for {asked}."
        timeout = str(BLOCK_MAX_SECONDS)
    return Command(name, keys=keys, args=(timeout,), note=note)


def _lrange(name: str, args: list[str]) -> Command:
    _arity(name, args, 3, 3)
    start, stop = _integer(args[1]), _integer(args[2])
    return Command(name, keys=(_name(args[0]),), args=(str(start), str(stop)))


def _xadd(name: str, args: list[str]) -> Command:
    _arity(name, args, 4)
    entry_id, fields = args[1], args[2:]
    if not _XADD_ID.fullmatch(entry_id):
        raise Refused(
            "ERR syntax error: the console's XADD takes XADD key <* | id> field value "
            "[field value ...]"
        )
    if len(fields) % 2:
        raise Refused("ERR wrong number of arguments for 'xadd' command")
    return Command(name, keys=(_name(args[0]),), args=(entry_id, *fields))


def _xrange(name: str, args: list[str]) -> Command:
    _arity(name, args, 3, 5)
    start, end, note, count = args[1], args[2], "", READ_MAX
    if not (_XRANGE_ID.fullmatch(start) and _XRANGE_ID.fullmatch(end)):
        raise Refused("ERR Invalid stream ID specified as stream command argument")
    if len(args) > 3:
        if len(args) != 5 or args[3].upper() != "COUNT":
            raise Refused("ERR syntax error")
        asked = _integer(args[4])
        if asked > READ_MAX:
            note = f"The console reads at most {READ_MAX} entries at a time."
        count = max(0, min(asked, READ_MAX))
    return Command(name, keys=(_name(args[0]),), args=(start, end, str(count)), note=note)


def _read_options(rest: list[str], syntax: str = "ERR syntax error") -> tuple[int, str, str]:
    """COUNT and BLOCK, taken off the front of ``rest`` up to STREAMS: the count, the wait in
    ms ("" for none) and a note of what the console bounded."""
    count, block, note = READ_MAX, "", ""
    while rest and rest[0].upper() != "STREAMS":
        option = rest.pop(0).upper()
        if option == "COUNT" and rest:
            asked = _integer(rest.pop(0))
            if asked > READ_MAX:
                note = f"The console reads at most {READ_MAX} entries a stream at a time. "
            count = max(1, min(asked, READ_MAX))
        elif option == "BLOCK" and rest:
            block_ms = _integer(rest.pop(0))
            if block_ms < 0:
                raise Refused("ERR timeout is negative")
            most = BLOCK_MAX_SECONDS * 1000
            if block_ms == 0 or block_ms > most:
                asked = "0 (for ever)" if block_ms == 0 else f"{block_ms} ms"
                note += f"The console waits at most {most} ms: you asked for {asked}."
                block_ms = most
            block = str(block_ms)
        else:
            raise Refused(syntax)
    return count, block, note.strip()


def _read_streams(name: str, rest: list[str], ids: re.Pattern) -> tuple[tuple[str, ...], list]:
    """The keys and ids after STREAMS (``rest`` starts at STREAMS)."""
    streams = rest[1:]
    if not streams or len(streams) % 2:
        also = " or '$'" if name == "XREAD" else ""
        raise Refused(
            f"ERR Unbalanced '{name.lower()}' list of streams: for each stream key an ID{also} "
            "must be specified."
        )
    keys, entry_ids = streams[: len(streams) // 2], streams[len(streams) // 2 :]
    if len(keys) > MAX_STREAMS_READ:
        raise Refused(f"ERR the console reads at most {MAX_STREAMS_READ} streams at once")
    if not all(ids.fullmatch(entry_id) for entry_id in entry_ids):
        raise Refused("ERR Invalid stream ID specified as stream command argument")
    return tuple(_name(key) for key in keys), entry_ids


def _xread(name: str, args: list[str]) -> Command:
    rest = list(args)
    count, block, note = _read_options(rest)
    keys, ids = _read_streams(name, rest, _XREAD_ID)
    return Command(name, keys=keys, args=(str(count), block, *ids), note=note)


def _label(token: str, what: str) -> str:
    """A consumer group's or a consumer's name: not a key (it lives inside the stream), but
    plain and short all the same."""
    if not _NAME.fullmatch(token) or len(token.encode()) > MAX_NAME_BYTES:
        raise Refused(
            f"ERR '{_shown(token)}' is not a {what} name here: use letters, digits and . _ : - "
            f"(at most {MAX_NAME_BYTES} bytes), like mailers or mailer-a"
        )
    return token


def _entry_ids(args: list[str]) -> tuple[str, ...]:
    if not all(_ENTRY_ID.fullmatch(entry_id) for entry_id in args):
        raise Refused("ERR Invalid stream ID specified as stream command argument")
    return tuple(args)


_XGROUP_USAGE = "XGROUP CREATE key group <id | $> [MKSTREAM]"


def _xgroup(name: str, args: list[str]) -> Command:
    _arity(name, args, 1)
    subcommand = args[0].upper()
    if subcommand != "CREATE":
        raise Refused(
            f"ERR the console runs only {_XGROUP_USAGE}, not XGROUP {_shown(subcommand)}: a "
            "group goes away with its stream (DEL the stream to start again)"
        )
    if len(args) not in (4, 5) or (len(args) == 5 and args[4].upper() != "MKSTREAM"):
        raise Refused(f"ERR syntax error: the console's XGROUP takes {_XGROUP_USAGE}")
    start = args[3]
    if start != "$" and not _ENTRY_ID.fullmatch(start):
        raise Refused("ERR Invalid stream ID specified as stream command argument")
    options = ("MKSTREAM",) if len(args) == 5 else ()
    return Command(name, keys=(_name(args[1]),), args=(_label(args[2], "group"), start, *options))


def _xreadgroup(name: str, args: list[str]) -> Command:
    usage = (
        "ERR syntax error: the console's XREADGROUP takes XREADGROUP GROUP group consumer "
        "[COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]"
    )
    if len(args) < 3 or args[0].upper() != "GROUP":
        raise Refused(usage)
    group, consumer, rest = _label(args[1], "group"), _label(args[2], "consumer"), args[3:]
    if not rest:
        raise Refused(usage)
    count, block, note = _read_options(rest, syntax=usage)
    keys, ids = _read_streams(name, rest, _XREADGROUP_ID)
    return Command(name, keys=keys, args=(group, consumer, str(count), block, *ids), note=note)


def _xack(name: str, args: list[str]) -> Command:
    _arity(name, args, 3)
    group, ids = _label(args[1], "group"), _entry_ids(args[2:])
    return Command(name, keys=(_name(args[0]),), args=(group, *ids))


def _xpending(name: str, args: list[str]) -> Command:
    _arity(name, args, 2)
    key, group, rest = _name(args[0]), _label(args[1], "group"), args[2:]
    if not rest:
        return Command(name, keys=(key,), args=(group,))
    if len(rest) not in (3, 4):
        raise Refused(
            "ERR syntax error: the console's XPENDING takes XPENDING key group, or XPENDING "
            "key group start end count [consumer]"
        )
    start, end, note = rest[0], rest[1], ""
    if not (_XRANGE_ID.fullmatch(start) and _XRANGE_ID.fullmatch(end)):
        raise Refused("ERR Invalid stream ID specified as stream command argument")
    asked = _integer(rest[2])
    if asked > READ_MAX:
        note = f"The console reads at most {READ_MAX} pending entries at a time."
    count = max(0, min(asked, READ_MAX))
    consumer = (_label(rest[3], "consumer"),) if len(rest) == 4 else ()
    return Command(name, keys=(key,), args=(group, start, end, str(count), *consumer), note=note)


def _publish(name: str, args: list[str]) -> Command:
    _arity(name, args, 2, 2)
    return Command(name, channels=(_name(args[0], "channel"),), args=(args[1],))


def _subscribe(name: str, args: list[str]) -> Command:
    _arity(name, args, 1)
    return Command(name, channels=tuple(_name(arg, "channel") for arg in args))


def _psubscribe(name: str, args: list[str]) -> Command:
    _arity(name, args, 1)
    return Command(name, channels=tuple(_pattern(arg) for arg in args))


def _unsubscribe(name: str, args: list[str]) -> Command:
    return Command(name, channels=tuple(_name(arg, "channel") for arg in args))


def _punsubscribe(name: str, args: list[str]) -> Command:
    return Command(name, channels=tuple(_pattern(arg) for arg in args))


GRAMMARS = {
    "PING": _ping, "GET": _single_key, "SET": _set, "DEL": _del, "EXPIRE": _expire,
    "TTL": _single_key, "LPUSH": _push, "RPUSH": _push, "LPOP": _pop, "RPOP": _pop,
    "BRPOP": _brpop, "LRANGE": _lrange, "LLEN": _single_key, "XADD": _xadd, "XRANGE": _xrange,
    "XREAD": _xread, "XLEN": _single_key, "XGROUP": _xgroup, "XREADGROUP": _xreadgroup,
    "XACK": _xack, "XPENDING": _xpending, "PUBLISH": _publish, "SUBSCRIBE": _subscribe,
    "PSUBSCRIBE": _psubscribe, "UNSUBSCRIBE": _unsubscribe, "PUNSUBSCRIBE": _punsubscribe,
}  # fmt: skip


def console_parse(line: str) -> Command | Refusal:
    """The command a line asks for, checked, or why the console will not run it."""
    if _SURROGATE.search(line):
        return Refusal("ERR the console takes text: this line holds a lone surrogate")
    if len(line.encode()) > MAX_LINE_BYTES:
        return Refusal(f"ERR the console takes lines of at most {MAX_LINE_BYTES} bytes")
    if _CONTROL.search(line):
        return Refusal('ERR type control characters as escapes in double quotes, like "a\\nb"')
    try:
        tokens = console_split(line)
    except UnicodeError:
        return Refusal("ERR the console takes text: \\x escapes must spell UTF-8")
    except ValueError:
        return Refusal("ERR Invalid argument(s): check the quotes")
    if not tokens:
        return Refusal("ERR type a command, like PING")
    name = tokens[0].upper()
    if name not in GRAMMARS:
        why = WHY_NOT.get(name)
        reason = f" here: {why}" if why else " in this console"
        return Refusal(f"ERR {_shown(name)} is not allowed{reason}. It runs {', '.join(ALLOWED)}.")
    if len(tokens) > MAX_ARGS:
        return Refusal(f"ERR the console takes at most {MAX_ARGS - 1} arguments")
    if any(len(token.encode()) > MAX_VALUE_BYTES for token in tokens):
        return Refusal(f"ERR the console takes arguments of at most {MAX_VALUE_BYTES} bytes")
    try:
        return GRAMMARS[name](name, tokens[1:])
    except Refused as refused:
        return Refusal(refused.message)


# Names: the learner's space.


def console_key(learner_id: str, name: str) -> str:
    """The Redis key the console uses for the learner's key ``name``."""
    return f"{KEY_PREFIX}{learner_id}:console:{name}"


def console_channel(learner_id: str, name: str) -> str:
    """The Redis channel the console uses for the learner's channel ``name``: the one the
    pubsub lab uses too. A subscriber to it (that lab's, redis-cli) counts in PUBLISH's reply."""
    return real_channel(learner_id, name)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


@dataclass(frozen=True)
class Space:
    learner_id: str

    @property
    def key_prefix(self) -> str:
        return console_key(self.learner_id, "")

    def key(self, name: str) -> str:
        return console_key(self.learner_id, name)

    def short(self, key: str) -> str:
        assert key.startswith(self.key_prefix), key
        return key.removeprefix(self.key_prefix)

    def channel(self, name: str) -> str:
        return console_channel(self.learner_id, name)

    def pattern(self, pattern: str) -> str:
        return glob_escape(self.channel("")) + pattern

    # The console's own records, beside (never inside) the learner's keys.
    @property
    def keys_index(self) -> str:
        return f"{KEY_PREFIX}{self.learner_id}:console-keys"

    @property
    def channels_key(self) -> str:
        return f"{KEY_PREFIX}{self.learner_id}:console-channels"

    @property
    def patterns_key(self) -> str:
        return f"{KEY_PREFIX}{self.learner_id}:console-patterns"


# Replies, as redis-cli prints them.


class Status(str):
    """A simple-string reply (+OK, +PONG): redis-cli prints it without quotes."""


class Several(list):
    """Several replies to one command (SUBSCRIBE a b): printed one after the other."""


_REPR = {ord("\\"): "\\\\", ord('"'): '\\"', 10: "\\n", 13: "\\r", 9: "\\t", 7: "\\a", 8: "\\b"}


def reply_quote(value: str) -> str:
    """A bulk string as redis-cli prints it (``sdscatrepr``): bytes outside printable ASCII as
    \\xHH."""
    raw = value.encode(errors="surrogateescape")
    shown = (_REPR.get(b) or (chr(b) if 32 <= b < 127 else f"\\x{b:02x}") for b in raw)
    return f'"{"".join(shown)}"'


def _error_text(error: Exception) -> str:
    message = str(error)
    # redis-py drops the "ERR " of generic errors; other codes (WRONGTYPE...) it leaves.
    return message if re.match(r"[A-Z]{3,} ", message) else f"ERR {message}"


def _format(value, prefix: str) -> str:
    if value is None:
        return "(nil)\n"
    if isinstance(value, Exception):
        return f"(error) {_error_text(value)}\n"
    if isinstance(value, bool | int):
        return f"(integer) {int(value)}\n"
    if isinstance(value, Status):
        return f"{value}\n"
    if isinstance(value, str):
        return reply_quote(value) + "\n"
    if not value:
        return "(empty array)\n"
    width = len(str(len(value)))
    nested = prefix + " " * (width + 2)
    return "".join(
        f"{prefix if index else ''}{index + 1:>{width}}) {_format(item, nested)}"
        for index, item in enumerate(value)
    )


def reply_format(value) -> str:
    """A reply as redis-cli prints it on a terminal: (integer) 1, "value", (nil), 1) "a"..."""
    if isinstance(value, Several):
        return "\n".join(reply_format(item) for item in value)
    return _format(value, "").rstrip("\n")


# Running commands.


@dataclass
class Outcome:
    value: object
    facts: dict = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Reply:
    """What the console answers to one line."""

    line: str
    text: str  # as redis-cli prints it
    status: str = "ok"  # "ok", "error" (Redis said no), "refused" (never sent), "unavailable"
    note: str = ""  # what the console did beyond Redis (a wait it shortened...)
    recorded: bool = False  # kept in the learner's events: the transcript shows it after a reload
    http_status: int = 200


def _options() -> dict:
    timeout = settings.REDIS_TIMEOUT_SECONDS
    return {
        "decode_responses": True,
        "encoding_errors": "surrogateescape",  # bytes written by redis-cli that are not UTF-8
        "protocol": 2,
        "socket_connect_timeout": timeout,
        "socket_timeout": timeout,
    }


@functools.lru_cache(maxsize=8)
def _client_for(url: str, blocking: bool) -> redis.Redis:
    """A client that returns Redis's replies as they are (no redis-py callbacks turning OK into
    True), for redis-cli's formats. The blocking one waits longer and has a bounded pool."""
    options = _options()
    if blocking:
        options["socket_timeout"] += BLOCK_MAX_SECONDS
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=BLOCKING_CONNECTIONS, timeout=options["socket_connect_timeout"],
            **options,
        )  # fmt: skip
        client = redis.Redis(connection_pool=pool)
    else:
        client = redis.Redis.from_url(url, **options)
    client.response_callbacks.clear()
    return client


# lru_cache may build a value twice when threads ask for it at once (seen under load): two
# blocking pools would let twice BLOCKING_CONNECTIONS learners wait. One at a time, only one.
_clients_lock = threading.Lock()


def _client(*, blocking: bool = False) -> redis.Redis:
    with _clients_lock:
        return _client_for(settings.REDIS_URL, blocking)


def _blocking(*args: str):
    """A command that may wait (BRPOP, XREAD BLOCK, XREADGROUP BLOCK), on the bounded pool."""
    try:
        return _client(blocking=True).execute_command(*args)
    except redis.ConnectionError as error:
        if "No connection available" not in str(error):
            raise
        raise Refused(
            "ERR the console is busy: too many learners are waiting in BRPOP, XREAD BLOCK or "
            "XREADGROUP BLOCK right now. Try again in a moment, or without waiting."
        ) from error


# A write, then a TTL if the key has none, in one step: the key never lives without one. (SET
# clears a TTL; LPUSH, RPUSH and XADD keep the one the learner gave with EXPIRE; XGROUP CREATE
# MKSTREAM makes a stream.) ARGV[2] is how many words name the command (XGROUP CREATE: two);
# the key follows them. The command comes from this module, never from the learner.
_WRITE = """
local words = tonumber(ARGV[2])
local args = {}
for i = 3, 2 + words do args[#args + 1] = ARGV[i] end
args[#args + 1] = KEYS[1]
for i = 3 + words, #ARGV do args[#args + 1] = ARGV[i] end
local reply = redis.pcall(unpack(args))
if type(reply) == 'table' and reply.err then return reply end
if redis.call('TTL', KEYS[1]) == -1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return reply
"""


def _write(client: redis.Redis, space: Space, name: str, command: str, *args: str):
    words = command.split()
    return client.eval(_WRITE, 1, space.key(name), KEY_TTL_SECONDS, len(words), *words, *args)


def _claim(client: redis.Redis, space: Space, name: str) -> None:
    """Count ``name`` among the learner's keys before it is written, within MAX_KEYS."""
    index = space.keys_index
    if not client.execute_command("SISMEMBER", index, name):
        known = client.execute_command("SMEMBERS", index)
        if len(known) >= MAX_KEYS:
            pipe = client.pipeline(transaction=False)
            for member in known:
                pipe.execute_command("EXISTS", space.key(member))
            gone = [
                member for member, there in zip(known, pipe.execute(), strict=True) if not there
            ]
            if gone:
                client.execute_command("SREM", index, *gone)
            if len(known) - len(gone) >= MAX_KEYS:
                raise Refused(
                    f"ERR the console keeps at most {MAX_KEYS} keys for you: DEL one first"
                )
    pipe = client.pipeline(transaction=True)
    pipe.execute_command("SADD", index, name)
    pipe.execute_command("EXPIRE", index, KEY_TTL_SECONDS)
    pipe.execute()


def _room(client: redis.Redis, space: Space, name: str, length_command: str, adding: int) -> None:
    length = client.execute_command(length_command, space.key(name))
    if length + adding > MAX_ENTRIES:
        kind = "lists" if length_command == "LLEN" else "streams"
        raise Refused(f"ERR the console keeps {kind} to {MAX_ENTRIES} entries: take some out first")


def _ping_run(client, space, command: Command) -> Outcome:
    reply = client.execute_command("PING", *command.args)
    return Outcome(reply if command.args else Status(reply))


def _plain(client, space, command: Command) -> Outcome:  # GET, TTL, LLEN, XLEN
    return Outcome(client.execute_command(command.name, *map(space.key, command.keys)))


def _del_run(client, space, command: Command) -> Outcome:
    reply = client.execute_command("DEL", *map(space.key, command.keys))
    return Outcome(reply, facts={"keys": list(command.keys)})


def _set_run(client, space, command: Command) -> Outcome:
    key = command.keys[0]
    _claim(client, space, key)
    reply = _write(client, space, key, "SET", *command.args)
    return Outcome(Status(reply) if reply == "OK" else reply)


def _expire_run(client, space, command: Command) -> Outcome:
    key = space.key(command.keys[0])
    return Outcome(client.execute_command("EXPIRE", key, *command.args))


def _push_run(client, space, command: Command) -> Outcome:
    key = command.keys[0]
    _claim(client, space, key)
    _room(client, space, key, "LLEN", len(command.args))
    reply = _write(client, space, key, command.name, *command.args)
    return Outcome(reply, facts={"key": key, "values": list(command.args)})


def _pop_run(client, space, command: Command) -> Outcome:
    key = command.keys[0]
    reply = client.execute_command(command.name, space.key(key), *command.args)
    popped = reply if isinstance(reply, list) else [] if reply is None else [reply]
    return Outcome(reply, facts={"key": key, "values": popped})


def _brpop_run(client, space, command: Command) -> Outcome:
    keys = [space.key(key) for key in command.keys]
    reply = _blocking("BRPOP", *keys, *command.args)
    if reply is None:
        return Outcome(None, facts={"values": []})
    key = space.short(reply[0])
    return Outcome([key, reply[1]], facts={"key": key, "values": [reply[1]]})


def _lrange_run(client, space, command: Command) -> Outcome:
    key = space.key(command.keys[0])
    length = client.execute_command("LLEN", key)
    start, stop = (int(arg) for arg in command.args)
    start = max(length + start, 0) if start < 0 else start
    stop = min(length + stop if stop < 0 else stop, length - 1)
    if start > stop:
        return Outcome([])
    note = ""
    if stop - start + 1 > READ_MAX:
        note = (
            f"The console reads at most {READ_MAX} elements at a time: these are {start} to "
            f"{start + READ_MAX - 1} of the {length}."
        )
        stop = start + READ_MAX - 1
    return Outcome(client.execute_command("LRANGE", key, start, stop), note=note)


def _xadd_run(client, space, command: Command) -> Outcome:
    key = command.keys[0]
    _claim(client, space, key)
    _room(client, space, key, "XLEN", 1)
    return Outcome(_write(client, space, key, "XADD", *command.args))


def _xrange_run(client, space, command: Command) -> Outcome:
    start, end, count = command.args
    reply = client.execute_command("XRANGE", space.key(command.keys[0]), start, end, "COUNT", count)
    note = ""
    if len(reply) == READ_MAX and not command.note:
        note = (
            f"The console reads at most {READ_MAX} entries at a time: start after the last id "
            "to read on."
        )
    return Outcome(reply, note=command.note or note)


def _xread_run(client, space, command: Command) -> Outcome:
    count, block, *ids = command.args
    keys = [space.key(key) for key in command.keys]
    options = ["COUNT", count] + (["BLOCK", block] if block else [])
    arguments = ("XREAD", *options, "STREAMS", *keys, *ids)
    reply = _blocking(*arguments) if block else client.execute_command(*arguments)
    if reply is None:
        return Outcome(None)
    return Outcome([[space.short(key), entries] for key, entries in reply])


def _xgroup_run(client, space, command: Command) -> Outcome:
    key = command.keys[0]
    group, _start, *mkstream = command.args
    if client.execute_command("TYPE", space.key(key)) == "stream":
        groups = client.execute_command("XINFO", "GROUPS", space.key(key))
        names = [dict(zip(info[::2], info[1::2], strict=True))["name"] for info in groups]
        if group not in names and len(names) >= MAX_GROUPS:
            raise Refused(
                f"ERR the console keeps at most {MAX_GROUPS} groups on a stream: DEL the "
                "stream to start again"
            )
    if mkstream:
        _claim(client, space, key)
        reply = _write(client, space, key, "XGROUP CREATE", *command.args)
    else:
        reply = client.execute_command("XGROUP", "CREATE", space.key(key), *command.args)
    return Outcome(Status(reply) if reply == "OK" else reply, facts={"key": key, "group": group})


def _consumers_room(client, space, keys: tuple[str, ...], group: str, consumer: str) -> None:
    """XREADGROUP makes its consumer in each group it reads: at most MAX_CONSUMERS a group."""
    for key in keys:
        try:
            consumers = client.execute_command("XINFO", "CONSUMERS", space.key(key), group)
        except ResponseError:
            continue  # no such stream or group: XREADGROUP says so itself
        names = [dict(zip(info[::2], info[1::2], strict=True))["name"] for info in consumers]
        if consumer not in names and len(names) >= MAX_CONSUMERS:
            raise Refused(
                f"ERR the console keeps at most {MAX_CONSUMERS} consumers in a group: read as "
                "one of them (" + ", ".join(sorted(names)) + ")"
            )


def _xreadgroup_run(client, space, command: Command) -> Outcome:
    group, consumer, count, block, *ids = command.args
    _consumers_room(client, space, command.keys, group, consumer)
    keys = [space.key(key) for key in command.keys]
    options = ["COUNT", count] + (["BLOCK", block] if block else [])
    arguments = ("XREADGROUP", "GROUP", group, consumer, *options, "STREAMS", *keys, *ids)
    reply = _blocking(*arguments) if block else client.execute_command(*arguments)
    facts = {"group": group, "consumer": consumer, "entries": {}}
    if reply is None:
        return Outcome(None, facts=facts)
    shown = [[space.short(key), entries] for key, entries in reply]
    facts["entries"] = {key: [entry[0] for entry in entries] for key, entries in shown}
    return Outcome(shown, facts=facts)


def _xack_run(client, space, command: Command) -> Outcome:
    key, (group, *ids) = command.keys[0], command.args
    reply = client.execute_command("XACK", space.key(key), group, *ids)
    return Outcome(reply, facts={"key": key, "group": group, "acked": reply})


def _xpending_run(client, space, command: Command) -> Outcome:
    reply = client.execute_command("XPENDING", space.key(command.keys[0]), *command.args)
    return Outcome(reply)


def _subscriptions(client, space) -> tuple[set[str], set[str]]:
    pipe = client.pipeline(transaction=False)
    pipe.execute_command("SMEMBERS", space.channels_key)
    pipe.execute_command("SMEMBERS", space.patterns_key)
    channels, patterns = pipe.execute()
    return set(channels), set(patterns)


def _subscribe_run(client, space, command: Command) -> Outcome:
    channels, patterns = _subscriptions(client, space)
    of_kind = patterns if command.name == "PSUBSCRIBE" else channels
    adding = set(command.channels) - of_kind
    if len(channels) + len(patterns) + len(adding) > MAX_SUBSCRIPTIONS:
        raise Refused(
            f"ERR the console keeps at most {MAX_SUBSCRIPTIONS} subscriptions for you: "
            "UNSUBSCRIBE or PUNSUBSCRIBE first"
        )
    replies = Several()
    for name in command.channels:
        of_kind.add(name)
        replies.append([command.name.lower(), name, len(channels) + len(patterns)])
    key = space.patterns_key if command.name == "PSUBSCRIBE" else space.channels_key
    pipe = client.pipeline(transaction=True)
    if adding:
        pipe.execute_command("SADD", key, *adding)
    pipe.execute_command("EXPIRE", key, KEY_TTL_SECONDS)
    pipe.execute()
    return Outcome(replies, facts={"channels": sorted(channels), "patterns": sorted(patterns)})


def _unsubscribe_run(client, space, command: Command) -> Outcome:
    channels, patterns = _subscriptions(client, space)
    of_kind = patterns if command.name == "PUNSUBSCRIBE" else channels
    names = list(command.channels) or sorted(of_kind)
    replies = Several()
    for name in names:
        of_kind.discard(name)
        replies.append([command.name.lower(), name, len(channels) + len(patterns)])
    if not names:
        replies.append([command.name.lower(), None, len(channels) + len(patterns)])
    key = space.patterns_key if command.name == "PUNSUBSCRIBE" else space.channels_key
    if names:
        client.execute_command("SREM", key, *names)
    return Outcome(replies, facts={"channels": sorted(channels), "patterns": sorted(patterns)})


def _publish_run(client, space, command: Command) -> Outcome:
    channel, message = command.channels[0], command.args[0]
    receivers = client.execute_command("PUBLISH", space.channel(channel), message)
    facts = {"channel": channel, "message": message, "receivers": receivers}
    return Outcome(receivers, facts=facts)


RUNNERS = {
    "PING": _ping_run, "GET": _plain, "SET": _set_run, "DEL": _del_run, "EXPIRE": _expire_run,
    "TTL": _plain, "LPUSH": _push_run, "RPUSH": _push_run, "LPOP": _pop_run, "RPOP": _pop_run,
    "BRPOP": _brpop_run, "LRANGE": _lrange_run, "LLEN": _plain, "XADD": _xadd_run,
    "XRANGE": _xrange_run, "XREAD": _xread_run, "XLEN": _plain, "XGROUP": _xgroup_run,
    "XREADGROUP": _xreadgroup_run, "XACK": _xack_run, "XPENDING": _xpending_run,
    "PUBLISH": _publish_run,
    "SUBSCRIBE": _subscribe_run, "PSUBSCRIBE": _subscribe_run, "UNSUBSCRIBE": _unsubscribe_run,
    "PUNSUBSCRIBE": _unsubscribe_run,
}  # fmt: skip


def _record(*, learner_id: str, reply: Reply, name: str, facts: dict) -> bool:
    """Keep the line and its reply in the learner's events."""
    event = {
        "lab": LAB,
        "kind": "command",
        "name": name,
        "line": reply.line,
        "text": reply.text[:RECORDED_TEXT_MAX],
        "status": reply.status,
        "note": reply.note,
        "facts": facts,
    }
    try:
        event_publish(learner_id=learner_id, lab=LAB, event=event)
    except (RedisError, OSError):
        return False
    return True


def _run(space: Space, parsed: Command | Refusal) -> tuple[str, str, Outcome]:
    """The status, the reply as redis-cli prints it and what else the command gave."""
    if isinstance(parsed, Refusal):
        return "refused", parsed.text, Outcome(None)
    started = time.monotonic()
    try:
        outcome, status = RUNNERS[parsed.name](_client(), space, parsed), "ok"
    except Refused as refused:
        return "refused", f"(error) {refused.message}", Outcome(None)
    except ResponseError as error:
        # Some errors name the key (NOGROUP No such key '...'): the learner's short name.
        outcome, status = Outcome(ResponseError(str(error).replace(space.key_prefix, ""))), "error"
    text = reply_format(outcome.value)
    elapsed = time.monotonic() - started
    if elapsed >= SLOW_SECONDS:
        text += f"\n({elapsed:.2f}s)"
    outcome.note = " ".join(filter(None, [parsed.note, outcome.note]))
    return status, text, outcome


def console_execute(*, learner_id: str, line: str) -> Reply:
    """Run one line of the learner's console; never raises for anything the learner types."""
    space = Space(learner_id)
    parsed = console_parse(line)
    try:
        if not learner_allows(
            learner_id=space.learner_id, action=LAB, per_minute=COMMANDS_PER_MINUTE
        ):
            message = (
                f"ERR you ran {COMMANDS_PER_MINUTE} lines in the last minute, the console's "
                "limit: wait a little, then go on"
            )
            return Reply(line, f"(error) {message}", status="refused", http_status=429)
        status, text, outcome = _run(space, parsed)
    except (RedisError, OSError):
        return Reply(line, f"(error) {BROKER_DOWN}", status="unavailable", http_status=503)
    reply = Reply(line, text, status=status, note=outcome.note)
    recorded = _record(
        learner_id=learner_id,
        reply=reply,
        name=parsed.name if isinstance(parsed, Command) else "",
        facts=outcome.facts,
    )
    return Reply(line, text, status=status, note=outcome.note, recorded=recorded)


# The console as the page shows it, folded from the learner's events.


@dataclass
class ConsoleEntry:
    """A line run in the console; LabRun-like for the event stream (id, status, waiting)."""

    id: str
    kind: str
    at: float
    status: str  # "ok", "error", "refused"
    name: str = ""
    line: str = ""
    text: str = ""
    note: str = ""
    facts: dict = field(default_factory=dict)
    waiting: bool = False
    # An RPOP or BRPOP: which of the list's LPUSHed jobs it took, as an outcome code ("first",
    # "last", "nil"), or "" when that says nothing (a job in the middle, the only one...).
    took: str = ""


class ConsoleRuns(Runs):
    """Every console entry, oldest first (the goals read them in order)."""

    @property
    def transcript(self) -> list[ConsoleEntry]:
        return self[-TRANSCRIPT_SHOWN:]

    @property
    def subscriptions(self) -> dict:
        """The channels and patterns after the last (un)subscribe."""
        for entry in reversed(self):
            if entry.name.endswith("SUBSCRIBE") and entry.status == "ok":
                return entry.facts
        return {}


def console_runs_fold(events: list[tuple[str, dict]], *, now: float) -> ConsoleRuns:
    entries = ConsoleRuns()
    pairing = PredictionPairing()
    jobs: dict[str, list[str]] = {}  # each list's LPUSHed jobs still in it, first pushed first
    for event_id, event in events:
        kind = event.get("kind")
        if pairing.take(event):
            continue
        if kind == "command":
            entry = ConsoleEntry(id=event_id, kind=kind, at=event["at"], status=event["status"])
            entry.name, entry.line, entry.text = event["name"], event["line"], event["text"]
            entry.note, entry.facts = event.get("note", ""), event.get("facts") or {}
            _jobs_follow(jobs, entry)
            entries.append(entry)
            pairing.seen(entry)
    entries.prediction = pairing.latest
    return entries


def _jobs_follow(jobs: dict[str, list[str]], entry: ConsoleEntry) -> None:
    """Follow the jobs LPUSHed onto each list and taken off it; say which one an RPOP or a
    BRPOP took (``entry.took``)."""
    if entry.status != "ok":
        return
    if entry.name == "DEL":  # a deleted list starts again empty
        for key in entry.facts.get("keys", []):
            jobs.pop(key, None)
        return
    key, values = entry.facts.get("key"), entry.facts.get("values", [])
    waiting = jobs.setdefault(key, []) if key else []
    if entry.name == "LPUSH":
        waiting.extend(values)
        return
    if entry.name not in ("LPOP", "RPOP", "BRPOP"):
        return
    if entry.name != "LPOP":
        first, last = (waiting[0], waiting[-1]) if waiting else (None, None)
        if not values:
            entry.took = "nil"
        elif first != last:  # with one job waiting, it is the first and the last
            entry.took = {first: "first", last: "last"}.get(values[0], "")
    for value in values:
        if value in waiting:
            waiting.remove(value)


def console_observed(entry: ConsoleEntry) -> str | None:
    """Which of the list's LPUSHed jobs an RPOP or BRPOP took."""
    return entry.took or None


# Goals, checked from the fold.

UPDATES_CHANNEL, UPDATES_MESSAGE = "updates", "New data available"


def console_published_while_two_listen(runs: list[ConsoleEntry]) -> bool:
    """A PUBLISH of "New data available" on updates that reached two (or more) subscribers."""
    return any(
        entry.name == "PUBLISH"
        and entry.facts.get("channel") == UPDATES_CHANNEL
        and entry.facts.get("message") == UPDATES_MESSAGE
        and entry.facts.get("receivers", 0) >= 2
        for entry in runs
    )


def console_moved_three_jobs(runs: list[ConsoleEntry]) -> bool:
    """Three items LPUSHed onto one list, then taken off that list with RPOP or BRPOP."""
    waiting: dict[str, Counter] = {}
    moved: Counter = Counter()
    for entry in runs:
        if entry.status != "ok":
            continue
        key = entry.facts.get("key")
        if entry.name == "LPUSH":
            waiting.setdefault(key, Counter()).update(entry.facts.get("values", []))
        elif entry.name in ("RPOP", "BRPOP"):
            for value in entry.facts.get("values", []):
                if waiting.get(key, Counter())[value] > 0:
                    waiting[key][value] -= 1
                    moved[key] += 1
    return any(count >= 3 for count in moved.values())


def console_shared_a_stream(runs: list[ConsoleEntry]) -> bool:
    """A stream shared in a consumer group: two of its consumers each read an entry, and every
    entry the group handed out has been acknowledged."""
    readers: dict[tuple, set[str]] = {}
    handed_out: dict[tuple, set[str]] = {}
    acked: Counter = Counter()
    for entry in runs:
        if entry.status != "ok":
            continue
        facts = entry.facts
        if entry.name == "XREADGROUP":
            for key, ids in facts.get("entries", {}).items():
                group = (key, facts.get("group"))
                if ids:
                    readers.setdefault(group, set()).add(facts.get("consumer"))
                    handed_out.setdefault(group, set()).update(ids)
        elif entry.name == "XACK":
            acked[(facts.get("key"), facts.get("group"))] += facts.get("acked") or 0
    return any(
        len(readers[group]) >= 2 and acked[group] >= len(handed_out[group]) for group in readers
    )


# Views.

TEMPLATE = "labs/console.html"


def _page(learner_id: str) -> dict:
    return {
        "key_prefix": console_key(learner_id, ""),
        "channel_prefix": console_channel(learner_id, ""),
        "allowed": ALLOWED,
        "limits": {
            "per_minute": COMMANDS_PER_MINUTE,
            "keys": MAX_KEYS,
            "entries": MAX_ENTRIES,
            "read": READ_MAX,
            "block": BLOCK_MAX_SECONDS,
            "ttl": KEY_TTL_SECONDS,
            "line": MAX_LINE_BYTES,
            "value": MAX_VALUE_BYTES,
            "name": MAX_NAME_BYTES,
            "subscriptions": MAX_SUBSCRIPTIONS,
            "groups": MAX_GROUPS,
            "consumers": MAX_CONSUMERS,
        },
    }


def _lab_page(request: HtmxHttpRequest, **kwargs) -> HttpResponse:
    from .views import lab_page  # views imports the registry, which imports this module

    return lab_page(request, LAB, **kwargs)


@require_GET
def console_lab(request: HtmxHttpRequest) -> HttpResponse:
    return _lab_page(request, context=_page(learner_id_for(request)))


@require_POST
def console_run(request: HtmxHttpRequest) -> HttpResponse:
    """One line typed in the console: with htmx, its reply to append to the transcript;
    without, the page again, with the line and its reply at the end of the transcript."""
    learner_id = learner_id_for(request)
    reply = console_execute(learner_id=learner_id, line=request.POST.get("line", ""))
    if request.htmx:
        return render(request, f"{TEMPLATE}#entry", {"entry": reply}, status=reply.http_status)
    if reply.recorded:
        return redirect(reverse("labs:console") + "#console")
    # Not kept (over the rate limit, Redis away): shown this once, at the end of the transcript.
    error_class = {429: RateLimited, 503: BrokerUnavailable}.get(reply.http_status)
    error = error_class(reply.text.removeprefix("(error) ")) if error_class else None
    return _lab_page(request, context=_page(learner_id) | {"reply": reply}, error=error)


# The page's feed: a real subscription, held while the page is open.


def _feed_client() -> redis.asyncio.Redis:
    """The feed's own connections (no read timeout: the subscription waits for messages), with
    replies as they are, like the console's."""
    options = _options() | {"socket_timeout": None, "health_check_interval": 15}
    client = redis.asyncio.Redis.from_url(settings.REDIS_URL, **options)
    client.response_callbacks.clear()
    return client


def _feed_html(part: str, **context) -> str:
    return render_to_string(f"{TEMPLATE}#{part}", context)


def console_feed_message(space: Space, message: dict) -> str:
    """A message the feed got, as redis-cli prints it, with the learner's short names."""
    channel = message["channel"].removeprefix(space.channel(""))
    if message["type"] == "pmessage":
        pattern = message["pattern"].removeprefix(space.pattern(""))
        return reply_format(["pmessage", pattern, channel, message["data"]])
    return reply_format(["message", channel, message["data"]])


async def _feed_follow(client, pubsub, space: Space, held: tuple[set, set]) -> bool:
    """Subscribe ``pubsub`` to what the learner's console subscription sets hold now, given
    ``held`` (updated in place); True when that changed anything. A PING follows the changes:
    its pong says Redis has made them."""
    pipe = client.pipeline(transaction=False)
    pipe.execute_command("SMEMBERS", space.channels_key)
    pipe.execute_command("SMEMBERS", space.patterns_key)
    channels, patterns = (set(names) for names in await pipe.execute())
    held_channels, held_patterns = held
    if channels == held_channels and patterns == held_patterns:
        return False
    if gone := held_channels - channels:
        await pubsub.unsubscribe(*map(space.channel, gone))
    if gone := held_patterns - patterns:
        await pubsub.punsubscribe(*map(space.pattern, gone))
    if new := channels - held_channels:
        await pubsub.subscribe(*map(space.channel, new))
    if new := patterns - held_patterns:
        await pubsub.psubscribe(*map(space.pattern, new))
    held_channels.clear(), held_channels.update(channels)
    held_patterns.clear(), held_patterns.update(patterns)
    await pubsub.ping()
    return True


async def _feed(*, learner_id: str) -> AsyncIterator[str]:
    space, client = Space(learner_id), _feed_client()
    pubsub = client.pubsub()
    announce = learner_channel(learner_id)
    held: tuple[set, set] = (set(), set())
    loop = asyncio.get_running_loop()
    try:
        yield f"retry: {FEED_RECONNECT_MS}\n\n"
        closes_at = loop.time() + FEED_SECONDS
        try:
            # The learner's event announcements wake the feed when a SUBSCRIBE changes the sets.
            await pubsub.subscribe(announce)
            if not await _feed_follow(client, pubsub, space, held):
                await pubsub.ping()  # its pong: the feed is ready, with nothing to follow yet
            while loop.time() < closes_at:
                message = await pubsub.get_message(timeout=HEARTBEAT_SECONDS)
                kind = message["type"] if message else ""
                if not message or (kind == "message" and message["channel"] == announce):
                    await _feed_follow(client, pubsub, space, held)
                    if not message:
                        yield KEEP_ALIVE
                elif kind == "pong":
                    channels, patterns = (sorted(names) for names in held)
                    status = _feed_html(
                        "feed-status", state="subscribed", channels=channels, patterns=patterns
                    )
                    yield sse_event("subscribed", status)
                elif kind in ("message", "pmessage"):
                    text = console_feed_message(space, message)
                    yield sse_event("message", _feed_html("message", text=text))
        except (RedisError, OSError):
            yield sse_event("subscribed", _feed_html("feed-status", state="down"))
            return
        closed = _feed_html("feed-status", state="closed", feed_minutes=FEED_SECONDS // 60)
        yield sse_event("feed-closed", closed)
    finally:
        with contextlib.suppress(RedisError, OSError):
            await pubsub.aclose()
            await client.aclose()


@require_GET
async def console_feed(request: HtmxHttpRequest) -> HttpResponse:
    """This page's feed: a Redis subscription to the learner's console subscriptions, held while
    the page is open, whose messages come to the transcript as server-sent events."""
    learner_id = await alearner_id(request)
    if learner_id is None:
        return HttpResponseBadRequest("Open the console first: it starts your lab session.")
    return await counted_sse_response(learner_id=learner_id, stream=_feed(learner_id=learner_id))
