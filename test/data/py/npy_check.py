"""Checks .npy files written by the TypeScript writer: numpy must load each with the expected
dtype, shape and values.  Usage: npy_check.py MANIFEST.json
The manifest is a list of {"file", "dtype" (numpy str, e.g. "<f4"), "shape", "values" (C order)}."""
import json
import sys

import numpy as np

cases = json.load(open(sys.argv[1]))
bad = []
for c in cases:
    a = np.load(c["file"])
    if a.dtype.str != c["dtype"]:
        bad.append(f"{c['file']}: dtype {a.dtype.str} != {c['dtype']}")
        continue
    if list(a.shape) != c["shape"]:
        bad.append(f"{c['file']}: shape {a.shape} != {c['shape']}")
        continue
    want = np.array(c["values"], dtype=np.float64).astype(a.dtype).reshape(a.shape)
    if not np.array_equal(a, want):
        bad.append(f"{c['file']}: values differ: {a.ravel()[:8]} vs {want.ravel()[:8]}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
print(f"ok {len(cases)}")
