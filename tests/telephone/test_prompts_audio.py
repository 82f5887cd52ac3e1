"""`make prompts`: every prompt of a language rendered to a WAV file by espeak-ng, for a
person to listen to (Debian's espeak-ng; under CI=true its absence fails the run)."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from patronauth.telephone.prompts import PROMPTS
from patronauth.telephone.render import main
from tests.conftest import unavailable


@pytest.mark.parametrize("language", ["yue", "cmn", "en"])
def test_every_prompt_of_a_language_becomes_a_wav_file(tmp_path: Path, language: str) -> None:
    if shutil.which("espeak-ng") is None:
        unavailable("espeak-ng", "not installed")
    out = tmp_path / language
    assert main(["--language", language, "--out", str(out)]) == 0
    files = sorted(p.stem for p in out.glob("*.wav"))
    assert files == sorted(PROMPTS)
    for path in out.glob("*.wav"):
        with wave.open(str(path)) as audio:
            assert audio.getnchannels() == 1
            assert audio.getnframes() > audio.getframerate() // 4  # words, not silence
    index = (out / "index.txt").read_text("utf-8").splitlines()
    assert len(index) == len(PROMPTS)
    menu = next(line for line in index if line.startswith("menu.wav\t"))
    expected = {"yue": "查詢借閱資料", "cmn": "查询借阅资料", "en": "To hear your loans"}
    assert expected[language] in menu
