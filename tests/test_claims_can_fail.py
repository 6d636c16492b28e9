"""Every chapter's claim checks catch the wrong implementations its front matter lists.

At the quick profile; `make mutations` measures the same at the book profile, with margins. A
claim that is only a smoke test at quick (its experiment needs the book budget) is not expected
to fail here. A nightly check (`make nightly-checks NAME=<slug>`): each mutation is one more run
of the chapter, about four per chapter, which per-landing CI cannot afford at 58 chapters; the
contract test still checks per landing that every claim is covered by a mutation.
"""

import pytest

from tools.chapters import chapters
from tools.mutate import claim_id, run_mutation

CASES = [(ch, m) for ch in chapters() for m in ch.meta.get("mutations", [])]


@pytest.mark.chapter
@pytest.mark.nightly
@pytest.mark.parametrize("ch,mutation", CASES, ids=[f"{c.slug}: {m['name']}" for c, m in CASES])
def test_claims_fail_on_a_wrong_implementation(ch, mutation):
    res = run_mutation(ch, mutation)
    assert res["claims"], f"the mutated chapter published no claims table: {res['error']}"
    got = {claim_id(c): c for c in res["claims"]}
    missing = [cid for cid in mutation["fails"] if cid not in got]
    assert not missing, f"the chapter has no claims {missing}"
    still_passing = [cid for cid in mutation["fails"] if got[cid]["passed"] and not got[cid].get("smoke")]
    assert not still_passing, (
        f"with the mutation {mutation['name']!r} these claims still hold: {still_passing}; "
        f"all results: { {cid: c['passed'] for cid, c in got.items()} }"
    )
