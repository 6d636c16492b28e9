"""Run a chapter with deliberately wrong implementations and measure by how much its claims fail.

A chapter's front matter lists `stochlearn.mutations`: each has a `name`, the claim ids it must
make `fails`, and the wrong implementation, inserted right after the `sl.setup(...)` cell, either
as `code` (a line that patches the library) or as `replace`, a source mutation: in the source of a
library function or method (`in: sl.optim.DiffGrad.step`), each `old` text (which must occur
exactly once) becomes `new`, and the edited function replaces the original, there and wherever a
stochlearn module binds the same function under another name. A mutation that takes
the method out altogether says which words of the claim labels name the method (`removes`).
`tests/test_claims_can_fail.py` runs them at the quick profile.

    python -m tools.mutate diffgrad --profile book --seed 0      (make mutations NAME=diffgrad)

runs the chapter once as it is and once per mutation, in parallel, and reports, for every claim a
mutation must fail, each condition's value in the correct run, its threshold and its value in the
mutated run. A mutation must miss the threshold by a clear margin: by at least `CLEAR` (a
quarter) of the distance between the correct and the mutated value, so that the threshold does
not sit right next to the wrong answer. It writes `_build/reports/<slug>-<profile>-mutations.json`
(the status page shows it) and exits non-zero when a listed claim still holds, is failed only
narrowly, or a mutated run crashes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

from stochlearn.runtime import PROFILES

from .chapters import REPORTS, Chapter, find, library_key, to_notebook
from .report import claims_of, error_of

#: A mutated condition fails clearly when it misses its threshold by at least this fraction of the
#: distance between the correct run's value and the mutated value.
CLEAR = 0.25


def claim_id(claim: dict[str, Any] | str) -> str:
    """A claim's id from its result or its label: 'C3 (paper ...) ...' → 'C3'."""
    return (claim if isinstance(claim, str) else claim["claim"]).split()[0]


def mutation_cell(mutation: dict) -> str:
    """The code cell that applies a mutation of the front matter (see the module docstring)."""
    if "code" in mutation:
        return f"# mutation: {mutation['name']}\n{mutation['code']}"
    spec = mutation["replace"]
    owner, _, attr = spec["in"].rpartition(".")
    edits = spec.get("edits") or [{"old": spec["old"], "new": spec["new"]}]
    return "\n".join(
        [
            f"# mutation: {mutation['name']} (a source mutation of {spec['in']})",
            "import inspect as _inspect, linecache as _linecache, sys as _sys, textwrap as _textwrap",
            f"_fn = _inspect.unwrap({spec['in']})",
            "_src = _textwrap.dedent(_inspect.getsource(_fn))",
            f"for _old, _new in {[(e['old'], e['new']) for e in edits]!r}:",
            "    assert _src.count(_old) == 1, f'the mutation expects {_old!r} once in the source'",
            "    _src = _src.replace(_old, _new)",
            "_ns = dict(vars(_sys.modules[_fn.__module__]))",
            f"_file = {'<mutation of ' + spec['in'] + '>'!r}",
            "_linecache.cache[_file] = (len(_src), None, _src.splitlines(True), _file)  # for sl.show",
            "exec(compile(_src, _file, 'exec'), _ns)",
            f"_before = {spec['in']}",
            f"setattr({owner}, {attr!r}, _ns[{attr!r}])",
            "# the edited function also replaces the original wherever the library binds it under",
            "# another name (a package's re-export, `from .knn import ksg_mi` in a sibling module)",
            "for _mod in [m for n, m in list(_sys.modules.items()) if n.split('.')[0] == 'stochlearn']:",
            "    for _k, _v in list(vars(_mod).items()):",
            "        if _v is _before:",
            f"            setattr(_mod, _k, _ns[{attr!r}])",
        ]
    )


