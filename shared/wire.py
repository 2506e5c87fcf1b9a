"""What goes over the wire, for phones on a weak signal: gzip and validators on every service.

``WireMiddleware`` (pure ASGI, one per service, inside the edge guard) handles answers whose type is
text (JSON, HTML, JavaScript, CSS, SVG, plain text):

* **Validators.** A ``GET`` answered 200 whose body is produced whole (the JSON answers of
  the APIs: one body message) gets a weak ``ETag`` — the SHA-256 of the body, so the same content
  has the same tag on every replica and after every restart. A request whose ``If-None-Match``
  names it is answered ``304 Not Modified`` without the body. Answers that set their own ``ETag``
  (static files) or ``Cache-Control: no-store`` are left alone. An API answer without its own
  ``Cache-Control`` gets ``private, no-cache``: a browser keeps it, but asks again (cheaply, with
  the tag) before using it, and no shared cache stores what a token could read.
* **Compression.** When the request accepts gzip, a text body of at least ``minimum_size`` bytes is
  gzipped (``Content-Encoding: gzip``, ``Vary: Accept-Encoding``). Streamed answers (files, exports)
  are compressed chunk by chunk as they pass. Images, PDFs and anything already encoded pass as they
  are: compressing them gains nothing.

The body is never changed otherwise, so the tag of a gzipped answer and of an identity one is the
same (a weak tag: the same content, not the same bytes).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TEXT_TYPES = (
    "application/json",
    "application/javascript",
    "application/manifest+json",
    "application/problem+json",
    "application/x-ndjson",
    "image/svg+xml",
    "text/",
)


def _compressible(content_type: str) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    return any(media_type == t or (t.endswith("/") and media_type.startswith(t)) for t in TEXT_TYPES)


def body_etag(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def _matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison (RFC 9110 §13.1.2): ``*`` or any listed tag with the same opaque value."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(","))


class WireMiddleware:
    def __init__(self, app: ASGIApp, *, minimum_size: int = 1024, level: int = 6) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        accepts_gzip = "gzip" in request.get("accept-encoding", "").lower()
        if scope["method"] == "HEAD":  # no body to tag or compress; its headers say what a GET would
            await self.app(scope, receive, send)
            return
        conditional = scope["method"] == "GET"
        if_none_match = request.get("if-none-match") if conditional else None
        api = scope["path"].startswith("/v1/")
        start: Message | None = None
        compressor: zlib._Compress | None = None  # streaming: set once the first chunk decided it

        async def wire_send(message: Message) -> None:
            nonlocal start, compressor
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            headers = MutableHeaders(raw=list(start["headers"]))
            body: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            if compressor is not None:  # the rest of a stream being compressed
                chunk = compressor.compress(body) + (compressor.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH))
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                return
            if start is _SENT:
                await send(message)
                return
            text = (
                start["status"] == 200
                and _compressible(headers.get("content-type", ""))
                and "content-encoding" not in headers
                and "content-range" not in headers
            )
            if text and not more and conditional:
                if "etag" not in headers and "no-store" not in headers.get("cache-control", ""):
                    headers["etag"] = body_etag(body)
                    if api and "cache-control" not in headers:
                        headers["cache-control"] = "private, no-cache"
                    if if_none_match is not None and _matches(if_none_match, headers["etag"]):
                        await self._not_modified(send, start, headers)
                        return
            if text:
                headers.add_vary_header("Accept-Encoding")
            if text and accepts_gzip and (more or len(body) >= self.minimum_size):
                headers["content-encoding"] = "gzip"
                etag = headers.get("etag")
                if etag is not None and not etag.startswith("W/"):  # a static file's tag: not these bytes
                    headers["etag"] = f"W/{etag}"
                if more:  # a stream: compress as it passes, without a length
                    if "content-length" in headers:
                        del headers["content-length"]
                    compressor = zlib.compressobj(self.level, zlib.DEFLATED, 31)
                    await send({**start, "headers": headers.raw})
                    start = _SENT
                    await send(
                        {
                            "type": "http.response.body",
                            "body": compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH),
                            "more_body": True,
                        }
                    )
                    return
                body = _gzip(body, self.level)
                headers["content-length"] = str(len(body))
                message = {**message, "body": body}
            await send({**start, "headers": headers.raw})
            start = _SENT
            await send(message)

        await self.app(scope, receive, wire_send)

    @staticmethod
    async def _not_modified(send: Send, start: Message, headers: MutableHeaders) -> None:
        # RFC 9110 §15.4.5: a 304 carries the validators and caching headers, never a body
        kept = MutableHeaders()
        for name, value in headers.raw:
            if name not in (b"content-length", b"content-type", b"content-encoding"):
                kept.append(name.decode("latin-1"), value.decode("latin-1"))
        await send({"type": "http.response.start", "status": 304, "headers": kept.raw})
        await send({"type": "http.response.body", "body": b""})


# the marker of a start message already sent (the body messages that follow pass as they are)
_SENT: Message = {"type": "http.response.start", "status": 0, "headers": []}


def _gzip(body: bytes, level: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as file:
        file.write(body)
    return out.getvalue()
