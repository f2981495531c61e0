"""The lab "A Redis console": real Redis commands, typed in the page, run on the site's Redis.

A line goes through two steps:

1. ``console_parse`` (``parse.py``, pure) splits it as redis-cli does (quotes, escapes), checks
   the command is on the allow-list, and checks its arguments: arity, names, numbers, sizes. A
   line that fails is a ``Refusal`` with a message, and nothing reaches Redis.
2. ``console_execute`` (here) counts the line against the learner's rate limit of
   ``COMMANDS_PER_MINUTE`` lines a minute, runs the ``Command`` with every name rewritten into
   the learner's space (``commands.py``), formats the reply as redis-cli prints it
   (``replies.py``) and records the line as a lab event: the transcript, the goals and the
   prediction come from those events (``fold.py``).

Each open console page holds a real subscription of its own (``feed.py``).
"""

from dataclasses import dataclass

from redis.exceptions import RedisError

from labs.events import event_publish
from labs.limits import learner_allows
from labs.services import BROKER_DOWN

from .commands import Space, console_command_run
from .parse import Command, console_parse

LAB = "console"
COMMANDS_PER_MINUTE = 60
RECORDED_TEXT_MAX = 4000


@dataclass(frozen=True)
class Reply:
    """What the console answers to one line."""

    line: str
    text: str  # as redis-cli prints it
    status: str = "ok"  # "ok", "error" (Redis said no), "refused" (never sent), "unavailable"
    note: str = ""  # what the console did beyond Redis (a wait it shortened...)
    recorded: bool = False  # kept in the learner's events: the transcript shows it after a reload
    http_status: int = 200


def console_line_record(*, learner_id: str, reply: Reply, name: str, facts: dict) -> bool:
    """Keep the line and its reply in the learner's events; False when Redis would not."""
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
        status, text, outcome = console_command_run(space=space, parsed=parsed)
    except (RedisError, OSError):
        return Reply(line, f"(error) {BROKER_DOWN}", status="unavailable", http_status=503)
    reply = Reply(line, text, status=status, note=outcome.note)
    recorded = console_line_record(
        learner_id=learner_id,
        reply=reply,
        name=parsed.name if isinstance(parsed, Command) else "",
        facts=outcome.facts,
    )
    return Reply(line, text, status=status, note=outcome.note, recorded=recorded)
