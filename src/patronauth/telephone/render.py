"""`make prompts`: every spoken text of the telephone line in one language, as WAV files
from espeak-ng, so that a person can listen to what callers will hear.

    python -m patronauth.telephone.render --language yue --out var/prompts/yue

Each message key becomes `<key>.wav`; `index.txt` lists each file with its words.
Placeholders are filled with sample values. espeak-ng is a Debian package (`espeak-ng`);
a platform's own voices will sound better, but say the same words.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from patronauth.telephone.dialogue import Param
from patronauth.telephone.prompts import PROMPTS
from patronauth.telephone.speech import LANGUAGES, text

VOICES = {"yue": "yue", "cmn": "cmn", "en": "en-gb"}  # espeak-ng's voice names
SAMPLE: dict[str, Param] = {
    "minutes": 2,
    "count": 3,
    "position": 2,
    "date": date(2026, 12, 15),
    "renewed": 2,
    "refused": 1,
    "amount": "HK$12.50",
}


def render(language: str, out: Path, espeak: str = "espeak-ng") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written, index = [], []
    for key in PROMPTS:
        words = text(key, language, dict(SAMPLE))
        target = out / f"{key}.wav"
        subprocess.run(  # noqa: S603 (a fixed program; the words are one argument)
            [espeak, "-v", VOICES[language], "-w", str(target), "--", words],
            check=True,
            capture_output=True,
        )
        written.append(target)
        index.append(f"{target.name}\t{words}")
    (out / "index.txt").write_text("\n".join(index) + "\n", encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--language", choices=LANGUAGES, default="yue")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        print("espeak-ng is not installed (Debian: apt-get install espeak-ng)", file=sys.stderr)
        return 1
    out = args.out or Path("var/prompts") / args.language
    files = render(args.language, out, espeak)
    print(f"{len(files)} prompts in {args.language} written to {out}/ (see index.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
