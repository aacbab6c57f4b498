"""Fuzz ``extract_dataset`` with mutated real zips (Hypothesis) for a while: every input must
end in a ``DatasetError`` with a one-line reason, or in a dataset; anything else is a bug.

Seeds are small class-folder zips made with each compression method zipfile writes
(stored, deflate, bzip2, LZMA); Hypothesis flips, overwrites, cuts and inserts bytes and
rewrites header fields (sizes, offsets, methods, versions, flags, name lengths). Not a CI
test: it runs for minutes.

    python bench/fuzz_zips.py [--seconds 300]

The LAST line is the share of inputs that raised anything but a DatasetError (goal 0).
"""

from __future__ import annotations

import argparse
import collections
import io
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model_zoo.datasets import DatasetError, DatasetLimits, extract_dataset  # noqa: E402

# Small caps keep each case fast; the code paths are the same.
LIMITS = DatasetLimits(max_members=200, max_total_bytes=5_000_000, max_member_bytes=1_000_000)


def seed_zips() -> list[bytes]:
    rng = np.random.default_rng(0)
    photos = {}
    for c in ("cats", "dogs"):
        for i in range(5):
            buf = io.BytesIO()
            pixels = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(buf, "PNG" if i % 2 else "JPEG")
            photos[f"data/{c}/{i}.{'png' if i % 2 else 'jpg'}"] = buf.getvalue()
    seeds = []
    for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=method) as zf:
            for name, data in photos.items():
                zf.writestr(name, data)
        seeds.append(buf.getvalue())
    return seeds


SEEDS = seed_zips()
# Offsets of header fields worth rewriting, relative to each signature.
FIELDS = {
    b"PK\x03\x04": [4, 6, 8, 14, 18, 22, 26, 28],
    b"PK\x01\x02": [4, 6, 8, 10, 20, 24, 28, 30, 38, 42],
    b"PK\x05\x06": [8, 10, 12, 16, 20],
}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "overwrite", "cut", "insert", "field"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(chunk)] = chunk
        elif kind == "cut":
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            signature = draw(st.sampled_from(list(FIELDS)))
            hits = [i for i in range(len(data) - 4) if data[i : i + 4] == signature]
            if hits:
                where = draw(st.sampled_from(hits)) + draw(st.sampled_from(FIELDS[signature]))
                value = draw(st.sampled_from([0, 1, 0xFF, 0xFFFF, 0xFFFFFFFF])).to_bytes(
                    4, "little"
                )
                data[where : where + draw(st.sampled_from([1, 2, 4]))] = value[:4]
    return bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    args = parser.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    unexpected: list[str] = []

    @settings(
        max_examples=500,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(mutated())
    def one(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as job:
            try:
                extract_dataset(data, Path(job), LIMITS)
                counts["accepted"] += 1
            except DatasetError as err:
                counts["refused"] += 1
                if "\n" in str(err):
                    unexpected.append(f"multi-line reason: {err!r}")
            except Exception:
                counts["unexpected"] += 1
                unexpected.append(traceback.format_exc(limit=3))
            leftovers = [p for p in Path(job).rglob("*") if not p.resolve().is_relative_to(job)]
            if leftovers:
                unexpected.append(f"escaped: {leftovers}")

    start = time.monotonic()
    while time.monotonic() - start < args.seconds:
        one()
    total = sum(counts.values())
    kinds = collections.Counter(u.strip().splitlines()[-1][:120] for u in unexpected)
    for line, n in kinds.most_common(10):
        print(f"{n:6d} × {line}")
    print(
        f"{total} mutated zips in {time.monotonic() - start:.0f} s: {counts['accepted']} "
        f"accepted, {counts['refused']} refused with one line, {len(unexpected)} unexpected"
    )
    share = len(unexpected) / max(total, 1)
    print(f"unexpected outcomes: {len(unexpected)} of {total}, ratio {share:.4f}")


if __name__ == "__main__":
    main()
