"""What a generality run's mistakes are: case, glyphs that fonts draw alike, or something else.

For runs of bench/generality.py (each run folder's saved model, read on the same held-out images
the run was scored on), every wrong reading goes into one of three kinds:

- **case**: right when upper and lower case count alike (``Uxas`` read as ``UXas``);
- **look-alike**: the right length, and every wrong character is read as one that many fonts draw
  the same or nearly so (:data:`LOOKALIKES`: ``I l 1 |``, ``O 0 o``, and the letters whose lower
  case is a smaller upper case, ``c k p s u v w x y z``). Where a style mixes fonts per glyph, or
  rotates and jitters them, nothing in the image may tell these apart. So "exact + case +
  look-alike" is a rough ceiling, an upper bound on what the ambiguity costs, not a proof: some of
  these images do carry a cue (a serif, the height of a neighbour) that a better reader could use;
- **other**: everything else (a wrong letter, a missed or extra one).

    python bench/lookalikes.py --data ../shared/datasets --runs general-v4/pale-42,labels4000-15min/pale-42
"""

from __future__ import annotations

import argparse
from pathlib import Path

from generality import OUT, load_set, readings, split

# each group: characters that many fonts draw alike, mapped to one of them
LOOKALIKES = ["Il1|", "Oo0", *(c + c.upper() for c in "ckpsuvwxyz")]
_CANON = {ch: group[0] for group in LOOKALIKES for ch in group}


def canonical(text: str) -> str:
    """``text`` with each look-alike character replaced by its group's first."""
    return "".join(_CANON.get(ch, ch) for ch in text)


def kind_of(label: str, read: str) -> str:
    """``right``, ``case``, ``look-alike`` or ``other`` (see the module docstring)."""
    if read == label:
        return "right"
    if read.casefold() == label.casefold():
        return "case"
    if len(read) == len(label) and canonical(read) == canonical(label):
        return "look-alike"
    return "other"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--runs", required=True,
                   help="comma-separated run folders under bench/out/generality/, as TAG/SET-SEED")
    a = p.parse_args()
    print("| run | images | exact | + case | + look-alikes | other mistakes |")
    print("|---|---|---|---|---|---|")
    for run in a.runs.split(","):
        name = run.split("/")[-1].rsplit("-", 1)[0]
        val = split(load_set(name, a.data))[1]
        texts = readings(OUT / "generality" / run / "model.pt", val)
        kinds = [kind_of(s.label, t) for s, t in zip(val, texts)]
        n = len(kinds)
        right, case, alike = (kinds.count(k) for k in ("right", "case", "look-alike"))
        print(f"| {run} | {n} | {right / n:.1%} | {(right + case) / n:.1%} | {(right + case + alike) / n:.1%} | "
              f"{kinds.count('other')} |")


if __name__ == "__main__":
    main()
