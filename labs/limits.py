"""Rate limits on anything that starts work, counted in Redis so every web process agrees."""

from learnsite.redis import redis_client


def rate_limit_allows(*, key: str, limit: int, window_seconds: int) -> bool:
    """Count one more use of ``key`` in a fixed window; False once ``limit`` is passed."""
    pipe = redis_client().pipeline()
    pipe.set(key, 0, ex=window_seconds, nx=True)  # starts the window; INCR keeps its TTL
    pipe.incr(key)
    _, used = pipe.execute()
    return used <= limit
