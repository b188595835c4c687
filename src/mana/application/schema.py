"""One source of truth for tool arguments: attrs types whose fields carry schema nodes.

From an input type we derive both the published JSON Schema (``input_schema``) and the validator
(``parse_arguments``), so the two cannot drift apart. The validator is strict as tools.md §1.4
demands (unknown properties rejected, no coercion, NUL and lone surrogates rejected, calendar
checks) and its messages name the field and the rule, never the submitted value.

Output types are attrs classes too; their schemas are derived from the type hints of the domain
entities they carry, with per-tool overrides (e.g. ``format: uuid`` on a created record's id).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import attrs

from mana.domain.text import JS_WHITESPACE_CLASS


class _Unset:
    """An optional argument the caller did not pass (distinct from an explicit null)."""

    __slots__ = ()
    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()
_NO_DEFAULT: Any = object()

SCHEMA_KEY = "mana.schema"


# --- schema nodes ----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Str:
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    pattern_rule: str | None = None
    enum: tuple[str, ...] | None = None
    format: str | None = None
    check: Callable[[str], bool] | None = attrs.field(default=None, eq=False)
    check_rule: str = "is not a valid date"
    _compiled: re.Pattern[str] | None = attrs.field(init=False, default=None, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.pattern is not None:
            object.__setattr__(self, "_compiled", re.compile(ecma_to_python(self.pattern)))

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.format is not None:
            out["format"] = self.format
        if self.min_length is not None:
            out["minLength"] = self.min_length
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.pattern is not None:
            out["pattern"] = self.pattern
        return out

    def validate(self, value: Any, pointer: str, errors: list[tuple[str, str]]) -> Any:
        if not isinstance(value, str):
            errors.append((pointer, "must be a string"))
            return value
        rule = _text_rule(value)
        if rule is not None:
            errors.append((pointer, rule))
        elif self.min_length is not None and len(value) < self.min_length:
            errors.append((pointer, f"must be at least {self.min_length} characters"))
        elif self.max_length is not None and len(value) > self.max_length:
            errors.append((pointer, f"must be at most {self.max_length} characters"))
        elif self._compiled is not None and self._compiled.search(value) is None:
            errors.append((pointer, self.pattern_rule or "does not match the expected format"))
        elif self.enum is not None and value not in self.enum:
            errors.append((pointer, "must be one of: " + ", ".join(self.enum)))
        elif self.check is not None and not self.check(value):
            errors.append((pointer, self.check_rule))
        return value

    @property
    def type_name(self) -> str:
        return "a string"


@attrs.frozen(slots=True)
class Int:
    minimum: int | None = None
    maximum: int | None = None
    exclusive_minimum: int | None = None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.exclusive_minimum is not None:
            out["exclusiveMinimum"] = self.exclusive_minimum
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def validate(self, value: Any, pointer: str, errors: list[tuple[str, str]]) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append((pointer, "must be an integer"))
            return value
        if isinstance(value, float):
            if not value.is_integer():
                errors.append((pointer, "must be an integer"))
                return value
            value = int(value)  # 3.0 is a valid integer and stored as 3 (tools.md §1.4)
        if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
            errors.append((pointer, f"must be > {self.exclusive_minimum}"))
        elif self.minimum is not None and value < self.minimum:
            errors.append((pointer, f"must be >= {self.minimum}"))
        elif self.maximum is not None and value > self.maximum:
            errors.append((pointer, f"must be <= {self.maximum}"))
        return value

    @property
    def type_name(self) -> str:
        return "an integer"


@attrs.frozen(slots=True)
class Bool:
    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def validate(self, value: Any, pointer: str, errors: list[tuple[str, str]]) -> Any:
        if not isinstance(value, bool):
            errors.append((pointer, "must be a boolean"))
        return value

    @property
    def type_name(self) -> str:
        return "a boolean"


@attrs.frozen(slots=True)
class Arr:
    items: Node

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": self.items.schema()}

    def validate(self, value: Any, pointer: str, errors: list[tuple[str, str]]) -> Any:
        if not isinstance(value, list):
            errors.append((pointer, "must be an array"))
            return value
        return [self.items.validate(v, f"{pointer}/{i}", errors) for i, v in enumerate(value)]

    @property
    def type_name(self) -> str:
        return "an array"


@attrs.frozen(slots=True)
class Null:
    def schema(self) -> dict[str, Any]:
        return {"type": "null"}

    def validate(self, value: Any, pointer: str, errors: list[tuple[str, str]]) -> Any:
        if value is not None:
            errors.append((pointer, "must be null"))
        return value

    @property
    def type_name(self) -> str:
        return "null"


@attrs.frozen(slots=True)
class OrNull:
    """``anyOf`` of one or more alternatives of one JSON type, and null (the input-schema style).

    When the value has the alternatives' type but matches none of them, ``rule`` (or the first
    alternative's own rule) is reported; a value of another type gets ``must be <type> or null``.
    """

    options: tuple[Str | Int | Bool | Arr, ...]
    rule: str | None = None

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [o.schema() for o in self.options] + [{"type": "null"}]}

    def validate(self, value: Any, pointer: str, errors: list[tuple[str, str]]) -> Any:
        if value is None:
            return None
        failures: list[str] = []
        for option in self.options:
            found: list[tuple[str, str]] = []
            result = option.validate(value, pointer, found)
            if not found:
                return result
            failures.append(found[0][1])
        first = self.options[0]
        if failures[0] == f"must be {first.type_name}":
            errors.append((pointer, f"must be {first.type_name} or null"))
        elif failures[0] in _TEXT_RULES:
            errors.append((pointer, failures[0]))
        elif any(
            isinstance(o, Str) and o.check is not None and f == o.check_rule
            for o, f in zip(self.options, failures, strict=True)
        ):
            errors.append(
                (
                    pointer,
                    next(
                        f
                        for o, f in zip(self.options, failures, strict=True)
                        if isinstance(o, Str) and f == o.check_rule
                    ),
                )
            )
        else:
            errors.append((pointer, self.rule or failures[0]))
        return value

    @property
    def type_name(self) -> str:
        return f"{self.options[0].type_name} or null"


Node = Str | Int | Bool | Arr | Null | OrNull


def ecma_to_python(pattern: str) -> str:
    """A JSON Schema (ECMA-262) pattern with the same meaning under Python's ``re``.

    ECMA's ``\\d`` is ASCII-only, where Python's also matches other scripts' digits; ECMA's ``\\s``
    is the JavaScript whitespace set (U+FEFF in, U+001C-U+001F and U+0085 out), so a title of only
    U+FEFF is blank, as the web app's ``trim()`` sees it; ECMA's ``$`` (without the multiline flag)
    matches only at the very end, where Python's also matches before a trailing newline, which
    would let ``"#ffffff\\n"`` through as a colour.
    """
    translated = (
        pattern.replace("\\d", "[0-9]")
        .replace("\\S", f"[^{JS_WHITESPACE_CLASS}]")
        .replace("\\s", f"[{JS_WHITESPACE_CLASS}]")
    )
    if translated.endswith("$") and not translated.endswith("\\$"):
        translated = translated[:-1] + "\\Z"
    return translated


_TEXT_RULES = ("must not contain NUL characters", "must be valid Unicode text")


def _text_rule(value: str) -> str | None:
    """NUL characters and lone surrogates are refused anywhere in the arguments (tools.md §1.4)."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode text"
    return None


