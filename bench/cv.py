"""Choose pipeline settings by 3-fold cross-validation on the training data.

Usage: python -m bench.cv [CONFIG ...]  (default: every bench/configs/cv_*.yml)
Writes reports/cv.md. The held-out set is never used here: it stays a test.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, folds, score, train_nlu, write_nlu
from bot.log import configure
from bot.nlu.evaluation import load_examples
from bot.privacy.masking import mask_text


def main(argv: list[str]) -> int:
    configure(30, personal=mask_text)
    configs = [Path(a) for a in argv] or sorted((ROOT / "bench" / "configs").glob("cv_*.yml"))
    examples = load_examples(ROOT / "data" / "nlu")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        splits = folds(examples, 3)
        for config in configs:
            f1s, oos, seconds = [], [], []
            for index, (train, test) in enumerate(splits):
                data = write_nlu(train, Path(tmp) / f"train{index}.yml")
                model, took = train_nlu(config, data, Path(tmp) / "models", f"{config.stem}-{index}")
                report = score(model, test)
                f1s.append(report.macro_f1), oos.append(report.out_of_scope_recall), seconds.append(took)
                print(
                    f"{config.stem} fold {index}: macro-F1 {report.macro_f1:.3f} OOS recall "
                    f"{report.out_of_scope_recall:.3f} train {took:.0f}s",
                    flush=True,
                )
            rows.append(
                (
                    config.stem,
                    statistics.mean(f1s),
                    statistics.pstdev(f1s),
                    statistics.mean(oos),
                    statistics.mean(seconds),
                )
            )
    lines = [
        "# Cross-validation of pipeline settings (3 folds of data/nlu, by category)",
        "",
        "| config | macro-F1 | ± | out-of-scope recall | train s (per fold) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {f:.3f} | {sd:.3f} | {o:.3f} | {s:.0f} |" for n, f, sd, o, s in rows]
    out = ROOT / "reports" / "cv.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
