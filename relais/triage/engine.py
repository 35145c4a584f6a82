"""The triage of one message: language, intent, sentiment, urgency, priority, lines, stops,
places. Rules and lexicons first (useful with no label at all); a model an organisation has
trained on its agents' corrections refines intent and sentiment (relais.triage.learning)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from relais.triage import language
from relais.triage.entities import NetworkLexicon
from relais.triage.lexicon import CueMatcher
from relais.triage.text import prepare

INTENTS = (
    "question",
    "complaint",
    "incident_report",
    "service_request",
    "praise",
    "polemic",
    "spam_abuse",
    "other",
)
SENTIMENTS = ("negative", "neutral", "positive")
URGENCIES = ("safety", "blocking", "normal")
# When two intents tie, the one that matters more for the service wins.
INTENT_PRECEDENCE = (
    "spam_abuse",
    "service_request",
    "incident_report",
    "polemic",
    "complaint",
    "question",
    "praise",
)
EMOJI_CUES = {
    "😊": "positive",
    "🙏": "positive",
    "👍": "positive",
    "❤": "positive",
    "😍": "positive",
    "👏": "positive",
    "🥰": "positive",
    "💪": "positive",
    "🙂": "positive",
    "😀": "positive",
    "😃": "positive",
    "🤩": "positive",
    "✨": "positive",
    "😡": "negative",
    "🤬": "negative",
    "😤": "negative",
    "👎": "negative",
    "😠": "negative",
    "😒": "negative",
    "🙄": "negative",
    "😩": "negative",
    "😫": "negative",
    "😭": "negative",
    "😢": "negative",
    "💩": "negative",
    "🤡": "negative",
}
# French and English street addresses, for service requests: "12 rue de la Paix", "3 bis av. Foch".
ADDRESS = re.compile(
    r"\b\d{1,4}\s?(?:bis|ter)?,?\s+(?:rue|avenue|av\.?|boulevard|bd|place|pl\.?|allée|allee|impasse|chemin|"
    r"quai|route|square|cours|passage|mail|street|st\.?|road|rd\.?|lane)\s+[^\d,.;!?\n]{2,40}",
    re.IGNORECASE,
)
PLACE_WORDS = re.compile(
    r"\b(?:rue|avenue|boulevard|place|allée|allee|impasse|quai|parc|square|école|ecole|collège|college|"
    r"lycée|lycee|gymnase|piscine)\s+(?:de\s+la\s+|du\s+|des\s+|de\s+l'|d'|de\s+)?[A-ZÉÈÀÂÎÔÛ][\w'’\-]+(?:\s+[A-ZÉÈÀÂÎÔÛ][\w'’\-]+){0,3}",
)


@dataclass
class TriageResult:
    lang: str
    intent: str
    sentiment: str
    urgency: str
    priority: int  # 0 low … 3 urgent, as relais.inbox.models.Priority
    lines: list[tuple[str, str]] = field(default_factory=list)  # (short name, GTFS route id)
    stops: list[tuple[str, str]] = field(default_factory=list)  # (stop name, GTFS stop id)
    places: list[str] = field(default_factory=list)
    cues: list[tuple[str, str]] = field(default_factory=list)  # why: (category, word)

    def to_json(self) -> dict:
        data = asdict(self)
        data["line_ids"] = [gtfs_id for _, gtfs_id in self.lines]
        data["stop_ids"] = [gtfs_id for _, gtfs_id in self.stops]
        data["lines"] = [name for name, _ in self.lines]
        data["stops"] = [name for name, _ in self.stops]
        return data


def priority_of(intent: str, sentiment: str, urgency: str) -> int:
    if urgency == "safety":
        return 3
    if urgency == "blocking" or intent in ("incident_report",):
        return 2
    if intent == "spam_abuse":
        return 0
    if intent in ("complaint", "question", "service_request") and sentiment == "negative":
        return 2 if intent == "complaint" else 1
    if intent == "praise" or intent == "other":
        return 0 if intent == "praise" else 1
    return 1


class Triager:
    def __init__(
        self,
        lexicon: NetworkLexicon | None = None,
        languages: Sequence[str] = ("fr", "en"),
        models: dict[str, bytes] | None = None,
    ):
        self.lexicon = lexicon or NetworkLexicon.empty()
        self.languages = tuple(languages)
        self.cues = CueMatcher()
        # Fields an organisation trained on its agents' labels (relais.triage.learning).
        self.models: dict[str, Any] = {}
        if models:
            import pickle  # noqa: S403 - our own models, from our own database

            self.models = {name: pickle.loads(blob) for name, blob in models.items()}  # noqa: S301

    def triage(self, text: str, lang: str | None = None) -> TriageResult:
        text = text or ""
        sample = text[
            :5000
        ]  # cues and entities live in the first lines; 20,000 characters cost nothing more
        prepared = prepare(sample)  # URLs out, folded, words: once for every matcher
        detected = lang or language.detect_prepared(prepared, self.languages)
        hits = self.cues.match(prepared.words)
        scores = hits.scores
        if not sample.isascii():  # emoji are never ASCII: most English messages skip this
            for symbol, category in EMOJI_CUES.items():
                if symbol in sample:
                    scores[category] += 1.0
                    hits.cues.append((category, symbol))
        if "?" in sample:
            scores["question"] += 1.5

        intent = self._intent(scores, prepared.has_letters)
        sentiment = self._sentiment(scores, intent)
        if scores.get("safety", 0) > 0:
            urgency = "safety"
        elif scores.get("blocking", 0) > 0:
            urgency = "blocking"
        else:
            urgency = "normal"
        lines = [(r.short_name, r.gtfs_id) for r in self.lexicon.lines(sample, prepared.folded)]
        stops = [(s.name, s.gtfs_id) for s in self.lexicon.stops(sample, prepared.folded)]
        places = [m.group(0).strip() for m in ADDRESS.finditer(sample)]
        if intent == "service_request" and not places:
            places = [m.group(0).strip() for m in PLACE_WORDS.finditer(sample)]
        if self.models:
            intent, sentiment, urgency = self._learned(sample, intent, sentiment, urgency)
        return TriageResult(
            lang=detected,
            intent=intent,
            sentiment=sentiment,
            urgency=urgency,
            priority=priority_of(intent, sentiment, urgency),
            lines=lines,
            stops=stops,
            places=places[:5],
            cues=hits.cues[:20],
        )

    def _learned(
        self, text: str, intent: str, sentiment: str, urgency: str
    ) -> tuple[str, str, str]:
        """A trained model overrides the rules where it is confident; safety cues are never
        overridden downwards: a missed safety message costs too much."""
        from relais.triage.learning import CONFIDENCE

        values = {"intent": intent, "sentiment": sentiment, "urgency": urgency}
        for name, model in self.models.items():
            probabilities = model.predict_proba([text])[0]
            best = probabilities.argmax()
            if probabilities[best] >= CONFIDENCE:
                if name == "urgency" and urgency == "safety":
                    continue
                values[name] = str(model.classes_[best])
        return values["intent"], values["sentiment"], values["urgency"]

    def triage_many(self, texts: Iterable[str]) -> list[TriageResult]:
        return [self.triage(t) for t in texts]

    @staticmethod
    def _intent(scores: dict[str, float], has_text: bool) -> str:
        if not has_text:
            return "other"
        # The highest score wins; "la C4 est en panne ?" stays a report because its problem
        # words outweigh the question mark.
        best, best_score = "other", 0.0
        for intent in INTENT_PRECEDENCE:
            score = scores.get(intent, 0.0)
            if score > best_score + 1e-9:
                best, best_score = intent, score
        return best

    @staticmethod
    def _sentiment(scores: dict[str, float], intent: str) -> str:
        positive = scores.get("positive", 0.0)
        negative = scores.get("negative", 0.0) + (
            1.0 if intent in ("complaint", "spam_abuse") else 0.0
        )
        if positive > negative:
            return "positive"
        if negative > positive:
            return "negative"
        return "neutral"
