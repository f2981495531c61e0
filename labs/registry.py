"""The kinds of live lab: each is a package under labs/kinds/ and one entry here.

A lesson places a lab with a ```lab block naming one of these kinds; the lab's page and event
stream render its runs with its own fold and template. This module imports only the labs' folds
(pure): the content checker and the lesson loader read it without views, Celery or Redis.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from .fold import LabFold
from .kinds.broker.fold import BrokerFold
from .kinds.console.fold import (
    ConsoleFold,
    console_moved_three_jobs,
    console_published_while_two_listen,
    console_shared_a_stream,
)
from .kinds.deploy.fold import DeployFold, stopped_three_ways
from .kinds.email.fold import EmailFold, compared_both
from .kinds.failure.fold import FailureFold, compared_policies, restarted_both_ways
from .kinds.lifecycle.fold import LifecycleFold
from .kinds.listen.fold import ListenFold, saw_the_freeze
from .kinds.ping.fold import PingFold, finished_a_run
from .kinds.pools.fold import PoolsFold, compared_cpu_pools, compared_workloads
from .kinds.pubsub.fold import PubsubFold, lost_and_kept
from .kinds.routing.fold import RoutingFold, ran_both_setups
from .kinds.watch.fold import WatchFold, saw_the_alert_fire_and_clear


@dataclass(frozen=True)
class Goal:
    """Something a lesson can ask the learner to do in a lab, checked from their runs."""

    description: str
    met: Callable[[list], bool]  # given the learner's recent runs of the lab, as folded


@dataclass(frozen=True)
class LabKind:
    title: str
    url_name: str
    summary: str
    # The lab page; its "runs" partial renders the list of runs that the fold returns.
    template: str
    # Folds the lab's events into its runs; its ``outcomes`` are what a run can show, which a
    # lesson's 'predict' question for this lab maps its options to ('observes:').
    fold: type[LabFold]
    # A lesson's ```lab block names one of these as its goal; a met goal counts as done.
    goals: dict[str, Goal] = field(default_factory=dict)

    @property
    def outcomes(self) -> dict[str, str]:
        return self.fold.outcomes

    def goals_met(self, runs: list) -> set[str]:
        """The names of the goals that ``runs`` meet."""
        return {name for name, goal in self.goals.items() if goal.met(runs)}


LAB_KINDS = {
    "ping": LabKind(
        title="Ping the worker",
        url_name="labs:ping",
        summary="Queue a real Celery task and watch a worker report each step.",
        template="labs/ping.html",
        fold=PingFold,
        goals={
            "finish-a-run": Goal(
                description="Queue a task and watch a worker finish it.", met=finished_a_run
            ),
        },
    ),
    "broker": LabKind(
        title="Inside the broker",
        url_name="labs:broker",
        summary="Read your own task in Redis: the queue's list, the unacked hash, the result key.",
        template="labs/broker.html",
        fold=BrokerFold,
    ),
    "email": LabKind(
        title="Offload the slow email",
        url_name="labs:email",
        summary="Send a real email inside the request, then through a worker, and time both.",
        template="labs/email.html",
        fold=EmailFold,
        goals={
            "compare-both": Goal(
                description="Send one email each way and see both delivered.", met=compared_both
            ),
        },
    ),
    "lifecycle": LabKind(
        title="A task's whole life",
        url_name="labs:lifecycle",
        summary="Watch one task go through every state: progress, retries, failure, time "
        "limits, cancelling, a chain and a group.",
        template="labs/lifecycle.html",
        fold=LifecycleFold,
    ),
    "pubsub": LabKind(
        title="Publish and subscribe",
        url_name="labs:pubsub",
        summary="PUBLISH to real subscribers (tabs, a Python subscriber, patterns), then with "
        "nobody listening: the message is gone, where a list or a stream keeps it.",
        template="labs/pubsub.html",
        fold=PubsubFold,
        goals={
            "message-lost-and-kept": Goal(
                description="Send a message with nobody subscribed, see it lost on the channel "
                "and read it later from the list or the stream.",
                met=lost_and_kept,
            ),
        },
    ),
    "listen": LabKind(
        title="The blocking listen() trap",
        url_name="labs:listen",
        summary="Consume a channel three ways in a sandbox that must keep answering: listen() "
        "freezes, get_message(timeout=…) and a background thread keep going.",
        template="labs/listen.html",
        fold=ListenFold,
        goals={
            "see-the-freeze": Goal(
                description="Run the sandbox and see listen() stop answering while another "
                "way keeps answering.",
                met=saw_the_freeze,
            ),
        },
    ),
    "console": LabKind(
        title="A Redis console",
        url_name="labs:console",
        summary="Type real Redis commands, in a space of your own: publish and subscribe, push "
        "and pop a list queue, add to a stream and read it, share it in a consumer group.",
        template="labs/console.html",
        fold=ConsoleFold,
        goals={
            "publish-while-two-listen": Goal(
                description="Publish 'New data available' on updates while two subscribers listen.",
                met=console_published_while_two_listen,
            ),
            "move-three-jobs": Goal(
                description="Move three jobs through a list queue: LPUSH them, then take them "
                "off the other end with RPOP or BRPOP.",
                met=console_moved_three_jobs,
            ),
            "share-a-stream": Goal(
                description="Share a stream in a consumer group: two consumers each read an "
                "entry, and every entry they were given is acknowledged.",
                met=console_shared_a_stream,
            ),
        },
    ),
    "routing": LabKind(
        title="Routing, queues and priorities",
        url_name="labs:routing",
        summary="Send slow and fast tasks through one queue, then routed apart to a worker "
        "each, and compare how long the fast ones wait.",
        template="labs/routing.html",
        fold=RoutingFold,
        goals={
            "ran-both-setups": Goal(
                description="Run both setups, one queue and routed apart, to the end.",
                met=ran_both_setups,
            ),
        },
    ),
    "deploy": LabKind(
        title="Stop a worker mid-task",
        url_name="labs:deploy",
        summary="Stop a real worker warm, cold or killed while it runs a task, start a new one, "
        "and see which tasks finished, came back on the queue or were lost.",
        template="labs/deploy.html",
        fold=DeployFold,
        goals={
            "stop-three-ways": Goal(
                description="Stop the worker warm, cold and killed, one run each, and see where "
                "each task went.",
                met=stopped_three_ways,
            ),
        },
    ),
    "watch": LabKind(
        title="Watching a live system",
        url_name="labs:watch",
        summary="Send a burst of tasks to a worker of your own and watch it live from its real "
        "events: counters, heartbeats, the queue's length and an alert on it.",
        template="labs/watch.html",
        fold=WatchFold,
        goals={
            "alert-fire-and-clear": Goal(
                description="See the queue-length alert fire during a burst, then clear once "
                "the queue drains.",
                met=saw_the_alert_fire_and_clear,
            ),
        },
    ),
    "failure": LabKind(
        title="When Redis fails",
        url_name="labs:failure",
        summary="Crash a Redis of your own with and without persistence and see what a list, a "
        "stream and two subscribers keep; fill a tiny maxmemory under noeviction and allkeys-lru.",
        template="labs/failure.html",
        fold=FailureFold,
        goals={
            "restart-with-and-without-persistence": Goal(
                description="Crash and restart Redis without persistence, then with the "
                "append-only file, and compare what survived.",
                met=restarted_both_ways,
            ),
            "compare-memory-policies": Goal(
                description="Fill a tiny maxmemory under noeviction and under allkeys-lru, and "
                "see which one tells the producer.",
                met=compared_policies,
            ),
        },
    ),
    "pools": LabKind(
        title="Worker pools and concurrency",
        url_name="labs:pools",
        summary="Run 8 tasks on a worker of your own with the pool, concurrency and workload you "
        "choose (sleeping or hashing), and see when each ran, where, and how many cores it used.",
        template="labs/pools.html",
        fold=PoolsFold,
        goals={
            "compare-cpu-pools": Goal(
                description="Run the CPU-bound tasks on threads and on prefork, each with a "
                "concurrency of 2 or more, and compare their total times.",
                met=compared_cpu_pools,
            ),
            "compare-workloads": Goal(
                description="Run the I/O-bound and the CPU-bound tasks on the same pool.",
                met=compared_workloads,
            ),
        },
    ),
}
