"""Arrow arrays built from buffers equal ``pa.array``'s, and building them leaves pandas unimported."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa

from corpus.core.arrays import bool_array, int64_array, repeat_string, string_array


def test_arrays_equal_pa_array():
    cases = [[], [None], ["a", None, "", "çé€😀", None, "x" * 300], ["only"], [None, None]]
    for values in cases:
        got = string_array(values)
        got.validate(full=True)
        assert got.equals(pa.array(values, pa.string())) and got.null_count == values.count(None)
    mask = np.array([True, False, True, True, False, False, True, False, True])
    assert bool_array(mask).equals(pa.array(mask.tolist())) and bool_array(mask[:0]).to_pylist() == []
    assert int64_array(np.array([3, 1, 2], np.int32)).to_pylist() == [3, 1, 2]
    for n in (0, 1, 5):
        r = repeat_string("2026-12-07T00:00:00Z", n)
        r.validate(full=True)
        assert r.to_pylist() == ["2026-12-07T00:00:00Z"] * n
    assert repeat_string("", 3).to_pylist() == ["", "", ""]


def test_building_arrays_does_not_import_pandas():
    code = (
        "import sys, numpy as np\n"
        "from corpus.core.arrays import bool_array, int64_array, repeat_string, string_array\n"
        "string_array(['a', None]); bool_array(np.ones(3, bool)); int64_array(np.arange(3)); repeat_string('x', 2)\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
