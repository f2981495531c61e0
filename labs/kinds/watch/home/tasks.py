"""The program the "watch" lab runs, as you would at home: a task that keeps a worker busy.

celery -A tasks worker -E --pool threads --concurrency 2    # -E: send events
celery -A tasks events --dump                               # print every event
python -c "from tasks import work; [work.delay(0.2) for _ in range(50)]"
"""

import os
import time

from celery import Celery

app = Celery("tasks", broker=os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
# The client sends task-sent too (the worker sends the other task events with -E).
app.conf.task_send_sent_event = True
# One task per thread at a time: the rest of a burst waits in Redis, where LLEN counts it.
app.conf.worker_prefetch_multiplier = 1


@app.task
def work(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
