"""Regenerate the bundled instruction data set (`src/lorajam/assets/data/instructions_*.jsonl`).

    python scripts/make_data.py            # deterministic: same seed, same bytes
"""

from __future__ import annotations

import argparse
import collections

from lorajam import data


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seed", type=int, default=data.DATA_SEED)
    args = p.parse_args(argv)
    paths = data.write_instruction_files(seed=args.seed)
    for split, path in paths.items():
        rows = data.instruction_examples(split)
        tasks = collections.Counter(r["task"] for r in rows)
        print(f"{split:>10}: {len(rows):4d} examples -> {path}  {dict(sorted(tasks.items()))}")


if __name__ == "__main__":
    main()
