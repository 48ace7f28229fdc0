"""A private Xvfb display for GUI tests, and a screenshot of it as a PNG.

Xvfb picks a free display number itself (``-displayfd``) and writes it when
it accepts connections, so there is no guessing and no polling. The
screenshot reads the root window with libX11's XGetImage through ctypes and
writes the PNG with zlib: no ImageMagick or xwd needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import subprocess
import time
import zlib
from pathlib import Path


class XvfbError(RuntimeError):
    pass


class Xvfb:
    """``with Xvfb() as display:`` runs Xvfb and sets $DISPLAY until the end."""

    def __init__(self, size: str = "1280x800x24", timeout: float = 10.0) -> None:
        self.size = size
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.display = ""
        self._old_display: str | None = None

    def start(self) -> "Xvfb":
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                # -r: no key auto-repeat, so a slow machine cannot turn one typed key into several.
                ["Xvfb", "-displayfd", str(write_end), "-screen", "0", self.size, "-nolisten", "tcp", "-r"],
                pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.close(write_end)
            self.display = ":" + self._read_number(read_end)
        finally:
            os.close(read_end)
        self._old_display = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = self.display
        return self

    def _read_number(self, fd: int) -> str:
        deadline = time.monotonic() + self.timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                self.stop()
                raise XvfbError("Xvfb did not report its display in time")
            chunk = os.read(fd, 64)
            if not chunk:
                self.stop()
                raise XvfbError("Xvfb exited before accepting connections")
            data += chunk
        return data.decode().strip()

    def stop(self) -> None:
        if self._old_display is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = self._old_display
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> "Xvfb":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class _XImage(ctypes.Structure):
    _fields_ = [
        ("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_ubyte)),
        ("byte_order", ctypes.c_int), ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int), ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int),
        ("red_mask", ctypes.c_ulong), ("green_mask", ctypes.c_ulong), ("blue_mask", ctypes.c_ulong),
    ]


def _libx11() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11") or "libX11.so.6"
    lib = ctypes.CDLL(name)
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XDefaultRootWindow.restype = ctypes.c_ulong
    lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    lib.XDefaultScreen.argtypes = [ctypes.c_void_p]
    lib.XDisplayWidth.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XGetImage.restype = ctypes.POINTER(_XImage)
    lib.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                              ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    lib.XDestroyImage.argtypes = [ctypes.POINTER(_XImage)]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    return lib


def screenshot(path: Path, display: str | None = None) -> Path:
    """Save the whole screen of ``display`` ($DISPLAY by default) as a PNG at ``path``."""
    lib = _libx11()
    handle = lib.XOpenDisplay((display or os.environ["DISPLAY"]).encode())
    if not handle:
        raise XvfbError(f"cannot open display {display}")
    try:
        screen = lib.XDefaultScreen(handle)
        width, height = lib.XDisplayWidth(handle, screen), lib.XDisplayHeight(handle, screen)
        image = lib.XGetImage(handle, lib.XDefaultRootWindow(handle), 0, 0, width, height,
                              0xFFFFFFFF, 2)  # AllPlanes, ZPixmap
        if not image:
            raise XvfbError("XGetImage failed")
        try:
            rows = _rgb_rows(image.contents)
        finally:
            lib.XDestroyImage(image)
    finally:
        lib.XCloseDisplay(handle)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_png(width, height, rows))
    return path


def _rgb_rows(image: _XImage) -> list[bytes]:
    if image.bits_per_pixel != 32 or image.byte_order != 0:  # 0: LSBFirst, pixels as B G R X
        raise XvfbError(f"unsupported pixel format: {image.bits_per_pixel} bpp")
    stride = image.bytes_per_line
    raw = ctypes.string_at(image.data, stride * image.height)
    rows = []
    for y in range(image.height):
        line = raw[y * stride: y * stride + image.width * 4]
        rgb = bytearray(image.width * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = line[2::4], line[1::4], line[0::4]
        rows.append(bytes(rgb))
    return rows


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    pixels = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(pixels, 6)) + chunk(b"IEND", b""))
