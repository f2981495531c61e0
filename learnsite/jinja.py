"""The Jinja2 environment of the run cards: what a lab's event stream renders on every event.

A card is re-rendered each time its run changes, a few times a second for every open lab page:
Jinja2 compiles a template to Python and renders a ping card in about a fifth of the time
Django's template language takes (bench/run.py, README "Why Jinja2 for the run cards"). The
pages around the cards stay Django templates; they put a card in with ``{% jinja %}``
(labs/templatetags/jinja.py).
"""

from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import reverse
from jinja2 import Environment, Undefined


def url(name: str, *args) -> str:
    return reverse(name, args=args)


class CardEnvironment(Environment):
    def make_globals(self, d):
        """A template's globals as one dict, not Jinja2's ChainMap over the environment's:
        each render copies them into its context, and iterating a ChainMap was a fifth of a
        card's render. The globals are all set before the first card loads (``environment``)."""
        return {**self.globals, **(d or {})}


def environment(*, macro_templates: tuple[str, ...] = (), **options) -> Environment:
    """The environment, with the macros of ``macro_templates`` as globals: imported by each
    card instead, they cost a fifth of its render. (Loaded once: under DEBUG, an edit of them
    shows after a restart.)"""
    # Every value escaped, whatever the settings say; and a missing one rendered empty, as
    # Django's templates do, in development too (Django's backend would print it there).
    options.pop("autoescape", None)
    options["undefined"] = Undefined
    env = CardEnvironment(autoescape=True, **options)
    env.globals.update(url=url, static=static)
    # Django's filters the cards use, so that they say it as the Django templates do.
    env.filters.update(
        pluralize=defaultfilters.pluralize,
        yesno=defaultfilters.yesno,
        floatformat=defaultfilters.floatformat,
    )
    for name in macro_templates:
        module = env.get_template(name).module
        env.globals.update((key, value) for key, value in vars(module).items() if key[:1] != "_")
    return env
