"""Build demo scenario S1 (strike morning on the STAR Rennes network) as a JSON Lines replay file."""

from __future__ import annotations

import csv
import json
import math
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
GTFS_DIR = HERE.parent / "data" / "gtfs" / "star_rennes"
OUT_PATH = HERE / "s1_strike_morning.jsonl"

# A fixed seed makes the file byte-identical on every run, so a diff of the
# JSONL in review only ever shows deliberate changes to this script.
SEED = 20230516

META = {
    "scenario": "S1",
    "title": "Strike morning at a transit operator",
    "starts_at_local": "05:30",
    "timezone": "Europe/Paris",
    "networks": ["x", "facebook", "bluesky"],
    "source": "written for Relais; vocabulary modelled on real RATP tweets",
}

# Share of new posts per network. English speakers here are students and
# visitors, who are on Bluesky and X more than on the operator's Facebook page.
NETWORK_SHARES = {
    "fr": {"x": 0.55, "facebook": 0.28, "bluesky": 0.17},
    "en": {"x": 0.45, "bluesky": 0.45, "facebook": 0.10},
}

# Scenario clock, in seconds after 05:30.
STOPPAGE = 4200.0  # 06:40, drivers stop work
PEAK_START = 5400.0  # 07:00
PEAK_END = 10800.0  # 08:30
RESUMPTION = 17100.0  # 10:15, buses run again
END = 19800.0  # 11:00

# The operator's accounts as passengers tag them: the demo organisation's
# accounts (ACCOUNTS in relais/demo/setup.py), not the real STAR accounts.
OPERATOR_HANDLE = {"x": "@STAR_Rennes", "bluesky": "@star-rennes.bsky.social"}

# Messages per 15-minute bucket from 06:40: a surge in the first quarter of an
# hour, a plateau through the morning rush, then a slow decay before resumption
# and a short second wave when buses come back.
BUCKETS = [
    (4200, 4500, 4),
    (4500, 5400, 21),
    (5400, 6300, 34),
    (6300, 7200, 38),
    (7200, 8100, 40),
    (8100, 9000, 35),
    (9000, 9900, 29),
    (9900, 10800, 24),
    (10800, 11700, 16),
    (11700, 12600, 12),
    (12600, 13500, 9),
    (13500, 14400, 7),
    (14400, 15300, 5),
    (15300, 16200, 5),
    (16200, 17100, 5),
    (17100, 18000, 17),
    (18000, 18900, 12),
    (18900, END, 7),
]


