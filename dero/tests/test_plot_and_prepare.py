"""Comparison plot/table from run directories, and the ImageNet layout checker."""

import json

import pytest
import run_contract as rc

from dero import plot, prepare_imagenet


def test_family_plot_and_table(tmp_path):
    runs = tmp_path / "runs"
    (runs / "mcunet_dero_v4").mkdir(parents=True)
    (runs / "mcunet_dero_v4" / "eval.json").write_text(json.dumps({"acc1": 42.5, "acc5": 90.0, "dataset": "mini"}))
    rows = plot.main.__wrapped__(["--family", "mcunet", "--runs-root", str(runs), "--output-dir", str(tmp_path / "plots"),
                      "--input-size", "64"])
    by_variant = {r["variant"]: r for r in rows}
    assert by_variant["DERO"]["top1"] == 42.5 and by_variant["original"]["top1"] is None
    assert by_variant["DERO"]["params_m"] == 0.72 and by_variant["DERO"]["paper_top1"] == 55.59
    assert by_variant["DERO"]["peak_kb@64"] == by_variant["plain"]["peak_kb@64"] < by_variant["original"]["peak_kb@64"]
    table = (tmp_path / "plots" / "mcunet.md").read_text()
    assert "| mcunet_dero_v4 | DERO | 42.50 | 90.00 | mini | 55.59 |" in table and "not trained" in table
    assert (tmp_path / "plots" / "mcunet.png").stat().st_size > 10_000


def test_layout_check_counts_and_explains(tiny_imagenet, tmp_path):
    report = prepare_imagenet.main.__wrapped__(["--data-path", str(tiny_imagenet), "--num-classes", "3"])
    assert (report["train"]["images"], report["val"]["images"]) == (24, 12)
    with pytest.raises(ValueError, match="3 class folders, expected 1000"):
        prepare_imagenet.check_layout(str(tiny_imagenet))
    with pytest.raises(rc.UsageError, match=r"image-net.org|prepare_imagenet"):
        prepare_imagenet.main.__wrapped__(["--data-path", str(tmp_path / "missing")])


def test_loose_val_images_are_reported(tiny_imagenet):
    (tiny_imagenet / "val" / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"")
    with pytest.raises(ValueError, match="sorted into <wnid>/ class folders"):
        prepare_imagenet.check_layout(str(tiny_imagenet), expected_classes=3)


def test_peak_memory_table_json_for_the_results_page(tmp_path):
    # make dero-peak-memory's files: peak_memory.json ({family: {variant: row}}, what dero/demo.toml reads) and .md
    rows = plot.main.__wrapped__(["--peak-memory-table", "--family", "mcunet", "--input-size", "64",
                                  "--output-dir", str(tmp_path)])
    table = json.loads((tmp_path / "peak_memory.json").read_text())
    assert list(table) == ["mcunet"] and set(table["mcunet"]) == {"original", "plain", "DERO"}
    assert table["mcunet"]["DERO"] == next(r for r in rows if r["variant"] == "DERO")
    dero, plain, original = (table["mcunet"][v] for v in ("DERO", "plain", "original"))
    assert dero["peak_kb@64"] == plain["peak_kb@64"] < original["peak_kb@64"]
    assert dero["peak_kb@64 memory-aware"] <= dero["peak_kb@64"]
    assert "### mcunet" in (tmp_path / "peak_memory.md").read_text()
