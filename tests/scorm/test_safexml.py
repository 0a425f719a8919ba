"""scorm.safexml.fast_bins_off: glibc's fast bins off for a block, set back as the process had them."""

from __future__ import annotations

import threading

import pytest

from scorm import safexml


class _Mallopt:
    """Records the calls a fake ``mallopt`` receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return 1


@pytest.fixture
def mallopt(monkeypatch: pytest.MonkeyPatch) -> _Mallopt:
    fake = _Mallopt()
    monkeypatch.setattr(safexml, "_MALLOPT", (fake, 96))
    return fake


def test_the_limit_is_zero_in_the_block_and_set_back_after(mallopt: _Mallopt) -> None:
    with safexml.fast_bins_off():
        assert mallopt.calls == [(1, 0)]
    assert mallopt.calls == [(1, 0), (1, 96)]


def test_the_limit_is_set_back_after_an_exception(mallopt: _Mallopt) -> None:
    with pytest.raises(KeyError), safexml.fast_bins_off():
        raise KeyError
    assert mallopt.calls == [(1, 0), (1, 96)]


def test_overlapping_blocks_set_it_back_when_the_last_ends(mallopt: _Mallopt) -> None:
    """Two threads in the block at once: the one that leaves first leaves the fast bins off for the other."""
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with safexml.fast_bins_off():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    with safexml.fast_bins_off():
        pass
    assert mallopt.calls == [(1, 0)]
    release.set()
    thread.join(10)
    assert mallopt.calls == [(1, 0), (1, 96)]


def test_without_glibc_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safexml, "_MALLOPT", None)
    with safexml.fast_bins_off():
        pass


def test_the_limit_set_back_is_the_tunable_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc's default (64 * sizeof(size_t) / 4), or the one GLIBC_TUNABLES started the process with."""
    import ctypes

    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    found = safexml._glibc_mallopt()
    if found is None:
        pytest.skip("not glibc")
    assert found[1] == 16 * ctypes.sizeof(ctypes.c_size_t)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.check=0:glibc.malloc.mxfast=64")
    found = safexml._glibc_mallopt()
    assert found is not None and found[1] == 64
