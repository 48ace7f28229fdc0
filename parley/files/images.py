"""Thumbnails of uploaded images, with Pillow, refusing what is not a whole image of a known kind."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # --max-image-pixels: more is taken for a decompression bomb
BOX = 320  # a thumbnail fits in BOX x BOX
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# Modes a PNG can hold as they are; the rest (CMYK, YCbCr, I;16 ...) are converted.
_PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})


def make_thumbnail(src: Path, dest: Path, max_pixels: int = MAX_PIXELS, box: int = BOX) -> tuple[int, int] | None:
    """Write ``src``'s thumbnail to ``dest`` (a PNG within ``box`` x ``box``, never larger than the image);
    return the image's (width, height).

    None, and nothing written, when ``src`` is not a whole PNG, JPEG, GIF or
    WebP image (truncated, corrupt, another format) or has more than
    ``max_pixels`` pixels: its size is read from the header and checked before
    a pixel is decoded, so a decompression bomb costs nothing. Raises OSError
    only when ``dest`` cannot be written (a full disk). Synchronous and
    CPU-bound: run it in a thread.
    """
    thumbnail = _decode(src, max_pixels, box)
    if thumbnail is None:
        return None
    image, size = thumbnail
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Its own part file: two uploads of the same image at once each write theirs, and the last rename wins.
    part = dest.with_name(f"{dest.name}.{secrets.token_hex(6)}.part")
    try:
        image.save(part, "PNG")
        os.replace(part, dest)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return size


def _decode(src: Path, max_pixels: int, box: int) -> tuple[Image.Image, tuple[int, int]] | None:
    """The thumbnail in memory and the image's size, or None (see ``make_thumbnail``)."""
    try:
        # Image.open reads the header only, and itself refuses more than twice Pillow's
        # MAX_IMAGE_PIXELS (DecompressionBombError); the size is checked against ours before load().
        with Image.open(src, formats=FORMATS) as image:
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                return None
            image.draft(None, (box, box))  # JPEG: decode at a reduced scale when it can
            image.load()
            small = image if image.mode in _PNG_MODES else image.convert(
                "RGBA" if "A" in image.getbands() else "RGB")
            small.thumbnail((box, box))
            return small.copy(), (width, height)  # a copy outlives the closed file
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, UnidentifiedImageError):
        # Truncated or corrupt files raise any of these from Pillow's decoders.
        return None
