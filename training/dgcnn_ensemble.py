"""The DGCNN tab's reader as an ensemble: trained readers averaged (models.dgcnn.Ensemble), with their own no-answer
threshold and "prefer short answers" λ chosen on validation exactly as a single reader's are.

    python -m training.dgcnn_ensemble                          # data/dgcnn + data/dgcnn_words, the shipped pair
    python -m training.dgcnn_ensemble --members ../dgcnn_other  # folders relative to data/dgcnn

Nothing is trained here: the members are the outputs of `python -m training.dgcnn` (their cards say how). λ is
the best mean exact match of a seeded sample of the CMRC 2018 trial questions and the visitor-style validation
questions (data/real_input/reading_valid.json); then, read at that λ, the threshold is calibrated on all CMRC trial
questions (asked with their passages, then with only the distractors) and on the visitor-style ones (each asked of
its own passage: those it answers and those it does not) — training.dgcnn.tab_defaults. Writes
data/dgcnn/ensemble.json and data/dgcnn/ENSEMBLE_CARD.md (the ensemble's section, then every member's card).
"""
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from models import dgcnn
from models.dgcnn import Ensemble
from training.dgcnn import OUT, VISITOR_VALID, penalty_rows, tab_defaults, threshold_section, written_rows
from training.reading_data import prepare, read_jsonl

CARD = "ENSEMBLE_CARD.md"


def card(folder: Path, members: list[str], threshold: float, calibration: list[dict], lam: float,
         penalties: list[dict], n_valid: int, n_visitor: int, minutes: float) -> str:
    thresholds = threshold_section(calibration, threshold, "the CMRC 2018 trial questions", lam)
    lams = penalty_rows(penalties, lam, mean=True)
    names = ", ".join(f"`{m}`" for m in ["."] + members)
    sections = "\n\n".join(f"## Member {k}: `{m}`\n\n" + (folder / m / "MODEL_CARD.md").read_text(encoding="utf-8")
                           .replace("# Model card", "### Model card", 1)
                           for k, m in enumerate(["."] + members, 1))
    return f"""# Model card: DGCNN readers averaged

- **What**: {len(members) + 1} readers of models/dgcnn.py read every window; the ensemble's start, end and
  has-answer probabilities are the means of theirs, decoded as one reader's (models.dgcnn.Ensemble). Members
  (folders relative to {folder.relative_to(folder.parent.parent)}): {names}; their cards follow. Nothing was trained
  for the ensemble; `python -m training.dgcnn_ensemble` chose its threshold and λ ({minutes:.1f} min).
{thresholds}

- **Prefer short answers** (the tab's default λ), the best mean exact match of {n_valid} CMRC trial questions
  (seed 0's sample, with distractors) and the {n_visitor} visitor-style validation questions
  ({VISITOR_VALID.name}; EM / F1):

| λ | CMRC 2018 trial | visitor-style validation | mean EM |
|---|---|---|---|
{lams}

- Test sets (CMRC 2018 dev, the questions written for the tab): `python -m bench.bench_dgcnn`.
- **Rebuild**: the members' commands (below), then `python -m training.dgcnn_ensemble`.

{sections}
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", type=Path, default=OUT, help="the first member, where the ensemble is written")
    ap.add_argument("--members", nargs="+", default=["../dgcnn_words"], help="the other members, relative to --folder")
    ap.add_argument("--valid", type=int, default=400, help="CMRC trial questions for the λ choice (seed 0's sample)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    readers = [dgcnn.load(args.folder, ensemble=False)] + [dgcnn.load(args.folder / m, ensemble=False)
                                                            for m in args.members]
    model = Ensemble(readers, threshold=0.1, length_penalty=0.0)
    valid_all = read_jsonl(prepare(None)["valid"])
    sample = random.Random(0).sample(valid_all, min(args.valid, len(valid_all)))
    model.cfg.length_penalty, penalties, model.cfg.threshold, calibration = tab_defaults(
        model, None, sample, valid_all, VISITOR_VALID)
    spec = {"members": args.members, "threshold": model.cfg.threshold, "length_penalty": model.cfg.length_penalty}
    (args.folder / dgcnn.ENSEMBLE_FILE).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    text = card(args.folder, args.members, model.cfg.threshold, calibration, model.cfg.length_penalty, penalties,
                len(sample), len(written_rows(VISITOR_VALID)), (time.perf_counter() - t0) / 60)
    (args.folder / CARD).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
