"""parley/files: what a file is, the names kept, signed tickets, receipts and links, thumbnails."""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

from parley.files import links
from parley.files.images import make_thumbnail
from parley.files.sniff import INLINE_TYPES, sniff
from parley.files.store import BlobStore

SECRET = b"k" * 32


def image_bytes(kind: str, size: tuple[int, int] = (640, 400), mode: str = "RGB") -> bytes:
    """A real image of ``kind`` (PNG, JPEG, GIF, WEBP), made by Pillow."""
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 90) if mode == "RGB" else 7).save(out, kind)
    return out.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG of a few hundred bytes whose header declares ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\0" * 1000)  # the first rows only: the rest would be zeros too
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("head", "expected"), [
    (image_bytes("PNG"), "image/png"),
    (image_bytes("JPEG"), "image/jpeg"),
    (image_bytes("GIF"), "image/gif"),
    (image_bytes("WEBP"), "image/webp"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
    (b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "application/zip"),
    ("Grüße, notes\tand a table\r\nline 2\n".encode(), "text/plain"),
    (b"<!doctype html><script>alert(1)</script>", "application/octet-stream"),
    (b"  \n<html><body onload=alert(1)>", "application/octet-stream"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "application/octet-stream"),
    (b"\xef\xbb\xbf<svg/>", "application/octet-stream"),
    (b"text with a \x1b[31m terminal escape", "application/octet-stream"),
    (b"NUL\x00inside", "application/octet-stream"),
    (b"\xff\xfe not UTF-8", "application/octet-stream"),
    (b"", "application/octet-stream"),
])
def test_sniff_reads_the_bytes_never_the_name(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


def test_sniff_keeps_text_whose_last_character_is_cut_at_512_bytes() -> None:
    assert sniff(("a" * 511 + "é").encode()[:512]) == "text/plain"
    assert INLINE_TYPES == {"image/png", "image/jpeg", "image/gif", "image/webp"}


@pytest.mark.parametrize(("name", "kept"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\ann\\report.pdf", "report.pdf"),
    ("evil\x00name\x07.txt", "evilname.txt"),
    ("line\nbreak\r.txt", "linebreak.txt"),
    ("invoice\u202egpj.exe", "invoicegpj.exe"),  # RIGHT-TO-LEFT OVERRIDE would show "invoiceexe.jpg"
    ("\u2066a\u2069b\u200b.png", "ab.png"),
    ("...hidden", "hidden"),
    ("  . spaced out.txt  ", "spaced out.txt"),
    ("", "file"),
    ("../", "file"),
    ("\u202e", "file"),
    ("holiday photo.jpeg", "holiday photo.jpeg"),
])
def test_safe_name(name: str, kept: str) -> None:
    assert links.safe_name(name) == kept


def test_safe_name_cuts_long_names_keeping_the_extension() -> None:
    kept = links.safe_name("x" * 300 + ".tar.gz")
    assert len(kept) == 120 and kept.endswith("x.gz")
    assert links.safe_name("y" * 300) == "y" * 120
    kept = links.safe_name("z" * 100 + "." + "e" * 200)  # no real extension: simply cut
    assert len(kept) == 120


def test_tickets_are_signed_and_expire() -> None:
    now = int(time.time() * 1000)
    token = links.upload_ticket(SECRET, "t1", 1234, now + 600_000)
    assert links.read_ticket(SECRET, token, now) == links.Ticket("t1", 1234, now + 600_000)
    assert links.read_ticket(SECRET, token, now + 600_000) is None  # expired
    assert links.read_ticket(b"other key" * 4, token, now) is None
    payload, mac = token.split(".")
    forged_payload = links._b64(b'["t1",999999999,%d]' % (now + 600_000))
    assert links.read_ticket(SECRET, f"{forged_payload}.{mac}", now) is None
    for garbage in ("", ".", "abc", "a.b.c", "!!!.???", payload, f"{payload}.{mac[:-2]}"):
        assert links.read_ticket(SECRET, garbage, now) is None


def test_receipts_are_signed_and_never_pass_for_tickets() -> None:
    r = links.Receipt("t1", "ab" * 32, 10, "image/png", 64, 48)
    token = links.receipt(SECRET, r)
    assert links.read_receipt(SECRET, token) == r
    assert links.read_receipt(b"x" * 32, token) is None
    ticket = links.upload_ticket(SECRET, "t1", 10, 2**60)
    assert links.read_receipt(SECRET, ticket) is None
    assert links.read_ticket(SECRET, token, 0) is None


def test_links_are_signed_over_id_sha_and_name() -> None:
    sha = "cd" * 32
    link = links.file_link(SECRET, 7, sha, "my report (final).pdf")
    prefix, file_id, link_sha, sig, quoted = link.split("/")
    assert (prefix, file_id, link_sha, quoted) == ("files", "7", sha, "my%20report%20%28final%29.pdf")
    assert len(sig) == 22
    assert links.check_link(SECRET, 7, sha, sig, "my report (final).pdf")
    assert not links.check_link(SECRET, 8, sha, sig, "my report (final).pdf")  # another file's id
    assert not links.check_link(SECRET, 7, "ce" * 32, sig, "my report (final).pdf")  # other bytes
    assert not links.check_link(SECRET, 7, sha, sig, "other.pdf")
    assert not links.check_link(SECRET, 7, sha, "A" * 22, "my report (final).pdf")
    assert not links.check_link(SECRET, 7, sha, "é", "my report (final).pdf")
    assert not links.check_link(b"y" * 32, 7, sha, sig, "my report (final).pdf")


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "WEBP"])
def test_thumbnails_of_the_four_image_kinds(tmp_path: Path, kind: str) -> None:
    src = tmp_path / "upload"
    src.write_bytes(image_bytes(kind, (640, 400)))
    dest = tmp_path / "thumbs" / "x.png"
    assert make_thumbnail(src, dest, 50_000_000) == (640, 400)
    with Image.open(dest) as thumb:
        assert thumb.format == "PNG" and thumb.size == (320, 200)


