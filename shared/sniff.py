"""Is an uploaded document what it says it is, all of it, not only its first bytes?

A file that starts like a PDF and goes on as an HTML page (``%PDF-<html><script>…``) is a polyglot: a
browser that sniffs it, or a viewer that trusts the rest, sees a page. Each type is checked against
the whole file:

* PDF: ``%PDF-1.x`` or ``%PDF-2.x`` header, ``%%EOF`` at the end (trailing line ends allowed), and no
  markup that a browser would render (``<html``, ``<script``, ``<body``, ``<iframe``, ``<svg``,
  ``<!doctype``, ``javascript:``) anywhere in it;
* PNG: the signature, then well-formed chunks (length, type, CRC-32) from ``IHDR`` first to ``IEND``
  last, and nothing after ``IEND``;
* JPEG: SOI, well-formed marker segments up to the scan, ``EOI`` at the end, and none of the markup
  above anywhere (it would ride in a comment or after the image).
"""

from __future__ import annotations

import re
import struct
import zlib

from shared.errors import InvalidInput

_MARKUP = re.compile(rb"<\s*(?:html|script|body|iframe|svg|!doctype)|javascript:", re.IGNORECASE)
_PDF_HEADER = re.compile(rb"^%PDF-[12]\.[0-9]")
_PDF_END = re.compile(rb"%%EOF[\r\n\x00 \t]*$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DocumentContentInvalid(InvalidInput):
    code = "content_type_mismatch"
    message_zh = "文件内容与声明的类型不符"


def check_document(content: bytes, media_type: str) -> None:
    """Raise ``DocumentContentInvalid`` (422, field ``body``) unless ``content`` is, throughout, a
    file of ``media_type``."""
    checks = {"application/pdf": _pdf_problem, "image/png": _png_problem, "image/jpeg": _jpeg_problem}
    check = checks.get(media_type)
    problem = "不支持的文件类型" if check is None else check(content)
    if problem is not None:
        raise DocumentContentInvalid(f"文件内容与声明的类型不符：{problem}", field="body")


def _pdf_problem(content: bytes) -> str | None:
    if not _PDF_HEADER.match(content):
        return "不是 PDF 文件头"
    if not _PDF_END.search(content[-1024:]):
        return "PDF 文件不完整（缺少 %%EOF 结束标记）"
    if _MARKUP.search(content):
        return "PDF 中含有网页代码"
    return None


def _png_problem(content: bytes) -> str | None:
    if not content.startswith(_PNG_SIGNATURE):
        return "不是 PNG 文件头"
    offset = len(_PNG_SIGNATURE)
    first = True
    while offset + 12 <= len(content):
        (length,) = struct.unpack(">I", content[offset : offset + 4])
        kind = content[offset + 4 : offset + 8]
        end = offset + 12 + length
        if end > len(content) or not kind.isalpha():
            return "PNG 数据块不完整"
        (crc,) = struct.unpack(">I", content[end - 4 : end])
        if zlib.crc32(content[offset + 4 : end - 4]) != crc:
            return "PNG 数据块校验失败"
        if first and kind != b"IHDR":
            return "PNG 缺少 IHDR 数据块"
        first = False
        offset = end
        if kind == b"IEND":
            return None if offset == len(content) else "PNG 结束标记之后还有数据"
    return "PNG 文件不完整（缺少 IEND 结束标记）"


def _jpeg_problem(content: bytes) -> str | None:
    if not content.startswith(b"\xff\xd8\xff"):
        return "不是 JPEG 文件头"
    if not content.rstrip(b"\x00\r\n").endswith(b"\xff\xd9"):
        return "JPEG 文件不完整（缺少结束标记）"
    offset = 2
    while True:  # marker segments up to the start of scan (SOS); the entropy-coded data follows
        if offset + 4 > len(content) or content[offset] != 0xFF:
            return "JPEG 标记段格式不正确"
        marker = content[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        (length,) = struct.unpack(">H", content[offset + 2 : offset + 4])
        if length < 2 or offset + 2 + length > len(content):
            return "JPEG 标记段长度不正确"
        offset += 2 + length
        if marker == 0xDA:
            break
    if _MARKUP.search(content):
        return "JPEG 中含有网页代码"
    return None