# --- input types -----------------------------------------------------------------------------


@attrs.frozen(slots=True)
class Prop:
    node: Node
    default: Any = _NO_DEFAULT
    description: str | None = None

    def schema(self) -> dict[str, Any]:
        out = self.node.schema()
        if self.default is not _NO_DEFAULT and self.default is not UNSET:
            out["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        if self.description is not None:
            out["description"] = self.description
        return out


def arg(node: Node, *, default: Any = _NO_DEFAULT, description: str | None = None) -> Any:
    """An input field: required without ``default``; ``default=UNSET`` means optional and absent."""
    meta = {SCHEMA_KEY: Prop(node, default, description)}
    if default is _NO_DEFAULT:
        return attrs.field(metadata=meta)
    if isinstance(default, list):
        raise TypeError("use a tuple for a list default")
    return attrs.field(default=default, metadata=meta)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@attrs.frozen(slots=True)
class _InputField:
    json_name: str
    py_name: str
    prop: Prop
    required: bool


@attrs.frozen(slots=True)
class ArgumentError(Exception):
    """Arguments that break the schema; ``details`` are ``(pointer, rule)`` pairs sorted by pointer."""

    details: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        return "; ".join(f"{pointer}: {rule}" for pointer, rule in self.details)


T = TypeVar("T")


class InputModel:
    """The compiled view of one attrs input type: its schema and its validator."""

    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        self._fields: list[_InputField] = []
        for field in attrs.fields(cls):
            prop = field.metadata.get(SCHEMA_KEY)
            if not isinstance(prop, Prop):
                raise TypeError(f"{cls.__name__}.{field.name} lacks an arg() declaration")
            self._fields.append(_InputField(camel(field.name), field.name, prop, prop.default is _NO_DEFAULT))
        self._by_json = {f.json_name: f for f in self._fields}
        self.schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.json_name: f.prop.schema() for f in self._fields},
        }
        required = [f.json_name for f in self._fields if f.required]
        if required:
            self.schema["required"] = required
        self.schema["additionalProperties"] = False

    def parse(self, arguments: Mapping[str, Any] | None) -> Any:
        """Validate and build the input object; raises :class:`ArgumentError`."""
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise ArgumentError((("/", "must be an object"),))
        errors: list[tuple[str, str]] = []
        values: dict[str, Any] = {}
        for key in arguments:
            if key not in self._by_json:
                errors.append((f"/{_escape(key)}", "is not allowed"))
        for field in self._fields:
            pointer = "/" + field.json_name
            if field.json_name in arguments:
                values[field.py_name] = field.prop.node.validate(arguments[field.json_name], pointer, errors)
            elif field.required:
                errors.append((pointer, "is required"))
        if errors:
            raise ArgumentError(tuple(sorted(errors, key=lambda e: e[0])))
        return self.cls(**values)


