#!/usr/bin/python3
"""Safetensors interop between PyTorch and Attend, both directions.

Run with Debian's PyTorch 1.13 (the safetensors package is not installable here, so the format is written by hand
with the writer in make_fixtures.py):

    /usr/bin/python3 tools/oracle/make_safetensors_fixture.py            # (re)write Fixtures/io/torch_dtypes.safetensors
    /usr/bin/python3 tools/oracle/make_safetensors_fixture.py --check    # regenerate into a temp dir, compare byte-for-byte
    /usr/bin/python3 tools/oracle/make_safetensors_fixture.py --verify FILE
        # FILE was written by Attend from the fixture (SafeTensorsTests.TorchFixture_RoundTripsThroughAttend writes it
        # when ATTEND_INTEROP_OUT=FILE is set): parse it strictly and check every tensor equals the fixture's, with
        # F16/BF16 as torch's own conversion to float32 (Attend writes every float tensor as F32).

torch -> Attend: torch_dtypes.safetensors holds, from torch:
    f32 [2,3], f32_scalar [], f32_empty [0,3]                     F32
    f16 [15] (zeros, extremes, subnormals, +-inf, NaN, randoms)    F16, and f16_as_f32 = f16.float() in F32
    bf16 [2,2,3] and bf16_special [6]                              BF16, and *_as_f32 = .float() in F32
    i64 [6] (int64 extremes), i64_2d [2,3]                         I64
    mask [2,2]                                                     BOOL
The C# test checks that Attend's F16/BF16 reading gives exactly torch's float32 conversion, bit for bit.
"""

import argparse
import filecmp
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "Attend.Tests", "Fixtures", "io"))
FILE_NAME = "torch_dtypes.safetensors"


def tensors():
    """(name, tensor) pairs in file order; deterministic."""
    torch.manual_seed(20261124)
    f16 = torch.cat([
        torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0,           # max finite half
                      6.103515625e-05,                         # smallest normal half, 2^-14
                      5.960464477539063e-08,                   # smallest subnormal half, 2^-24
                      1e-6,                                    # a subnormal half (rounds to 17 * 2^-24)
                      float("inf"), float("-inf"), float("nan")]),
        torch.randn(4),
    ]).to(torch.float16)
    bf16 = torch.randn(2, 2, 3).to(torch.bfloat16)
    bf16_special = torch.tensor([1e38, -3.0e-39, float("-inf"), float("nan"), 1.0 / 3.0, -0.0]).to(torch.bfloat16)
    return [
        ("f32", torch.randn(2, 3)),
        ("f32_scalar", torch.tensor(3.25)),
        ("f32_empty", torch.zeros(0, 3)),
        ("f16", f16),
        ("f16_as_f32", f16.float()),
        ("bf16", bf16),
        ("bf16_as_f32", bf16.float()),
        ("bf16_special", bf16_special),
        ("bf16_special_as_f32", bf16_special.float()),
        ("i64", torch.tensor([-(2 ** 63), -1, 0, 1, 2 ** 62 + 7, 2 ** 63 - 1], dtype=torch.int64)),
        ("i64_2d", torch.arange(6, dtype=torch.int64).reshape(2, 3) * 1000003),
        ("mask", torch.tensor([[True, False], [False, True]])),
    ]


def generate(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, FILE_NAME)
    write_safetensors(path, tensors(), {"source": f"torch {torch.__version__}", "purpose": "Attend interop fixture"})
    return path


def read_strict(path):
    """Parse a safetensors file, checking the layout Attend promises: header padded to 8 with spaces, tensors sorted
    by name, packed from offset 0 with no holes or trailing bytes. Returns (header dict, {name: np.ndarray})."""
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    assert n % 8 == 0, f"header length {n} is not a multiple of 8"
    raw = b[8:8 + n]
    assert raw == raw.rstrip(b" ") + b" " * (len(raw) - len(raw.rstrip(b" "))), "padding is not spaces"
    header = json.loads(raw)
    data = b[8 + n:]
    names = [k for k in header if k != "__metadata__"]
    assert names == sorted(names), f"tensors not sorted by name: {names}"
    np_dtype = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "BOOL": "u1"}
    out, pos = {}, 0
    for k in names:
        info = header[k]
        begin, end = info["data_offsets"]
        assert begin == pos, f"{k}: begins at {begin}, expected {pos}"
        arr = np.frombuffer(data[begin:end], dtype=np_dtype[info["dtype"]]).reshape(info["shape"])
        out[k] = (info["dtype"], arr)
        pos = end
    assert pos == len(data), f"{len(data) - pos} trailing bytes"
    return header, out


def verify(path):
    header, got = read_strict(path)
    expected = dict(tensors())
    assert set(got) == set(expected), f"names differ: {sorted(set(got) ^ set(expected))}"
    for name, t in expected.items():
        dtype, arr = got[name]
        if t.dtype in (torch.float32, torch.float16, torch.bfloat16):
            want = t.float()
            assert dtype == "F32", f"{name}: {dtype}, expected F32"
            have = torch.from_numpy(arr.copy())
            # bitwise: every value, NaN payloads and signed zeros included
            assert torch.equal(have.view(torch.int32), want.view(torch.int32)), f"{name}: values differ"
        elif t.dtype == torch.int64:
            assert dtype == "I64" and torch.equal(torch.from_numpy(arr.copy()), t), f"{name}: values differ"
        else:
            assert dtype == "BOOL" and torch.equal(torch.from_numpy(arr.copy()).bool(), t), f"{name}: values differ"
        assert list(arr.shape) == list(t.shape), f"{name}: shape {list(arr.shape)} != {list(t.shape)}"
    print(f"{path}: OK, {len(expected)} tensors equal torch's (F16/BF16 as torch's float32 conversion); "
          f"header {struct.unpack('<Q', open(path, 'rb').read(8))[0]} bytes; metadata {header.get('__metadata__')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare")
    parser.add_argument("--verify", metavar="FILE", help="check a file Attend wrote from the fixture")
    parser.add_argument("--out", default=DEFAULT_OUT)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.verify:
        verify(args.verify)
    elif args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = generate(tmp)
            committed = os.path.join(args.out, FILE_NAME)
            if not os.path.exists(committed) or not filecmp.cmp(fresh, committed, shallow=False):
                print(f"{committed}: missing or different from a fresh run")
                sys.exit(1)
            print(f"{committed}: up to date")
    else:
        print(generate(args.out))


if __name__ == "__main__":
    main()
