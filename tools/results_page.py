"""The results page of `make demo`: one table of every demo target, read from the runs' own metrics files.

    python tools/results_page.py --runs runs/mini --out runs/mini/SUMMARY.md --html runs/mini/summary.html

Each subproject declares its demo targets in `<folder>/demo.toml` (paper, the paper's figure, which metrics file
holds ours and how to print it, which plots to link); `make demo` records each stage's wall time in
`<runs>/demo_times.jsonl`. The page adds the real-artifact table of `make fidelity` and the TFLite Micro table
of `make tflm` when they exist. The HTML page is one file that opens offline (plotly.js is inlined).
"""

import csv
import glob
import html
import json
import string
import tomllib
from pathlib import Path

import run_contract as rc

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMES_FILE = "demo_times.jsonl"
NOT_RUN = "not run"


# ---- the target declarations (<folder>/demo.toml)

def load_targets(specs_root=REPO_ROOT):
    """Every ``[[target]]`` of every ``*/demo.toml`` under ``specs_root``, in folder then file order."""
    targets = []
    for spec in sorted(Path(specs_root).glob("*/demo.toml")):
        try:
            declared = tomllib.loads(spec.read_text()).get("target", [])
        except tomllib.TOMLDecodeError as exc:
            raise rc.bad_file(spec, f"not valid TOML ({exc})") from exc
        for target in declared:
            missing = [k for k in ("name", "paper", "paper_figure", "metrics", "ours") if k not in target]
            if missing:
                raise rc.bad_file(spec, f"target {target.get('name', '?')!r} lacks {', '.join(missing)}")
            targets.append({**target, "project": spec.parent.name})
    return targets


class _DottedFormatter(string.Formatter):
    """``{float_test.accuracy:.2f}`` looks up nested keys (and list indices) of a JSON document."""

    def get_field(self, field_name, args, kwargs):
        value = kwargs
        for part in field_name.split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        return value, field_name


def _read_metrics(runs, metrics):
    """The metrics documents of a target: one path, or a table of name -> path (fields then start with the name)."""
    if isinstance(metrics, str):
        return json.loads((runs / metrics).read_text()), [metrics]
    docs = {name: json.loads((runs / path).read_text()) for name, path in metrics.items()}
    return docs, list(metrics.values())


def ours(target, runs):
    """(text, metrics paths): the target's own figure formatted from its metrics, or NOT_RUN if they are absent."""
    try:
        docs, paths = _read_metrics(runs, target["metrics"])
    except FileNotFoundError:
        return NOT_RUN, []
    except json.JSONDecodeError as exc:
        return f"unreadable metrics ({exc.msg})", []
    try:
        return _DottedFormatter().format(target["ours"], **docs), paths
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return f"metrics lack {exc}", paths


def wall_times(runs):
    """Seconds per target (sum of its stages) from the demo's timing log."""
    totals = {}
    path = Path(runs) / TIMES_FILE
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by an interruption
            totals[row["target"]] = totals.get(row["target"], 0.0) + float(row["seconds"])
    return totals


def _duration(seconds):
    if seconds is None:
        return "-"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def select(targets, names):
    """The declared targets named in ``names``, in that order (the demo's); a name without a declaration is an error."""
    by_name = {t["name"]: t for t in targets}
    undeclared = [n for n in names if n not in by_name]
    rc.check(not undeclared, f"no demo.toml declares {', '.join(undeclared)} (add a [[target]] to its folder's demo.toml)")
    return [by_name[n] for n in names]


def collect(runs, targets):
    """One row per target: paper, figures, wall time and the files to link (relative to ``runs``)."""
    runs = Path(runs)
    times = wall_times(runs)
    rows = []
    for target in targets:
        text, metrics_paths = ours(target, runs)
        plots = sorted({str(Path(p).relative_to(runs)) for pattern in target.get("plots", [])
                        for p in glob.glob(str(runs / pattern))})
        rows.append({"target": target["name"], "project": target["project"], "paper": target["paper"],
                     "dataset": target.get("dataset", ""), "paper_figure": target["paper_figure"], "ours": text,
                     "seconds": times.get(target["name"]), "metrics": metrics_paths, "plots": plots})
    return rows


def _read_table_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---- rendering

def _md_links(paths):
    return ", ".join(f"[{Path(p).name}]({p})" for p in paths) or "-"


