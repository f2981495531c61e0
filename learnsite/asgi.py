import os
import re

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")

# Server-sent event streams stay open for as long as a page does. Django runs each request's
# sync work (the session load, the database signal receivers) on a thread of that request's
# own, which a stream would hold until it closes: one OS thread per open page. Outside that
# per-request context, the same sync work shares one thread. bench/run.py measures both.
STREAM_PATHS = re.compile(r"^/(labs/[\w-]+/(events|feed)|content/changes)/$")


class Application(ASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and STREAM_PATHS.match(scope["path"]):
            await self.handle(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


django.setup(set_prefix=False)
application = Application()
