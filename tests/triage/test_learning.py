"""Learning from agents' corrections: a model is kept only if it beats the method in use."""

from io import StringIO

import pytest
from django.core.management import call_command

from relais.channels.ingest import ingest
from relais.channels.pipeline import process_pending
from relais.common.testing import inbound
from relais.inbox.models import Message
from relais.triage.engine import Triager
from relais.triage.learning import train_field
from relais.triage.models import TriageLabel, TriageModel
from relais.triage.service import triager_for

# Local slang the rules do not know: agents label these "praise".
PRAISE = [
    "ça roule nickel la {n}, gg les chauffeurs",
    "gg la team {n} vous gérez",
    "masterclass du chauffeur {n}",
    "gg wp chauffeur {n}",
    "le {n} en avance, masterclass",
    "chauffeur du {n} au taquet gg",
]
QUESTIONS = [
    "la {n} circule ?",
    "le {n} passe à quelle heure ?",
    "y a t il des bus {n} ce soir ?",
    "horaires du {n} svp ?",
]


def _label(personas, texts, value):
    for text in texts:
        ingest(
            account=personas.account, messages=[inbound(text, handle=f"u{abs(hash(text)) % 10**6}")]
        )
    process_pending()
    for message in Message.objects.filter(text__in=texts):
        TriageLabel.objects.create(
            organization=personas.org,
            message=message,
            field="intent",
            value=value,
            previous=message.intent,
            text=message.text,
            labelled_by=personas.agent_a.user,
        )


def test_too_few_labels_trains_nothing(personas):
    report = train_field(organization_id=personas.org.pk, field="intent", triager=Triager())
    assert report.score is None and "at least 20" in report.reason
    assert not TriageModel.objects.exists()


def test_a_model_that_beats_the_rules_is_kept_and_used(personas):
    rules = Triager()
    assert rules.triage("gg la team 99 vous gérez").intent != "praise"
    _label(personas, [t.format(n=n) for t in PRAISE for n in range(1, 9)], "praise")
    _label(personas, [t.format(n=n) for t in QUESTIONS for n in range(1, 7)], "question")
    report = train_field(organization_id=personas.org.pk, field="intent", triager=rules)
    assert report.kept, report.line()
    assert report.score > report.baseline_score and report.baseline == "rules"
    model = TriageModel.objects.get(active=True)
    assert model.labels == 72 and model.held_out == 18
    assert (
        triager_for(personas.org.pk).triage("gg les chauffeurs du 42, masterclass").intent
        == "praise"
    )
    # Other organisations keep the rules.
    assert triager_for(personas.other_org.pk).models == {}


def test_a_model_no_better_than_the_rules_is_discarded(personas):
    rules = Triager()
    texts = [t.format(n=n) for t in QUESTIONS for n in range(1, 8)]
    _label(personas, texts, "question")  # what the rules already say
    _label(personas, [f"merci beaucoup {n}" for n in range(10)], "praise")
    report = train_field(organization_id=personas.org.pk, field="intent", triager=rules)
    assert not report.kept, report.line()
    assert not TriageModel.objects.filter(active=True).exists()
    assert TriageModel.objects.count() == 1  # kept for the record, not used


def test_train_command(personas):
    out = StringIO()
    call_command("triage", "train", "--org", "alpha", stdout=out)
    assert "intent: 0 labels" in out.getvalue()
    with pytest.raises(Exception, match="--org"):
        call_command("triage", "train")
