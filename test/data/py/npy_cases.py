"""Writes .npy files in every dtype/order/rank numpy produces, plus manifest.json with the
values (flattened in C order) for the TypeScript reader tests.  Usage: npy_cases.py OUTDIR"""
import json
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cases = []


def add(name, arr, fortran=False, version=None):
    path = os.path.join(out, name + ".npy")
    a = np.asfortranarray(arr) if fortran else np.ascontiguousarray(arr)
    if version is None:
        np.save(path, a)
    else:
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version)
    with open(path, "rb") as f:
        major = f.read(8)[6]
    cases.append({
        "name": name,
        "file": path,
        "dtype": a.dtype.str,
        "shape": list(a.shape),
        "fortran": bool(fortran and a.ndim > 1),
        "version": int(major),
        "values": [float(v) for v in np.asarray(arr).astype(np.float64).ravel(order="C")],
    })


rng = np.random.default_rng(0)
extremes = {
    "i1": [-128, 127, 0, -1, 5, 100],
    "u1": [0, 255, 1, 128, 7, 200],
    "i2": [-32768, 32767, 0, -1, 300, -300],
    "u2": [0, 65535, 1, 40000, 7, 12345],
    "i4": [-2**31, 2**31 - 1, 0, -1, 70000, -70000],
    "u4": [0, 2**32 - 1, 1, 3_000_000_000, 7, 65536],
    "i8": [-2**40, 2**40, 0, -1, 2**33 + 1, -(2**33)],
    "u8": [0, 2**41, 1, 2**33, 7, 2**24],
}
for code, vals in extremes.items():
    add(f"{code}_1d", np.array(vals, dtype=code))
    add(f"{code}_2d_c", np.array(vals, dtype=code).reshape(2, 3))
    add(f"{code}_2d_f", np.array(vals, dtype=code).reshape(2, 3), fortran=True)

for code in ["f2", "f4", "f8"]:
    base = (rng.standard_normal(24) * 10).astype(code)
    base[0] = 0.0
    base[1] = -0.5
    base[2] = 65504.0 if code == "f2" else 1e30 if code == "f4" else 1e-300
    add(f"{code}_1d", base)
    add(f"{code}_2d_c", base.reshape(4, 6))
    add(f"{code}_2d_f", base.reshape(4, 6), fortran=True)
    add(f"{code}_3d_c", base.reshape(2, 3, 4))

b = np.array([True, False, False, True, True, False])
add("bool_1d", b)
add("bool_2d_c", b.reshape(3, 2))
add("bool_2d_f", b.reshape(3, 2), fortran=True)

add("f4_3d_f", rng.standard_normal((2, 3, 4)).astype(np.float32), fortran=True)
add("f4_v2", rng.standard_normal((5, 7)).astype(np.float32), version=(2, 0))
add("f4_v2_f", rng.standard_normal((5, 7)).astype(np.float32), fortran=True, version=(2, 0))
add("f4_tall", rng.standard_normal((300, 5)).astype(np.float32))
add("f4_scalar", np.array(3.5, dtype=np.float32))
add("f4_empty", np.zeros((0, 4), dtype=np.float32))

with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(cases, f)
print(f"wrote {len(cases)} cases")
