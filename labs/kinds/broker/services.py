"""The "Inside the broker" lab: the learner's own task as Redis holds it, read and explained.

What kombu's Redis transport and Celery's Redis result backend really store (kombu 5.7,
celery 5.7):

- A queue is a Redis **list** named after it (``celery``). Sending a task LPUSHes one JSON
  message at the head; a worker BRPOPs from the tail, so the list is first in, first out. The
  message is ``{"body", "content-encoding", "content-type", "headers", "properties"}``: the body
  is the JSON ``[args, kwargs, embed]``, base64-encoded (``properties.body_encoding``).
- When a worker takes a message, kombu writes a copy into the **hash** ``unacked`` (field: the
  message's ``properties.delivery_tag``; value: ``[message, exchange, routing_key]``) and the
  time into the **sorted set** ``unacked_index``; acknowledging deletes both. A copy older than
  the visibility timeout (kombu's default is 1 hour; this site sets
  ``CELERY_VISIBILITY_TIMEOUT_SECONDS``, 300 by default) is pushed back onto the list by a worker.
- The result backend SETEXes ``celery-task-meta-<task id>`` to a JSON value with a TTL of
  ``CELERY_RESULT_EXPIRES``.

Everything here only reads, with bounded commands. A message is the learner's when its task id
is one recorded in the learner's own "queued" events; nothing in the request names a Redis key.
The page's first read while a worker holds the learner's countdown task records where it found
the message (a ``found`` event, in the learner's own event stream of this lab): what a
prediction observes.
"""

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass, field

from labs.events import event_publish
from labs.kinds.ping.fold import TaskRun
from labs.services import events_read_every_lab
from learnsite.celery import app as celery_app
from learnsite.redis import redis_client

from .fold import BrokerFold

LAB = "broker"

SPECIMEN_STEPS = 4
SPECIMEN_STEP_SECONDS = 1.0
# The second button's countdown: long enough to watch the worker hold the message.
HOLD_SECONDS = 10

# The keys kombu and the result backend use (their defaults; see the module docstring).
UNACKED_KEY = "unacked"
UNACKED_INDEX_KEY = "unacked_index"
RESULT_KEY_PREFIX = "celery-task-meta-"
# Bounds on every read: the newest messages of the list, and a few rounds of HSCAN.
LIST_READ_LIMIT = 50
UNACKED_SCAN_COUNT = 100
UNACKED_SCAN_ROUNDS = 3


def queue_name() -> str:
    return celery_app.conf.task_default_queue


