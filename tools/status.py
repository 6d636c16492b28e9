"""Generate the reproduction status page from the reports of the last runs.

    python -m tools.status      → book/_generated/status.md (included by book/status.md)

First, one row per part of the curriculum: its chapters in the toc against those planned, and the
claims held in its chapters' last `book` runs and over the seeds of their last `make seeds` runs.
Then one row per chapter of the toc: its paper, the wall time of its last run per profile against its
budget, and each claim of its last `book` run (else its last `quick` run) with the measured detail.
"""

from __future__ import annotations

import html
from pathlib import Path

from .chapters import ROOT, chapters
from .report import BUDGET_TOLERANCE, load_mutation_reports, load_reports, load_seed_reports, over_budget

OUT = ROOT / "book" / "_generated" / "status.md"


def _time(rep: dict | None, budget: float | None) -> str:
    if rep is None:
        return "—"
    mark = " ⚠ over budget" if over_budget(rep["wall_s"], budget) else ""  # today's budget, not the report's
    return f"{rep['wall_s']:.0f}{f' / {budget:g}' if budget else ''} s{mark}"


def _cell(x: str) -> str:
    return x.replace("|", "\\|")


def mutation_table(rep: dict) -> list[str]:
    """The margins of `make mutations`: per mutation and claim it must fail, each condition."""
    from stochlearn.claims import OPS

    from .mutate import claim_id, number_text

    out = [
        f"\nWrong implementations at `{rep['profile']}`, seed {rep['seed']} (`make mutations`, "
        f"finished {rep['finished']}); a clear miss is at least {rep['clear_fraction']:g} of the "
        "distance between the correct and the mutated value.\n",
        "| mutation | claim | condition | correct | threshold | mutated | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in rep["mutations"]:
        if not m["claims"]:
            out.append(f"| {_cell(m['name'])} | | | | | | crashed: `{_cell((m['error'] or '')[:60])}` |")
            continue
        for v in m["verdicts"]:
            cid = claim_id(v["claim"])
            for c in v["conditions"] or [None]:
                if c is None:
                    out.append(f"| {_cell(m['name'])} | {cid} | | | | | {v['verdict']} |")
                    continue
                verdict = "holds" if c["passed"] else "misses clearly" if c["clear"] else "misses narrowly"
                if v["verdict"] != "clear":  # the claim as a whole is not clearly caught
                    verdict = f"⚠ {verdict} (claim {v['verdict']})"
                n = number_text
                out.append(
                    f"| {_cell(m['name'])} | {cid} | {_cell(c['name'])} | {n(c['correct'])} "
                    f"| {OPS[c['op']]} {n(c['threshold'])} | {n(c['mutated'])} | {verdict} |"
                )
    return out


#: A claim is robust when it holds for this share of the seeds of a sweep (4 of 5).
SEEDS_TO_HOLD = 0.8


def part_summary(latest: dict[tuple[str, str], dict], seeds: dict[tuple[str, str], dict], graph=None) -> list[str]:
    """One row per part of the curriculum (the groups of tools/curriculum_graph.py): chapters in
    the toc of those planned; the claims that held in the chapters' latest `book` reports; and,
    from the seed-sweep reports, the claims that held for 4 of 5 seeds ("—" where none exists)."""
    from .curriculum_graph import read_graph

    graph = graph or read_graph()
    out = ["| part | chapters | claims held (book) | robust over seeds |", "|---|---|---|---|"]
    for g in graph.groups:
        n_claims = n_ok = n_run = 0
        n_swept_claims = n_robust = n_swept = 0
        for n in g.nodes:
            rep = latest.get((n.slug, "book"))
            if rep is not None and rep["claims"]:
                n_run += 1
                n_claims += len(rep["claims"])
                n_ok += sum(bool(c["passed"]) for c in rep["claims"])
            sr = seeds.get((n.slug, "book"))
            if sr is not None and sr["claims"]:
                n_swept += 1
                n_swept_claims += len(sr["claims"])
                n_robust += sum(c["held"] >= SEEDS_TO_HOLD * len(sr["seeds"]) for c in sr["claims"])
        of = lambda k: f" ({k} of {len(g.nodes)} chapters)" if k < len(g.nodes) else ""  # noqa: E731
        claims = f"{'✓' if n_ok == n_claims else '✗'} {n_ok}/{n_claims}{of(n_run)}" if n_run else "—"
        robust = (
            f"{'✓' if n_robust == n_swept_claims else '✗'} {n_robust}/{n_swept_claims}{of(n_swept)}" if n_swept else "—"
        )
        out.append(
            f"| {{doc}}`{_cell(g.caption)} <../{g.docname}>` | {len(g.nodes)} of "
            f"{len(g.nodes) + len(g.planned)} | {claims} | {robust} |"
        )
    return out


def render() -> str:
    reports = load_reports()
    latest: dict[tuple[str, str], dict] = {}
    # per chapter and profile: the newest run with seed 0 (what the book shows), else the newest run
    for rep in sorted(reports, key=lambda r: (r["seed"] == 0, r["finished"])):
        latest[rep["slug"], rep["profile"]] = rep
    seeds = load_seed_reports()
    margins = load_mutation_reports()
    lines = [
        "| chapter | paper | quick | book | claims | seeds |",
        "|---|---|---|---|---|---|",
    ]
    details = []
    for ch in chapters():
        paper = ch.meta.get("paper", {})
        q, b = latest.get((ch.slug, "quick")), latest.get((ch.slug, "book"))
        shown = b or q
        if shown is None:
            claims = "not run yet"
        elif shown["error"] and not shown["claims"]:
            claims = f"✗ error: `{shown['error'][:80]}`"
        else:
            n_ok = sum(c["passed"] for c in shown["claims"])
            mark = "✓" if n_ok == len(shown["claims"]) else "✗"
            claims = f"{mark} {n_ok}/{len(shown['claims'])} ({shown['profile']}, seed {shown['seed']})"
        title = html.escape(paper.get("title", ch.slug)).replace("|", "\\|")
        sr = seeds.get((ch.slug, "book"))
        held = {c["claim"]: c["held"] for c in sr["claims"]} if sr else {}
        robust = f"{min(held.values())}/{len(sr['seeds'])} seeds" if held else "—"
        lines.append(
            f"| {{doc}}`{ch.slug} <../{ch.docname}>` | {title} ({paper.get('year', '')}) "
            f"| {_time(q, ch.budget('quick'))} | {_time(b, ch.budget('book'))} | {claims} | {robust} |"
        )
        if shown and shown["claims"]:
            details.append(
                f"\n### {ch.slug}\n\nLast `{shown['profile']}` run, seed {shown['seed']}, "
                f"{shown['wall_s']:.1f} s, finished {shown['finished']} on {shown['machine']}.\n"
            )
            details.append("| | claim | measured | seeds |\n|---|---|---|---|")
            for c in shown["claims"]:
                claim, detail = _cell(c["claim"]), _cell(c["detail"])
                k = f"{held[c['claim']]}/{len(sr['seeds'])}" if c["claim"] in held else "—"
                details.append(f"| {'✓' if c['passed'] else '✗'} | {claim} | `{detail}` | {k} |")
        if (ch.slug, "book") in margins:
            details += mutation_table(margins[ch.slug, "book"])
    head = (
        "Times are wall-clock seconds of the last run against the chapter's budget "
        "(`quick`: one core; `book`: one core per chapter, two chapters side by side on two "
        f"cores); a run over {BUDGET_TOLERANCE:g} × its budget is marked ⚠. "
        "*Seeds*: for how many of the seeds of the last `make seeds` run (book profile) the "
        "chapter's weakest claim held; a chapter passes with every claim holding for 4 of 5.\n"
    )
    parts = (
        "## Per part\n\n*Chapters*: those in the book, of those the curriculum plans. "
        "*Claims held*: over the part's chapters, the claims that held in each one's last `book` "
        "run. *Robust over seeds*: over the chapters with a `make seeds` run, the claims that held "
        f"for at least {SEEDS_TO_HOLD:.0%} of the seeds (4 of 5). A count over fewer chapters "
        "than the part has says so.\n\n" + "\n".join(part_summary(latest, seeds)) + "\n"
    )
    return (
        parts
        + "\n## Chapters\n\n"
        + head
        + "\n"
        + "\n".join(lines)
        + "\n\n## Claims of each chapter\n"
        + "\n".join(details)
        + "\n"
    )


def main() -> Path:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render(), encoding="utf-8")
    return OUT


if __name__ == "__main__":
    print(main().relative_to(ROOT))
