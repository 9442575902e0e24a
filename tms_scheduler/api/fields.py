"""marshmallow's fields as the schemas use them, with the project's own in place of marshmallow's
where input needs bounds (api/inputs.py): `fields.String` refuses NUL, control characters and
unpaired surrogates, `fields.Date` and `fields.AwareDateTime` refuse years outside 1900-2100, and
`fields.Id` is an id (1 to 2**31 - 1). marshmallow's naive DateTime and its String subclasses
(Email, URL, UUID) are left out on purpose: they would bypass those checks."""
from __future__ import annotations

from marshmallow.fields import (
    Boolean,
    Constant,
    Decimal,
    Dict,
    Enum,
    Field,
    Float,
    Function,
    Integer,
    List,
    Mapping,
    Method,
    Nested,
    Number,
    Pluck,
    Raw,
    Time,
    TimeDelta,
    Tuple,
)

from .inputs import AwareDateTime, Date, Id, String

__all__ = [
    "AwareDateTime", "Boolean", "Constant", "Date", "Decimal", "Dict", "Enum", "Field", "Float", "Function", "Id",
    "Integer", "List", "Mapping", "Method", "Nested", "Number", "Pluck", "Raw", "String", "Time", "TimeDelta", "Tuple",
]