# What each field means, shown beside its value.
ENVELOPE_MEANINGS = {
    "body": "The task's arguments: serialized to JSON, then base64-encoded by kombu (see "
    "properties.body_encoding). Decoded below.",
    "content-encoding": "The character encoding of the serialized body.",
    "content-type": 'How the body was serialized: CELERY_TASK_SERIALIZER = "json". A worker '
    "refuses any type not in CELERY_ACCEPT_CONTENT.",
    "headers": "Celery's own fields (message protocol 2): which task, its id, its options.",
    "properties": "Message properties in AMQP's vocabulary, which kombu emulates on Redis.",
}
HEADER_MEANINGS = {
    "lang": "The language of the sender: protocol 2 lets other languages send tasks.",
    "task": "The registered name the worker looks up to find the code to run.",
    "id": "The task id. This site picks it before sending (apply_async(task_id=...)) and "
    'records it in your "queued" event: that is how this page knows the message is yours.',
    "shadow": "Another name for logs and monitoring, or null.",
    "eta": "The earliest time the task may run (from countdown= or eta=); null means at once. "
    "The worker waits for it, not Redis.",
    "expires": "After this time a worker discards the task instead of running it.",
    "group": "The id of the group (celery.group) the task belongs to, if any.",
    "group_index": "The task's place in its group, if any.",
    "retries": "How many times the task has been retried: a retry sends a new message.",
    "timelimit": "[hard, soft] time limits in seconds; null means the worker's defaults.",
    "root_id": "The first task of the workflow this one belongs to: its own id when sent alone.",
    "parent_id": "The task that sent this one; null when a web request sent it.",
    "argsrepr": "A printable copy of the positional arguments, for logs and monitoring.",
    "kwargsrepr": "A printable copy of the keyword arguments, for logs and monitoring.",
    "origin": "The sender: gen<process id>@<host> of the process that sent the task.",
    "ignore_result": "True would tell the worker to store no result.",
    "replaced_task_nesting": "How many times the task was replaced by another (self.replace).",
    "stamped_headers": "Names of stamps added by Celery's stamping API; none here.",
    "stamps": "The stamps themselves; none here.",
}
PROPERTY_MEANINGS = {
    "correlation_id": "The task id again: in AMQP, what ties a reply to its request.",
    "reply_to": "The sending app's reply queue, for RPC-style results; with a Redis result "
    "backend the result goes to the result key instead.",
    "delivery_mode": "2 means persistent in AMQP. Redis has no such switch: a message is as "
    "durable as Redis's own persistence (RDB or AOF) makes it.",
    "delivery_info": 'Where it was published: the default exchange "" and a routing key, '
    "which on Redis is the name of the list.",
    "priority": "0 to 9. Kombu emulates priorities with one more list per step (the queue "
    "name, a separator, then 3, 6 or 9); priority 0 stays in the plain list.",
    "body_encoding": "How kombu encoded the body inside this JSON: base64 it, and you get the "
    "serialized arguments.",
    "delivery_tag": "A unique id kombu gave the message as it was sent. While a worker holds "
    "the message unacknowledged, its copy in the hash unacked is stored under this tag.",
}
BODY_MEANINGS = {
    "args": "Positional arguments: none, this site passes everything by keyword.",
    "kwargs": "The keyword arguments the task is called with: your learner id and run id, so "
    "that the worker knows whose events to write.",
    "embed": "Workflow links: callbacks (link=), errbacks (link_error=), chain and chord; "
    "all null for a task sent on its own.",
}
RESULT_MEANINGS = {
    "status": "SUCCESS or FAILURE (RETRY and REVOKED too; STARTED only with task_track_started).",
    "result": "What the task returned, serialized as JSON; for a failure, the exception.",
    "traceback": "The traceback of a failure; null on success.",
    "children": "Ids of the tasks this task started, if any.",
    "date_done": "When the worker stored the result (UTC).",
    "task_id": "The task id, as in the key's name.",
}


# Run statuses in which the task may still be in the list or in the unacked hash.
_IN_FLIGHT = {"queued", "started", "running"}
# Parts of a message that are shown field by field on their own.
_NESTED = {"headers", "properties"}


@dataclass(frozen=True)
class Field:
    name: str
    value: str  # as JSON
    meaning: str


def _fields(values: dict, meanings: dict) -> list[Field]:
    return [
        Field(name, json.dumps(value, ensure_ascii=False), meanings.get(name, ""))
        for name, value in values.items()
    ]


@dataclass
class BrokerMessage:
    """One of the learner's task messages, as kombu stored it."""

    raw: str  # the Redis value, exactly as stored
    task_id: str
    run_id: str
    lab: str
    delivery_tag: str
    envelope: list[Field]
    headers: list[Field]
    properties: list[Field]
    body_json: str  # the body, base64-decoded
    body: list[Field]
    eta: str | None
    # In the list: how many messages a worker will take before this one.
    ahead: int | None = None


@dataclass
class UnackedEntry:
    delivery_tag: str
    raw: str  # the hash value: [message, exchange, routing_key]
    message: BrokerMessage
    exchange: str
    routing_key: str
    taken_at: float | None  # the score in unacked_index


@dataclass
class ResultEntry:
    key: str
    raw: str
    status: str
    fields: list[Field]
    ttl: int  # seconds; -1 if it never expires


