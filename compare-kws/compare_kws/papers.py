"""Each paper's own published KWS points, marked on the accuracy-vs-MACs plot for reference.

These are the papers' figures on the real Speech Commands v2 data (not ours, and not comparable with mini-data
points). Only MACs can be placed: none of the papers reports the int8 peak memory or a CPU latency of these points.
Sources (../shared/notes/): reds.md Appendix Table 6, depth_pruning.md §3.3, trecx.md Table 1, mlperf_tiny.md §2.5.
"""

MLPERF_DS_CNN_MACS = 2_656_768  # conv + dense MACs of the MLPerf Tiny KWS DS-CNN (mlperf_tiny.counting)
MLPERF_DS_CNN_PARAMS = 24_908

# REDS, Appendix Table 6: ten nested subnetworks of ARM's DS-CNN S (the MLPerf DS-CNN's layout with ARM's 40 ms
# front end), bottom-up, test accuracy % (mean of 3 runs). The budget is a share of the knapsack's MACs (the conv
# stack, 2,656,000); the classifier (64 x 12 = 768 MACs) is added unchanged.
REDS_TABLE6_DS_CNN_S = ((1.0, 93.50), (0.9, 93.33), (0.8, 92.84), (0.7, 92.64), (0.6, 92.27), (0.5, 91.04),
                        (0.4, 89.42), (0.3, 87.63), (0.2, 84.14), (0.1, 58.46))
REDS_KNAPSACK_MACS = 2_656_000
REDS_CLASSIFIER_MACS = 64 * 12

# Depth pruning, KWS DS-CNN with the frozen tail and the dscnn32_16 head, accuracy % read off the paper's figure
# (10 mel bins). MACs per cut come from depth_pruning's own counter (the architecture's, mel bins do not change it).
DEPTH_PRUNING_KWS_FROZEN = (("conv1", 92.6), ("block1", 93.7), ("block2", 94.6), ("block3", 95.6), ("block4", 95.7))

# T-RECX, Table 1 (KWS): baseline 92.2 % at 5.54 MFLOPs; T-RECX at the baseline -1/-2/-3 points: 3.45 / 3.31 / 3.18
# MFLOPs. The paper counts keras-flops FLOPs; they are placed on the MACs axis scaled by the baseline's ratio.
TRECX_BASELINE = (92.2, 5.54e6)
TRECX_TRADEOFFS = ((91.2, 3.45e6), (90.2, 3.31e6), (89.2, 3.18e6))

# MLPerf Tiny v0.5 reference KWS model (trained_models README): about 92 % test accuracy, float and int8.
MLPERF_REFERENCE_ACCURACY = 92.0


def paper_points():
    """[{method, paper, label, macs, accuracy (%), note}] of every published point."""
    from depth_pruning.count import count_all_cuts

    points = [{"method": "base", "paper": "MLPerf Tiny v0.5", "label": "reference DS-CNN (paper: ~92 %)",
               "macs": MLPERF_DS_CNN_MACS, "accuracy": MLPERF_REFERENCE_ACCURACY,
               "note": "trained_models README: about 92 % test, float and int8"}]
    for share, accuracy in REDS_TABLE6_DS_CNN_S:
        points.append({"method": "reds", "paper": "REDS", "label": f"{share:.0%} MACs",
                       "macs": int(round(share * REDS_KNAPSACK_MACS)) + REDS_CLASSIFIER_MACS, "accuracy": accuracy,
                       "note": "Appendix Table 6, ARM DS-CNN S, 10 nested subnetworks, BU"})
    macs = {r["cut"]: r["macs"] for r in count_all_cuts("kws", cuts=[c for c, _ in DEPTH_PRUNING_KWS_FROZEN],
                                                       with_flops=False)}
    for cut, accuracy in DEPTH_PRUNING_KWS_FROZEN:
        points.append({"method": "depth_pruning", "paper": "Depth pruning", "label": f"cut {cut}",
                       "macs": macs[cut], "accuracy": accuracy,
                       "note": "read off the paper's figure (frozen tail, 10 mel bins)"})
    accuracy, flops = TRECX_BASELINE
    scale = MLPERF_DS_CNN_MACS / flops
    points.append({"method": "base", "paper": "T-RECX", "label": "baseline DS-CNN", "macs": MLPERF_DS_CNN_MACS,
                   "accuracy": accuracy, "note": "Table 1 baseline"})
    for accuracy, tradeoff_flops in TRECX_TRADEOFFS:
        points.append({"method": "trecx", "paper": "T-RECX", "label": f"{accuracy:.1f} %",
                       "macs": int(round(tradeoff_flops * scale)), "accuracy": accuracy,
                       "note": "Table 1 trade-off, FLOPs x (baseline MACs / baseline FLOPs)"})
    return points
