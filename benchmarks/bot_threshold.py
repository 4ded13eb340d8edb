"""What the fraud review's ``bot_threshold`` flags: on a synthetic store (share of all
accounts flagged, precision and recall for the planted fakes, by farm kind) and on the
labelled sets (share of real humans flagged, share of bots found), at several cuts.

Run: ``python -m benchmarks.bot_threshold [--store STORE]`` (default: a 200k-account
synthetic store generated under $TMPDIR). Prints one JSON summary. The labelled figures
are in sample for the shipped model (it was fitted on both sets).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

THRESHOLDS = (0.5, 0.9, 0.99, 0.999)
DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def synthetic(store: Path) -> dict:
    import kolgraph
    from kolgraph.botscore import score_accounts
    from kolgraph.store import read_truth

    g = kolgraph.open(store)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = score_accounts(g.accounts)["score"].to_numpy()
    truth = read_truth(store)
    farm_of = truth["farm_of_account"]
    kinds = np.array(truth["farms"].column("kind").to_pylist() + ["honest"], dtype=object)
    kind = kinds[np.where(farm_of >= 0, farm_of, len(kinds) - 1)]
    fake = farm_of >= 0
    out = {}
    for t in THRESHOLDS:
        f = score >= t
        out[str(t)] = {"flagged_share": round(float(f.mean()), 4),
                       "precision": round(float((f & fake).sum() / max(f.sum(), 1)), 4),
                       "recall": round(float((f & fake).sum() / max(fake.sum(), 1)), 4),
                       **{f"flagged_{k}": round(float(f[kind == k].mean()), 4)
                          for k in np.unique(kind)}}
    return {"store": str(store), "accounts": int(len(score)), "by_threshold": out}


def labelled() -> dict:
    from kolgraph import boteval

    paths = {"mib": DATA / "mib-fake-twitter-profiles",
             "instagram": DATA / "instagram-fake-spammer-genuine" / "train.csv"}
    model = boteval.botmodel.load_model()
    out = {}
    for name, path in paths.items():
        X, y, _ = boteval.labelled_features(name, path)
        s = boteval._score(model, X)
        out[name] = {str(t): {"humans_flagged": round(float((s[y == 0] >= t).mean()), 4),
                              "bots_found": round(float((s[y == 1] >= t).mean()), 4)}
                     for t in THRESHOLDS}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", help="a synthetic store (with truth/)")
    args = ap.parse_args(argv)
    store = Path(args.store) if args.store else Path(tempfile.gettempdir()) / "kolgraph-bots-200k.kg"
    if not args.store and not store.exists():
        from kolgraph.synth import synth_store

        synth_store(store, accounts=200_000, creators=2_000, edges=2_000_000, seed=3)
    print(json.dumps({"synthetic": synthetic(store), "labelled_in_sample": labelled()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
