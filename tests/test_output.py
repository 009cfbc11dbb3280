"""`-o FILE`: one writer for every command, safe over whatever FILE is."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from support import EXAMPLES, KOSTYOR_SPEC

from kostyor_dsl.cli.errors import CliError
from kostyor_dsl.cli.output import write_output


def test_new_file_gets_the_umask_mode_not_0600(tmp_path):
    target = tmp_path / "plan.yaml"
    old = os.umask(0o022)
    try:
        write_output(str(target), lambda s: s.write("x\n"))
    finally:
        os.umask(old)
    assert target.read_text() == "x\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "plan.yaml"
    target.write_text("old\n")
    target.chmod(0o640)
    write_output(str(target), lambda s: s.write("new\n"))
    assert target.read_text() == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_symlink_is_followed_not_replaced(tmp_path):
    real = tmp_path / "real.yaml"
    real.write_text("old\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    write_output(str(link), lambda s: s.write("new\n"))
    assert link.is_symlink()
    assert real.read_text() == "new\n"


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "plan.yaml"
    target.write_text("old\n")

    def broken(stream):
        stream.write("half")
        raise RuntimeError("compile failed")

    with pytest.raises(RuntimeError):
        write_output(str(target), broken)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.yaml"]


def test_fifo_is_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_output(str(fifo), lambda s: s.write("through the pipe\n"))
    reader.join(timeout=30)
    assert received == ["through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
def test_a_device_is_written_to_never_replaced(tmp_path, cli):
    # A null device of our own in the temp folder: the real /dev/null is never touched.
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    before = device.stat().st_mode
    code, _, err = cli("compile", KOSTYOR_SPEC, "-i", EXAMPLES / "design-doc.yaml", "-o", device)
    assert code == 0, err
    assert stat.S_ISCHR(device.stat().st_mode)
    assert device.stat().st_mode == before
    assert list(tmp_path.iterdir()) == [device]


def test_a_folder_is_an_error(tmp_path):
    with pytest.raises(CliError, match="it is a folder"):
        write_output(str(tmp_path), lambda s: s.write("x"))


def test_compile_dash_o_dash_is_stdout(cli):
    code, out, _ = cli("compile", KOSTYOR_SPEC, "-i", EXAMPLES / "design-doc.yaml", "-o", "-")
    assert code == 0 and "\nformat: kostyor-plan/1\n" in out
