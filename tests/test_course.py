"""Course settings: badges and install URLs come from one setting and one command rewrites them."""

import shutil

import nbformat
import pytest

from lorajam import course


def test_colab_url_and_install_spec():
    conf = {"repo_url": "https://github.com/someone/jam", "branch": "dev"}
    assert course.colab_url("notebooks/a.ipynb", conf) == (
        "https://colab.research.google.com/github/someone/jam/blob/dev/notebooks/a.ipynb"
    )
    assert course.install_spec(conf) == "lorajam @ git+https://github.com/someone/jam@dev"


def test_header_requires_standard_parameters():
    with pytest.raises(ValueError, match="SEED"):
        course.header_cells("notebooks/a.ipynb", "T", ["x"], "QUICK = False\nMODEL = 'auto'")


def test_sync_badges_rewrites_every_notebook_and_readme(tmp_path, repo_root):
    shutil.copy(repo_root / "pyproject.toml", tmp_path / "pyproject.toml")
    old = course.settings(repo_root)
    nb_path = course.write_notebook(
        tmp_path / "notebooks" / "n.ipynb",
        course.header_cells("notebooks/n.ipynb", "T", ["x"], "QUICK = False\nMODEL = 'auto'\nSEED = 0", conf=old),
    )
    (tmp_path / "README.md").write_text(f"[badge]({course.colab_url('notebooks/n.ipynb', old)})\n")
    text = (tmp_path / "pyproject.toml").read_text().replace(old["repo_url"], "https://github.com/new-org/new-repo")
    (tmp_path / "pyproject.toml").write_text(text)

    changed = course.sync_badges(tmp_path)

    assert set(changed) == {nb_path, tmp_path / "README.md"}
    new = course.settings(tmp_path)
    nb_text = nb_path.read_text()
    assert course.colab_url("notebooks/n.ipynb", new) in nb_text
    assert course.install_spec(new) in nbformat.read(nb_path, as_version=4).cells[2].source
    assert old["repo_url"] not in nb_text
    assert "new-org/new-repo/blob/main/notebooks/n.ipynb" in (tmp_path / "README.md").read_text()
    assert course.sync_badges(tmp_path) == []  # idempotent


def test_committed_badges_are_in_sync(repo_root, tmp_path):
    """`lorajam badges` would change nothing: every badge matches [tool.lorajam]."""
    for path in course.course_notebooks(repo_root):
        rel = path.relative_to(repo_root).as_posix()
        if "colab.research.google.com/github" in path.read_text():
            assert course.colab_url(rel, course.settings(repo_root)) in path.read_text(), rel
