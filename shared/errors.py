"""One typed error hierarchy carrying its HTTP status, and the one handler that renders it.

Every error body has the same shape, for people (Chinese ``message``) and programs (stable English
``code``, and the ``field`` it is about)::

    {"error": {"code": "uscc_checksum", "message": "…", "field": "uscc",
               "errors": [{"field": "uscc", "code": "uscc_checksum", "message": "…"}]}}
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status_code = 400
    code = "bad_request"
    message_zh = "请求有误"

    def __init__(
        self,
        message_zh: str | None = None,
        *,
        code: str | None = None,
        field: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message_zh = message_zh or self.message_zh
        self.code = code or self.code
        self.field = field
        self.errors = errors
        self.headers = headers
        super().__init__(f"{self.code}: {self.message_zh}")

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message_zh}
        if self.field is not None:
            error["field"] = self.field
        errors = self.errors
        if errors is None and self.field is not None:
            errors = [{"field": self.field, "code": self.code, "message": self.message_zh}]
        if errors:
            error["errors"] = errors
        return {"error": error}


class InvalidInput(AppError):
    """The payload is well-formed but breaks a rule (a code's checksum, a street outside its district)."""

    status_code = 422
    code = "invalid_input"
    message_zh = "输入内容不符合要求"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message_zh = "未找到该资源"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message_zh = "与现有数据冲突"


class Unauthenticated(AppError):
    status_code = 401
    code = "unauthenticated"
    message_zh = "未登录或登录凭证无效"

    def __init__(self, message_zh: str | None = None, *, code: str | None = None) -> None:
        super().__init__(message_zh, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    message_zh = "无权执行此操作"


class DatabaseUnavailable(AppError):
    """The database did not answer in time (a statement, lock, pool or connect timeout) or is away.
    Raised for the request by the error handler, never by a service."""

    status_code = 503
    code = "database_unavailable"
    message_zh = "数据库暂时无法响应，请稍后重试"


# Chinese wording for pydantic's error types; the type itself stays the stable English code.
_PYDANTIC_MESSAGES_ZH: dict[str, str] = {
    "missing": "缺少必填字段",
    "extra_forbidden": "不允许提交此字段",
    "string_type": "必须是字符串",
    "string_too_short": "长度不能少于 {min_length} 个字符",
    "string_too_long": "长度不能超过 {max_length} 个字符",
    "string_unicode": "包含无法识别的字符（不是合法的 Unicode 文本）",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "必须是整数",
    "int_parsing": "必须是整数",
    "int_from_float": "必须是整数",
    "float_type": "必须是数字",
    "float_parsing": "必须是数字",
    "bool_type": "必须是布尔值（true/false）",
    "bool_parsing": "必须是布尔值（true/false）",
    "greater_than": "必须大于 {gt}",
    "greater_than_equal": "必须大于或等于 {ge}",
    "less_than": "必须小于 {lt}",
    "less_than_equal": "必须小于或等于 {le}",
    "literal_error": "取值必须是以下之一：{expected}",
    "enum": "取值必须是以下之一：{expected}",
    "uuid_type": "必须是 UUID",
    "uuid_parsing": "不是合法的 UUID",
    "date_type": "必须是日期（YYYY-MM-DD）",
    "date_parsing": "不是合法的日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "不是合法的日期（YYYY-MM-DD）",
    "datetime_type": "必须是日期时间（ISO 8601）",
    "datetime_parsing": "不是合法的日期时间（ISO 8601）",
    "datetime_from_date_parsing": "不是合法的日期时间（ISO 8601）",
    "list_type": "必须是数组",
    "dict_type": "必须是对象",
    "model_type": "必须是对象",
    "model_attributes_type": "必须是对象",
    "json_invalid": "请求体不是合法的 JSON",
    "json_type": "请求体不是合法的 JSON",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多允许 {max_length} 项",
    "decimal_parsing": "必须是数字",
    "finite_number": "必须是有限数字",
}


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def translate_validation_errors(errors: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for err in errors:
        code = str(err.get("type", "invalid"))
        if code in {"too_short", "too_long"} and isinstance(err.get("input"), str):
            # a length rule on a string type with its own validators (shared/text.py) is checked
            # generically by pydantic; it is the same rule as a plain string's, and keeps its code
            code = f"string_{code}"
        ctx = err.get("ctx") or {}
        template = _PYDANTIC_MESSAGES_ZH.get(code)
        if template is None:
            # PydanticCustomError raised by our validators already carries the Chinese message.
            message = str(err.get("msg", "字段值不合法")) if code not in {"value_error", "assertion_error"} else ""
            if not message:
                message = "字段值不合法：" + str(ctx.get("error", err.get("msg", "")))
        else:
            try:
                message = template.format(**{k: str(v) for k, v in ctx.items()})
            except (KeyError, IndexError):
                message = template
        # a JSON syntax error's location is a character offset into the body, not a field
        field = "body" if code in {"json_invalid", "json_type"} else _field_of(tuple(err.get("loc", ())))
        out.append({"field": field, "code": code, "message": message})
    return out


def error_response(exc: AppError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return error_response(exc)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = translate_validation_errors(exc.errors())
    first = errors[0] if errors else {"field": "body", "code": "invalid_input", "message": "输入内容不符合要求"}
    return error_response(InvalidInput(first["message"], code=first["code"], field=first["field"], errors=errors))


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    known = {
        404: ("not_found", "未找到该资源"),
        405: ("method_not_allowed", "不支持该请求方法"),
        413: ("payload_too_large", "请求内容过大"),
        415: ("unsupported_media_type", "不支持的内容类型"),
    }
    code, message = known.get(exc.status_code, ("http_error", "请求有误"))
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=exc.status_code, headers=exc.headers)


def _database_error(exc: BaseException) -> BaseException | None:
    """The database error in ``exc``'s chain, if any (SQLAlchemy's or the driver's)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        module = type(current).__module__
        if module.startswith(("sqlalchemy", "asyncpg")):
            return current
        current = current.__cause__ or current.__context__
    return None


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    from shared.db import database_unavailable  # shared.db imports nothing of this module

    if database_unavailable(exc):
        # not the request's fault and not a bug: the client may retry, the error ratio rule sees it
        log.warning("database unavailable", extra={"path": request.url.path, "error": type(exc).__name__})
        return error_response(DatabaseUnavailable(headers={"Retry-After": "5"}))
    database_error = _database_error(exc)
    if database_error is None:
        log.exception("unhandled error", extra={"path": request.url.path})
    else:
        # A database error's text can carry the statement's parameters (the driver quotes an argument
        # it could not encode): log where it happened and what kind of error, never its message.
        frames = traceback.extract_tb(exc.__traceback__)
        log.error(
            "unhandled database error",
            extra={
                "path": request.url.path,
                "error": type(exc).__name__,
                "database_error": type(database_error).__name__,
                "sqlstate": getattr(getattr(database_error, "orig", database_error), "sqlstate", None),
                "where": [f"{f.filename}:{f.lineno} {f.name}" for f in frames[-8:]],
            },
        )
    return JSONResponse({"error": {"code": "internal_error", "message": "服务器内部错误"}}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the errors a route can raise."""
    return {e.status_code: {"description": f"{e.code}: {e.message_zh}"} for e in errors}
