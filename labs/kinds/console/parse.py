"""The Redis console's lines: split as redis-cli splits them, checked before anything runs.

``console_parse`` (pure: a function of the line) splits a line as redis-cli does (quotes,
escapes), checks that the command is on the allow-list and checks its arguments: arity, names,
numbers, sizes. A line that fails is a ``Refusal`` with a message, and nothing reaches Redis; a
line that passes is a ``Command`` for ``commands.console_command_run``.

Names. A ``Command`` keeps the names it touches apart from its other arguments: ``keys`` and
``channels`` (or patterns) are only ever sent to Redis with the learner's prefix in front
(``commands.Space``), and no other argument is ever a name:

- a name is letters, digits and ``. _ : -`` (so no glob characters, spaces or quotes), at most
  ``MAX_NAME_BYTES``, and may not start with ``learnsite`` (type the short name: the console
  adds the prefix); a pattern may also hold ``* ? [ ] ^ \\``;
- commands that reach beyond one key (KEYS, SCAN, EVAL, CONFIG, FLUSHALL, CLIENT, MONITOR...)
  are not on the list (``WHY_NOT`` says why);
- a consumer group's or a consumer's name is not a key (it lives inside the stream) but is
  checked like one, plain and short.

Limits checked here: lines, names and values bounded in bytes, reads of at most ``READ_MAX``
entries, waits (BRPOP, XREAD BLOCK, XREADGROUP BLOCK) of at most ``BLOCK_MAX_SECONDS``, TTLs of
at most ``KEY_TTL_SECONDS``.
"""

import re
from dataclasses import dataclass

from labs.events import LEARNER_TTL_SECONDS

MAX_LINE_BYTES = 1024
MAX_ARGS = 24  # the command's name included
MAX_NAME_BYTES = 64
MAX_VALUE_BYTES = 512
READ_MAX = 20  # entries one read returns
MAX_STREAMS_READ = 4
BLOCK_MAX_SECONDS = 2
KEY_TTL_SECONDS = LEARNER_TTL_SECONDS

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
