"""Reading back the QR codes Parley draws, with zxing-cpp: from a terminal's half blocks, or from a PNG."""

from __future__ import annotations

import io
import re

import zxingcpp
from PIL import Image

# A terminal character is two modules high: (top, bottom), True for light.
HALF_BLOCKS = {"\u2588": (True, True), "\u2580": (True, False), "\u2584": (False, True), " ": (False, False)}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def terminal_modules(lines: list[str]) -> list[list[bool]]:
    """The modules (True: light) of a QR code drawn in half blocks, escape codes and indentation removed."""
    rows = [ANSI.sub("", line) for line in lines]
    indent = min(len(row) - len(row.lstrip(" ")) for row in rows if row.strip())
    rows = [row[indent:] for row in rows]
    width = max(len(row) for row in rows)
    modules: list[list[bool]] = []
    for row in rows:
        pairs = [HALF_BLOCKS[char] for char in row.ljust(width)]
        modules.append([top for top, _ in pairs])
        modules.append([bottom for _, bottom in pairs])
    return modules


def decode_modules(modules: list[list[bool]], scale: int = 6) -> list[str]:
    """The texts of the QR codes in a module grid, drawn with a white quiet zone around it."""
    border = 4
    height, width = len(modules), len(modules[0])
    image = Image.new("L", ((width + 2 * border) * scale, (height + 2 * border) * scale), 255)
    for y, row in enumerate(modules):
        for x, light in enumerate(row):
            if not light:
                image.paste(0, ((x + border) * scale, (y + border) * scale,
                                (x + border + 1) * scale, (y + border + 1) * scale))
    return [result.text for result in zxingcpp.read_barcodes(image)]


def decode_png(data: bytes) -> list[str]:
    """The texts of the QR codes in a PNG (a screenshot)."""
    return [result.text for result in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)).convert("L"))]