def hhmm(at: float) -> str:
    """Local clock time of a scenario offset, as passengers write it ("7h05")."""
    minutes = 5 * 60 + 30 + int(at // 60)
    return f"{minutes // 60}h{minutes % 60:02d}"


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def ascii_slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", strip_accents(text).lower())


# --------------------------------------------------------------------------- network


@dataclass
class Line:
    short: str
    family: str  # chrono, urban, metro, suburban, school, express
    termini: list[str]  # stop or town names at each end, for "direction X"
    stops: list[str]  # real stop names we may say it serves


@dataclass
class Network:
    lines: dict[str, list[Line]]
    hubs: list[str]
    stations: dict[str, list[str]]  # metro line -> station names
    towns: list[str]
    stop_names: set[str]
    park_and_ride: list[str]

    def line(self, short: str) -> Line:
        for family in self.lines.values():
            for line in family:
                if line.short == short:
                    return line
        raise KeyError(short)


FAMILY_OF_DESC = {
    "CHRONOSTAR": "chrono",
    "Urbaine": "urban",
    "Inter-quartiers": "urban",
    "Métropolitaine": "suburban",
    "Transport scolaire": "school",
    "Express": "express",
}


def read_csv(path: Path) -> list[dict[str, str]]:
    # GTFS files may start with a BOM; utf-8-sig reads both kinds.
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def load_network(gtfs_dir: Path) -> Network:
    stops = read_csv(gtfs_dir / "stops.txt")
    routes = read_csv(gtfs_dir / "routes.txt")
    stop_names = {s["stop_name"] for s in stops}

    # Metro stations are the parent stations (location_type 1). Line a's are
    # numbered 15001-15015; line b's from 15050, and b's interchange platforms
    # at Gares and Sainte-Anne hang under line a's parent stations.
    stations = {"a": [], "b": ["Gares", "Sainte-Anne"]}
    for s in stops:
        if s["location_type"] == "1":
            stations["a" if int(s["stop_id"]) < 15050 else "b"].append(s["stop_name"])

    # Names shared by many stop points are the big interchanges people name
    # when they ask for a bus ("République", "Gares", "Henri Fréville" ...).
    by_name = Counter(s["stop_name"] for s in stops)
    hubs = [name for name, n in by_name.most_common() if n >= 4][:45]
    towns = sorted({s["stop_desc"] for s in stops if s["stop_desc"] and s["stop_desc"] != "Rennes"})

    lines: dict[str, list[Line]] = {
        k: [] for k in ("chrono", "urban", "metro", "suburban", "school", "express")
    }
    for r in routes:
        short = r["route_short_name"]
        if r["route_type"] == "1":
            family = "metro"
        else:
            family = FAMILY_OF_DESC.get(r["route_desc"], "")
            if not family or (family == "chrono" and short.endswith("ex")):
                continue  # night, seasonal and special lines do not run on a weekday morning
            if family == "school" and not re.fullmatch(r"Ts\d+|2\d\d", short):
                continue  # odd one-off services nobody would name
        termini, own_stops = [], []
        parts = re.split(r"\s*(?:<>|->)\s*", r["route_long_name"].split(" : ")[-1])
        for part in parts:
            m = re.match(r"(.+?)\s*\((.+)\)", part.strip())
            town, place = (m.group(1), m.group(2)) if m else (part.strip(), "")
            if place in stop_names:
                own_stops.append(place)
            if part is parts[0] or part is parts[-1]:
                termini.append(place or town)
        if family == "metro":
            own_stops = stations[short]
        lines[family].append(Line(short, family, termini, own_stops))
    # Metro stations with a park-and-ride; the feed does not say, so they are
    # listed here and checked against it.
    park_and_ride = [
        "J.F. Kennedy",
        "Villejean-Université",
        "Henri Fréville",
        "La Poterie",
        "Les Gayeulles",
        "Cesson - Viasilva",
        "Saint-Jacques - Gaîté",
    ]
    missing = [name for name in park_and_ride if name not in stop_names]
    if missing:
        raise ValueError(f"park-and-ride stations missing from {gtfs_dir}: {missing}")
    return Network(lines, hubs, stations, towns, stop_names, park_and_ride)


# How people shorten the big stops, in writing. Only used for names in the feed.
STOP_NICKNAMES = {
    "République": ["Répu", "répu", "repu", "Republique", "la répu"],
    "Villejean-Université": ["Villejean", "villejean univ", "Villejean Université"],
    "Henri Fréville": ["Fréville", "Henri Freville", "henri fréville"],
    "Charles de Gaulle": ["Charles de Gaulle", "CDG", "charles de gaulle"],
    "J.F. Kennedy": ["Kennedy", "JF Kennedy", "kennedy"],
    "Beaulieu - Université": ["Beaulieu", "beaulieu univ", "Beaulieu Université"],
    "Cesson - Viasilva": ["Viasilva", "Cesson Viasilva", "viasilva"],
    "Saint-Jacques - Gaîté": ["St Jacques Gaité", "Gaîté", "St-Jacques Gaîté"],
    "Sainte-Anne": ["Ste Anne", "ste-anne", "Sainte Anne"],
    "Joliot-Curie - Chateaubriand": ["Joliot Curie", "Joliot-Curie", "joliot curie"],
    "Gares": ["la gare", "Gare", "gares", "la gare SNCF"],
    "Anatole France": ["Anatole", "anatole france"],
    "Pontchaillou": ["Pontchaillou (CHU)", "pontchaillou", "le CHU"],
    "La Poterie": ["Poterie", "la poterie"],
    "Les Gayeulles": ["Gayeulles", "les gayeulles"],
    "Gros-Chêne": ["Gros Chene", "gros chêne"],
    "Saint-Germain": ["St Germain", "St-Germain"],
    "Le Blosne": ["Blosne", "le blosne"],
    "Jacques Cartier": ["J. Cartier", "jacques cartier"],
}


def spell_stop(name: str, rng: random.Random) -> str:
    """Write a stop name the way a hurried passenger would."""
    roll = rng.random()
    if roll < 0.03:
        return hashtag(name)
    if roll < 0.25 and name in STOP_NICKNAMES:
        return rng.choice(STOP_NICKNAMES[name])
    if roll < 0.40:
        return strip_accents(name)
    if roll < 0.52:
        return name.lower()
    return name


def hashtag(name: str) -> str:
    """Turn a stop name into a hashtag, as people tag a place: "Henri Fréville" -> "#HenriFreville"."""
    return "#" + "".join(w.capitalize() for w in re.split(r"[^\w]+", strip_accents(name)) if w)


def line_tag(line: Line, rng: random.Random) -> str:
    """The line as a hashtag ("#C4", "#ligne11", "#metroA")."""
    s = line.short
    if line.family == "metro":
        return rng.choice([f"#metro{s.upper()}", f"#ligne{s.upper()}", f"#métro{s}"])
    if line.family == "chrono":
        return f"#{s}"
    return rng.choice([f"#ligne{s}", f"#bus{s}", f"#{s}"])


def line_phrase(line: Line, rng: random.Random) -> str:
    """The line as the subject of a sentence, with its article ("la C4", "le 11")."""
    s = line.short
    if line.family == "metro":
        return rng.choice(
            [f"le métro {s}", f"le metro {s.upper()}", f"la ligne {s}", f"le métro {s.upper()}"]
        )
    if line.family == "chrono":
        return rng.choice(
            [
                f"la {s}",
                f"la {s}",
                f"la {s.lower()}",
                f"le {s}",
                f"la ligne {s}",
                f"la chronostar {s}",
            ]
        )
    if line.family == "school":
        return rng.choice([f"le {s}", f"le car {s}", f"la ligne {s}"])
    if line.family == "express":
        return rng.choice([f"le {s}", f"l'express {s.removesuffix('ex')}"])
    return rng.choice([f"le {s}", f"le {s}", f"le bus {s}", f"la ligne {s}", f"la {s}"])


# --------------------------------------------------------------------------- people

FIRST = (  # noqa: SIM905 - a line of names reads better than a column of strings
    "Maëlle Lucas Yanis Inès Gwenaël Soizic Erwan Nolwenn Karim Fatou Awa Mehdi Chloé Léa Hugo Thomas "
    "Camille Manon Enzo Jade Louise Paul Yann Anaïs Tristan Morgane Loïc Katell Brieuc Rozenn Sofiane Amina "
    "Bastien Pauline Clément Mathilde Romain Élodie Kévin Sarah Nathalie Sylvie Patrick Christophe Isabelle "
    "Martine Jean-Luc Dominique Gaëlle Ronan Aurélie Julien Mathis Lina Nora Ilyes Océane Maxime Alexis "
    "Margaux Théo Zoé Nicolas Sandrine Hervé Annick Bernard Jacqueline Youssef Aïcha Moussa Mariam Samuel "
    "Juliette Antoine Éva Noah Gabin Lou Capucine Armel Tanguy Goulven Lénaïg Marine Cédric Lydie Franck"
).split()
LAST = (  # noqa: SIM905
    "Le Gall|Le Goff|Le Bihan|Tanguy|Guillou|Morvan|Jégou|Riou|Hamon|Le Roux|Martin|Bernard|Petit|Durand|"
    "Lefebvre|Moreau|Diallo|Benali|Nguyen|Lebreton|Rolland|Gautier|Le Corre|Lemoine|Barbier|Hervé|Collet|"
    "Ollivier|Pichon|Daniel|Perrin|Chevalier|Garnier|Le Meur|Kerjean|Quéré|Le Floch|Cadiou|Marrec|Salaün|"
    "Traoré|Haddad|Mansouri|Lucas|Robin|Besnard|Gicquel|Lemarié|Piel|Boucher|Fontaine|Renaud|Texier|Huet"
).split("|")
# Exchange students and tourists, who write in English.
EN_NAMES = (  # noqa: SIM905
    "Sofia García|Jan Kowalski|Niamh O'Brien|Anna Novak|Mateo Rossi|Emily Carter|Tom Harris|"
    "Ingrid Larsen|Pedro Alves|Hannah Fischer|Aleksander Nowak|Chiara Esposito|Oliver Grant|Mei Tanaka|"
    "Daniel Murphy|Elif Yılmaz|Lars Johansson|Grace Okafor|Marta Silva|Sean Walsh|Julia Becker|Tomás Ruiz|"
    "Katarzyna Wójcik|Giulia Romano|Ben Taylor|Amelia Scott|Felix Wagner|Laura Martínez|Nikos Papadopoulos|"
    "Eva Horvath|Rui Costa|Sarah Kelly|Jonas Berg|Chloe Evans"
).split("|")


@dataclass
class Author:
    handle: str
    name: str
    reach: int
    network: str
    lang: str

    def as_json(self) -> dict:
        return {"handle": self.handle, "name": self.name, "reach": self.reach}


@dataclass
class People:
    rng: random.Random
    used: set[str] = field(default_factory=set)
    crowd: list[Author] = field(default_factory=list)

    def reach(self) -> int:
        # Log-normal around ~170 followers: most people 20-800, a long tail.
        return max(6, min(4200, int(self.rng.lognormvariate(math.log(170), 0.95))))

    def handle_for(self, network: str, first: str, last: str) -> str:
        f, l_ = ascii_slug(first), ascii_slug(last)
        rng = self.rng
        for _ in range(50):
            if network == "x":
                cand = rng.choice(
                    [
                        f"{f}_{l_[:3]}",
                        f"{f}{rng.randint(2, 99)}",
                        f"{f[0]}{l_}",
                        f"{f}_{rng.choice(['rns', '35', 'bzh', 'rennes', '35000'])}",
                        f"{f}{l_}",
                        f"_{f}{l_[:1]}_",
                        f"{l_}{f[:1]}{rng.randint(1, 9)}",
                    ]
                )[:15]
            elif network == "bluesky":
                cand = (
                    rng.choice([f"{f}{l_}", f"{f}-{l_}", f"{f}{l_[:1]}", f"{f}.{l_}"])
                    + ".bsky.social"
                )
            else:
                cand = rng.choice(
                    [
                        f"{f}.{l_}",
                        f"{f}.{l_}.{rng.choice(['35', '5', '7', '12', '1', '3'])}",
                        f"{f}{l_}",
                    ]
                )
            if cand not in self.used:
                self.used.add(cand)
                return cand
        raise RuntimeError("could not find a free handle")

    def display_name(self, network: str, first: str, last: str) -> str:
        rng = self.rng
        if network == "facebook":
            return f"{first} {last}"
        return rng.choice(
            [
                f"{first} {last}",
                f"{first} {last[0]}.",
                first,
                f"{first} 🌿",
                f"{first} | Rennes",
                f"{first.lower()}",
            ]
        )

    def new(self, network: str, lang: str) -> Author:
        if lang == "en":
            first, last = self.rng.choice(EN_NAMES).split(" ", 1)
        else:
            first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
        handle = self.handle_for(network, first, last)
        author = Author(
            handle, self.display_name(network, first, last), self.reach(), network, lang
        )
        self.crowd.append(author)
        return author

    def named(self, network: str, handle: str, name: str, reach: int, lang: str = "fr") -> Author:
        """A scripted author; they never write an unscripted message, so their arc stays coherent."""
        self.used.add(handle)
        return Author(handle, name, reach, network, lang)

    def pick(
        self,
        network: str,
        lang: str,
        exclude: frozenset[str] | set[str] = frozenset(),
        reuse: float = 0.3,
    ) -> Author:
        # About one message in three comes from someone who already wrote: on a
        # morning like this people post again when nothing has changed.
        pool = [
            a
            for a in self.crowd
            if a.network == network and a.lang == lang and a.handle not in exclude
        ]
        if pool and self.rng.random() < reuse:
            return self.rng.choice(pool)
        return self.new(network, lang)


# --------------------------------------------------------------------------- templates
# Placeholders: {line} subject phrase ("la C4"), {short} short name, {linetag}
# the line as a hashtag, {stop}, {stop2}, {dir} terminus, {station} metro
# station, {m} metro line letter, {time} a clock time, {mins} minutes waited,
# {parking} a park-and-ride, {campus} (and {campus_en}), {town}, {tag}
# hashtags, {card} a KorriGo card number, {at} who a reply is addressed to. Each template says which line families it fits:
# "bus", "metro", "any", or one family by name ("chrono", "school").

QUESTIONS_FR = [
    ("any", "{line} circule ce matin ?"),
    ("any", "{line} roule ou pas ??"),
    ("bus", "Le {short} passe à {stop} ?"),
    ("bus", "bonjour, est-ce que {line} fonctionne ? j'attends à {stop} depuis {mins} min"),
    ("any", "ligne {short} en grève aussi ?"),
    ("bus", "bus {short} direction {dir} ? personne à l'arrêt {stop}"),
    ("bus", "{short} ok ? rien à {stop}"),
    ("any", "svp {line} passe ou pas ce matin, je dois être au boulot à {time}"),
    ("bus", "Bonjour, y a-t-il des bus sur {line} ce matin ? Merci"),
    ("any", "jsp si {line} roule, quelqu'un sait ? {tag}"),
    ("any", "c'est toute la journée ou juste ce matin ? {line} c'est mort ?"),
    ("bus", "y a des bus ou pas ??? arrêt {stop} zéro info sur les écrans"),
    ("metro", "est-ce que le métro fonctionne normalement ? besoin d'aller à {station}"),
    ("metro", "métro {m} ok ?"),
    (
        "bus",
        "Quelqu'un sait si {line} passe à {stop} ? l'appli affiche des horaires mais rien ne vient",
    ),
    ("any", "bonjour, quelles lignes circulent ce matin svp ?"),
    ("chrono", "Est-ce que les chronostar roulent au moins ? pas de {short} depuis {mins} min"),
    ("any", "c'est quoi le plan B pour aller de {stop} à {stop2} sans bus ??"),
    ("bus", "bjr, {line} de {time} va passer ? on est une dizaine à {stop}"),
    ("bus", "Info svp : {line} direction {dir}, ça circule ? {tag}"),
    ("bus", "le {short} est en grève ?? depuis quand"),
    ("bus", "et {line} ? quelqu'un a vu passer un bus à {stop} ?"),
    ("any", "vous pouvez confirmer que {line} ne passe pas ? merci de répondre"),
    ("any", "hello, {line} tourne ce matin ou c'est mort ? {tag}"),
    ("bus", "des bus de remplacement c'est prévu ? {line} pas vu depuis {mins} min"),
    ("any", "{line} circule entre {stop} et {stop2} ?"),
    ("bus", "il se passe quoi ce matin ?? aucun {short} à {stop}"),
    ("any", "Bonjour, le trafic reprend à quelle heure svp ?"),
    ("any", "on a des infos sur une reprise ? {line} notamment"),
    ("metro", "question bête mais le métro est automatique donc il roule non ?"),
    ("metro", "le parking relais de {parking} est ouvert ? je me gare et je prends le métro"),
    ("any", "{linetag} ??? {tag}"),
    ("bus", "qqn à {stop} ? le {short} est passé ou pas"),
    ("bus", "Bonjour, y aura-t-il des bus ce soir pour rentrer ? je prends {line} à {stop}"),
    ("bus", "les lignes de la métropole aussi sont à l'arrêt ? {line} vers {dir}"),
    ("bus", "grève surprise ou panne ? {line} jamais arrivé à {stop} {tag}"),
    ("bus", "le site dit trafic normal sur {line} mais rien ne passe, c'est quoi la vérité ?"),
    ("bus", "mdr c'est une blague ? {line} supprimé ?"),
    ("any", "svp répondez, {line} passe ou pas, j'ai un partiel à {time} à {campus}"),
    ("metro", "le métro {m} fonctionne jusqu'à {station} ?"),
    ("metro", "c'est vrai que le métro va fermer aussi ?? {tag}"),
    ("bus", "{tag} {linetag} à l'arrêt ? je suis à {stop}"),
    ("any", "Bonjour, je dois aller à {stop2} pour {time}, je fais comment ?"),
    ("bus", "{line} passe par {stop} ce matin ou déviation ?"),
    ("any", "c'est une grève de tout le réseau ou que certaines lignes ? {line} ?"),
    ("school", "Est-ce que les cars scolaires passent ? mon fils attend {line} à {stop}"),
]

QUESTIONS_EN = [
    ("metro", "Is the metro running today? I need to get to the train station"),
    ("bus", "Hi, are buses running this morning? Waiting at {stop} for {mins} min"),
    ("bus", "Sorry for my French... is line {short} working today? I have class at {campus_en}"),
    ("any", "Erasmus student here, how do I get from {stop} to Villejean without a bus??"),
    ("bus", "Is there a strike today? No bus at {stop} since 6:45"),
    ("metro", "does metro {m} go to Gares? I have a train at {time}"),
    ("any", "Any info in English please? Is the whole network on strike?"),
    ("bus", "Is the airport bus (C6) running? My flight is at {time} 😬"),
    ("any", "Will the buses run again this afternoon? Need to plan my day"),
]

COMPLAINTS_FR = [
    "{mins} min d'attente à {stop} et pas une seule info, c'est inadmissible",
    "merci STAR pour la communication inexistante. On l'apprend par des inconnus sur internet. Bravo.",
    "encore une grève... je vais finir par perdre mon CDD à cause de vous {tag}",
    "vous pourriez au moins mettre un message sur les écrans ?? les gens attendent dans le froid à {stop}",
    "abonnement payé plein pot tous les mois pour ça 🤡",
    "franchement c'est honteux, des enfants attendent le car scolaire depuis 7h",
    "le métro est blindé, on peut plus respirer, merci la grève 🙃",
    "3e fois ce mois-ci que j'arrive en retard à cause du réseau, ras le bol",
    "répondez au moins !!! ça fait 1h qu'on pose des questions",
    "sérieux prévenir après coup c'est se foutre de la gueule des usagers",
    "la rocade est bouchée de partout, tout le monde a ressorti sa voiture, bravo",
    "pas de bus, pas d'info, pas d'excuses. Le service public version rennaise",
    "l'appli affiche des bus fantômes, j'ai attendu pour rien à {stop}",
    "le numéro du service client sonne dans le vide depuis 7h",
    "vous êtes nuls, vraiment nuls. {line} supprimé sans prévenir personne",
    "Bravo pour l'anticipation. Zéro bus, zéro navette, zéro info. 👏👏",
    "j'ai raté mon train à cause de vous, qui rembourse le billet ?",
    "ma fille de 12 ans fait le trajet à pied parce que {line} passe pas. Merci.",
    "arrêt {stop} : 30 personnes, 0 bus, 0 info",
    "c'est un scandale, des gens vont perdre une journée de salaire",
    "trop bien, 1h15 à pied pour aller au taf 🥲 {tag}",
    "quelle blague ce réseau. Au moindre souci c'est silence radio",
    "saturation à {station}, on laisse passer 3 rames, il faudrait du monde sur les quais",
    "même pas une notif sur l'appli. on est en quelle année ?",
    "c'est la honte, des personnes âgées attendent à {stop} sans savoir quoi faire",
    "la métropole et le réseau se renvoient la balle et nous on marche",
    "le taxi m'a coûté 28 balles. je vous envoie la facture ?",
    "arrêtez d'écrire « trafic perturbé », il n'y a RIEN qui roule",
    "j'en ai marre marre marre {tag}",
    "bande de clowns. {line} annoncé à 2 min depuis une demi-heure",
    "foutage de gueule total, aucun bus et vous postez rien",
    "je suis en fauteuil, sans bus je fais comment ? personne n'y a pensé",
    "vélos en libre-service tous pris à {stop}, plus de bus, il reste quoi, le stop ?",
    "Ça fait {mins} minutes que j'attends sous la pluie à {stop}. Merci pour rien.",
    "Tout le monde entassé dans le métro à {station}, c'est dangereux là",
]

COMPLAINTS_EN = [
    "Walked 40 min in the rain because there's no bus and no info. Great welcome to Rennes 😅",
    "No buses, no announcement in English, nothing. How are visitors supposed to know?",
]

RELAYS_FR = [
    "RT info : grève surprise sur le réseau STAR, pas de bus ce matin, prévoyez autre chose {tag}",
    "pour ceux qui attendent : aucun bus ne circule, grève des chauffeurs, seul le métro roule. partagez",
    "Pour info le métro a et b roulent normalement, c'est que les bus. {tag}",
    "covoit dispo depuis {town} vers {stop} vers {time}, 3 places, écrivez-moi #grevestar",
    "info reçue d'un chauffeur : pas de reprise avant 10h au mieux. À confirmer.",
    "partagez : plus un seul vélo en libre-service à {stop}",
    "Info pour le groupe : pas de bus STAR ce matin (arrêt des conducteurs), le métro fonctionne",
    "⚠️ pas de bus ce matin à Rennes, prévenez vos collègues / enfants {tag}",
    "d'après les écrans à {station} : « mouvement social, aucun bus en circulation ». Métro OK",
    "si vous devez aller au CHU : le métro a fonctionne jusqu'à Pontchaillou, les bus non",
    "je confirme pour {line} : rien depuis 6h40. Grève surprise. {tag}",
    "Collègues de {town} : pas de bus, organisez-vous en covoit #grevestar",
]

DEBATE_FR = [
    "Soutien total aux conducteurs. Vu leurs conditions de travail, pas étonnant que ça craque ✊",
    "Une grève sans préavis dans les transports c'est illégal non ? Il faut des sanctions",
    "prise d'otage des usagers encore une fois. Et c'est toujours les mêmes qui trinquent",
    "arrêtez avec « prise d'otage », faire grève c'est un droit. Les chauffeurs ont des horaires de fou",
    "la métropole met des millions dans le métro et pas un rond pour les salaires des chauffeurs",
    "si les conducteurs s'arrêtent d'un coup c'est qu'il y a une raison, renseignez-vous avant de râler",
    "moi je veux juste aller bosser, je m'en fiche de savoir qui a raison",
    "les élus de la métropole vont encore se renvoyer la balle avec l'exploitant, comme d'hab",
    "ce serait un droit de retrait, pas une grève. Ça change tout juridiquement",
    "la gratuité totale des transports ça réglerait pas mal de choses, on en reparle ?",
    "service minimum garanti, c'est quand qu'on l'applique vraiment ?",
    "je soutiens les chauffeurs mais prévenir les usagers c'est la base",
    "à chaque fois c'est les précaires qui paient, ceux qui ont une voiture s'en fichent",
    "ça fait des mois qu'ils alertent sur le manque d'effectifs. Personne n'écoute.",
    "ceux qui râlent, allez conduire un bus articulé à 5h du mat' pour un salaire de misère",
    "la délégation de service public c'est ça : l'exploitant économise et les usagers paient",
    "solidarité avec les conducteurs mais là c'est les salariés du matin qui prennent tout",
    "#grevestar une grève qui tombe un jour de partiels, on pouvait pas mieux choisir",
]

ANSWERS_FR_BUS = [
    "{at} non rien ne passe, grève des chauffeurs, seul le métro roule",
    "{at} pas de bus du tout ce matin, prends le métro si tu peux",
    "{at} ici à {stop} non plus, rien depuis 6h45",
    "{at} apparemment c'est tout le réseau bus, pas que le {short}",
    "{at} vélo ou à pied malheureusement 😕",
    "{at} non, et aucune info sur une reprise",
    "{at} je viens de voir un {short} passer à vide, pas en service",
    "{at} regarde l'appli, ils ont enfin mis un bandeau : aucun bus",
    "{at} tous les bus sont à l'arrêt, même les chronostar",
]
ANSWERS_FR_METRO = [
    "{at} le métro roule oui, j'y suis là, mais c'est blindé",
    "{at} oui le métro fonctionne, il est automatique. C'est les bus qui sont en grève",
    "{at} métro ok, je viens de le prendre à {station}",
    "{at} le métro a et b roulent, prévois du temps c'est plein",
]
ANSWERS_EN = [
    "{at} yes the metro is running, only the buses are stopped",
    "{at} no buses at all this morning, the metro works though",
    "{at} take the metro to Gares, it's direct and it runs normally",
]

REPLIES_OTHER_FR = {
    "relay": [
        "{at} merci pour l'info 🙏",
        "{at} source ?",
        "{at} c'est confirmé ? l'appli dit rien",
        "{at} merci, je partage",
        "{at} heureusement que vous êtes là parce que côté STAR c'est silence radio",
    ],
    "complaint": [
        "{at} pareil à {stop}, on est une vingtaine",
        "{at} +1, c'est n'importe quoi",
        "{at} courage 😕 moi j'ai renoncé, télétravail forcé",
        "{at} exactement, aucune communication",
        "{at} t'inquiète on est tous dans le même bateau",
    ],
    "debate": [
        "{at} d'accord avec toi",
        "{at} n'importe quoi. renseigne-toi sur leurs conditions avant d'écrire ça",
        "{at} ok mais les usagers n'y sont pour rien",
        "{at} c'est pas illégal si c'est un droit de retrait",
        "{at} facile à dire quand on a une voiture",
        "{at} merci, enfin un message sensé",
        "{at} le problème c'est pas les chauffeurs c'est la direction",
    ],
}

DMS_FR = [
    "Bonjour, je suis abonnée mensuelle, est-ce que la journée de grève sera remboursée ? Ma carte KorriGo n° {card}",
    "Bonjour, j'ai dû prendre un taxi pour aller à l'hôpital ce matin, est-il possible d'être remboursé ? J'ai le justificatif",
    "Bonjour, j'ai perdu ma carte KorriGo ce matin dans la cohue à {station}, n° {card}. Quelqu'un l'a rapportée ?",
    "Bonjour, pouvez-vous fournir une attestation de perturbation pour la fac ? Mon fils a raté un examen",
    "Bonjour, je voudrais un justificatif de retard pour mon employeur, j'attendais {line} à {stop} de 6h50 à 8h",
    "Bonjour, ma carte a été débitée deux fois au valideur du métro à {station} ce matin, carte KorriGo {card}",
    "Vous embauchez des chauffeurs ? Vu ce matin il en manque visiblement",
    "Bonjour, le remboursement de l'abonnement c'est automatique ou il faut faire une demande ? KorriGo n° {card}",
    "bonjour ma carte korrigo ne passe plus depuis ce matin au métro, numéro {card}, je fais comment",
]
DMS_EN = [
    "Hello, I bought a 10-trip ticket yesterday and couldn't use it today because of the strike, can I get a refund?",
]

TAIL_FR = [
    "ça y est j'ai vu passer un {short} à {stop} !! 🎉",
    "c'est vraiment reparti ou c'est une fausse joie ? {line}",
    "reprise sur toutes les lignes ou pas ? {line} toujours rien à {stop}",
    "merci aux équipes qui ont tenu l'info à jour ce matin malgré le bazar",
    "merci pour les réponses rapides ce matin 🙏",
    "3h de retard au boulot, mon chef a adoré. merci",
    "arrivée au taf à 10h40 au lieu de 7h30. journée foutue",
    "{line} de {time} bondé, normal tout le monde l'attendait depuis 6h",
    "bon retour aux chauffeurs, j'espère qu'ils ont obtenu ce qu'ils voulaient",
    "et ce soir ça roule normalement ? pas envie de rentrer à pied",
    "il y aura un geste commercial pour les abonnés ?",
    "merci au chauffeur du {short} qui a pris le temps d'expliquer la situation à tout le monde à {stop}, chapeau",
    "y a encore des trous dans les horaires, {line} annoncé à {time} jamais venu",
    "est-ce que demain c'est reconduit ?? on a besoin de savoir ce soir",
    "{line} est repassé à {stop}, enfin 🙌",
    "bon, 4h de galère pour 20 min de trajet habituel. Vivement demain",
    "bravo aux chauffeurs qui ont repris, et merci à celui du {short} pour sa patience",
    "c'est reparti à {stop} mais les bus sont pleins à craquer",
    "reprise confirmée sur {line}, merci pour l'info {tag}",
    "{line} circule vraiment ? l'appli dit toujours perturbé",
    "c'est reparti sur {line} ou pas encore ? je suis à {stop}",
    "reprise à 10h15 c'est bien beau mais j'ai perdu ma matinée, et mes heures elles sont payées par qui ?",
    "arrivé à 10h50, mon employeur veut un justificatif. vous en fournissez ?",
    "4h pour aller au boulot ce matin. je vais racheter une voiture, voilà le résultat",
    "{linetag} enfin de retour, pas trop tôt {tag}",
    "ça roule à nouveau à {stop} ? j'ose pas y croire",
    "j'ai raté un rdv médical que j'attendais depuis 3 mois. merci la grève",
]
TAIL_REPLIES_FR = [
    "{at} c'est vraiment reparti ? toujours rien à {stop}",
    "{at} enfin ! merci pour l'info",
    "{at} sur {line} c'est pas encore ça, 25 min d'attente",
    "{at} confirmé, je viens de monter dans {line} à {stop}",
    "{at} et on sait si ça reprend demain normalement ?",
    "{at} reprise progressive = un bus toutes les 40 min 🙃",
]
TAIL_EN = [
    "Buses are back! Thanks for the updates this morning",
    "Is line {short} really running again? Still nothing at {stop}",
    "Missed my morning class because of the strike, is it really over now?",
]

TAGS = [
    "#grevestar",
    "#Rennes",
    "#greve",
    "#STAR",
    "#grève",
    "#rennes #grevestar",
    "#grevesurprise",
    "#Rennes #bus",
]
CAMPUSES = ["Villejean", "Beaulieu", "Rennes 2", "la fac de Beaulieu", "l'INSA", "Rennes 1"]
CAMPUSES_EN = ["Villejean", "Beaulieu", "Rennes 2", "INSA", "the Beaulieu campus", "Rennes 1"]

# Shortcuts passengers use; applied word by word, so handles and numbers stay intact.
ABBREVIATIONS = [
    (r"\bs'il vous plaît\b", "svp"),
    (r"\bje sais pas\b", "jsp"),
    (r"\bbeaucoup\b", "bcp"),
    (r"\bquelqu'un\b", "qqn"),
    (r"\bpourquoi\b", "pq"),
    (r"\baujourd'hui\b", "ajd"),
    (r"\bvraiment\b", "vrmt"),
    (r"\b[Bb]onjour\b", "bjr"),
    (r"\bmerci\b", "mrc"),
    (r"\bc'est\b", "c"),
    (r"\bil y a\b", "y a"),
    (r"\bquand même\b", "qd même"),
    (r"\bmaintenant\b", "mtn"),
]
EMOJI = {
    "question": ["🙏", "😩", "🤔", "😬", "🥲"],
    "complaint": ["😡", "🙄", "🤬", "😤", "🥶", "💀"],
    "tail": ["🙏", "😮‍💨", "🙃", "😅"],
    "other": ["😕", "🙃", "👀"],
}


def passengerize(text: str, rng: random.Random, mood: str, keep_start: bool = False) -> str:
    """Roughen a clean sentence into social-network French: shortcuts, no accents, typos, emoji."""
    for pattern, short in ABBREVIATIONS:
        if re.search(pattern, text) and rng.random() < 0.3:
            text = re.sub(pattern, short, text)
    if rng.random() < 0.14:
        text = strip_accents(text)
    if rng.random() < 0.07:
        words = text.split(" ")
        candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if candidates:
            i = rng.choice(candidates)
            w = words[i]
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # swapped letters, the commonest typo
            text = " ".join(words)
    # Lower-case the first letter, but not an acronym ("RT") nor the name a
    # reply is addressed to.
    if not keep_start and text[:2].istitle() and rng.random() < 0.3:
        text = text[0].lower() + text[1:]
    if text.endswith("?") and rng.random() < 0.25:
        text = text.rstrip("?").rstrip() + rng.choice([" ?", "??", " ???", "?!"])
    if rng.random() < 0.13 and unicodedata.category(text[-1]) != "So":
        text += " " + rng.choice(EMOJI.get(mood, EMOJI["other"]))
    return text


def tidy(text: str) -> str:
    return re.sub(r"\s{2,}", " ", text).strip()


# --------------------------------------------------------------------------- building


@dataclass
class Message:
    at: float
    network: str
    kind: str
    author: Author
    text: str
    lang: str
    reply_to: Message | None = None
    # Internal, not written out: question, complaint, relay, debate, answer,
    # reply, dm, quiet or tail; used to pick reply targets and to check the mix.
    category: str = ""
    topic: str = ""  # internal: "metro" or "bus", so that answers tell the truth
    line: Line | None = None  # internal: the line asked about, for the answers
    id: str = ""


class Builder:
    def __init__(self, rng: random.Random, net: Network):
        self.rng = rng
        self.net = net
        self.people = People(rng)
        self.history: list[Message] = []
        self.seen_texts: set[str] = set()
        self.network_counts: dict[str, Counter[str]] = {lang: Counter() for lang in NETWORK_SHARES}

    # -- pieces of context

    def pick_line(self, want: str = "any") -> Line:
        rng = self.rng
        if want in self.net.lines:
            family = want
        else:
            weights = {
                "chrono": 36,
                "metro": 20,
                "urban": 18,
                "suburban": 18,
                "school": 5,
                "express": 3,
            }
            if want == "bus":
                weights.pop("metro")
            family = rng.choices(list(weights), weights=list(weights.values()))[0]
        return rng.choice(self.net.lines[family])

    def context(self, at: float, line: Line, reply_to: Message | None = None) -> dict[str, str]:
        rng, net = self.rng, self.net
        # A metro or school line is asked about at its own stops; a bus line at
        # its termini or at one of the big interchanges.
        if line.stops and (line.family in ("metro", "school") or rng.random() < 0.55):
            own = line.stops
        else:
            own = net.hubs
        stop = rng.choice(own)
        station_line = line.short if line.family == "metro" else rng.choice("ab")
        # People reached their stop at any time since the stoppage.
        elapsed = int((at - STOPPAGE) / 60)
        waited = rng.randint(5, max(6, min(elapsed + 5, 110)))
        goal = at + rng.uniform(900, 3600)
        return {
            "line": line_phrase(line, rng),
            "short": line.short,
            "linetag": line_tag(line, rng),
            "stop": spell_stop(stop, rng),
            "stop2": spell_stop(rng.choice([h for h in own if h != stop] or net.hubs), rng),
            "dir": spell_stop(rng.choice(line.termini), rng),
            "station": spell_stop(rng.choice(net.stations[station_line]), rng),
            "m": rng.choice([line.short, line.short.upper()])
            if line.family == "metro"
            else rng.choice("aAbB"),
            "time": hhmm(goal - goal % 300),
            "mins": str(waited),
            "parking": spell_stop(rng.choice(net.park_and_ride), rng),
            "campus": rng.choice(CAMPUSES),
            "campus_en": rng.choice(CAMPUSES_EN),
            "town": rng.choice(net.towns),
            "tag": rng.choice(TAGS) if rng.random() < 0.45 else "",
            "card": self.card_number(),
            "at": self.address(reply_to) if reply_to else "",
        }

    def card_number(self) -> str:
        digits = "".join(str(self.rng.randint(0, 9)) for _ in range(16))
        if self.rng.random() < 0.5:
            return " ".join(digits[i : i + 4] for i in range(0, 16, 4))
        return digits

    def address(self, target: Message) -> str:
        a = target.author
        if target.network == "x":
            return "@" + a.handle
        if target.network == "bluesky":
            return "@" + a.handle if self.rng.random() < 0.6 else ""
        return a.name if self.rng.random() < 0.6 else ""

    def tag_operator(self, text: str, network: str, kind: str) -> str:
        # A public post only reaches the desk if it tags the operator: always on
        # X and Bluesky mentions, sometimes in a reply, never in a DM.
        if kind == "dm" or network == "facebook":
            return text
        if kind == "reply" and self.rng.random() < 0.7:
            return text
        handle = OPERATOR_HANDLE[network]
        if text.startswith("@") and kind == "reply":
            first, _, rest = text.partition(" ")
            return f"{first} {handle} {rest}"
        return f"{handle} {text}" if self.rng.random() < 0.6 else f"{text} {handle}"

    def network_for(self, lang: str) -> str:
        """Where a new post appears: X for most, Facebook for a good quarter, Bluesky for the rest.

        Picks the network furthest behind its share so far (with a little
        noise), so the split holds whatever the seed draws elsewhere.
        """
        shares = NETWORK_SHARES[lang]
        counts = self.network_counts[lang]
        n = sum(counts.values()) + 1
        network = max(shares, key=lambda k: shares[k] * n - counts[k] + self.rng.uniform(0, 0.9))
        counts[network] += 1
        return network

    # -- emitting

    def emit(self, msg: Message, mood: str = "other", rough: bool = True) -> Message:
        text = tidy(msg.text)
        if rough and msg.lang == "fr":
            text = passengerize(text, self.rng, mood, keep_start=msg.reply_to is not None)
        msg.text = tidy(self.tag_operator(text, msg.network, msg.kind))
        self.seen_texts.add(self.key(msg.text))
        self.history.append(msg)
        return msg

    @staticmethod
    def key(text: str) -> str:
        return ascii_slug(re.sub(r"@\S+", "", text))

    def fill(
        self, templates: list, at: float, reply_to: Message | None = None
    ) -> tuple[str, Line, str]:
        """Render a template, preferring a text no one has posted yet; returns (text, line, fits).

        Templates without a family talk about buses: outside questions, a line
        named in a complaint or a DM is one that stopped, never the metro. A
        reply talks about the line of the message it answers.
        """
        for attempt in range(40):
            tpl = self.rng.choice(templates)
            fits, tpl = tpl if isinstance(tpl, tuple) else ("bus", tpl)
            line = reply_to.line if reply_to and reply_to.line else self.pick_line(fits)
            text = tidy(tpl.format(**self.context(at, line, reply_to)))
            # Short replies ("merci pour l'info") do repeat in real threads, so
            # after enough tries a repeat is better than failing.
            if self.key(text) not in self.seen_texts or attempt == 39:
                return text, line, fits
        raise AssertionError("unreachable")

    def recent(
        self,
        at: float,
        categories: set[str],
        window: float = 1800.0,
        exclude: frozenset[str] | set[str] = frozenset(),
    ) -> list[Message]:
        return [
            m
            for m in self.history
            if m.category in categories
            and m.kind != "dm"
            and at - window < m.at < at - 20
            and m.author.handle not in exclude
        ]

    # -- categories

    def question(self, at: float, lang: str) -> Message:
        network = self.network_for(lang)
        author = self.people.pick(network, lang)
        text, line, fits = self.fill(QUESTIONS_EN if lang == "en" else QUESTIONS_FR, at)
        topic = (
            "metro" if fits == "metro" or line.family == "metro" and "bus" not in text else "bus"
        )
        msg = Message(
            at, network, "mention", author, text, lang, category="question", topic=topic, line=line
        )
        return self.emit(msg, "question")

    def complaint(self, at: float, lang: str) -> Message:
        network = self.network_for(lang)
        author = self.people.pick(network, lang)
        text, _, _ = self.fill(COMPLAINTS_EN if lang == "en" else COMPLAINTS_FR, at)
        return self.emit(
            Message(at, network, "mention", author, text, lang, category="complaint"), "complaint"
        )

    def relay(self, at: float, lang: str) -> Message:
        network = self.network_for("fr")
        author = self.people.pick(network, "fr")
        text, _, _ = self.fill(RELAYS_FR, at)
        return self.emit(Message(at, network, "mention", author, text, "fr", category="relay"))

    def debate(self, at: float, lang: str) -> Message:
        # Generic replies go under top-level posts only; the one long thread
        # of the morning is scripted, so that it reads as a real exchange.
        targets = [m for m in self.recent(at, {"debate"}, window=2400) if m.kind == "mention"]
        if targets and self.rng.random() < 0.45:
            return self.reply_to(at, self.rng.choice(targets), "debate")
        network = self.network_for("fr")
        author = self.people.pick(network, "fr")
        text, _, _ = self.fill(DEBATE_FR, at)
        return self.emit(Message(at, network, "mention", author, text, "fr", category="debate"))

    def answer(self, at: float, lang: str) -> Message | None:
        # Passengers answer each other, and they tell the truth of the
        # scenario (no bus, metro running) so that the desk can lean on them.
        targets = self.recent(at, {"question"}, window=1200)
        # Fewer answers to the English questions: they mostly go unanswered,
        # which is the desk's job to notice.
        targets = [m for m in targets if m.lang == "fr" or self.rng.random() < 0.3]
        if not targets:
            return None
        target = self.rng.choice(targets)
        if target.lang == "en":
            pool = ANSWERS_EN
        else:
            pool = ANSWERS_FR_METRO if target.topic == "metro" else ANSWERS_FR_BUS
        author = self.people.pick(target.network, "fr", exclude={target.author.handle})
        text, _, _ = self.fill(pool, at, reply_to=target)
        return self.emit(
            Message(
                at, target.network, "reply", author, text, target.lang, target, category="answer"
            )
        )

    def reply(self, at: float, lang: str) -> Message | None:
        """A public reply under someone's relay, complaint or debate post."""
        targets = [
            m
            for m in self.recent(at, {"relay", "complaint", "debate"})
            if m.lang == "fr" and m.kind == "mention"
        ]
        if not targets:
            return None
        target = self.rng.choice(targets)
        return self.reply_to(at, target, target.category)

    def reply_to(self, at: float, target: Message, kind: str) -> Message:
        author = self.people.pick(target.network, "fr", exclude={target.author.handle})
        text, _, _ = self.fill(REPLIES_OTHER_FR[kind], at, reply_to=target)
        category = "debate" if kind == "debate" else "reply"
        return self.emit(
            Message(at, target.network, "reply", author, text, "fr", target, category=category)
        )

    def dm(self, at: float, lang: str) -> Message:
        network = self.rng.choices(["facebook", "x", "bluesky"], weights=[50, 35, 15])[0]
        author = self.people.pick(network, lang, reuse=0.5)
        text, _, _ = self.fill(DMS_EN if lang == "en" else DMS_FR, at)
        return self.emit(Message(at, network, "dm", author, text, lang, category="dm"), rough=False)

    def tail(self, at: float, lang: str) -> Message:
        # The news of the resumption is itself doubted: part of the tail comes
        # as replies under the posts that announced it.
        news = [m for m in self.recent(at, {"relay"}, window=2700) if m.at >= RESUMPTION - 1800]
        if lang == "fr" and news and self.rng.random() < 0.3:
            target = self.rng.choice(news)
            author = self.people.pick(target.network, "fr", exclude={target.author.handle})
            text, _, _ = self.fill(TAIL_REPLIES_FR, at, reply_to=target)
            return self.emit(
                Message(at, target.network, "reply", author, text, "fr", target, category="tail"),
                "tail",
            )
        network = self.network_for(lang)
        author = self.people.pick(network, lang, reuse=0.4)
        text, _, _ = self.fill(TAIL_EN if lang == "en" else TAIL_FR, at)
        return self.emit(
            Message(at, network, "mention", author, text, lang, category="tail"), "tail"
        )


# Share of each category by phase of the morning. Questions dominate the first
# minutes; complaints, debate and replies grow as people wait; after
# resumption come thanks, doubts and late-for-work complaints.
# fmt: off
PHASES = [
    (STOPPAGE, PEAK_START, {"question": 68, "complaint": 14, "relay": 10, "answer": 6, "debate": 1, "dm": 1}),
    (PEAK_START, PEAK_END, {"question": 53, "complaint": 21, "relay": 6, "debate": 10, "answer": 6, "reply": 2, "dm": 2}),
    (PEAK_END, RESUMPTION, {"question": 45, "complaint": 19, "relay": 5, "debate": 16, "answer": 6, "reply": 5, "dm": 4}),
    (RESUMPTION, END, {"tail": 76, "answer": 6, "reply": 10, "dm": 8}),
]
# fmt: on


def apportion(weights: dict[str, int], n: int) -> list[str]:
    """Exactly n categories in the given proportions (largest remainder), so the mix does not drift with the seed."""
    total = sum(weights.values())
    exact = {k: n * w / total for k, w in weights.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[
        : n - sum(counts.values())
    ]:
        counts[k] += 1
    return [k for k, c in counts.items() for _ in range(c)]


# --------------------------------------------------------------------------- scripted parts


def at_clock(clock: str, rng: random.Random) -> float:
    h, m = (int(x) for x in clock.split(":"))
    return (h * 60 + m - 5 * 60 - 30) * 60 + rng.uniform(0, 50)


def quiet_hour(b: Builder) -> None:
    """05:30-06:40: the ordinary traffic of a desk before anything happens."""
    rng, net, people = b.rng, b.net, b.people
    c2, c4, c6, l11 = net.line("C2"), net.line("C4"), net.line("C6"), net.line("11")
    # fmt: off
    items = [
        ("05:41", "x", "mention", "fr", f"bonjour, le premier {c2.short} part à quelle heure de {c2.termini[0]} ? l'appli dit 5h50 mais je l'ai jamais vu avant 6h"),
        ("05:58", "facebook", "mention", "fr", f"Bonjour, j'ai oublié un parapluie noir dans le {l11.short} hier soir vers 19h, direction {l11.termini[-1]}. Est-il possible de le récupérer aux objets trouvés ?"),
        ("06:04", "x", "mention", "fr", f"big up au chauffeur de la {c4.short} de 5h50 qui m'a attendue alors que je courais 🙏"),
        ("06:12", "bluesky", "mention", "en", f"Hi! What time does the first bus to the airport ({c6.short}) leave from {rng.choice(['République', 'Gares'])}? Thanks!"),
        ("06:19", "facebook", "dm", "fr", "Bonjour, ma carte KorriGo ne passe plus aux valideurs depuis hier soir, que dois-je faire ? Merci"),
        ("06:26", "x", "mention", "fr", f"c'est normal que les horaires du {l11.short} aient changé ? le 6h45 à {rng.choice(l11.stops or net.hubs)} n'existe plus sur l'appli"),
        ("06:31", "facebook", "mention", "fr", "Bonjour, est-ce que les vélos pliants sont acceptés dans le métro aux heures de pointe ?"),
        # The first sign of the stoppage reaches the desk just before it is official.
        ("06:37", "x", "mention", "fr", f"le {c4.short} de 6h32 n'est pas passé à {spell_stop('Grand Quartier', rng)}, un souci ?"),
    ]
    # fmt: on
    for clock, network, kind, lang, text in items:
        author = people.new(network, lang)
        category = "dm" if kind == "dm" else "quiet"
        b.emit(
            Message(at_clock(clock, rng), network, kind, author, text, lang, category=category),
            rough=False,
        )


def scripted_morning(b: Builder) -> list[tuple[float, tuple, Line | None]]:
    """People and pages whose whole morning is written out, so that threads hang together."""
    rng, net, people = b.rng, b.net, b.people
    # The story names these stops outright; fail loudly if a new feed drops one.
    story_stops = (
        "Grand Quartier",
        "République",
        "Pontchaillou",
        "Le Blosne",
        "Gares",
        "Villejean-Université",
        "Beaulieu - Université",
    )
    missing = [name for name in story_stops if name not in net.stop_names]
    if missing:
        raise ValueError(f"stops missing from the feed: {missing}")
    c4, ts = net.line("C4"), net.line("Ts52")

    maelle = people.named("x", "maelle_rns", "Maëlle 🌻", 430)
    yannick = people.named("facebook", "yannick.morvan.35", "Yannick Morvan", 310)
    lukas = people.named("bluesky", "lukasweber.bsky.social", "Lukas Weber", 95, "en")
    camille = people.named("bluesky", "camille-riou.bsky.social", "Camille Riou", 260)
    kevin = people.named("x", "kev_35000", "Kévin", 260)
    soizic = people.named("x", "soizic_lg", "Soizic Le Gall", 820)
    patrick = people.named("x", "pat_hamon35", "Patrick H.", 150)
    nathalie = people.named("facebook", "nathalie.guillou.7", "Nathalie Guillou", 210)
    # Pages and accounts with a large audience. All fictional.
    direct_x = people.named("x", "rennes_direct", "Rennes Direct · l'info locale", 118400)
    direct_fb = people.named("facebook", "rennes.direct", "Rennes Direct", 86200)
    radio = people.named("x", "illefm_radio", "Ille FM", 41800)
    radio_bs = people.named("bluesky", "illefm.bsky.social", "Ille FM", 6300)
    union = people.named("x", "fede_etu_rennes", "Fédé étudiante de Rennes", 12600)
    plans = people.named("x", "rennes_bonsplans", "Rennes Bons Plans", 27300)
    trafic = people.named("x", "trafic_rennes", "Trafic Rennes & rocade", 9400)
    journo = people.named("bluesky", "lea-kervella.bsky.social", "Léa Kervella, journaliste", 5200)
    elu = people.named("x", "herve_lemoal", "Hervé Le Moal, conseiller métropolitain", 8900)
    parents = people.named(
        "facebook", "parents.eleves.rennes.sud", "Parents d'élèves Rennes Sud", 5400
    )

    # (clock, key, author, kind, text, lang, category, topic, reply_to key).
    # Their text is used as written: it is already in each person's voice.
    # fmt: off
    S = [
        ("06:47", "m1", maelle, "mention", f"la {c4.short} circule ce matin ? personne à Grand Quartier et l'appli annonce un bus dans 2 min depuis 10 min", "fr", "question", "bus", None),
        ("06:52", "y1", yannick, "mention", "Bonjour, infirmier au CHU, je commence à 7h30 à Pontchaillou. Le métro a fonctionne ? Je suis au Blosne et pas de bus pour aller à la station", "fr", "question", "metro", None),
        ("06:55", "r1", direct_x, "mention", "🔴 Rennes : arrêt de travail surprise des conducteurs de bus du réseau STAR ce matin. Aucun bus ne circule depuis 6h40, le métro fonctionne. #Rennes #grevestar", "fr", "relay", "", None),
        ("06:58", "l1", lukas, "mention", "Hi! Is the metro running today? I need to get to the train station (Gares), my train to Paris is at 8:05", "en", "question", "metro", None),
        ("07:02", "k1", kevin, "mention", "vous êtes sérieux là ?? pas un bus, pas un message, rien. 40 min que j'attends à République", "fr", "complaint", "", None),
        ("07:04", "r2", direct_fb, "mention", "INFO TRAFIC · Arrêt de travail des conducteurs de bus STAR ce matin : aucun bus en circulation sur l'agglomération. Les lignes de métro a et b fonctionnent. Nous suivons la situation.", "fr", "relay", "", None),
        ("07:06", "m2", maelle, "reply", "toujours rien. 20 personnes à l'arrêt. qqn a une info ?", "fr", "question", "bus", "m1"),
        ("07:08", "r3", radio, "mention", "Trafic · Le réseau de bus STAR est totalement à l'arrêt ce matin à Rennes. Métro a et b en service, forte affluence. Infos en direct à chaque quart d'heure.", "fr", "relay", "", None),
        ("07:09", "c1", camille, "reply", "@lukasweber.bsky.social yes the metro is running, only the buses are stopped. Take it to Gares, it's direct from most stations", "en", "answer", "", "l1"),
        ("07:11", "n1", nathalie, "mention", f"Bonjour, mon fils de 11 ans attend le {ts.short} depuis 7h à {ts.termini[0]}, est-ce qu'il va passer ? Le collège n'a rien dit", "fr", "question", "bus", None),
        ("07:15", "y2", yannick, "mention", "Pour info pour les collègues du CHU : le métro a roule, j'y suis, bondé mais ça passe. Par contre aucun bus.", "fr", "relay", "", None),
        ("07:20", "l2", lukas, "reply", "@camille-riou.bsky.social thank you!! walking to the metro now 🙏", "en", "reply", "", "c1"),
        ("07:21", "u1", union, "mention", "⚠️ Étudiant·es : pas de bus STAR ce matin. Partiel à Villejean ou à Beaulieu ? Prévenez votre scolarité, on demande la neutralisation des retards. #grevestar", "fr", "relay", "", None),
        ("07:26", "n2", nathalie, "reply", "Je suis allée le chercher en voiture. Pensez aux enfants svp, aucune info aux arrêts.", "fr", "complaint", "", "n1"),
        ("07:31", "k2", kevin, "mention", "1h à République. je rentre chez moi. vous êtes une bande de guignols", "fr", "complaint", "", None),
        ("07:36", "p1", plans, "mention", "🚲 Plan B grève STAR : les vélos en libre-service partent vite, pensez covoit. Le métro fonctionne mais il est saturé aux heures de pointe. RT pour ceux qui attendent encore à l'arrêt", "fr", "relay", "", None),
        ("07:39", "m3", maelle, "mention", "bon je pars à pied à République. 50 min de marche. merci pour l'info inexistante", "fr", "complaint", "", None),
        ("07:46", "r4", direct_x, "mention", "Grève surprise à la STAR : toujours aucun bus à 7h45. Le métro tourne mais les quais sont bondés à Gares et République. Aucune heure de reprise annoncée. #Rennes", "fr", "relay", "", None),
        ("07:51", "t1", trafic, "mention", "Rocade nord saturée, 25 min de bouchon porte de Saint-Malo, effet de la grève des bus STAR. Évitez le secteur si possible.", "fr", "relay", "", None),
        ("07:54", "d1", patrick, "mention", "Grève sans préavis = illégal. Des sanctions ! Ras le bol de la prise d'otage des usagers #grevestar", "fr", "debate", "", None),
        ("08:03", "d2", soizic, "reply", "@pat_hamon35 faire grève c'est un droit. Les conducteurs alertent depuis des mois sur les effectifs et les horaires, personne ne les écoute", "fr", "debate", "", "d1"),
        ("08:09", "d3", patrick, "reply", "@soizic_lg facile de soutenir quand on est en télétravail", "fr", "debate", "", "d2"),
        ("08:14", "d4", soizic, "reply", "@pat_hamon35 je suis aide-soignante et je suis venue à pied. Mais merci.", "fr", "debate", "", "d3"),
        ("08:12", "k3", kevin, "mention", "toujours aucun message officiel à 8h10. bravo. vraiment bravo", "fr", "complaint", "", None),
        ("08:31", "r5", radio_bs, "mention", "Point trafic 8h30 · Toujours aucun bus STAR à Rennes. Métro a et b en service, forte affluence. Une réunion entre la direction et les représentants des conducteurs est en cours.", "fr", "relay", "", None),
        ("08:41", "j1", journo, "mention", "Vous êtes bloqué·e ce matin par l'arrêt des bus STAR ? Je prépare un sujet, écrivez-moi en message privé.", "fr", "relay", "", None),
        ("08:47", "pa1", parents, "mention", "Plusieurs enfants sont restés à l'arrêt sans car scolaire ce matin. Nous demandons au réseau un système d'alerte SMS pour les familles.", "fr", "complaint", "", None),
        ("08:56", "e1", elu, "mention", "Encore une matinée de chaos sur le réseau STAR. La majorité métropolitaine doit rendre des comptes sur le dialogue social avec l'exploitant.", "fr", "debate", "", None),
        ("09:40", "k4", kevin, "mention", "et du coup c'est reparti quand ? parce qu'à un moment faut le dire", "fr", "question", "bus", None),
        ("09:52", "r6", direct_x, "mention", "Grève STAR : un accord a été trouvé, la reprise progressive du trafic bus est annoncée vers 10h15. Le métro fonctionne normalement. #Rennes", "fr", "relay", "", None),
        ("10:18", "r7", direct_x, "mention", "✅ Rennes : reprise progressive des bus STAR depuis 10h15. Des perturbations sont encore à prévoir jusqu'en fin de matinée. #grevestar", "fr", "relay", "", None),
        ("10:21", "r8", direct_fb, "mention", "MISE À JOUR · Les bus STAR circulent de nouveau depuis 10h15, avec des perturbations jusqu'à midi environ.", "fr", "relay", "", None),
        ("10:24", "m4", maelle, "mention", f"la {c4.short} repasse enfin. 3h de retard au taf, génial. Et l'abonnement il sera remboursé ?", "fr", "tail", "", None),
        ("10:35", "y3", yannick, "mention", "Merci à ceux qui ont répondu ce matin. Ce serait bien de penser aux soignants qui commencent tôt la prochaine fois.", "fr", "tail", "", None),
        ("10:41", "l3", lukas, "mention", "Are buses back to normal now? The app still shows 'perturbé' everywhere and I have class at Beaulieu at 11", "en", "tail", "", None),
        ("10:52", "n3", nathalie, "dm", "Bonjour, pouvez-vous me fournir une attestation pour l'absence de mon fils au collège ce matin ? Il attendait le car scolaire. Merci", "fr", "dm", "", None),
    ]
    # fmt: on
    # Lines the scripted questions are about, so that answers name the right one.
    lines = {"m1": c4, "m2": c4, "n1": ts, "y1": net.line("a")}
    return [(at_clock(row[0], rng), row, lines.get(row[1])) for row in S]


def generate(seed: int = SEED) -> list[Message]:
    rng = random.Random(seed)  # noqa: S311 - reproducible fiction, not security
    b = Builder(rng, load_network(GTFS_DIR))
    quiet_hour(b)

    scripted = scripted_morning(b)
    times = sorted(rng.uniform(lo, hi) for lo, hi, n in BUCKETS for _ in range(n))
    slots: list[tuple[float, str]] = []
    for lo, hi, weights in PHASES:
        here = [t for t in times if lo <= t < hi]
        categories = apportion(weights, len(here))
        rng.shuffle(categories)
        slots += zip(here, categories, strict=True)

    # English-speaking passengers (exchange students, visitors): about a dozen
    # unscripted messages, mostly questions, one complaint, one refund request.
    def some(categories: set[str], k: int) -> list[int]:
        return rng.sample([i for i, (_, c) in enumerate(slots) if c in categories], k)

    english = set(
        some({"question"}, 8) + some({"tail"}, 2) + some({"complaint"}, 1) + some({"dm"}, 1)
    )

    # Scripted and generated messages go through one clock, so that each can
    # reply to whatever the other has already posted.
    events: list[tuple[float, tuple[tuple, Line | None] | None, tuple[str, bool]]] = [
        (t, None, (c, i in english)) for i, (t, c) in enumerate(slots)
    ]
    events += [(t, (row, line), ("", False)) for t, row, line in scripted]
    events.sort(key=lambda e: e[0])

    make = {
        "question": b.question,
        "complaint": b.complaint,
        "relay": b.relay,
        "debate": b.debate,
        "answer": b.answer,
        "reply": b.reply,
        "dm": b.dm,
        "tail": b.tail,
    }
    by_key: dict[str, Message] = {}
    for at, script, (category, is_english) in events:
        if script is not None:
            (_, key, author, kind, text, lang, cat, topic, parent), line = script
            target = by_key[parent] if parent else None
            msg = Message(at, author.network, kind, author, text, lang, target, cat, topic, line)
            by_key[key] = b.emit(msg, rough=False)
            continue
        lang = "en" if is_english else "fr"
        # A reply needs something recent to reply to; without one the person
        # posts their own question (or, after resumption, their own doubt).
        if make[category](at, lang) is None:
            make["tail" if at >= RESUMPTION else "question"](at, lang)

    messages = sorted(b.history, key=lambda m: m.at)
    for n, msg in enumerate(messages, 1):
        msg.id = f"s1-{n:04d}"
    return messages


def to_json(msg: Message) -> dict:
    return {
        "at": round(msg.at, 1),
        "id": msg.id,
        "network": msg.network,
        "kind": msg.kind,
        "author": msg.author.as_json(),
        "text": msg.text,
        "reply_to": msg.reply_to.id if msg.reply_to else None,
        "lang": msg.lang,
    }


def main() -> None:
    messages = generate()
    with OUT_PATH.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps({"meta": META}, ensure_ascii=False) + "\n")
        for msg in messages:
            fh.write(json.dumps(to_json(msg), ensure_ascii=False) + "\n")
    print(f"wrote {len(messages)} messages to {OUT_PATH}")


if __name__ == "__main__":
    main()
