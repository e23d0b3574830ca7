"""Vectorised (numpy) tf.Example serialisation of scalar columns. No TensorFlow.

Each row becomes one tf.Example with one feature per non-missing column value (a missing value is
an absent feature). Features are written in column order, so the bytes are deterministic (the
tfx_bsl encoder's are not: protobuf map order is randomised per process). Column kinds: int64
(Int64List, packed varint), float32 (FloatList, packed), bytes (BytesList).

    buf, offsets = serialize_batch(record_batch)   # row i is buf[offsets[i]:offsets[i+1]]

Approach: every row is a concatenation of small segments (constants, varints, raw bytes). Each
segment is an (n, width) uint8 matrix + per-row lengths; stacking all segments side by side and
boolean-masking `column < length` flattens them row-major into the serialised rows at once.
"""

from __future__ import annotations

import numpy as np

_SHIFTS = [np.uint64(7 * k) for k in range(10)]
_LIMITS = [np.uint64(1) << np.uint64(7 * k) for k in range(1, 10)]
_7F = np.uint64(0x7F)


def varint_len(v: np.ndarray) -> np.ndarray:
    """Bytes needed for each uint64 as a protobuf varint (1..10)."""
    n = np.ones(v.shape, np.int64)
    if v.size and v.max() < _LIMITS[0]:
        return n
    for lim in _LIMITS:
        m = v >= lim
        if not m.any():
            break
        n += m
    return n


def _varint_seg(v: np.ndarray, present: np.ndarray):
    v = v.astype(np.uint64, copy=False)
    lens = varint_len(v)
    width = int(lens.max()) if len(v) else 1
    mat = np.empty((len(v), width), np.uint8)
    for k in range(width):
        byte = ((v >> _SHIFTS[k]) & _7F).astype(np.uint8)
        byte |= (k < lens - 1).astype(np.uint8) << 7
        mat[:, k] = byte
    return mat, np.where(present, lens, 0)


def _const_seg(data: bytes, n: int, present: np.ndarray):
    mat = np.broadcast_to(np.frombuffer(data, np.uint8), (n, len(data)))
    return mat, np.where(present, len(data), 0)


def _bytes_seg(offsets: np.ndarray, data: np.ndarray, present: np.ndarray):
    """The raw bytes of each row, left-aligned in an (n, longest) matrix. Arrow's values are
    contiguous, so one masked assignment places them (no per-cell index matrix)."""
    lens = (offsets[1:] - offsets[:-1]).astype(np.int64)
    width = max(int(lens.max()) if len(lens) else 0, 1)
    mat = np.zeros((len(lens), width), np.uint8)
    if len(lens) and lens.any():
        mat[np.arange(width)[None, :] < lens[:, None]] = data[offsets[0] : offsets[-1]]
    return mat, np.where(present, lens, 0), lens


