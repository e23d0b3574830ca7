"""The data contract's file format: what new data must look like, as a tensorflow-metadata
``Schema`` (the ``schema.pbtxt`` TFX's SchemaGen writes and ExampleValidator checks), read into
tfpipe's one schema type (``tfpipe.components.core.schema.Schema``) and written back.

Per feature: its type (INT → int, FLOAT → float, BYTES → string), the minimum fraction of rows
that must have a value (``presence.min_fraction``), the allowed values of a string feature
(``string_domain``) and the allowed range of a number (``int_domain`` / ``float_domain`` min/max).
:func:`infer_contract` proposes one from statistics the way TFX's SchemaGen does (required when
never missing, a string domain when the values are few, no numeric ranges), to be reviewed and
kept with the pipeline. Parsing needs tensorflow-metadata: runtimes only, never the planner.
"""

from __future__ import annotations

from typing import Any

from tfpipe.components.core.errors import InputDataError
from tfpipe.components.core.schema import ColumnSchema, Schema

TFMD_TYPES = {"int": "INT", "float": "FLOAT", "string": "BYTES"}


def load_contract(path: str) -> Schema:
    """A tensorflow-metadata Schema in text format (``.pbtxt``) as a :class:`Schema`."""
    try:
        with open(path, encoding="utf-8") as f:
            return parse_contract(f.read(), f"schema_file '{path}'")
    except FileNotFoundError:
        raise InputDataError(f"schema_file '{path}' not found") from None


def contract_columns(path: str) -> list[str]:
    """The feature names of a contract file, read without tensorflow-metadata (the planner has
    none): a two-message descriptor with only ``feature`` and ``name``; other fields skipped."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format

    file = descriptor_pb2.FileDescriptorProto(name="tfpipe_contract_names.proto", package="tfp")
    feature = file.message_type.add(name="Feature")
    feature.field.add(name="name", number=1, type=9, label=1)  # optional string
    schema = file.message_type.add(name="Schema")
    schema.field.add(name="feature", number=1, type=11, label=3, type_name=".tfp.Feature")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    message = message_factory.GetMessageClass(pool.FindMessageTypeByName("tfp.Schema"))()
    try:
        with open(path, encoding="utf-8") as f:
            text_format.Parse(f.read(), message, allow_unknown_field=True)
    except FileNotFoundError:
        raise InputDataError(f"schema_file '{path}' not found") from None
    except text_format.ParseError as exc:
        raise InputDataError(
            f"schema_file '{path}' is not a tensorflow-metadata Schema in text format: {exc}"
        ) from None
    return [f.name for f in message.feature]


def parse_contract(text: str, where: str = "contract") -> Schema:
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    try:
        proto = text_format.Parse(text, schema_pb2.Schema())
    except text_format.ParseError as exc:
        raise InputDataError(
            f"{where} is not a tensorflow-metadata Schema in text format: {exc}"
        ) from None
    return from_tfmd(proto, where)


def from_tfmd(proto: Any, where: str = "schema") -> Schema:
    from tensorflow_metadata.proto.v0 import schema_pb2

    names = {v: k for k, v in TFMD_TYPES.items()}
    domains = {d.name: tuple(d.value) for d in proto.string_domain}
    columns = []
    for feature in proto.feature:
        type_name = schema_pb2.FeatureType.Name(feature.type)
        if type_name not in names:
            raise InputDataError(
                f"{where}: feature '{feature.name}' has type {type_name}; use INT, FLOAT or BYTES"
            )
        domain, low, high = None, None, None
        kind = feature.WhichOneof("domain_info")
        if kind == "string_domain":
            domain = tuple(feature.string_domain.value)
        elif kind == "domain":
            domain = domains.get(feature.domain)
        elif kind == "int_domain":
            d = feature.int_domain
            low = d.min if d.HasField("min") else None
            high = d.max if d.HasField("max") else None
        elif kind == "float_domain":
            d = feature.float_domain
            low = d.min if d.HasField("min") else None
            high = d.max if d.HasField("max") else None
        presence = feature.presence.min_fraction if feature.HasField("presence") else 0.0
        columns.append(
            ColumnSchema(feature.name, names[type_name], float(presence), domain, low, high)
        )
    return Schema.of(columns)


def to_tfmd(contract: Schema) -> Any:
    from tensorflow_metadata.proto.v0 import schema_pb2

    proto = schema_pb2.Schema()
    for c in contract.columns.values():
        feature = proto.feature.add(
            name=c.name, type=schema_pb2.FeatureType.Value(TFMD_TYPES[c.type])
        )
        if c.min_presence:
            feature.presence.min_fraction = c.min_presence
        if c.domain is not None:
            feature.string_domain.value.extend(c.domain)
        elif c.min is not None or c.max is not None:
            d = feature.int_domain if c.type == "int" else feature.float_domain
            if c.min is not None:
                d.min = int(c.min) if c.type == "int" else float(c.min)
            if c.max is not None:
                d.max = int(c.max) if c.type == "int" else float(c.max)
    return proto


def to_text(contract: Schema) -> str:
    from google.protobuf import text_format

    return text_format.MessageToString(to_tfmd(contract))


def infer_contract(columns: dict[str, dict[str, Any]], max_domain_size: int) -> Schema:
    """SchemaGen's proposal from overall column statistics (``{name: stats}``)."""
    out = []
    for name, s in columns.items():
        top = s.get("values")
        domain = None
        if s["type"] == "string" and top is not None and len(top) <= max_domain_size:
            domain = tuple(sorted(top))
        out.append(
            ColumnSchema(name, s["type"], 1.0 if s["count"] and not s["missing"] else 0.0, domain)
        )
    return Schema.of(out)
