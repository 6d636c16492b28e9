"""The nbgrader assignments (`make assignments`), graded by nbgrader itself.

For one chapter: nbgrader generates the release version from our source notebook, then
autogrades two submissions at the quick profile. A full solution must score every point; the
untouched release must score zero on the autograded cells and raise nowhere but in the exercise
cells. The other tests check, for every chapter, the nbgrader metadata and that nbgrader's release
and our student notebook stub out the same lines.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.assignments import assignment_notebook, points_of, source_path
from tools.chapters import chapters
from tools.notebooks import BEGIN_SOLUTION, END_SOLUTION, QUICK_ENV, clean_notebook, student_notebook, write

CHAPTERS = chapters()
IDS = [c.slug for c in CHAPTERS]
#: The chapter graded end to end: one of the fastest at the quick profile.
GRADED = "tpsgd"


def _nbgrader(course: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "nbgrader",
        *args,
        f"--CourseDirectory.root={course}",
        f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}",
        "--Execute.timeout=300",
        "--ExecutePreprocessor.kernel_name=python3",
    ]
    # nbgrader runs `alembic` from PATH: the one beside this interpreter (.venv/bin, not on PATH in CI)
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, **(env or {}), "PATH": path}
    res = subprocess.run(cmd, cwd=course, capture_output=True, text=True, env=env)
    assert res.returncode == 0, f"nbgrader {args[0]} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _strip_markers(src: str) -> str:
    return "\n".join(ln for ln in src.split("\n") if ln.strip() not in (BEGIN_SOLUTION, END_SOLUTION))


@pytest.mark.parametrize("ch", CHAPTERS, ids=IDS)
def test_source_notebook_marks_solutions_and_grades_checks(ch):
    nb = assignment_notebook(ch)
    nbformat.validate(nb)
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    ids = [m["grade_id"] for m in meta if m]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    for cell, m in zip(nb.cells, meta):
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            assert m["solution"] and not m["grade"] and not m["locked"]
            assert cell.source.count(BEGIN_SOLUTION) == cell.source.count(END_SOLUTION) >= 1
            compile(cell.source, "<solution>", "exec")
        elif "check" in tags:
            assert m["grade"] and m["locked"] and not m["solution"] and m["points"] == points_of(cell.source)
        else:
            assert m is None
            assert BEGIN_SOLUTION not in cell.source
        if cell.cell_type == "markdown":
            assert "#### Solution" not in cell.source, "the solution's prose must not reach students"


def test_points_count_the_self_checks():
    assert points_of("sl.exercises.check('a', f)\nsl.exercises.check(\n 'b', g)") == 2
    with pytest.raises(ValueError, match="sl.exercises.check"):
        points_of("assert f()")


@pytest.mark.chapter
@pytest.mark.nbgrader
def test_nbgrader_grades_a_solution_full_and_an_untouched_release_zero(tmp_path):
    from nbgrader.api import Gradebook

    ch = next(c for c in CHAPTERS if c.slug == GRADED)
    course = tmp_path / "course"
    source = write(assignment_notebook(ch), source_path(ch, course))
    _nbgrader(course, "generate_assignment", ch.slug, "--force")
    release = nbformat.read(course / "release" / ch.slug / source.name, as_version=4)

    # what students get: our student notebook stubs out exactly the lines nbgrader's release does
    ours = [
        c.source.split("\n")[1:]
        for c in student_notebook(clean_notebook(ch)).cells
        if "solution" in c.metadata.get("tags", [])
    ]
    theirs = [c.source.split("\n") for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    same = lambda lines: [  # noqa: E731
        re.sub(r"raise NotImplementedError\(.*\)$", "raise NotImplementedError()", ln) for ln in lines
    ]
    assert [same(x) for x in ours] == theirs

    # two submissions: the full solution (the source's answers without the markers) and the release
    solved = nbformat.from_dict(release)
    answers = iter(
        _strip_markers(c.source)
        for c in nbformat.read(source, as_version=4).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    )
    for cell in solved.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = next(answers)
    for student, nb in [("solved", solved), ("untouched", release)]:
        write(nb, course / "submitted" / student / ch.slug / source.name)
    _nbgrader(course, "autograde", ch.slug, "--force", env=QUICK_ENV)

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        full = gb.find_submission(ch.slug, "solved")
        zero = gb.find_submission(ch.slug, "untouched")
        assert full.max_score > 0 and full.score == full.max_score, (full.score, full.max_score)
        assert zero.score == 0, zero.score
    for student, allowed in [("solved", set()), ("untouched", {"solution", "check"})]:
        graded = nbformat.read(course / "autograded" / student / ch.slug / source.name, as_version=4)
        errors = [
            (c.metadata.get("tags", []), o.ename, o.evalue[:160])
            for c in graded.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if o.output_type == "error"
        ]
        outside = [e for e in errors if not allowed & set(e[0])]
        assert not outside, f"{student}: errors outside the exercises: {outside}"
        for tags, ename, _ in errors:
            assert ename in {"NotImplementedError", "ExerciseNotDone"}, (student, tags, ename)
    assert any(errors), "the untouched release raised nowhere"
