"""The site under an ASGI server (uvicorn): static files, then the event streams, then Django's
pages, each served the cheapest way that keeps what it needs.

- **Static files** are answered before Django: ServeStatic's files, as Django's settings make
  them (collected with hashed names and gzip copies under `make serve`, the app folders under
  `make run`), with ServeStatic's headers. A hit never builds a request.
- **Event streams** (``STREAM_PREFIX``) stay open for as long as a page does. Django's async
  handler runs each request's sync work (the session load, the database signal receivers) on a
  thread of that request's own, which a stream would hold until it closes: one OS thread per
  open page. Outside that per-request context, the same sync work shares one thread
  (bench/run.py measures both). And where Django's handler keeps the request (its META,
  session, user, messages), its body file, the response and a TaskGroup for as long as the
  stream is open, ``handle_stream`` closes the request and lets them go once the head is sent.
- **Every other request** (pages, forms, the API) runs as Django runs it under WSGI: the sync
  middleware and view, the request's signals and the response's close, all in one thread of a
  pool the process keeps. Two pools: the pages' has two threads a core, since their work is
  CPU under one GIL and more threads only take turns at it (32 of them served a lesson page
  a third slower than 4); the requests that may wait on the network (``waits_on_network``)
  have a pool of their own, so that a class sending mail the slow way never holds up a page.
  Django's async handler would instead start a thread per request and hop between threads
  several times in it (the request signals, each sync middleware, the view, the close): about
  1 ms of CPU per request on this 2-core machine, several times what a cached page itself
  costs (README: "Where a page's time goes"). None of these views is async: the streams are
  the only async views.
"""

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing, closing

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.urls import set_script_prefix
from servestatic.asgi import FileServerASGI
from servestatic.middleware import ServeStaticMiddleware
from servestatic.responders import Redirect, StaticFile
from servestatic.utils import run_async_in_thread

from .streaming import STREAM_PREFIX, EventStreamResponse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "learnsite.settings")

# Requests served at once by a process: the pages (a millisecond of CPU each) two a core, and
# beside them the requests that may wait on the network: a lab's action (the email lab's send
# in the request holds it for the mail server), the readiness check's worker ping, LTI's key
# fetches. Database work waits for the pool's connections (DATABASE_POOL_SIZE).
PAGE_THREADS = 2 * (os.process_cpu_count() or 1)
WAITING_THREADS = 32
# A static file up to this size is read in the event loop (from the page cache: microseconds);
# a larger one in a thread.
STATIC_READ_INLINE_BYTES = 256 * 1024
ZEROCOPY_SEND = "http.response.zerocopysend"


def waits_on_network(scope) -> bool:
    """Whether a request may wait on another server: a lab's action (a POST: Redis, Celery,
    the mail server), the readiness check, LTI (the platform's keys)."""
    path = scope["path"]
    if path.startswith("/labs/"):
        return scope["method"] == "POST"
    return path.startswith(("/healthz/ready", "/lti/"))


async def _static_only(request):
    raise AssertionError("the static files' ServeStaticMiddleware is never in a chain")


async def static_send(static_file: StaticFile | Redirect, scope, receive, send) -> None:
    """``static_file`` as ServeStatic answers it (status, caching, gzip, ranges, 304s).

    ServeStatic's own ASGI file server reads a file through a thread pool it starts for each
    response; offered the zero-copy extension instead, it hands over an open file, read here.
    """

    async def send_read(message: dict) -> None:
        if message["type"] == ZEROCOPY_SEND:
            file, offset = message["file"], message["offset"]
            count = message.get("count")
            if count is None:
                count = os.fstat(file.fileno()).st_size - offset
            if count <= STATIC_READ_INLINE_BYTES:
                body = os.pread(file.fileno(), count, offset)
            else:
                body = await asyncio.to_thread(os.pread, file.fileno(), count, offset)
            message = {"type": "http.response.body", "body": body, "more_body": False}
        await send(message)

    extensions = {**(scope.get("extensions") or {}), ZEROCOPY_SEND: {}}
    await FileServerASGI(static_file)({**scope, "extensions": extensions}, receive, send_read)


