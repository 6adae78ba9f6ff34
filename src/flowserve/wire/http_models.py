"""Pydantic models of ``POST /post``: they give ``/openapi.json`` (and so ``/docs``) its request,
response and error schemas.

They document; they do not parse. The gateway reads a ``/post`` body once, with
`httpjson.parse_post_body`, whose errors name the key, or ``data[i]`` and the field (validating
it here as well would parse every body twice). `validation_message` words FastAPI's validation
errors for routes that do declare a body. Both Jina's snake_case and camelCase keys are
accepted; the schema shows camelCase, the protobuf JSON names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["PostDocs", "PostError", "PostHeader", "PostRequest", "PostResponse", "schemas_of",
           "validation_message"]

_DOC_EXAMPLE: dict[str, JsonValue] = {"id": "doc-1", "text": "hello", "tags": {"lang": "en"}}
_DOCS_HELP = (
    "Documents as docarray v1 JSON objects: id, text, tags, embedding, tensor, blob, uri, "
    "mime_type, chunks, matches, scores, ... (null fields are ignored)."
)


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class PostDocs(_Model):
    """``{"docs": [...]}``, the other accepted form of ``data``."""

    docs: list[dict[str, Any]] | None = Field(None, description=_DOCS_HELP)


class PostHeader(BaseModel):
    """The request header, as Jina's HTTP client sends it; top-level keys win over these."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    request_id: str | None = Field(None, alias="requestId")
    exec_endpoint: str | None = Field(None, alias="execEndpoint")
    target_executor: str | None = Field(None, alias="targetExecutor")
    timeout: int | None = Field(None, ge=0, lt=2**32, description="Deadline in milliseconds.")


class PostRequest(_Model):
    """The body of ``POST /post``. Every key is optional."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "data": [_DOC_EXAMPLE], "parameters": {"top_k": 3}, "execEndpoint": "/search"}]})

    data: list[dict[str, Any]] | PostDocs | None = Field(None, description=_DOCS_HELP)
    parameters: dict[str, Any] | None = Field(
        None, description="Passed to every executor's handler as `parameters`.")
    exec_endpoint: str | None = Field(
        None, alias="execEndpoint", description="The executor endpoint to call, e.g. `/search`.")
    target_executor: str | None = Field(
        None, alias="targetExecutor",
        description="A regular expression: only executors whose name matches run.")
    request_id: str | None = Field(
        None, alias="requestId", description="Echoed in the response; generated when absent.")
    timeout: int | None = Field(
        None, ge=0, lt=2**32, description="Deadline in milliseconds (0 = the gateway default).")
    header: PostHeader | None = None


class PostStatus(BaseModel):
    """``code`` 0 is success, 1 an executor error (``exception`` names it)."""

    code: int = 0
    description: str = ""
    exception: dict[str, Any] | None = None


class PostResponseHeader(BaseModel):
    requestId: str  # noqa: N815 (protobuf JSON names)
    status: PostStatus
    execEndpoint: str | None = None  # noqa: N815
    targetExecutor: str | None = None  # noqa: N815


class PostResponse(BaseModel):
    """The answer to ``POST /post``: the Flow's output documents, parameters (with
    ``__results__``, the values executors returned) and one route per executor visited."""

    header: PostResponseHeader
    parameters: dict[str, Any]
    routes: list[dict[str, Any]]
    data: list[dict[str, Any]] = Field(description=_DOCS_HELP)


class PostError(BaseModel):
    """An error answer: the flowserve error class and what was wrong."""

    error: str = Field(description="BadRequestError, OverloadedError, DeadlineExceededError, "
                                    "UnavailableError or RequestError.")
    detail: str


def schemas_of(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI component schemas of `model` and the models it uses, by name: for a model
    that no route signature declares (FastAPI lists only those)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    nested: dict[str, Any] = schema.pop("$defs", {})
    return {**nested, model.__name__: schema}


def validation_message(errors: list[Any]) -> str:
    """One line for pydantic/FastAPI validation errors of a body, naming the key at fault."""
    parts = []
    for error in errors[:3]:
        # drop "body" and the union-member tags pydantic adds ("list[...]", "PostDocs")
        loc = [str(x) for x in error.get("loc", ())
               if x != "body" and not (isinstance(x, str) and ("[" in x or x[:1].isupper()))]
        where = ".".join(loc) or "the request body"
        if error.get("type") == "extra_forbidden":
            parts.append(f"unknown key {loc[-1]!r} in {'.'.join(loc[:-1]) or 'the request body'}")
        elif error.get("type") == "json_invalid":
            parts.append(f"request body is not valid JSON: {error.get('msg', '')}")
        else:
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
