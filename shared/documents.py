"""Uploaded documents (PDF, JPEG, PNG) read from a raw request body: one reading and checking of an
upload for every service that stores documents (filing materials, credit-repair evidence). The body is
read up to the limit and no further, its declared type must be allowed and match its leading bytes,
and the document is named by the SHA-256 of its bytes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fastapi import Request

from shared.errors import AppError, InvalidInput
from shared.sniff import check_document


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    message_zh = "文件过大"


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    message_zh = "不支持的文件类型"


MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    content: bytes
    media_type: str
    sha256: str


async def read_upload(request: Request, *, max_bytes: int, media_types: list[str]) -> Upload:
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type not in media_types:
        raise UnsupportedMediaType(
            f"仅支持以下文件类型：{'、'.join(media_types)}", field="content-type", code="unsupported_media_type"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"文件不能超过 {max_bytes // (1024 * 1024)} MB", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:  # stop reading at the limit, whatever Content-Length said
            raise PayloadTooLarge(f"文件不能超过 {max_bytes // (1024 * 1024)} MB", field="body")
        chunks.append(chunk)
    content = b"".join(chunks)
    if not content:
        raise InvalidInput("文件内容为空", code="empty_document", field="body")
    if not content.startswith(MAGIC.get(media_type, (b"",))):
        raise InvalidInput("文件内容与声明的类型不符", code="content_type_mismatch", field="body")
    check_document(content, media_type)  # the whole file, not only its first bytes (shared/sniff.py)
    return Upload(content=content, media_type=media_type, sha256=hashlib.sha256(content).hexdigest())
