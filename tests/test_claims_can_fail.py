"""Every chapter's claim checks catch the wrong implementations its front matter lists."""

import pytest

from tools.chapters import chapters
from tools.mutate import run_mutation

CASES = [(ch, m) for ch in chapters() for m in ch.meta.get("mutations", [])]


@pytest.mark.chapter
@pytest.mark.parametrize("ch,mutation", CASES, ids=[f"{c.slug}: {m['name']}" for c, m in CASES])
def test_claims_fail_on_a_wrong_implementation(ch, mutation):
    results = run_mutation(ch, mutation)
    assert results, "the mutated chapter published no claims table"
    still_passing = [cid for cid in mutation["fails"] if results.get(cid, True)]
    assert not still_passing, (
        f"with the mutation {mutation['name']!r} these claims still hold: {still_passing}; "
        f"all results: {results}")
