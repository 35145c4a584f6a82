"""Learning from agents: `relais triage train` fits a per-organisation model on the labels
its agents gave (plus the rules' own answers on its unlabelled messages, weighted low, so
that a handful of labels does not forget everything else), and keeps it only if it beats
the method in use on labels it has not seen."""

from __future__ import annotations

import logging
import pickle  # noqa: S403 - models are written and read by Relais only, from its own database
import random
from dataclasses import dataclass

from django.db import transaction

from relais.triage.engine import Triager
from relais.triage.models import TriageLabel, TriageModel

logger = logging.getLogger(__name__)

FIELDS = ("intent", "sentiment", "urgency")
MIN_LABELS = 20
HELD_OUT = 0.25
COLD_START_MESSAGES = 3000
COLD_START_WEIGHT = 0.3
CONFIDENCE = 0.55  # below this the model defers to the rules


@dataclass
class TrainReport:
    field: str
    labels: int
    held_out: int
    score: float | None
    baseline: str
    baseline_score: float | None
    kept: bool
    reason: str

    def line(self) -> str:
        if self.score is None:
            return f"{self.field}: {self.reason}"
        verdict = "kept" if self.kept else "discarded"
        return (
            f"{self.field}: {self.labels} labels ({self.held_out} held out): model {self.score:.3f} vs "
            f"{self.baseline} {self.baseline_score:.3f} → {verdict}"
        )


def build_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2), min_df=1, sublinear_tf=True, strip_accents="unicode"
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), min_df=1, sublinear_tf=True
                ),
            ),
        ]
    )
    return Pipeline(
        [
            ("features", features),
            ("classifier", LogisticRegression(max_iter=2000, class_weight="balanced", C=4.0)),
        ]
    )


def _latest_labels(organization_id: int, field: str) -> list[tuple[str, str]]:
    """The last word of the agents on each message."""
    seen: dict[int, tuple[str, str]] = {}
    for label in TriageLabel.objects.filter(organization_id=organization_id, field=field).order_by(
        "created_at", "pk"
    ):
        seen[label.message_id] = (label.text, label.value)
    return list(seen.values())


def predict(model_blob: bytes, texts: list[str]) -> list[tuple[str, float]]:
    pipeline = pickle.loads(model_blob)  # noqa: S301 - our own model, from our own database
    probabilities = pipeline.predict_proba(texts)
    classes = pipeline.classes_
    return [(str(classes[row.argmax()]), float(row.max())) for row in probabilities]


def train_field(
    *, organization_id: int, field: str, triager: Triager, seed: int = 0
) -> TrainReport:
    from relais.inbox.models import Direction, Message

    labelled = _latest_labels(organization_id, field)
    if len(labelled) < MIN_LABELS or len({v for _, v in labelled}) < 2:
        return TrainReport(
            field,
            len(labelled),
            0,
            None,
            "rules",
            None,
            False,
            f"{len(labelled)} labels of {len({v for _, v in labelled})} kind(s): "
            f"at least {MIN_LABELS} of 2 kinds are needed",
        )
    rng = random.Random(seed)  # noqa: S311 - a reproducible split, not a secret
    rng.shuffle(labelled)
    cut = max(1, int(len(labelled) * HELD_OUT))
    held, train = labelled[:cut], labelled[cut:]
    labelled_texts = {t for t, _ in labelled}
    cold = [
        text
        for text in Message.objects.filter(organization_id=organization_id, direction=Direction.IN)
        .order_by("-pk")
        .values_list("text", flat=True)[:COLD_START_MESSAGES]
        if text not in labelled_texts
    ]
    texts = [t for t, _ in train] + cold
    targets = [v for _, v in train] + [getattr(triager.triage(t), field) for t in cold]
    weights = [1.0] * len(train) + [COLD_START_WEIGHT] * len(cold)
    pipeline = build_pipeline()
    pipeline.fit(texts, targets, classifier__sample_weight=weights)
    blob = pickle.dumps(pipeline)

    held_texts, held_truth = [t for t, _ in held], [v for _, v in held]
    predictions = predict(blob, held_texts)
    rules = [getattr(triager.triage(t), field) for t in held_texts]
    blended = [
        p if confidence >= CONFIDENCE else r
        for (p, confidence), r in zip(predictions, rules, strict=True)
    ]
    score = sum(p == t for p, t in zip(blended, held_truth, strict=True)) / len(held)

    current = (
        TriageModel.objects.filter(organization_id=organization_id, field=field, active=True)
        .order_by("-pk")
        .first()
    )
    if current is not None:
        current_predictions = predict(bytes(current.blob), held_texts)
        current_blended = [
            p if c >= CONFIDENCE else r
            for (p, c), r in zip(current_predictions, rules, strict=True)
        ]
        baseline, baseline_score = (
            f"model #{current.pk}",
            sum(p == t for p, t in zip(current_blended, held_truth, strict=True)) / len(held),
        )
    else:
        baseline, baseline_score = (
            "rules",
            sum(r == t for r, t in zip(rules, held_truth, strict=True)) / len(held),
        )
    kept = score > baseline_score
    with transaction.atomic():
        model = TriageModel.objects.create(
            organization_id=organization_id,
            field=field,
            active=kept,
            labels=len(labelled),
            held_out=len(held),
            score=score,
            baseline_score=baseline_score,
            baseline=baseline,
            blob=blob,
        )
        if kept:
            TriageModel.objects.filter(
                organization_id=organization_id, field=field, active=True
            ).exclude(pk=model.pk).update(active=False)
    report = TrainReport(
        field,
        len(labelled),
        len(held),
        score,
        baseline,
        baseline_score,
        kept,
        "better on held-out labels" if kept else "not better: the current method stays",
    )
    logger.info("triage train org %s %s", organization_id, report.line())
    return report
