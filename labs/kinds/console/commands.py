"""The console's commands run against Redis, every name rewritten into the learner's space.

Namespacing. A ``Command`` (``parse.py``) keeps the names it touches apart from its other
arguments, and they are only ever sent to Redis with the learner's prefix in front (``Space``):

- a key ``jobs`` is ``learnsite:learner:<learner key>:console:jobs``;
- a channel ``updates`` is the learner's channel of the "Publish and subscribe" lab,
  ``learnsite-labs:learner:<learner key>:pubsub:updates`` (``labs.channels.real_channel``), so
  that lab's real subscribers (the feed of each open tab of its page, its Python subscriber)
  receive what the console publishes, and count in PUBLISH's reply;
- the learner key is URL-safe base64, free of glob characters, so a pattern, put after the
  literal prefix, only ever matches channels of the learner's own space;
- replies that name keys (BRPOP, XREAD, XREADGROUP) show the short names, and so do errors
  that name a key (NOGROUP).

Subscriptions. SUBSCRIBE and PSUBSCRIBE add the channel or pattern to a Redis set of the
learner's (with a TTL); UNSUBSCRIBE and PUNSUBSCRIBE take it out. The subscription itself is
held by each open console page's feed (``feed.py``), which follows those sets.

Limits kept here: at most ``MAX_KEYS`` keys of at most ``MAX_ENTRIES`` entries each, at most
``MAX_SUBSCRIPTIONS`` subscriptions, every key the console writes gets a TTL of at most
``KEY_TTL_SECONDS``, and at most ``BLOCKING_CONNECTIONS`` waits at once. Consumer groups
(XGROUP CREATE, its only subcommand here, XREADGROUP, XACK and XPENDING) take their stream keys
through the same rewrite: a stream holds at most ``MAX_GROUPS`` groups of at most
``MAX_CONSUMERS`` consumers, and goes away, groups and all, with its TTL or a DEL.
"""

import re
import time
from dataclasses import dataclass, field

import redis
from redis.exceptions import ResponseError

from labs.channels import real_channel
from labs.events import KEY_PREFIX
from learnsite.redis import raw_blocking_redis_client, raw_redis_client

from .parse import BLOCK_MAX_SECONDS, KEY_TTL_SECONDS, READ_MAX, Command, Refusal, Refused
from .replies import Several, Status, reply_format

MAX_KEYS = 20
MAX_ENTRIES = 50  # in one list or stream
MAX_SUBSCRIPTIONS = 10
MAX_GROUPS = 5  # consumer groups on one stream
MAX_CONSUMERS = 10  # consumers in one group
# Blocking commands hold a connection while they wait: at most this many at once per process.
BLOCKING_CONNECTIONS = 20
# redis-cli shows how long a command took when it took this long.
SLOW_SECONDS = 0.5


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


# Running commands.


@dataclass
class Outcome:
    value: object
    facts: dict = field(default_factory=dict)
    note: str = ""


def _blocking(*args: str):
    """A command that may wait (BRPOP, XREAD BLOCK, XREADGROUP BLOCK), on the bounded pool."""
    client = raw_blocking_redis_client(
        wait_seconds=BLOCK_MAX_SECONDS, max_connections=BLOCKING_CONNECTIONS
    )
    try:
        return client.execute_command(*args)
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


def console_command_run(*, space: Space, parsed: Command | Refusal) -> tuple[str, str, Outcome]:
    """The status, the reply as redis-cli prints it and what else the command gave."""
    if isinstance(parsed, Refusal):
        return "refused", parsed.text, Outcome(None)
    started = time.monotonic()
    try:
        outcome, status = RUNNERS[parsed.name](raw_redis_client(), space, parsed), "ok"
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
