"""The paper's figures: parameters, accuracy and inference time against each subnetwork's MAC percentage.

One interactive plotly HTML and one static matplotlib PNG per quantity (no kaleido here), one line per model
size, as in the README's ``plotly_mobile_{parameters,accuracy,inference}_size{S,L}`` figures.
"""

from pathlib import Path

import run_contract as rc

QUANTITIES = {
    "parameters": ("params", "parameters"),
    "accuracy": ("accuracy", "test accuracy"),
    "inference": ("tflite_latency_ms", "int8 TFLite latency (ms, this CPU)"),
}


def plot_results(rows_by_model, out_dir, title_suffix="", suffix=""):
    """rows_by_model: {label: [{'mac_percentage': p, 'params': .., 'accuracy': .., ...}]}; returns the paths
    ``<quantity><suffix>.{png,html}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for quantity, (key, axis_label) in QUANTITIES.items():
        fig, ax = plt.subplots(figsize=(5, 3.6), dpi=120)
        pfig = go.Figure()
        for label, rows in rows_by_model.items():
            rows = sorted((r for r in rows if r.get(key) is not None), key=lambda r: r["mac_percentage"])
            if not rows:
                continue
            xs = [r["mac_percentage"] for r in rows]
            ys = [r[key] for r in rows]
            ax.plot(xs, ys, marker="o", label=label)
            pfig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=label))
        title = f"{quantity} vs MACs{title_suffix}"
        ax.set(xlabel="MACs (% of the full model)", ylabel=axis_label, title=title)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
        fig.tight_layout()
        png = out_dir / f"{quantity}{suffix}.png"
        with rc.atomic_path(png) as tmp:
            fig.savefig(tmp)
        plt.close(fig)
        pfig.update_layout(title=title, xaxis_title="MACs (% of the full model)", yaxis_title=axis_label,
                           template="plotly_white")
        html = out_dir / f"{quantity}{suffix}.html"
        with rc.atomic_path(html) as tmp:  # one plotly.min.js per folder, viewable offline
            pfig.write_html(tmp, include_plotlyjs="directory")
        paths += [png, html]
    return paths
