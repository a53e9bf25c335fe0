"""JSON-ready copies of the values methods and corruptions report (info dicts, realised parameters)."""
from __future__ import annotations

import numpy as np


def to_json(value):
    """Numpy scalars become numbers, small arrays lists, large arrays a shape summary, NaN/Inf None."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist()) if value.size <= 64 else {"array_shape": list(value.shape),
                                                                  "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
