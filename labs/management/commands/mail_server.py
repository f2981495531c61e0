import asyncio
import logging

from django.conf import settings
from django.core.management.base import BaseCommand

from labs.kinds.email.mail_server import mail_server_serve


class Command(BaseCommand):
    help = (
        "Run the labs' SMTP server where the site sends its email (settings.MAILERS), holding "
        "each reply for the latency the email asks for (run by `make run`)."
    )

    def add_arguments(self, parser):
        mailer = settings.MAILERS["default"]["OPTIONS"]
        parser.add_argument("--host", default=mailer["host"])
        parser.add_argument("--port", type=int, default=mailer["port"])

    def handle(self, *args, host: str, port: int, **options):
        # aiosmtpd logs every SMTP command at INFO: keep its warnings, and this server's lines.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        asyncio.run(mail_server_serve(host=host, port=port, ready=self.ready))

    def ready(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