class Application(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()  # the async middleware chain, for the streams
        self.sync_handler = BaseHandler()
        self.sync_handler.load_middleware(is_async=False)
        self.page_threads = ThreadPoolExecutor(PAGE_THREADS, thread_name_prefix="page")
        self.waiting_threads = ThreadPoolExecutor(WAITING_THREADS, thread_name_prefix="waiting")
        # The static files as the middleware would serve them from Django's settings.
        self.static = ServeStaticMiddleware(_static_only)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith(self.static.static_prefix):
            if self.static.autorefresh:  # DEBUG: files added or edited since the start
                static_file = await run_async_in_thread(self.static.find_file, path)
            else:
                static_file = self.static.files.get(path)
            if static_file is not None:
                await static_send(static_file, scope, receive, send)
                return
        if path.startswith(STREAM_PREFIX):
            await self.handle_stream(scope, receive, send)
        else:
            await self.handle_in_thread(scope, receive, send)

    async def handle_stream(self, scope, receive, send) -> None:
        """A stream's request as Django's ``handle`` serves it: its middleware, the async view,
        ``request_finished``, a closed connection cancelling the stream at its current await
        (its ``finally`` runs). But an open event stream holds its frames only: Django's
        handler keeps the request (its META, session, user, messages), its body file, the
        response with its headers and a TaskGroup for as long as a page is open."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        listener.add_done_callback(_cancel_when_aborted(asyncio.current_task()))
        try:
            with closing(body_file):
                frames = await self.stream_open(scope, body_file, send)
            del body_file  # closed: nothing of the request stays while the stream is open
            if frames is not None:
                async with aclosing(frames):
                    async for frame in frames:
                        await send({"type": "http.response.body", "body": frame, "more_body": True})
                        del frame  # sent: not held while the stream waits for its next
                await send({"type": "http.response.body"})
        except asyncio.CancelledError:
            # The client left: the stream ended at its await. Cancelled otherwise too (the
            # server stopping): that goes on.
            if not _aborted(listener) or asyncio.current_task().uncancel():
                raise
        finally:
            listener.cancel()

    async def stream_open(self, scope, body_file, send) -> AsyncIterator[bytes] | None:
        """The view's answer to a stream's request: an event stream's head sent and its frames
        returned, any other response sent whole (None). Either way the request is over here
        and its response closed (``request_finished``): the stream needs no more of them."""
        set_script_prefix(get_script_prefix(scope))
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response = None
        try:
            response = error_response or await self.run_get_response(request)
            if not isinstance(response, EventStreamResponse):
                await self.send_response(response, send)
                return None
            await send(_response_start(response))
            return aiter(response)
        finally:
            if response is None:
                await signals.request_finished.asend(sender=self.__class__)
            else:
                await sync_to_async(response.close)()

    async def handle_in_thread(self, scope, receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        loop = asyncio.get_running_loop()
        threads = self.waiting_threads if waits_on_network(scope) else self.page_threads
        response = None
        try:
            response = await loop.run_in_executor(threads, self.respond, scope, body_file)
            await self.send_response(response, send)
        finally:
            if response is not None and response.streaming:
                await loop.run_in_executor(threads, response.close)
            body_file.close()

    def respond(self, scope, body_file):
        """The response to one request, made as Django's WSGI handler makes it. A response in
        memory is closed here (its ``request_finished`` signal closes the request's database
        connection); a streamed one after it is sent."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response = error_response or self.sync_handler.get_response(request)
        response._handler_class = self.__class__
        if not response.streaming:
            response.close()
        return response


def _response_start(response) -> dict:
    """The ASGI message that starts ``response``: its status, headers and cookies, encoded as
    Django's ASGI handler encodes them."""
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    headers += [
        (b"Set-Cookie", cookie.OutputString().encode("ascii"))
        for cookie in response.cookies.values()
    ]
    return {"type": "http.response.start", "status": response.status_code, "headers": headers}


def _cancel_when_aborted(task: asyncio.Task):
    """A done callback for a disconnect listener: cancels ``task`` once the client left."""

    def cancel(listener: asyncio.Task) -> None:
        if _aborted(listener):
            task.cancel()

    return cancel


def _aborted(listener: asyncio.Task) -> bool:
    return (
        listener.done()
        and not listener.cancelled()
        and isinstance(listener.exception(), RequestAborted)
    )


django.setup(set_prefix=False)
application = Application()
# A full collection of the garbage collector walks every object with the event loop stopped,
# every open stream's next frame waiting on it: about 100 ms with 1,000 streams open, more than
# the whole p99 a frame may take (bench/run.py). So what the process holds for its whole life
# (Django, the apps, their modules: some 100,000 objects) leaves the generations, and a full
# collection comes after 100 collections of the middle generation, not 10. Cycles are still
# collected; those that outlived two young collections wait longer.
gc.freeze()
gc.set_threshold(2000, 10, 100)
