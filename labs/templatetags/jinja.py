"""``{% jinja "labs/cards/ping.jinja" run=run %}``: a Jinja2 template (learnsite/jinja.py)
rendered inside a Django one, with the page's CSRF token, so that a lab page and its event stream
show a run from the same template; ``macro="lost"`` calls that macro of the template instead,
with the values given."""

from django import template
from django.template import engines
from django.utils.safestring import mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context, template_name: str, *, macro: str = "", **values) -> str:
    jinja_template = engines["jinja2"].env.get_template(template_name)
    if macro:
        html = getattr(jinja_template.module, macro)(**values)
    else:
        values.setdefault("csrf_token", context.get("csrf_token", ""))
        html = jinja_template.render(values)
    return mark_safe(html)  # noqa: S308 - Jinja2 escaped every value as it rendered it
