"""The kernel start-up guard makes a chapter that tries to connect fail with a clear message."""

from pathlib import Path

import pytest

from tools.chapters import ROOT

IPYTHONDIR = ROOT / "tools" / "ipython"


def _execute(source: str, env: dict[str, str]):
    import nbformat

    from tools.notebooks import execute

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    execute(nb, env=env, allow_errors=True, timeout=60)
    return [o for o in nb.cells[0].outputs if o.output_type == "error"]


@pytest.mark.chapter
def test_a_connection_fails_with_a_message_that_names_the_chapter(tmp_path):
    errors = _execute(
        "import urllib.request\nurllib.request.urlopen('http://example.org', timeout=5)",
        {"IPYTHONDIR": str(IPYTHONDIR), "STOCHLEARN_NO_NETWORK": "1", "STOCHLEARN_CHAPTER": "some-chapter"},
    )
    assert errors, "the connection was not refused"
    assert "network access is disabled for chapters: some-chapter" in errors[0].evalue


@pytest.mark.chapter
def test_loopback_stays_open_under_the_guard():
    code = (
        "import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "c = socket.create_connection(s.getsockname()); c.close(); s.close()"
    )
    assert not _execute(code, {"IPYTHONDIR": str(IPYTHONDIR), "STOCHLEARN_NO_NETWORK": "1"})


def test_the_startup_file_is_where_ipython_looks():
    assert (Path(IPYTHONDIR) / "profile_default" / "startup" / "00-no-network.py").exists()
