"""Fenced code blocks in markdown: where they are, for the loader's checks and the renderer."""

import re
from dataclasses import dataclass

# An opening fence: its marker, its language and any words after it (```python run worker).
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)(.*)$")


@dataclass
class Block:
    """A fenced code block: its language, text and the line of its opening fence."""

    info: str
    text: str
    line: int
    end_line: int
    # The words after the language: ``run`` and ``worker`` mark a runnable example.
    flags: tuple[str, ...] = ()


def split_fences(lines: list[str], first_line: int) -> tuple[list[bool], list[Block]]:
    """Which lines are inside fenced code, and the fenced blocks themselves."""
    inside, blocks = [False] * len(lines), []
    open_fence: tuple[str, str, tuple[str, ...], int, list[str]] | None = None
    for index, line in enumerate(lines):
        if open_fence is None:
            # Most lines open no fence: only one that starts (after its indent) as a fence does
            # is matched against FENCE (reading a first load's lessons matches millions).
            match = FENCE.match(line) if line.lstrip()[:3] in ("```", "~~~") else None
            if match:
                flags = tuple(match.group(4).split())
                open_fence = (match.group(2), match.group(3), flags, index, [])
                inside[index] = True
            continue
        inside[index] = True
        marker, info, flags, start, body = open_fence
        stripped = line.strip()
        if stripped.startswith(marker) and not stripped.strip(marker[0]):
            end = first_line + index
            blocks.append(Block(info, "\n".join(body), first_line + start, end, flags))
            open_fence = None
        else:
            body.append(line)
    if open_fence is not None:
        marker, info, flags, start, body = open_fence
        end = first_line + len(lines) - 1
        blocks.append(Block(info, "\n".join(body), first_line + start, end, flags))
    return inside, blocks
