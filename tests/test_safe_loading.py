"""No unsafe deserialisation: `torch.load` only with weights_only=True, and no pickle of files.

Scans the library, the tools and every chapter. A pickle of a file that a user did not create
can run arbitrary code; `torch.load(..., weights_only=True)` and the binary CIFAR format avoid it.
"""

import ast
import re

from tools.chapters import ROOT, code_cells

SOURCES = (
    sorted((ROOT / "src").rglob("*.py"))
    + sorted((ROOT / "tools").rglob("*.py"))
    + sorted((ROOT / "book" / "_ext").rglob("*.py"))
)
CHAPTERS = sorted((ROOT / "chapters").rglob("*.md"))
UNSAFE_MODULES = {"pickle", "cPickle", "dill", "joblib", "shelve", "marshal"}


def _code_of(path):
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":  # the code cells of a MyST notebook
        return "\n".join(src for _, src in code_cells(text))
    return text


def _violations(code: str) -> list[str]:
    found = []
    try:
        tree = ast.parse(code)
    except SyntaxError:  # IPython magics in a cell: fall back to a text search
        tree = ast.parse("\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!"))))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith("torch.load") or name == "load" and "torch" in code:
                kw = {k.arg: k.value for k in node.keywords}
                if not (isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
                    found.append(f"{name}(...) without weights_only=True (line {node.lineno})")
            if (
                re.fullmatch(r"(pickle|cPickle|dill|joblib|shelve|marshal)\.(load|loads|Unpickler|open)", name)
                or name.endswith(("np.load", "numpy.load"))
                and any(k.arg == "allow_pickle" and getattr(k.value, "value", False) for k in node.keywords)
            ):
                found.append(f"{name}(...) deserialises with pickle (line {node.lineno})")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(m.split(".")[0] in UNSAFE_MODULES for m in mods):
                found.append(f"imports {', '.join(mods)} (line {node.lineno})")
    return found


def test_no_unsafe_loading_anywhere():
    problems = [f"{p.relative_to(ROOT)}: {v}" for p in SOURCES + CHAPTERS for v in _violations(_code_of(p))]
    assert not problems, "\n".join(problems)


def test_the_scanner_finds_what_it_should():
    assert _violations("import torch\ntorch.load('m.pt')")
    assert _violations("import torch\ntorch.load('m.pt', weights_only=False)")
    assert not _violations("import torch\ntorch.load('m.pt', weights_only=True)")
    assert _violations("import pickle\npickle.load(open('f', 'rb'))")
    assert _violations("import numpy as np\nnp.load('f.npy', allow_pickle=True)")
    assert not _violations("import numpy as np\nnp.load('f.npy')")