def run_mutation(ch: Chapter, mutation: dict | None, profile: str = "quick", seed: int = 0) -> dict[str, Any]:
    """Execute the chapter with the mutation (None: as it is); its claims, error and wall time.

    A failed claim raises an AssertionError inside the chapter, which is what a mutation should
    cause; any other error is returned in ``error``. A run that published no claims table
    crashed before its claims could be judged.
    """
    import papermill as pm

    with tempfile.TemporaryDirectory() as tmp:
        src = to_notebook(ch, Path(tmp) / f"{ch.slug}.ipynb")
        if mutation is not None:
            nb = nbformat.read(src, as_version=4)
            at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "sl.setup(" in c.source)
            nb.cells.insert(at + 1, nbformat.v4.new_code_cell(mutation_cell(mutation)))
            nbformat.write(nb, src)
        out = Path(tmp) / "out.ipynb"
        os.environ.setdefault("STOCHLEARN_QUIET", "1")
        error = None
        t0 = time.perf_counter()
        try:
            pm.execute_notebook(
                str(src),
                str(out),
                parameters={"profile": profile, "seed": seed},
                kernel_name="python3",
                progress_bar=False,
                cwd=str(ch.path.parent),
            )
        except pm.PapermillExecutionError as err:
            if err.ename != "AssertionError" or "claims failed" not in str(err.evalue):
                error = f"{err.ename}: {err.evalue}"
        wall = time.perf_counter() - t0
        nb = nbformat.read(out, as_version=4) if out.exists() else None
    claims = (claims_of(nb) if nb is not None else None) or []
    if error is None and not claims:
        error = (error_of(nb) if nb is not None else None) or "the chapter published no claims table"
    return {"claims": claims, "error": error, "wall_s": round(wall, 1)}


def _number(x: Any) -> Any:
    """A number from the claims JSON, where the kernel writes an infinity as the string 'inf'."""
    return float(x) if isinstance(x, str) else x


def judge_condition(correct: dict, mutated: dict | None) -> dict[str, Any]:
    """One condition of one claim: correct value, threshold, mutated value, miss and verdict."""
    correct = {**correct, "value": _number(correct["value"]), "margin": _number(correct["margin"])}
    if mutated is not None:
        mutated = {**mutated, "value": _number(mutated["value"]), "margin": _number(mutated["margin"])}
    out = {
        "name": correct["name"],
        "op": correct["op"],
        "threshold": correct["threshold"],
        "correct": correct["value"],
        "correct_margin": correct["margin"],
        "mutated": None if mutated is None else mutated["value"],
        "passed": None if mutated is None else mutated["passed"],
    }
    if mutated is None or mutated["passed"]:
        out.update(miss=None, separation=None, clear=False)
        return out
    if mutated["value"] is None:  # a NaN: the mutation broke the number outright
        out.update(miss=math.inf, separation=math.inf, clear=True)
        return out
    miss = -mutated["margin"]
    sep = abs(correct["value"] - mutated["value"]) if correct["value"] is not None else math.inf
    out.update(miss=miss, separation=sep, clear=miss > 0 and miss >= CLEAR * sep)
    return out


def judge(correct: dict, mutated: dict) -> dict[str, Any]:
    """A listed claim under a mutation: 'clear', 'narrow', 'holds' (not caught) or 'unjudged'."""
    mut = mutated.get("conditions", [])
    conds = [judge_condition(c, mut[i] if i < len(mut) else None) for i, c in enumerate(correct.get("conditions", []))]
    if mutated["passed"]:
        verdict = "holds"
    elif not conds:
        verdict = "unjudged"  # a claim without conditions: no number to measure the miss by
    else:
        verdict = "clear" if any(c["clear"] for c in conds) else "narrow"
    return {"claim": correct["claim"], "verdict": verdict, "conditions": conds}


def _one(slug: str, mutation: dict | None, profile: str, seed: int, threads: int) -> dict[str, Any]:
    os.environ["STOCHLEARN_THREADS"] = str(threads)
    return run_mutation(find(slug), mutation, profile, seed)