def render_markdown(rows, fidelity=None, tflm=None, title="tinyml-repro: results of `make demo` (mini data)"):
    total = sum(r["seconds"] or 0 for r in rows)
    lines = [f"# {title}", "",
             "Our figures come from the offline **mini** datasets (small stand-ins in the real formats): they show "
             "that each pipeline learns, and are not comparable with the papers' figures, which need the real data.",
             "", f"Sum of the recorded stage times: {_duration(total)} (`make demo` runs two targets at a time, so its "
             "own wall time, printed at its end, is shorter; a target's time is its stages one after the other).", "",
             "| target | paper / model | paper's figure | ours (mini data) | wall time | plots | metrics |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['target']}` | {r['paper']} | {r['paper_figure']} | {r['ours']} | "
                     f"{_duration(r['seconds'])} | {_md_links(r['plots'])} | {_md_links(r['metrics'])} |")
    for heading, table in (("Real artifacts (`make fidelity`, real data)", fidelity),
                           ("TFLite Micro arena and flash (`make tflm`)", tflm)):
        if table:
            columns = list(table[0])
            lines += ["", f"## {heading}", "", "| " + " | ".join(columns) + " |",
                      "|" + "---|" * len(columns)]
            lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in table]
    return "\n".join(lines) + "\n"


def _html_table(columns, rows):
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_links(paths):
    return ", ".join(f'<a href="{html.escape(p)}">{html.escape(Path(p).name)}</a>' for p in paths) or "-"


def render_html(rows, fidelity=None, tflm=None, title="tinyml-repro: results of make demo (mini data)"):
    import plotly.graph_objects as go
    import plotly.io as pio

    timed = [r for r in rows if r["seconds"]]
    figure = go.Figure(go.Bar(x=[r["seconds"] / 60 for r in timed], y=[r["target"] for r in timed],
                              orientation="h", text=[_duration(r["seconds"]) for r in timed]))
    figure.update_layout(title="wall time per demo target (minutes)", xaxis_title="minutes",
                         height=160 + 28 * len(timed), margin=dict(l=200))
    chart = pio.to_html(figure, include_plotlyjs=True, full_html=False, div_id="wall-time")
    main_rows = [[f"<code>{html.escape(r['target'])}</code>", html.escape(r["paper"]), html.escape(r["paper_figure"]),
                  html.escape(r["ours"]), _duration(r["seconds"]), _html_links(r["plots"]), _html_links(r["metrics"])]
                 for r in rows]
    parts = [f"<h1>{html.escape(title)}</h1>",
             "<p>Our figures come from the offline <b>mini</b> datasets: they show that each pipeline learns and are "
             "not comparable with the papers' figures.</p>",
             _html_table(["target", "paper / model", "paper's figure", "ours (mini data)", "wall time", "plots",
                          "metrics"], main_rows), chart]
    for heading, table in (("Real artifacts (make fidelity, real data)", fidelity),
                           ("TFLite Micro arena and flash (make tflm)", tflm)):
        if table:
            columns = list(table[0])
            parts += [f"<h2>{html.escape(heading)}</h2>",
                      _html_table(columns, [[html.escape(str(row.get(c, ""))) for c in columns] for row in table])]
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


# ---- command

def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="Write the results page of make demo from the runs' metrics files",
                          add_help=add_help)
    p.add_argument("--runs", type=rc.existing_dir("runs directory"), required=True,
                   help="runs root of the demo (runs/mini)")
    p.add_argument("--out", required=True, help="Markdown page (e.g. runs/mini/SUMMARY.md)")
    p.add_argument("--html", required=True, help="one-file HTML page (e.g. runs/mini/summary.html)")
    p.add_argument("--specs_root", type=rc.existing_dir("folder of the subprojects"), default=REPO_ROOT,
                   help="folder whose */demo.toml declare the targets (default: the repository)")
    p.add_argument("--fidelity", default=None, help="table.csv of make fidelity (included when it exists)")
    p.add_argument("--tflm", default=None, help="table.csv of make tflm (included when it exists)")
    p.add_argument("--targets", default=None,
                   help="only these targets, in this order (space-separated; make passes the profile's DEMO_TARGETS)")
    return p


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    targets = load_targets(args.specs_root)
    rc.check(targets, f"no */demo.toml under {args.specs_root} declares a target")
    if args.targets is not None:
        targets = select(targets, args.targets.split())
    rows = collect(args.runs, targets)
    tables = {name: _read_table_csv(path) if path and Path(path).is_file() else None
              for name, path in (("fidelity", args.fidelity), ("tflm", args.tflm))}
    rc.write_text(args.out, render_markdown(rows, **tables))
    rc.write_text(args.html, render_html(rows, **tables))
    done = sum(r["ours"] != NOT_RUN for r in rows)
    if not done:
        raise rc.RunFailed(f"none of the {len(rows)} demo targets has results under {args.runs}")
    print(f"results page: {args.out} and {args.html} ({done} of {len(rows)} targets with results)")
    return 0


if __name__ == "__main__":
    rc.entry(main)
