"""A reproducible stream of inbound messages that looks like a transit operator's morning.

Many authors (a few loud, most write once or twice), public mentions that open threads,
replies in those threads (by the first author or by others), and private messages. The
generator also counts the conversations the inbox must end up with, from the rule the
inbox documents: one conversation per author per public thread, one per author for
private messages.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from relais.channels.contract import Author, InboundMessage, MessageKind

LINES = ["C1", "C2", "C3", "C4", "C5", "C6", "12", "14", "31", "métro a", "métro b", "ligne 9"]
STOPS = [
    "République",
    "Gares",
    "Sainte-Anne",
    "Villejean",
    "Pontchaillou",
    "Beaulieu",
    "Charles de Gaulle",
    "Henri Fréville",
    "Les Gayeulles",
    "Cesson",
]
OPENINGS = [
    "@STAR_Rennes la {line} est encore en retard à {stop}, 20 minutes que j'attends",
    "Bonjour @STAR_Rennes, la {line} circule ce matin ? Rien à {stop} depuis 7h40",
    "@STAR_Rennes plus de place dans la {line}, on est serrés comme des sardines #rennes",
    "Merci au chauffeur de la {line} ce matin à {stop}, très aimable 👏 @STAR_Rennes",
    "@STAR_Rennes l'ascenseur de {stop} est en panne depuis lundi, avec une poussette c'est impossible",
    "@STAR_Rennes pourquoi la {line} ne s'arrête plus à {stop} ??",
    "Grève aujourd'hui ? @STAR_Rennes la {line} est annoncée supprimée à {stop}",
]
REPLIES = [
    "pareil ici à {stop}",
    "toujours rien, ça fait 35 minutes maintenant",
    "@STAR_Rennes une réponse ?",
    "c'est reparti, merci",
    "et la {line} aussi est bloquée",
    "vous pourriez au moins prévenir sur l'appli",
]
PRIVATE = [
    "Bonjour, j'ai oublié un sac noir dans la {line} vers 8h10, direction {stop}. Merci !",
    "Bonjour, mon abonnement KorriGo n'est pas passé ce mois-ci, pouvez-vous vérifier ?",
    "Je voudrais signaler un comportement agressif à l'arrêt {stop} ce matin.",
    "Bonjour, est-ce que la {line} sera accessible demain avec un fauteuil ?",
]

START = datetime(2026, 3, 12, 6, 30, tzinfo=UTC)


@dataclass
class Workload:
    messages: list[InboundMessage]
    expected_conversations: int
    expected_contacts: int
    mentions: int
    replies: int
    dms: int


def _text(rng: random.Random, templates: list[str]) -> str:
    return rng.choice(templates).format(line=rng.choice(LINES), stop=rng.choice(STOPS))


def generate(n: int, *, seed: int = 20260312, prefix: str = "bench") -> Workload:
    """`n` messages in arrival order: about 45% mentions that open a thread, 40% replies,
    15% private messages, from n/4 authors whose activity follows a long tail."""
    rng = random.Random(seed)
    n_authors = max(20, n // 4)
    authors = [
        Author(
            external_id=f"{prefix}-u{i}",
            handle=f"voyageur_{i}",
            display_name=f"Voyageur {i}",
            reach=int(rng.lognormvariate(4.5, 1.6)),
        )
        for i in range(n_authors)
    ]
    by_id = {a.external_id: a for a in authors}
    weights = [1.0 / (i + 1) ** 0.8 for i in range(n_authors)]  # a few write a lot
    cum = list(itertools.accumulate(weights))
    threads: list[tuple[str, list[str], str]] = []  # root id, message ids, root author id
    conversations: set[tuple[str, str]] = set()
    seen_authors: set[str] = set()
    messages: list[InboundMessage] = []
    counts = {MessageKind.MENTION: 0, MessageKind.REPLY: 0, MessageKind.DM: 0}
    t = START
    for seq in range(n):
        t += timedelta(milliseconds=rng.randint(20, 400))
        ext_id = f"{prefix}-{seq}"
        roll = rng.random()
        if roll < 0.15:
            kind, thread_id, reply_to = MessageKind.DM, "", ""
            author = rng.choices(authors, cum_weights=cum)[0]
            text = _text(rng, PRIVATE)
            conversations.add(("dm", author.external_id))
        elif roll < 0.55 and threads:
            kind = MessageKind.REPLY
            # Recent threads are the lively ones.
            root_id, ids, root_author = threads[
                -1 - min(int(rng.expovariate(1 / 30)), len(threads) - 1)
            ]
            thread_id, reply_to = root_id, rng.choice(ids)
            if rng.random() < 0.5:
                author = by_id[root_author]
            else:
                author = rng.choices(authors, cum_weights=cum)[0]
            text = _text(rng, REPLIES)
            ids.append(ext_id)
            conversations.add((root_id, author.external_id))
        else:
            kind, thread_id, reply_to = MessageKind.MENTION, "", ""
            author = rng.choices(authors, cum_weights=cum)[0]
            text = _text(rng, OPENINGS)
            threads.append((ext_id, [ext_id], author.external_id))
            conversations.add((ext_id, author.external_id))
        counts[kind] += 1
        seen_authors.add(author.external_id)
        messages.append(
            InboundMessage(
                external_id=ext_id,
                kind=kind,
                author=author,
                text=text,
                created_at=t,
                thread_id=thread_id,
                reply_to_id=reply_to,
                raw={
                    "id": ext_id,
                    "lang": "fr",
                    "source": "bench",
                    "in_reply_to": reply_to or None,
                },
            )
        )
    return Workload(
        messages=messages,
        expected_conversations=len(conversations),
        expected_contacts=len(seen_authors),
        mentions=counts[MessageKind.MENTION],
        replies=counts[MessageKind.REPLY],
        dms=counts[MessageKind.DM],
    )