def test_a_small_image_is_never_enlarged_and_odd_modes_are_converted(tmp_path: Path) -> None:
    src = tmp_path / "small"
    src.write_bytes(image_bytes("JPEG", (40, 30), mode="CMYK"))
    dest = tmp_path / "t.png"
    assert make_thumbnail(src, dest, 1200) == (40, 30)  # exactly the limit: allowed
    with Image.open(dest) as thumb:
        assert thumb.size == (40, 30)


def test_what_is_not_a_whole_image_gets_no_thumbnail(tmp_path: Path) -> None:
    dest = tmp_path / "t.png"
    for name, data in [
        ("truncated.png", image_bytes("PNG", (300, 300))[:400]),
        ("truncated.jpg", image_bytes("JPEG", (300, 300))[:300]),
        ("html.png", b"<html><script>alert(1)</script></html>"),
        ("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        ("bmp", image_bytes("BMP", (10, 10))),  # an image, but not one of the four kinds
        ("empty", b""),
    ]:
        src = tmp_path / name
        src.write_bytes(data)
        assert make_thumbnail(src, dest, 50_000_000) is None, name
        assert not dest.exists()


def test_a_decompression_bomb_is_refused_fast_without_decoding(tmp_path: Path) -> None:
    src = tmp_path / "bomb.png"
    src.write_bytes(bomb_png())
    assert src.stat().st_size < 1000
    started = time.monotonic()
    assert make_thumbnail(src, tmp_path / "t.png", 50_000_000) is None
    # Just over our limit but under Pillow's own: still refused, by our check.
    src.write_bytes(bomb_png(8000, 7000))
    assert make_thumbnail(src, tmp_path / "t.png", 50_000_000) is None
    assert time.monotonic() - started < 1.0
    assert not (tmp_path / "t.png").exists()


def test_the_store_keeps_one_secret_and_deletes_blob_and_thumbnail(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "files")
    key = store.secret()
    assert len(key) == 32 and BlobStore(tmp_path / "files").secret() == key
    assert (tmp_path / "files" / "secret").stat().st_mode & 0o777 == 0o600
    with store.receive() as part:
        part.write(b"hello ")
        part.write(b"world")
        sha = part.finish()
        assert part.keep(sha)
    assert store.has(sha) and store.blob_path(sha).read_bytes() == b"hello world"
    assert not list(store.tmp.iterdir())
    with store.receive() as part:  # the same bytes again: stored once
        part.write(b"hello world")
        assert not part.keep(part.finish())
    assert not list(store.tmp.iterdir()) and store.used_bytes() == 11
    store.thumb_path(sha).parent.mkdir(parents=True)
    store.thumb_path(sha).write_bytes(b"png")
    assert store.delete(sha) == 14 and not store.has(sha) and not store.thumb_path(sha).exists()
    assert store.delete(sha) == 0 and store.delete("../secret") == 0
    with store.receive() as part:
        part.write(b"abandoned")
    assert not list(store.tmp.iterdir())  # not kept: removed
