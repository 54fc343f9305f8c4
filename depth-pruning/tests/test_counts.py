"""Params / MACs / FLOPs of every cut against an independent analytic count, and the README headline."""

import json

import pytest
from depth_pruning import count

# MobileNetV1-0.25 blocks (stride, pointwise channels) and the DS-CNN, written out from the paper's notes.
VWW_BLOCKS = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128), (1, 128), (1, 128), (1, 128), (1, 128),
              (1, 128), (2, 256), (1, 256)]
BN = 4  # gamma, beta, moving mean, moving variance per channel


def separable_params(c_in, c_out):
    return (9 * c_in + c_in + BN * c_in) + (c_in * c_out + c_out + BN * c_out)


def dscnn32_16_params(c_in, num_classes):
    return separable_params(c_in, 32) + separable_params(32, 16) + 16 * num_classes + num_classes


def vww_tail(cut_index, in_channels=3):
    """(params, feature channels, spatial side) of the VWW tail up to cut ``cut_index`` (0 = conv1)."""
    params, channels, side = 9 * in_channels * 8 + 8 + BN * 8, 8, 48
    for stride, c_out in VWW_BLOCKS[:cut_index]:
        params += separable_params(channels, c_out)
        channels, side = c_out, side // stride
    return params, channels, side


def vww_tail_macs(cut_index):
    macs, channels, side = 48 * 48 * 8 * 27, 8, 48
    for stride, c_out in VWW_BLOCKS[:cut_index]:
        side //= stride
        macs += side * side * (9 * channels + channels * c_out)
        channels = c_out
    return macs, channels, side


def head_macs(channels, positions, num_classes):
    return positions * (9 * channels + channels * 32 + 9 * 32 + 32 * 16) + 16 * num_classes


@pytest.fixture(scope="module")
def vww_records():
    # params/MACs of every cut; profiler FLOPs (the slow part) of the cuts the tests pin
    records = {r["cut"]: r for r in count.count_all_cuts("vww", with_flops=False)}
    for r in count.count_all_cuts("vww", cuts=["conv1", "block5", "block13"]):
        records[r["cut"]].update(r)
    return records


@pytest.fixture(scope="module")
def kws_records():
    return {r["cut"]: r for r in count.count_all_cuts("kws")}


def test_paper_head_table_at_vww_block5():
    # arch.png ("Table 4.1"): dw 896, pw 2,208, dw 448, pw 592, dense 34 = 4,178 at the 12x12x64 input.
    assert dscnn32_16_params(64, 2) == 896 + 2208 + 448 + 592 + 34 == 4178


def test_vww_counts_match_analytic(vww_records):
    assert vww_records["base"]["params"] == 221_794
    assert vww_records["base"]["macs"] == 7_489_664
    for k, cut in enumerate(["conv1"] + [f"block{i}" for i in range(1, 14)]):
        tail_params, channels, _ = vww_tail(k)
        tail_macs, _, side = vww_tail_macs(k)
        assert vww_records[cut]["params"] == tail_params + dscnn32_16_params(channels, 2), cut
        assert vww_records[cut]["macs"] == tail_macs + head_macs(channels, side * side, 2), cut


def test_kws_counts_match_analytic(kws_records):
    stem = 10 * 4 * 64 + 64 + BN * 64
    assert kws_records["base"]["params"] == 24_908
    for k, cut in enumerate(["conv1", "block1", "block2", "block3", "block4"]):
        expected = stem + k * separable_params(64, 64) + dscnn32_16_params(64, 12)
        assert kws_records[cut]["params"] == expected, cut
        positions = 25 * 5  # every DS-CNN feature map is 25x5x64
        expected_macs = positions * 64 * 10 * 4 + k * positions * (9 * 64 + 64 * 64) + head_macs(64, positions, 12)
        assert kws_records[cut]["macs"] == expected_macs, cut


def test_profiler_flops_pinned(vww_records, kws_records):
    # TF-profiler float ops of the frozen graph (2 per MAC + bias/BN/pool element-wise ops), TF 2.21.
    assert vww_records["base"]["flops"] == 15_213_196
    assert vww_records["block5"]["flops"] == 7_382_092
    assert kws_records["base"]["flops"] == 5_393_288
    assert kws_records["block2"]["flops"] == 3_892_456
    for records in (vww_records, kws_records):
        for r in (r for r in records.values() if "flops" in r):
            # the profiler counts a little more than 2 x MACs (element-wise ops: ~2-5 %)
            assert 2 * r["macs"] < r["flops"] < 2.1 * r["macs"], r["cut"]


def test_readme_headline(vww_records, kws_records):
    # README: VWW block5 -93% params / -51% FLOPs; KWS block2 -28% / -28%.
    assert round(100 * vww_records["block5"]["params_reduction"]) == 93
    assert round(100 * vww_records["block5"]["flops_reduction"]) == 51
    assert round(100 * kws_records["block2"]["params_reduction"]) == 28
    assert round(100 * kws_records["block2"]["flops_reduction"]) == 28


def test_params_grow_with_depth(vww_records, kws_records):
    for records in (vww_records, kws_records):
        params = [r["params"] for cut, r in records.items() if cut != "base"]
        assert params == sorted(params) and len(set(params)) == len(params)


def test_count_cli_json(capsys):
    records = count.main.__wrapped__(["--task", "kws", "--json", "--tflite"])
    printed = json.loads(capsys.readouterr().out)
    assert [r["cut"] for r in printed] == ["base", "conv1", "block1", "block2", "block3", "block4"]
    assert set(printed[0]) == {"cut", "params", "macs", "flops", "int8_bytes"}
    assert printed[3]["params"] == 17_852
    assert records[3]["flops"] == 3_892_456
    # int8 size grows strictly with the cut depth; block2 is smaller than the base (paper: 43 vs 54 KB),
    # block4 larger (the head adds params on top of the whole tail)
    sizes = [r["int8_bytes"] for r in printed[1:]]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert printed[3]["int8_bytes"] < printed[0]["int8_bytes"] < printed[5]["int8_bytes"]
    assert 0.75 < printed[3]["int8_bytes"] / printed[0]["int8_bytes"] < 0.88


def test_count_cli_rejects_unknown_task(capsys):
    assert count.main(["--task", "imagenet"]) == 2
    assert "imagenet" in capsys.readouterr().err