def margins(slug: str, profile: str = "book", seed: int = 0, jobs: int = 2) -> dict[str, Any]:
    """Run the chapter and each of its mutations; judge every claim each mutation must fail."""
    ch = find(slug)
    mutations = ch.meta.get("mutations", [])
    runs: list[dict | None] = [None, *mutations]
    jobs = max(1, min(jobs, len(runs)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(
            pool.map(_one, [slug] * len(runs), runs, [profile] * len(runs), [seed] * len(runs), [threads] * len(runs))
        )
    correct, *mutated = results
    by_id = {claim_id(c): c for c in correct["claims"]}
    rows = []
    for m, res in zip(mutations, mutated):
        got = {claim_id(c): c for c in res["claims"]}
        verdicts = []
        for cid in m["fails"]:
            if cid not in by_id or cid not in got:
                verdicts.append({"claim": cid, "verdict": "missing", "conditions": []})
            else:
                verdicts.append(judge(by_id[cid], got[cid]))
        others = [cid for cid, c in got.items() if not c["passed"] and cid not in m["fails"]]
        rows.append(
            {
                "name": m["name"],
                "fails": m["fails"],
                "wall_s": res["wall_s"],
                "error": res["error"],
                "verdicts": verdicts,
                "also_fails": others,
                "claims": res["claims"],
            }
        )
    return {
        "slug": slug,
        "profile": profile,
        "seed": seed,
        "library_key": library_key(),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total_s": round(time.perf_counter() - t0, 1),
        "clear_fraction": CLEAR,
        "correct": {"wall_s": correct["wall_s"], "error": correct["error"], "claims": correct["claims"]},
        "mutations": rows,
    }


def problems(rep: dict[str, Any]) -> list[str]:
    """Everything that makes `make mutations` fail."""
    out = []
    if rep["correct"]["error"]:
        out.append(f"the chapter itself failed: {rep['correct']['error']}")
    for m in rep["mutations"]:
        if not m["claims"]:
            out.append(f"{m['name']}: the mutated chapter crashed before its claims ({m['error'][:200]})")
            continue
        for v in m["verdicts"]:
            if v["verdict"] != "clear":
                out.append(f"{m['name']}: {claim_id(v['claim'])} {v['verdict']}")
    return out


def number_text(x: Any, fmt: str = ".4g") -> str:
    """A report number for a table: None as a dash, a pair as [lo, hi]."""
    if x is None:
        return "—"
    if isinstance(x, list):
        return f"[{number_text(x[0], fmt)}, {number_text(x[1], fmt)}]"
    return "inf" if x == math.inf else format(x, fmt)


def render(rep: dict[str, Any]) -> str:
    from stochlearn.claims import OPS

    lines = [
        f"{rep['slug']} · {rep['profile']} · seed {rep['seed']} · {rep['total_s']:.0f} s in all "
        f"(a clear miss: ≥ {rep['clear_fraction']:g} × |correct − mutated|)"
    ]
    for m in rep["mutations"]:
        lines.append(f"\n  mutation: {m['name']}  ({m['wall_s']:.0f} s; must fail {', '.join(m['fails'])})")
        if not m["claims"]:
            lines.append(f"    CRASHED: {m['error'][:300]}")
            continue
        for v in m["verdicts"]:
            cid = claim_id(v["claim"])
            lines.append(f"    {cid}: {v['verdict'].upper() if v['verdict'] != 'clear' else 'clear'}")
            for c in v["conditions"]:
                n = number_text
                miss = "" if c["miss"] is None else f"  miss {n(c['miss'])} of {n(c['separation'])}"
                lines.append(
                    f"      {c['name']:<34} correct {n(c['correct']):>10}  "
                    f"{OPS[c['op']]} {n(c['threshold']):<16} mutated {n(c['mutated']):>10}{miss}"
                )
        if m["also_fails"]:
            lines.append(f"    (also fails, not listed: {', '.join(m['also_fails'])})")
    return "\n".join(lines)


def report_file(slug: str, profile: str) -> Path:
    return REPORTS / f"{slug}-{profile}-mutations.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("slug")
    ap.add_argument("--profile", default="book", choices=PROFILES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)
    rep = margins(args.slug, args.profile, args.seed, args.jobs)
    path = report_file(args.slug, args.profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep, indent=1, ensure_ascii=False))
    print(render(rep))
    bad = problems(rep)
    for b in bad:
        print(f"FAILED: {b}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