def varint(value: int) -> bytes:
    """One protobuf varint (the length of a feature name, which may exceed 127 bytes)."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _column_segments(name: str, values, valid: np.ndarray, n: int):
    """Segments of one feature's map entry; `values`: int64 / float32 ndarray, or
    (offsets, data) for bytes."""
    key = name.encode()
    key_field = b"\x0a" + varint(len(key)) + key  # MapEntry.key (field 1, length-delimited)
    segs = []
    if isinstance(values, tuple):  # bytes: Feature{bytes_list(1){value(1)}}
        vmat, vlen, raw_len = _bytes_seg(values[0], values[1], valid)
        inner_len = 1 + varint_len(raw_len.astype(np.uint64)) + raw_len  # 0x0a len s
        list_tag = b"\x0a"
        value_segs = [_const_seg(b"\x0a", n, valid), _varint_seg(raw_len, valid), (vmat, vlen)]
    elif values.dtype == np.float32:  # Feature{float_list(2){packed value(1)}}
        vmat = np.ascontiguousarray(values, dtype="<f4").view(np.uint8).reshape(n, 4)
        inner_len = np.full(n, 6, np.int64)  # 0x0a 0x04 f32
        list_tag = b"\x12"
        value_segs = [_const_seg(b"\x0a\x04", n, valid), (vmat, np.where(valid, 4, 0))]
    else:  # int64: Feature{int64_list(3){packed value(1)}}
        u = values.astype(np.int64, copy=False).view(np.uint64)
        vl = varint_len(u)
        inner_len = 2 + vl  # 0x0a len varint (len <= 10)
        list_tag = b"\x1a"
        value_segs = [
            _const_seg(b"\x0a", n, valid),
            (np.broadcast_to(vl.astype(np.uint8)[:, None], (n, 1)), np.where(valid, 1, 0)),
            _varint_seg(u, valid),
        ]
    feat_len = 1 + varint_len(inner_len.astype(np.uint64)) + inner_len
    entry_len = len(key_field) + 1 + varint_len(feat_len.astype(np.uint64)) + feat_len
    segs.append(_const_seg(b"\x0a", n, valid))  # Features.feature (map entry)
    segs.append(_varint_seg(entry_len, valid))
    segs.append(_const_seg(key_field + b"\x12", n, valid))  # then MapEntry.value (field 2)
    segs.append(_varint_seg(feat_len, valid))
    segs.append(_const_seg(list_tag, n, valid))
    segs.append(_varint_seg(inner_len, valid))
    segs.extend(value_segs)
    piece_len = np.where(valid, 1 + varint_len(entry_len.astype(np.uint64)) + entry_len, 0)
    return segs, piece_len


# Rows are serialised side by side in matrices as wide as the widest row's segment. A batch
# whose matrices would hold far more padding than data (one long string among short ones) is
# split in halves until they do not, so memory stays proportional to the output.
PADDING_FACTOR = 4
MIN_CELLS = 1 << 22


def _row_width(columns) -> tuple[int, int]:
    """(widest row's matrix width, about how many bytes the rows serialise to)."""
    width, total = 0, 0
    for name, values, valid in columns:
        fixed = 40 + 2 * len(name.encode())
        payload = 0
        if isinstance(values, tuple):
            lens = values[0][1:] - values[0][:-1]
            payload = int(lens.max()) if len(lens) else 0
            total += int(lens[valid].sum())
        width += fixed + payload
        total += fixed * int(valid.sum())
    return width, total


def _rows(columns, start: int, stop: int):
    """The columns restricted to rows [start, stop)."""
    out = []
    for name, values, valid in columns:
        if isinstance(values, tuple):
            values = (values[0][start : stop + 1], values[1])
        else:
            values = values[start:stop]
        out.append((name, values, valid[start:stop]))
    return out


def serialize_columns(columns, n: int):
    """columns: [(name, values, valid_bool_array)] -> (uint8 buffer, int64 offsets[n+1])."""
    width, total = _row_width(columns)
    if n > 1 and n * width > max(PADDING_FACTOR * total, MIN_CELLS):
        half = n // 2
        buf_a, off_a = serialize_columns(_rows(columns, 0, half), half)
        buf_b, off_b = serialize_columns(_rows(columns, half, n), n - half)
        return np.concatenate([buf_a, buf_b]), np.concatenate([off_a, off_b[1:] + off_a[-1]])
    return _serialize(columns, n)


def _serialize(columns, n: int):
    all_segs, body = [], np.zeros(n, np.int64)
    for name, values, valid in columns:
        segs, piece = _column_segments(name, values, valid, n)
        all_segs.extend(segs)
        body += piece
    ones = np.ones(n, bool)
    head = [_const_seg(b"\x0a", n, ones), _varint_seg(body, ones)]  # Example.features
    segs = head + all_segs
    mats = np.concatenate([m for m, _ in segs], axis=1)
    seg_widths = [m.shape[1] for m, _ in segs]
    if max(seg_widths) < 256:  # one gather + compare on uint8 lengths
        lens8 = np.empty((n, len(segs)), np.uint8)
        for j, (_, lens) in enumerate(segs):
            lens8[:, j] = lens
        seg_id = np.repeat(np.arange(len(segs)), seg_widths)
        pos_in_seg = np.concatenate([np.arange(w, dtype=np.uint8) for w in seg_widths])
        mask = pos_in_seg[None, :] < lens8[:, seg_id]
    else:
        widths = np.cumsum([0, *seg_widths])
        mask = np.zeros(mats.shape, bool)
        for (m, lens), start in zip(segs, widths[:-1], strict=False):
            mask[:, start : start + m.shape[1]] = np.arange(m.shape[1])[None, :] < lens[:, None]
    buf = mats[mask]
    total = 1 + varint_len(body.astype(np.uint64)) + body
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(total, out=offsets[1:])
    return buf, offsets


def arrow_columns(batch):
    """pyarrow RecordBatch of scalar int/float/string columns -> serialize_columns input."""
    import pyarrow as pa

    cols = []
    for name, col in zip(batch.schema.names, batch.columns, strict=False):
        t = col.type
        if pa.types.is_null(t):
            continue
        valid = (
            col.is_valid().to_numpy(zero_copy_only=False)
            if col.null_count
            else np.ones(len(col), bool)
        )
        if pa.types.is_floating(t):
            vals = col.cast(pa.float32()).fill_null(0).to_numpy()
        elif pa.types.is_integer(t):
            vals = col.cast(pa.int64()).fill_null(0).to_numpy()
        elif (
            pa.types.is_string(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_string(t)
            or pa.types.is_large_binary(t)
        ):
            col = col.cast(pa.large_binary())
            bufs = col.buffers()
            offs = np.frombuffer(bufs[1], np.int64)[col.offset : col.offset + len(col) + 1]
            data = (
                np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
            )
            vals = (offs, data)
        else:
            raise TypeError(f"column {name}: unsupported type {t}")
        cols.append((name, vals, valid))
    return cols


def serialize_batch(batch):
    return serialize_columns(arrow_columns(batch), batch.num_rows)


# -- reading (the few fields a planner needs, without TensorFlow) --------------------------------
_KINDS = {1: "string", 2: "float", 3: "int"}  # Feature's oneof: bytes_list, float_list, int64_list


def feature_kinds(record: bytes) -> dict[str, str]:
    """``{feature name: "int" | "float" | "string"}`` of one serialized tf.Example, read from the
    protobuf wire format (a planner that checks column names needs no TensorFlow)."""
    kinds: dict[str, str] = {}
    for number, features in _fields(record):
        if number != 1:
            continue
        for entry_number, entry in _fields(features):
            if entry_number != 1:
                continue
            name, kind = "", "string"
            for field_number, value in _fields(entry):
                if field_number == 1:
                    name = value.decode("utf-8", "replace")
                elif field_number == 2:
                    kind = next((_KINDS[n] for n, _ in _fields(value) if n in _KINDS), kind)
            kinds[name] = kind
    return kinds


def _fields(buf: bytes):
    """(field number, payload) of each length-delimited field; other wire types are skipped."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        wire = key & 7
        if wire == 2:
            length, pos = _varint(buf, pos)
            yield key >> 3, buf[pos : pos + length]
            pos += length
        elif wire == 0:
            _, pos = _varint(buf, pos)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"not a tf.Example (wire type {wire})")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
