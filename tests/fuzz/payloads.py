"""Hypothesis strategies for event payloads, built from each registered model's own fields, and the
damage a careless or hostile publisher does to any JSON document (shared by events and CAD documents)."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal

from hypothesis import strategies as st
from pydantic import BaseModel

# Strings that mean something somewhere (refs of the demo region, dates, codes), and any text.
WORDS = ("p-1", "p-2", "m-1", "c-1", "riverton-fire", "county-ems", "2026-07-04T21:40:00+00:00", "en", "")
JsonValue = Any


def value_of(annotation: Any) -> st.SearchStrategy[Any]:
    """A JSON value meant to fit `annotation` (a field's type): mostly it does."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is str:
        return st.one_of(st.sampled_from(WORDS), st.text(max_size=24))
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(-3, 10**6)
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([value_of(a) if a is not type(None) else st.none() for a in args])
    if origin is tuple:
        return st.lists(value_of(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), value_of(args[1]), max_size=2)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return fields_of(annotation)
    return st.from_type(annotation).map(str)


def fields_of(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """Every required field of `model`, and any of its optional ones."""
    required = {n: value_of(f.annotation) for n, f in model.model_fields.items() if f.is_required()}
    optional = {n: value_of(f.annotation) for n, f in model.model_fields.items() if not f.is_required()}
    return st.fixed_dictionaries(required, optional=optional)


WRONG = st.sampled_from([None, 12345, -1.5, True, "", "x", [], [1, "a"], {}, {"$ref": "nowhere"}])


@st.composite
def spoiled(draw: st.DrawFn, data: dict[str, Any]) -> dict[str, Any]:
    """`data` with one field dropped, given a wrong type, or an unknown field added."""
    out = dict(data)
    how = draw(st.sampled_from(["drop", "wrong", "extra"]))
    if how == "extra" or not out:
        out[draw(st.text(min_size=1, max_size=12))] = draw(WRONG)
        return out
    key = draw(st.sampled_from(sorted(out)))
    if how == "drop":
        del out[key]
    else:
        out[key] = draw(WRONG)
    return out


def _first_string(value: JsonValue, text: str) -> JsonValue:
    """`value` with `text` appended to its first string (or added as a key of an object without any)."""
    if isinstance(value, str):
        return value + text
    if isinstance(value, list) and value:
        return [_first_string(value[0], text), *value[1:]]
    if isinstance(value, dict):
        strings = [k for k, v in value.items() if isinstance(v, str)]
        key = strings[0] if strings else next(iter(value), None)
        if key is not None and isinstance(value[key], (str, dict, list)):
            return {**value, key: _first_string(value[key], text)}
        return {**value, "fuzz": text}
    return text


DAMAGES = (
    # weights: most inputs are sent whole; every kind of damage still comes often
    *("none",) * 8,
    "not_json",
    "truncated",
    "surrogate_raw",
    "surrogate_escaped",
    "huge_string",
    "deep_nesting",
    "oversize",
    "not_object",
)


@st.composite
def damaged(draw: st.DrawFn, doc: JsonValue) -> tuple[str, bytes]:
    """(how, bytes): the document as JSON, or spoiled in one of the ways of DAMAGES."""
    how = draw(st.sampled_from(DAMAGES))
    whole = json.dumps(doc).encode()
    if how == "none":
        return how, whole
    if how == "not_json":
        return how, draw(st.binary(max_size=64)) + b"\xff{"
    if how == "truncated":
        return how, whole[: draw(st.integers(0, max(0, len(whole) - 1)))]
    if how == "surrogate_raw":  # bytes no UTF-8 decoder accepts
        return how, json.dumps(_first_string(doc, "\ud800"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    if how == "surrogate_escaped":  # valid JSON text naming a lone surrogate
        return how, json.dumps(_first_string(doc, "\udc00"), ensure_ascii=True).encode()
    if how == "huge_string":  # under the server's 1 MB max_payload
        return how, json.dumps(
            _first_string(doc, "x" * draw(st.sampled_from([70_000, 400_000, 900_000])))
        ).encode()
    if how == "deep_nesting":
        depth = draw(st.sampled_from([64, 1_000, 100_000]))
        return how, json.dumps(_first_string(doc, "")).encode()[
            :-1
        ] + b', "deep": ' + b"[" * depth + b"]" * depth + b"}"
    if how == "oversize":  # past max_payload: the client or the server refuses it
        return how, json.dumps(_first_string(doc, "x" * 1_100_000)).encode()
    return how, json.dumps(draw(st.sampled_from([[doc], 7, "text", None]))).encode()
