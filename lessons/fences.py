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
    open_fence: tuple[str, str, tuple[str, ...], int] | None = None
    # Only a line with ``` or ~~~ in it opens or closes a fence: the loop visits those alone
    # (reading a first load's lessons passes millions of lines here).
    for index in [i for i, line in enumerate(lines) if "```" in line or "~~~" in line]:
        line = lines[index]
        if open_fence is None:
            match = FENCE.match(line)
            if match:
                flags = tuple(match.group(4).split())
                open_fence = (match.group(2), match.group(3), flags, index)
            continue
        marker, info, flags, start = open_fence
        stripped = line.strip()
        if stripped.startswith(marker) and not stripped.strip(marker[0]):
            inside[start : index + 1] = [True] * (index + 1 - start)
            text = "\n".join(lines[start + 1 : index])
            blocks.append(Block(info, text, first_line + start, first_line + index, flags))
            open_fence = None
    if open_fence is not None:
        marker, info, flags, start = open_fence
        inside[start:] = [True] * (len(lines) - start)
        end = first_line + len(lines) - 1
        blocks.append(Block(info, "\n".join(lines[start + 1 :]), first_line + start, end, flags))
    return inside, blocks
