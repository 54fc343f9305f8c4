"""Pareto plots of the comparison: int8 accuracy against MACs, peak int8 activation memory and int8 latency.

One PNG per axis (matplotlib) and one interactive plotly HTML with the three panels (hover: every column of the
point). Each method is one colour, its points joined in order of the x value; the grey step line is the Pareto
front over every measured point (no other point is both cheaper and more accurate). The papers' own points (real
Speech Commands) are hollow stars on the MACs panel only: none of them reports a peak or a CPU latency.
"""

from pathlib import Path

import run_contract as rc

METHOD_STYLE = {  # method -> (label, colour, marker)
    "base": ("base DS-CNN", "#000000", "s"),
    "reference_int8": ("reference (shipped int8)", "#7f7f7f", "D"),
    "reds": ("REDS", "#1f77b4", "o"),
    "depth_pruning": ("depth pruning (aux head)", "#2ca02c", "^"),
    "trecx": ("T-RECX (early exit, avg. executed)", "#d62728", "v"),
    "magnitude": ("magnitude pruning (tfmot, fine-tuned)", "#9467bd", "P"),
    "magnitude_no_finetune": ("magnitude pruning (no fine-tuning)", "#e377c2", "X"),
}
AXES = {  # name -> (column, scale, axis label)
    "macs": ("macs", 1e-6, "MACs executed per inference (M)"),
    "peak": ("peak_bytes", 1e-3, "peak int8 activation memory (kB, DERO's definition)"),
    "latency": ("latency_median_ms", 1.0, "int8 latency, LiteRT batch 1, 1 thread (ms, median)"),
}
PLOTLY_MARKERS = {"s": "square", "D": "diamond", "o": "circle", "^": "triangle-up", "v": "triangle-down",
                  "P": "cross", "X": "x"}


def pareto_front(points):
    """Indices of the points no other point dominates (x no larger and accuracy no lower, one strictly)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def _by_method(rows):
    groups = {}
    for row in rows:
        groups.setdefault(row["method"], []).append(row)
    return groups


def _hover(row):
    keys = ("point", "setting", "float_accuracy", "int8_accuracy", "params", "nonzero_kernel_params", "macs",
            "effective_macs", "peak_bytes", "tflite_bytes", "latency_median_ms", "latency_p10_ms", "latency_p90_ms",
            "exit_rate")
    return "<br>".join(f"{k}: {row[k]:.4g}" if isinstance(row.get(k), float) else f"{k}: {row.get(k)}"
                       for k in keys if row.get(k) not in (None, ""))


def plot_pareto(rows, out_dir, title, papers=()):
    """Write pareto_{macs,peak,latency}.png and pareto.html into ``out_dir``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = _by_method(rows)
    html = make_subplots(rows=1, cols=len(AXES), subplot_titles=[AXES[a][2] for a in AXES], shared_yaxes=True)
    paths = []
    for col, (axis, (key, scale, label)) in enumerate(AXES.items(), start=1):
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=120)
        measured = [r for r in rows if r.get(key) is not None]
        for method, group in groups.items():
            name, colour, marker = METHOD_STYLE.get(method, (method, None, "o"))
            group = sorted((r for r in group if r.get(key) is not None), key=lambda r: r[key])
            xs = [r[key] * scale for r in group]
            ys = [100 * r["int8_accuracy"] for r in group]
            ax.plot(xs, ys, marker=marker, color=colour, label=name, linewidth=1, markersize=6)
            if axis == "latency":
                ax.errorbar(xs, ys, xerr=[[r[key] - r["latency_p10_ms"] for r in group],
                                          [r["latency_p90_ms"] - r[key] for r in group]],
                            fmt="none", ecolor=colour, alpha=0.5, capsize=2)
            html.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name, legendgroup=method,
                                      showlegend=col == 1, marker={"color": colour, "symbol":
                                                                   PLOTLY_MARKERS.get(marker, "circle")},
                                      text=[_hover(r) for r in group], hoverinfo="text"), row=1, col=col)
        front = pareto_front([(r[key], r["int8_accuracy"]) for r in measured])
        fx = [measured[i][key] * scale for i in front]
        fy = [100 * measured[i]["int8_accuracy"] for i in front]
        ax.step(fx, fy, where="post", color="grey", alpha=0.5, linewidth=4, zorder=0, label="Pareto front")
        html.add_trace(go.Scatter(x=fx, y=fy, mode="lines", line={"shape": "hv", "color": "grey", "width": 5},
                                  opacity=0.4, name="Pareto front", legendgroup="front", showlegend=col == 1,
                                  hoverinfo="skip"), row=1, col=col)
        if axis == "macs":
            for paper in sorted({p["paper"] for p in papers}):
                chosen = [p for p in papers if p["paper"] == paper]
                colour = METHOD_STYLE.get(chosen[-1]["method"], (None, "#444444"))[1]
                xs = [p["macs"] * scale for p in chosen]
                ys = [p["accuracy"] for p in chosen]
                ax.scatter(xs, ys, marker="*", s=90, facecolors="none", edgecolors=colour,
                           label=f"{paper} (paper's points, real data)")
                html.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=f"{paper} (paper's points, real data)",
                                          marker={"symbol": "star-open", "size": 11, "color": colour},
                                          text=[f"{paper}: {p['label']}<br>{p['note']}" for p in chosen],
                                          hoverinfo="text"), row=1, col=col)
        ax.set(xlabel=label, ylabel="int8 accuracy (%)", title=f"{title}: accuracy vs {axis}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        png = out_dir / f"pareto_{axis}.png"
        with rc.atomic_path(png) as tmp:
            fig.savefig(tmp)
        plt.close(fig)
        paths.append(png)
        html.update_xaxes(title_text=label, row=1, col=col)
    html.update_yaxes(title_text="int8 accuracy (%)", row=1, col=1)
    html.update_layout(title=title, template="plotly_white", height=520, width=1500)
    html_path = out_dir / "pareto.html"
    with rc.atomic_path(html_path) as tmp:  # one plotly.min.js beside it: viewable offline
        html.write_html(tmp, include_plotlyjs="directory")
    return [*paths, html_path]
