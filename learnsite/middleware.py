"""The site's own middleware: a NUL character in a request is refused before any view runs.

PostgreSQL refuses a NUL in a query's text, so a search, a lookup or a filter with one would
be a 500 there (SQLite finds nothing); no field of the site has a use for one. So a path, query
or form field holding one is a 400 that says so, from one place. (An LTI launch's token carries
its claims encoded: lti/tool.py looks for NUL in those.)
"""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

NUL_REFUSED = (
    "This request holds a NUL character (%00), which no address or field of the site may hold."
)
# The JSON API answers each refusal as {"error": "..."} (quiz/api.py).
API_PREFIX = "/api/"


def _nul_held(request: HttpRequest) -> bool:
    fields = [request.GET] + ([request.POST] if request.method == "POST" else [])
    return "\x00" in request.path or any(
        "\x00" in key or any("\x00" in value for value in values)
        for query in fields
        for key, values in query.lists()
    )


def _refusal(request: HttpRequest) -> HttpResponse | None:
    if not _nul_held(request):
        return None
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": NUL_REFUSED}, status=400)
    return HttpResponseBadRequest(NUL_REFUSED)


class NulRefusedMiddleware:
    """A request with a NUL in its path, query or form fields is a 400; any other goes on.
    Sync or async as the chain around it is: the event streams' chain is async, and a hop to a
    thread for this would cost each stream's opening one."""

    sync_capable = async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._acall(request)
        return _refusal(request) or self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return _refusal(request) or await self.get_response(request)
