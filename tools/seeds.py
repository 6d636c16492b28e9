"""Seed robustness: run one chapter over several seeds in parallel and count, per claim, how many hold.

    python -m tools.seeds diffgrad --profile book --seeds 0-4     (make seeds NAME=diffgrad)

Writes `_build/reports/<slug>-<profile>-seeds.json` (the status page shows "k/n seeds") and exits
non-zero when a claim holds for fewer than `--min` seeds (default: all but one, i.e. 4 of 5).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from stochlearn.runtime import PROFILES

from .chapters import REPORTS, find


def parse_seeds(spec: str) -> list[int]:
    """'0-4' → [0, 1, 2, 3, 4]; '0,3,7' → [0, 3, 7]."""
    seeds: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise SystemExit(f"--seeds must look like 0-4 or 0,3,7; got {spec!r}")
        seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return sorted(set(seeds))


def _one(slug: str, profile: str, seed: int, threads: int) -> dict:
    os.environ["STOCHLEARN_THREADS"] = str(threads)
    from .run_chapter import run

    return run(slug, profile, seed)


def seed_report(slug: str, profile: str, seeds: list[int], jobs: int) -> dict:
    find(slug)  # fail early on an unknown chapter
    jobs = max(1, min(jobs, len(seeds)))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        reports = list(pool.map(_one, [slug] * len(seeds), [profile] * len(seeds), seeds, [threads] * len(seeds)))
    claims: dict[str, dict] = {}
    for rep in reports:
        for c in rep["claims"]:
            entry = claims.setdefault(c["claim"], {"claim": c["claim"], "held": 0, "seeds": {}})
            entry["held"] += bool(c["passed"])
            entry["seeds"][str(rep["seed"])] = {"passed": c["passed"], "detail": c["detail"]}
    out = {
        "slug": slug,
        "profile": profile,
        "seeds": seeds,
        "wall_s": {str(r["seed"]): r["wall_s"] for r in reports},
        "errors": {str(r["seed"]): r["error"] for r in reports if r["error"] and not r["claims"]},
        "claims": list(claims.values()),
        "total_s": round(time.perf_counter() - t0, 1),
    }
    path = REPORTS / f"{slug}-{profile}-seeds.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, ensure_ascii=False))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("slug")
    ap.add_argument("--profile", default="book", choices=PROFILES)
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--min", type=int, default=None, help="seeds a claim must hold for (default: n - 1)")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    need = args.min if args.min is not None else max(1, len(seeds) - 1)
    rep = seed_report(args.slug, args.profile, seeds, args.jobs)
    n = len(seeds)
    print(f"{args.slug} · {args.profile} · seeds {args.seeds}: {rep['total_s']:.0f} s in all")
    for c in rep["claims"]:
        flag = "" if c["held"] >= need else f"   FAILS: needs {need}/{n}"
        print(f"  {c['held']}/{n}  {c['claim'][:90]}{flag}")
    for seed, err in rep["errors"].items():
        print(f"  seed {seed} errored: {err}", file=sys.stderr)
    bad = [c for c in rep["claims"] if c["held"] < need] or rep["errors"] or not rep["claims"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
