"""Atomic writes and overwrite refusals."""

import os

import pytest

from xtwin import files


def test_write_text_and_refuse_overwrite(tmp_path):
    p = tmp_path / "a.txt"
    files.write_text(p, "one")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        files.write_text(p, "two")
    assert p.read_text() == "one"
    files.write_text(p, "two", overwrite=True)
    assert p.read_text() == "two"


def test_interrupted_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(p, overwrite=True) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_temp_file_keeps_suffix(tmp_path):
    with files.atomic_path(tmp_path / "x.vti") as tmp:
        assert tmp.suffix == ".vti" and tmp.parent == tmp_path
        tmp.write_text("")


def test_refuses_directory_target(tmp_path):
    with pytest.raises(IsADirectoryError, match="directory"):
        files.check_writable(tmp_path, overwrite=True)