@dataclass
class BrokerSnapshot:
    queue: str
    queue_length: int
    run: TaskRun | None = None  # the run inspected; None when the learner has no run yet
    # The learner's messages found in the list (the newest LIST_READ_LIMIT), newest first.
    messages: list[BrokerMessage] = field(default_factory=list)
    list_limit: int = LIST_READ_LIMIT
    unacked_count: int = 0
    unacked_scanned: int = 0
    unacked: UnackedEntry | None = None
    result_key: str = ""
    result: ResultEntry | None = None

    @property
    def others(self) -> int:
        """Messages in the list that are not the learner's: counted, never shown."""
        return self.queue_length - len(self.messages)

    @property
    def inspected(self) -> BrokerMessage | None:
        if self.run is None:
            return None
        return next((m for m in self.messages if m.task_id == self.run.task_id), None)

    @property
    def phase(self) -> str:
        """Where the inspected run's task is: "list", "held" (by a worker, until its ETA),
        "unacked" (running), "result", "queued" (seen nowhere yet), "gone" (finished, result
        not yet written), or "none" (no run)."""
        if self.run is None:
            return "none"
        if self.inspected is not None:
            return "list"
        if self.unacked is not None:
            return "held" if self.unacked.message.eta and self.run.status == "queued" else "unacked"
        if self.result is not None:
            return "result"
        return "queued" if self.run.status == "queued" else "gone"

    @property
    def active(self) -> bool:
        """Something the learner started is still on its way: worth reading again soon."""
        return bool(self.messages) or (self.run is not None and self.run.status in _IN_FLIGHT)

    @property
    def fingerprint(self) -> str:
        """Changes when what the page shows changes (but not with the TTL ticking down)."""
        parts = [
            self.queue_length,
            self.unacked_count,
            self.run.id if self.run else "",
            self.run.status if self.run else "",
            [(m.raw, m.ahead) for m in self.messages],
            self.unacked.raw if self.unacked else "",
            self.result.raw if self.result else "",
        ]
        return hashlib.blake2b(json.dumps(parts).encode(), digest_size=8).hexdigest()


class RunNotFound(LookupError):
    """The run is not one of the learner's recent runs of this lab."""


def _message(payload: dict, *, raw: str, owner: tuple[str, str]) -> BrokerMessage:
    headers = payload.get("headers") or {}
    properties = payload.get("properties") or {}
    body_json, body = "", []
    try:
        value = json.loads(base64.b64decode(payload.get("body", ""), validate=True).decode())
        args, kwargs, embed = value
        body_json = json.dumps(value, indent=2, ensure_ascii=False)
        body = _fields({"args": args, "kwargs": kwargs, "embed": embed}, BODY_MEANINGS)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        body_json = "(not the base64 JSON [args, kwargs, embed] this lab expects)"
    envelope = {name: value for name, value in payload.items() if name not in _NESTED}
    run_id, lab = owner
    return BrokerMessage(
        raw=raw,
        task_id=str(headers.get("id", "")),
        run_id=run_id,
        lab=lab,
        delivery_tag=str(properties.get("delivery_tag", "")),
        envelope=_fields(envelope, ENVELOPE_MEANINGS),
        headers=_fields(headers, HEADER_MEANINGS),
        properties=_fields(properties, PROPERTY_MEANINGS),
        body_json=body_json,
        body=body,
        eta=headers.get("eta"),
    )


def _task_id_of(payload) -> str:
    if not isinstance(payload, dict) or not isinstance(payload.get("headers"), dict):
        return ""
    return str(payload["headers"].get("id", ""))


def broker_snapshot(*, learner_id: str, run_id: str | None = None) -> BrokerSnapshot:
    """What Redis holds right now for the learner's broker-lab run ``run_id`` (else their
    newest), and any of their messages still in the queue.

    Raises RunNotFound when ``run_id`` is not one of the learner's recent runs of this lab.
    """
    every_lab = events_read_every_lab(learner_id=learner_id)
    # Every task the learner sent, in any lab: its id is how their messages are recognised.
    owners: dict[str, tuple[str, str]] = {}
    past_queue: set[str] = set()
    for lab, events in every_lab.items():
        for _event_id, event in events:
            if event.get("kind") == "queued" and event.get("task_id"):
                owners[event["task_id"]] = (event.get("run", ""), lab)
            elif event.get("kind") in {"started", "progress", "succeeded", "failed"}:
                past_queue.add(event.get("run", ""))
    maybe_queued = {task_id for task_id, (run, _) in owners.items() if run not in past_queue}

    runs = BrokerFold.fold(every_lab[LAB], now=time.time())
    if run_id is None:
        run = runs[0] if runs else None
    else:
        run = next((r for r in runs if r.id == run_id), None)
        if run is None:
            raise RunNotFound(run_id)

    queue = queue_name()
    client = redis_client()
    result_key = f"{RESULT_KEY_PREFIX}{run.task_id}" if run and run.task_id else ""
    watch_unacked = run is not None and run.task_id and run.status in _IN_FLIGHT
    # One transaction, so that the list, the hash and the result key are seen at one instant.
    pipe = client.pipeline(transaction=True)
    pipe.llen(queue)
    if maybe_queued:  # a message that a worker has taken cannot be in the list any more
        pipe.lrange(queue, 0, LIST_READ_LIMIT - 1)
    pipe.hlen(UNACKED_KEY)
    if watch_unacked:
        pipe.hscan(UNACKED_KEY, 0, count=UNACKED_SCAN_COUNT)
    if result_key:
        pipe.get(result_key)
        pipe.ttl(result_key)
    replies = iter(pipe.execute())

    snapshot = BrokerSnapshot(queue=queue, queue_length=next(replies), run=run)
    if maybe_queued:
        listed = next(replies)
        for index, raw in enumerate(listed):
            if not any(task_id in raw for task_id in maybe_queued):
                continue  # another learner's, or another of yours already taken: not parsed
            try:
                payload = json.loads(raw)
            except ValueError:
                continue
            task_id = _task_id_of(payload)
            if task_id in maybe_queued:
                message = _message(payload, raw=raw, owner=owners[task_id])
                message.ahead = snapshot.queue_length - 1 - index
                snapshot.messages.append(message)
    snapshot.unacked_count = next(replies)
    if watch_unacked:
        snapshot.unacked, snapshot.unacked_scanned = _unacked_find(
            client, next(replies), task_id=run.task_id, owner=owners.get(run.task_id, ("", ""))
        )
    if result_key:
        snapshot.result_key = result_key
        raw, ttl = next(replies), next(replies)
        if raw is not None:
            try:
                value = json.loads(raw)
            except ValueError:
                value = {}
            value = value if isinstance(value, dict) else {}
            snapshot.result = ResultEntry(
                key=result_key,
                raw=raw,
                status=str(value.get("status", "")),
                fields=_fields(value, RESULT_MEANINGS),
                ttl=ttl,
            )
    return snapshot


