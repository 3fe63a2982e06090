"""SMS backends, chosen by settings.SMS_BACKEND (a dotted path), like Django's e-mail backends.

LogSmsBackend (the default) writes the message to the log, like the console e-mail backend: in development the
login code is read from the `make run` output. MemorySmsBackend keeps messages in `outbox` for tests.
A production backend (Aliyun, Tencent Cloud SMS ...) implements `send(phone, message)`.
"""
import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("accounts.sms")


class LogSmsBackend:
    def send(self, phone: str, message: str) -> None:
        logger.warning("SMS to %s: %s", phone, message)


class MemorySmsBackend:
    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, message: str) -> None:
        MemorySmsBackend.outbox.append((phone, message))


def sms_send(*, phone: str, message: str) -> None:
    import_string(settings.SMS_BACKEND)().send(phone, message)
