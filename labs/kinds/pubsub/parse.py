"""What a learner types in the "Publish and subscribe" lab, checked: channel names, the
subscriptions of a tab or of the Python subscriber (channels and patterns), and messages.

The learner names short channels (``updates``, ``updates.sports``); the real channel is always
built from the session (``labs.channels.real_channel``). Neither the learner's key nor a short
name can hold a glob character outside a pattern, so a pattern never reaches past the
learner's own channels.
"""

import re
from dataclasses import dataclass

from labs.services import LabError

NAME_MAX_CHARS = 40
NAME = re.compile(rf"^[A-Za-z0-9.-]{{1,{NAME_MAX_CHARS}}}$")
PATTERN = re.compile(rf"^[A-Za-z0-9.*?-]{{1,{NAME_MAX_CHARS}}}$")
NAME_RULES = (
    f"a channel name is 1 to {NAME_MAX_CHARS} letters, digits, dots and dashes, like "
    "updates or updates.sports (a pattern may also use * and ?, like updates.*)"
)
SUBSCRIPTION_MAX_NAMES = 5
DEFAULT_SUBSCRIPTION = "updates"
MESSAGE_MAX_CHARS = 200


class ChannelInvalid(LabError):
    pass


@dataclass(frozen=True)
class Subscription:
    channels: tuple[str, ...]
    patterns: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.channels + self.patterns)

    @property
    def size(self) -> int:
        return len(self.channels) + len(self.patterns)


def _shown(name: str) -> str:
    return name if len(name) <= NAME_MAX_CHARS else name[:NAME_MAX_CHARS] + "…"


def channel_parse(name: str) -> str:
    """A learner's short channel name, checked; raises ChannelInvalid."""
    name = name.strip()
    if not NAME.match(name):
        if not name:
            raise ChannelInvalid(f"Name a channel: {NAME_RULES}. Nothing was sent.")
        raise ChannelInvalid(f"“{_shown(name)}” is not a channel name here: {NAME_RULES}.")
    return name


def subscription_parse(text: str) -> Subscription:
    """Channels and patterns (with * or ?) separated by spaces or commas; raises ChannelInvalid."""
    names = list(dict.fromkeys(part for part in re.split(r"[\s,]+", text.strip()) if part))
    if not names:
        raise ChannelInvalid(f"Name at least one channel to subscribe to: {NAME_RULES}.")
    if len(names) > SUBSCRIPTION_MAX_NAMES:
        raise ChannelInvalid(f"Subscribe to {SUBSCRIPTION_MAX_NAMES} channels or patterns at most.")
    channels, patterns = [], []
    for name in names:
        if "*" in name or "?" in name:
            if not PATTERN.match(name):
                raise ChannelInvalid(f"“{_shown(name)}” is not a pattern here: {NAME_RULES}.")
            patterns.append(name)
        else:
            channels.append(channel_parse(name))
    return Subscription(channels=tuple(channels), patterns=tuple(patterns))


def message_parse(text: str) -> str:
    text = text.strip()
    if not text:
        raise LabError("Write a message to send.")
    if len(text) > MESSAGE_MAX_CHARS:
        raise LabError(f"Keep the message to {MESSAGE_MAX_CHARS} characters.")
    return text
