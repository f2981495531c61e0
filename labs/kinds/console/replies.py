"""The console's replies, as redis-cli prints them on a terminal (pure): (integer) 1,
"value", (nil), 1) "a"... Values come from a client that hands back Redis's replies as they are
(``learnsite.redis.raw_redis_client``); the console marks simple strings (``Status``) and
several replies to one command (``Several``) itself.
"""

import re


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
