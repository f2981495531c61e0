import os

import django
from django.core.handlers.asgi import ASGIHandler

from .streaming import STREAM_PREFIX

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")

# Server-sent event streams stay open for as long as a page does. Django runs each request's
# sync work (the session load, the database signal receivers) on a thread of that request's
# own, which a stream would hold until it closes: one OS thread per open page. Outside that
# per-request context, the same sync work shares one thread. bench/run.py measures both.
# Every stream is served under one prefix (learnsite/stream_urls.py).


class Application(ASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(STREAM_PREFIX):
            await self.handle(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


django.setup(set_prefix=False)
application = Application()
