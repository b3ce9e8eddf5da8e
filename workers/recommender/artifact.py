"""Model artifacts: NumPy arrays plus JSON parameters in one .npz, no pickle.

A loaded artifact runs no code, so an artifact from object storage is as safe to
read as any other data file.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import numpy.typing as npt

FORMAT = 1
_META = "__meta__"


def pack(kind: str, params: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> bytes:
    """One blob holding `arrays` and, as JSON, the model kind and its params."""
    meta = json.dumps({"kind": kind, "format": FORMAT, "params": params}).encode()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{_META: np.frombuffer(meta, dtype=np.uint8)})
    return buffer.getvalue()


def unpack(blob: bytes, kind: str) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """(params, arrays) of a blob `pack` made for a model of this `kind`."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(arrays.pop(_META).tobytes())
    if meta.get("kind") != kind:
        raise ValueError(f"artifact holds a {meta.get('kind')!r} model, not {kind!r}")
    if meta.get("format") != FORMAT:
        raise ValueError(f"artifact format {meta.get('format')!r} is not {FORMAT}")
    return meta["params"], arrays
