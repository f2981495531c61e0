from django.apps import AppConfig


class AuthoringConfig(AppConfig):
    """The content loader: reads and checks the files under content/, renders them once and
    writes lessons (and, through quiz's service, questions). Nothing imports it but the project
    wiring: it sits above labs, quiz and lessons."""

    name = "authoring"
