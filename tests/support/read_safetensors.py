#!/usr/bin/env python3
"""An independent safetensors parser (standard library only), for tests/nn/safetensors-python.test.ts.

    python3 tests/support/read_safetensors.py FILE

Checks the file against the format (an 8-byte little-endian header length N, N bytes of a JSON object,
then the data region) and prints one JSON object {"metadata": {...}, "tensors": {name: {"dtype",
"shape", "sum", "first"}}}: sum is the float sum of the values, first the first (up to) 4 values.
Exits 1 with one line on stderr naming the first violation. Written apart from our TypeScript reader, so
that the two read the format from its description, not from each other.
"""
import json
import math
import struct
import sys

MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's bound
ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
UNPACK = {"F32": "f", "I32": "i", "I64": "q"}  # dtypes whose values are summed


class Invalid(Exception):
    pass


def parse(data):
    if len(data) < 8:
        raise Invalid(f"file is {len(data)} bytes, shorter than the header length field")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER:
        raise Invalid(f"header length {n} exceeds the limit {MAX_HEADER}")
    if 8 + n > len(data):
        raise Invalid(f"header length {n} runs past the end of the file ({len(data) - 8} bytes after the length field)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Invalid(f"header is not UTF-8 JSON ({e})")
    if not isinstance(header, dict):
        raise Invalid("header is not a JSON object")
    region = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise Invalid("__metadata__ is not a map of strings to strings")

    def is_count(x):  # a JSON integer >= 0 (bool is an int in Python: excluded)
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    spans = []
    for name, t in header.items():
        if not isinstance(t, dict):
            raise Invalid(f"tensor {name!r}: entry is not an object")
        dtype, shape, offsets = t.get("dtype"), t.get("shape"), t.get("data_offsets")
        if dtype not in ITEMSIZE:
            raise Invalid(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(is_count(d) for d in shape):
            raise Invalid(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(is_count(o) for o in offsets):
            raise Invalid(f"tensor {name!r}: data_offsets {offsets!r} is not a pair of non-negative integers")
        begin, end = offsets
        if end < begin or end > len(region):
            raise Invalid(f"tensor {name!r}: data_offsets [{begin}, {end}] outside the data region of {len(region)} bytes")
        need = math.prod(shape) * ITEMSIZE[dtype]
        if end - begin != need:
            raise Invalid(f"tensor {name!r}: shape {shape} of {dtype} needs {need} bytes, data_offsets hold {end - begin}")
        spans.append((begin, end, name))
    # In order of begin, each tensor must start where the previous one ended and the last end the file:
    # no overlap, no hole, no trailing bytes.
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            raise Invalid(f"tensor {name!r}: data_offsets [{begin}, {end}] {'overlap' if begin < at else 'leave a hole after'} byte {at}")
        at = end
    if at != len(region):
        raise Invalid(f"tensors cover {at} bytes of a data region of {len(region)}")

    tensors = {}
    for begin, end, name in spans:
        t = header[name]
        out = {"dtype": t["dtype"], "shape": t["shape"]}
        code = UNPACK.get(t["dtype"])
        if code:
            values = struct.unpack(f"<{(end - begin) // ITEMSIZE[t['dtype']]}{code}", region[begin:end])
            out["sum"] = math.fsum(float(v) for v in values)
            out["first"] = list(values[:4])
        tensors[name] = out
    return {"metadata": metadata, "tensors": tensors}


def main():
    if len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0)
    if len(sys.argv) != 2:
        print("usage: read_safetensors.py FILE", file=sys.stderr)
        sys.exit(2)
    path = sys.argv[1]
    try:
        with open(path, "rb") as f:
            data = f.read()
        result = parse(data)
    except (OSError, Invalid) as e:
        print(f"read_safetensors: {path}: {e}", file=sys.stderr)
        sys.exit(1)
    # A NaN or an infinity would print as NaN / Infinity (not strict JSON): the test's files hold finite values.
    print(json.dumps(result))


if __name__ == "__main__":
    main()
