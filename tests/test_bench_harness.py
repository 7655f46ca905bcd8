"""The benchmark suite's plumbing (benchmarks/harness.py, benchmarks/run.py) on
made-up results: command line, header, JSON, geometric means and plots.
Nothing is timed here."""
import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)
harness = pytest.importorskip("harness")
run = pytest.importorskip("run")


def test_parse_threads():
    assert harness.parse_threads("1,2") == [1, 2]
    assert harness.parse_threads("4") == [4]
    for bad in ("0", "", "1,-2"):
        with pytest.raises(ValueError):
            harness.parse_threads(bad)


def test_geomean_ignores_missing_values():
    assert harness.geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert harness.geomean([2.0, None, float("nan"), 8.0]) == pytest.approx(4.0)


def test_header_describes_the_machine():
    info = harness.header([1, 2])
    for key in ("cpu", "cores", "isa", "threads", "fastconv", "numpy", "numpy_blas", "openmp_runtime"):
        assert key in info
    assert info["threads"] == [1, 2]


def _fake_run(threads, quick, scale=1.0):
    rows = [{"case": f"case {i}", "threads": nt, "fastconv_s": 1.0, "numpy_s": scale * (i + 1),
             "ratio_vs_numpy": scale * (i + 1), "fastconv_gflops": 10.0 * (i + 1)}
            for nt in threads for i in range(2)]
    return {"area": "fake", "quick": quick, "rows": rows}


def _fake_report(results):
    return harness.markdown_table(["case", "thr"], [[r["case"], r["threads"]] for r in results["rows"]])


def test_bench_main_command_line(tmp_path, capsys):
    out = tmp_path / "fake.json"

    def extra(p):
        p.add_argument("--scale", type=float, default=1.0)

    res = harness.bench_main("doc", "Fake area", _fake_run, _fake_report,
                             ["--quick", "--threads", "1,3", "--json", str(out), "--scale", "2"],
                             add_arguments=extra, run_kwargs=lambda a: dict(scale=a.scale))
    text = capsys.readouterr().out
    assert "## Fake area" in text and "- cpu:" in text and "| case 1 | 3 |" in text
    assert res["quick"] is True and {r["threads"] for r in res["rows"]} == {1, 3}
    assert json.loads(out.read_text())["rows"][1]["ratio_vs_numpy"] == 4.0

    harness.bench_main("doc", "Fake area", _fake_run, _fake_report, ["--threads", "1", "--no-header"])
    text = capsys.readouterr().out
    assert "## Fake area" in text and "- cpu:" not in text

    with pytest.raises(SystemExit):
        harness.bench_main("doc", "Fake area", _fake_run, _fake_report, ["--threads", "0"])


def test_ratio_columns_and_labels():
    row = {"case": "x", "threads": 2, "ratio_vs_torch": 1.5, "speedup_vs_numpy": 3.0, "ratio_vs_scipy": None}
    assert run.ratio_columns(row) == {"torch": 1.5, "numpy": 3.0}
    assert run.case_label(row) == "x t2"
    assert run.case_label({"dtype": "float32", "m": 1, "k": 2, "n": 3, "threads": 1}) == "float32 1x2x3 t1"


def test_peak_for_halves_float64():
    peaks = {"1": 100.0, "2": 200.0}
    assert run.peak_for({"threads": 2}, peaks) == 200.0
    assert run.peak_for({"threads": 1, "dtype": "float64"}, peaks) == 50.0


def test_plots_are_written(tmp_path):
    pytest.importorskip("matplotlib")
    result = _fake_run([1, 2], True)
    files = run.plot("fake", result, str(tmp_path), {"1": 90.0, "2": 180.0})
    names = sorted(os.path.basename(f) for f in files)
    assert names == ["gflops_fake.png", "speedup_fake.png"]
    for f in files:
        with open(f, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
