# UNTRACKED SHIM for local testing only
from learnsite.streaming import HEARTBEAT_SECONDS, KEEP_ALIVE, sse_event  # noqa


async def counted_sse_response(*, learner_id, stream):
    from .pages import counted_sse_response as _c

    return await _c(learner_id=learner_id, frames=stream, retry_ms=2000)
