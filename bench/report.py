"""LATEST.md (the table) and LATEST.png (throughput and latency) from the results of one run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ENGINES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _n(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _ratio(value: float | None, limit: float | None) -> str:
    if value is None or not limit:
        return "—"
    return f"{value / limit:.2f}"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("**met**" if ok else "**not met**")


def markdown(run: dict[str, Any]) -> str:
    machine, rows, commands = run["machine"], run["rows"], run["commands"]
    out = [
        "# Benchmark results",
        "",
        f"- **Date**: {run['date']} (whole run {run['seconds']:.0f} s; the read database was "
        f"{run['reads_note']})",
        f"- **Machine**: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gib']:.1f} GiB memory "
        f"(/proc/cpuinfo, /proc/meminfo), {machine['kernel']}; load generator (wrk) on the same machine",
        f"- **Software**: Python {machine['python']}, SQLite {machine['sqlite']}, PostgreSQL "
        f"{machine.get('postgres', {}).get('server_version', '—')} "
        f"(shared_buffers {machine.get('postgres', {}).get('shared_buffers', '—')}, synchronous_commit "
        f"{machine.get('postgres', {}).get('synchronous_commit', '—')}), "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items()),
        f"- **Server code**: commit {machine['commit']}"
        + (f"; **uncommitted changes under server/ were present** ({machine['server_dirty']})"
           if machine["server_dirty"] else ", no uncommitted changes under server/"),
        f"- **Command**: `{run['command']}`; durations scaled to fit 10 minutes on 2 cores: {run['durations']}",
        "",
        "Each row's command is listed under it by number; ratios are the figure divided by the limit named "
        "in the row, both measured in this run.",
        "",
        _summary(rows),
        "",
        "| # | scenario | engine | server | figure | limit | ratio | target | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, row in enumerate(rows, 1):
        out.append(
            f"| {i} | {row['scenario']} | {ENGINES.get(row['engine'], row['engine'])} | {row['server']} | "
            f"{row['figure']} | {row.get('limit_text', '—')} | {row.get('ratio_text', '—')} | "
            f"{row.get('target_text', '—')} | {_met(row.get('met'))}"
            + (f": {row['reason']}" if row.get("reason") else "") + " |"
        )
    out += ["", "## What was measured beside the figures", ""]
    out += [f"- {note}" for note in run["notes"]]
    out += ["", "## Commands", ""]
    for i, row in enumerate(rows, 1):
        out.append(f"{i}. " + "; ".join(f"`{c}`" for c in row["commands"]))
    out += ["", "Commands shared by the rows above:", ""]
    out += [f"- {name}: `{command}`" for name, command in commands.items()]
    out.append("")
    return "\n".join(out)


def _summary(rows: list[dict[str, Any]]) -> str:
    judged = [r for r in rows if r.get("met") is not None]
    met = [r for r in judged if r["met"]]
    missed = [f"{r['scenario'].split(' (')[0]} on {ENGINES.get(r['engine'], r['engine'])} ({r['server']})"
              for r in judged if not r["met"]]
    disturbed = sum("**disturbed**" in r["figure"] for r in rows)
    text = f"**Targets of issue 5: {len(met)} of {len(judged)} met.**"
    if missed:
        text += " Not met: " + "; ".join(missed) + "."
    if disturbed:
        text += (f" {disturbed} figure{'s were' if disturbed > 1 else ' was'} disturbed by other processes' CPU use "
                 "(marked).")
    return text


def chart(run: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = run["chart"]
    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    colors = {"sqlite": "#4C72B0", "postgres": "#DD8452", "limit": "#A0A0A0", "bare": "#55A868"}

    def bars(ax, entries, title, unit, target=None, log=False):  # type: ignore[no-untyped-def]
        labels = [e["label"] for e in entries]
        values = [e["value"] or 0 for e in entries]
        ax.bar(range(len(values)), values, color=[colors.get(e["color"], "#888") for e in entries])
        for x, v in enumerate(values):
            ax.text(x, v, f"{v:,.0f}" if v >= 10 else f"{v:.1f}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(values)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        if log:
            ax.set_yscale("log")
        if target:
            ax.axhline(target[0], color="red", linestyle="--", linewidth=1)
            ax.text(len(values) - 0.5, target[0], target[1], color="red", ha="right", va="bottom", fontsize=8)

    batch = [e for e in charts["batch"] if e["color"] != "bare"]
    off_chart = [e for e in charts["batch"] if e["color"] == "bare"]
    bare_note = "".join(f"\n{e['label']}: {e['value']:,.0f} items/s, off the chart" for e in off_chart)
    bars(axes[0][0], batch, "Batch ingestion: items/s (100-item batches) beside raw insert" + bare_note, "items/s")
    axes[0][0].set_ylim(0, max([50_000] + [e["value"] or 0 for e in batch]) * 1.15)
    for value, label, color in ((50_000, "SQLite target 50,000", colors["sqlite"]),
                                (30_000, "PostgreSQL target 30,000", colors["postgres"])):
        axes[0][0].axhline(value, color=color, linestyle="--", linewidth=1)
        axes[0][0].text(-0.4, value, label, color=color, va="bottom", fontsize=8)
    bars(axes[0][1], charts["single"], "Single calls: POST /v1/track/event, requests/s", "requests/s",
         target=(5000, "target 5,000"))
    ax = axes[1][0]
    lat = charts["latency"]
    xs = range(len(lat))
    ax.bar([x - 0.2 for x in xs], [e["p50"] or 0 for e in lat], width=0.4, label="p50",
           color=[colors[e["color"]] for e in lat], alpha=0.55)
    ax.bar([x + 0.2 for x in xs], [e["p99"] or 0 for e in lat], width=0.4, label="p99",
           color=[colors[e["color"]] for e in lat])
    for x, e in zip(xs, lat):
        if e["p99"]:
            ax.text(x + 0.2, e["p99"], f"{e['p99']:.0f}" if e["p99"] >= 10 else f"{e['p99']:.1f}", ha="center",
                    va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(list(xs), [e["label"] for e in lat], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ms (log)")
    ax.set_title("Latency, p50 (light) and p99 (dark); targets: single p99 < 25 ms, profile p99 < 50 ms",
                 fontsize=10)
    ax.axhline(25, color="red", linestyle=":", linewidth=1)
    ax.axhline(50, color="red", linestyle="--", linewidth=1)
    bars(axes[1][1], charts["memory"], "Server memory: VmRSS peak during the scenario (bars), VmHWM (dots)", "MB",
         target=(300, "target 300 MB"))
    axes[1][1].plot(range(len(charts["memory"])), [e.get("hwm", 0) for e in charts["memory"]], "k.", markersize=8)
    machine = run["machine"]
    disturbed = sum("**disturbed**" in row["figure"] for row in run["rows"])
    fig.suptitle(
        f"Salesmachine self-hosted, {run['date']}: {machine['cores']} cores, {machine['memory_gib']:.1f} GiB, "
        f"commit {machine['commit']}{' (server/ had uncommitted changes)' if machine['server_dirty'] else ''}"
        + (f"\n{disturbed} figures were disturbed by other processes' CPU use (see LATEST.md)" if disturbed else ""),
        fontsize=12)
    fig.text(0.01, 0.004, f"command: {run['command']}; each figure's own command is in LATEST.md\n"
             f"{run['durations']}", fontsize=8)
    fig.tight_layout(rect=(0, 0.035, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
