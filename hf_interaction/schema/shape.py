"""The shape record: a model's depth-width shape from its config (``hf-interaction shape``)."""

from __future__ import annotations

from .common import HEADER, INTERVAL, PROVENANCE, SHAPE, block
from .spec import RecordSchema

SHAPE_RECORD = RecordSchema.parse(
    "shape", "Shape record (`shapes` in the store)",
    "Written by `hf-interaction shape` (and `api.shape`) for each model: the shape block's keys at the "
    "top level, plus the revision, the interval used and the model's source.",
    HEADER + SHAPE + "revision str the resolved revision (Hub commit or local content fingerprint)\n"
    + block("interval", "the efficient interval the position was measured against", INTERVAL)
    + block("provenance", "where the model's config (and weights) came from", PROVENANCE),
)