def _unacked_find(client, first_reply, *, task_id: str, owner: tuple[str, str]
                  ) -> tuple[UnackedEntry | None, int]:  # fmt: skip
    """The hash entry holding ``task_id``'s message, and how many entries were looked at:
    HSCAN, a few bounded rounds at most."""
    cursor, entries = first_reply
    rounds, scanned = 1, 0
    while True:
        scanned += len(entries)
        for tag, raw in entries.items():
            if task_id not in raw:
                continue
            try:
                payload, exchange, routing_key = json.loads(raw)
            except ValueError:
                continue
            if _task_id_of(payload) == task_id:
                entry = UnackedEntry(
                    delivery_tag=tag,
                    raw=raw,
                    message=_message(payload, raw=raw, owner=owner),
                    exchange=exchange,
                    routing_key=routing_key,
                    taken_at=client.zscore(UNACKED_INDEX_KEY, tag),
                )
                return entry, scanned
        if cursor == 0 or rounds >= UNACKED_SCAN_ROUNDS:
            return None, scanned
        cursor, entries = client.hscan(UNACKED_KEY, cursor, count=UNACKED_SCAN_COUNT)
        rounds += 1


# The worker's side, and what a read found.


def broker_specimen_execute(*, learner_id: str, run_id: str, worker: str) -> dict:
    """A task that takes a few seconds, so that it can be watched while a worker holds it."""
    base = {"run": run_id, "lab": LAB}
    event_publish(
        learner_id=learner_id, lab=LAB, event={**base, "kind": "started", "worker": worker}
    )
    for step in range(1, SPECIMEN_STEPS + 1):
        time.sleep(SPECIMEN_STEP_SECONDS)  # the specimen's only work: being watched
        percent = round(step * 100 / SPECIMEN_STEPS)
        event = {"kind": "progress", "step": step, "of": SPECIMEN_STEPS, "percent": percent}
        event_publish(learner_id=learner_id, lab=LAB, event={**base, **event})
    result = {"run": run_id, "worker": worker, "seconds": SPECIMEN_STEPS * SPECIMEN_STEP_SECONDS}
    event = {**base, "kind": "succeeded", "result": result}
    event_publish(learner_id=learner_id, lab=LAB, event=event)
    return result


def broker_found_record(*, learner_id: str, snapshot: BrokerSnapshot) -> None:
    """Record where the snapshot found the message of the learner's countdown task, if this is
    the first read of it while a worker holds it (sent, not started)."""
    run = snapshot.run
    if run is None or not run.countdown or run.status != "queued" or run.found:
        return
    where = "list" if snapshot.inspected else "unacked" if snapshot.unacked else "nowhere"
    event = {"kind": "found", "lab": LAB, "run": run.id, "where": where}
    event_publish(learner_id=learner_id, lab=LAB, event=event)