def _escape(key: str) -> str:
    rule = _text_rule(key)
    if rule is not None:
        return "<invalid name>"
    return key.replace("~", "~0").replace("/", "~1")


# --- output types ----------------------------------------------------------------------------


DATE_TIME = "date-time"


@attrs.frozen(slots=True)
class Out:
    """Schema of one output property: derived from its type hint unless ``node`` replaces it.

    ``overrides`` replace the derived schema of fields of a nested entity (by Python name);
    ``formats`` add a ``format`` to derived fields (by Python name).
    """

    node: Mapping[str, Any] | None = None
    overrides: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)


def out(
    *, node: Mapping[str, Any] | None = None, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> Any:
    return attrs.field(metadata={SCHEMA_KEY: Out(node, overrides or {})})


def output_schema(cls: type[Any]) -> dict[str, Any]:
    """The JSON Schema of an attrs output type (or domain entity)."""
    return _object_schema(cls, {})


def _object_schema(cls: type[Any], overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    for field in attrs.fields(cls):
        spec = field.metadata.get(SCHEMA_KEY)
        if field.name in overrides:
            schema = dict(overrides[field.name])
        elif isinstance(spec, Out) and spec.node is not None:
            schema = dict(spec.node)
        else:
            nested = spec.overrides if isinstance(spec, Out) else {}
            schema = _hint_schema(hints[field.name], nested)
        field_format = field.metadata.get("format")
        if field_format is not None and field.name not in overrides:
            schema["format"] = field_format
        properties[camel(field.name)] = schema
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_PRIMITIVES: dict[Any, str] = {str: "string", int: "integer", bool: "boolean", float: "number"}


def _hint_schema(hint: Any, nested: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(hint) if a is not type(None)]
        nullable = len(members) < len(get_args(hint))
        if len(members) != 1 or not nullable:
            raise TypeError(f"unsupported union {hint!r}")
        inner = _hint_schema(members[0], nested)
        if set(inner) == {"type"} and isinstance(inner["type"], str):
            return {"type": [inner["type"], "null"]}
        return {"anyOf": [inner, {"type": "null"}]}
    if hint in _PRIMITIVES:
        return {"type": _PRIMITIVES[hint]}
    if origin is Literal:
        values = get_args(hint)
        if values == (True,):
            return {"type": "boolean", "const": True}
        return {"type": "string", "enum": list(values)}
    if origin in (tuple, list, Sequence) or origin is getattr(typing, "Sequence", None):
        args = get_args(hint)
        return {"type": "array", "items": _hint_schema(args[0], nested)}
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        return {"type": "object"}
    if attrs.has(hint):
        return _object_schema(hint, nested)
    raise TypeError(f"unsupported type hint {hint!r}")


_WIRE_NAMES: dict[type[Any], tuple[tuple[str, str], ...]] = {}


def _wire_names(cls: type[Any]) -> tuple[tuple[str, str], ...]:
    """(attribute, JSON name) of an attrs output class, worked out once per class (a handful)."""
    names = _WIRE_NAMES.get(cls)
    if names is None:
        names = _WIRE_NAMES[cls] = tuple((f.name, camel(f.name)) for f in attrs.fields(cls))
    return names


def to_wire(value: Any) -> Any:
    """An output object as JSON-ready data (entities provide their own ``to_wire``)."""
    wire = getattr(value, "to_wire", None)
    if wire is not None:
        return wire()
    if attrs.has(type(value)):
        return {key: to_wire(getattr(value, name)) for name, key in _wire_names(type(value))}
    if isinstance(value, tuple | list):
        return [to_wire(v) for v in value]
    return value
