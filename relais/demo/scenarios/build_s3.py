"""Build demo scenario S3 (an abandoned bag becomes a "bomb alert" rumour) as a JSON Lines
replay file. Standard library only; a fixed seed makes the file byte-identical each run."""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT_PATH = HERE / "s3_bomb_rumour.jsonl"
SEED = 20240917

CORDON = 6600.0  # 15:20, a bag is found in the terminal, the hall is cordoned off
BURST = 7215.0  # 15:30:15, the first "alerte à la bombe" post
ALL_CLEAR = 8700.0  # 15:55, the prefecture: routine perimeter, the bag was harmless
END = 10800.0  # 16:30

META = {
    "scenario": "S3",
    "title": "Abandoned baggage becomes a bomb-alert rumour",
    "starts_at_local": "13:30",
    "timezone": "Europe/Paris",
    "networks": ["x", "bluesky"],
    "source": "written for Relais; people, media and the agency are fictional",
    # Not in S1: seconds of the scenario's key moments, for the tests and the demo.
    "cordon_at": CORDON,
    "burst_starts_at": BURST,
    "all_clear_at": ALL_CLEAR,
}

OPERATOR = {"x": "@STAR_Rennes", "bluesky": "@star-rennes.bsky.social"}

# Ordinary afternoon: messages to the operator (kind mention, to our account) ...
BASELINE_TO_US = [
    ("fr", "{op} le C6 passe toujours toutes les 10 min vers l'aéroport l'après-midi ?"),
    ("fr", "{op} bonjour, le métro b est-il accessible en fauteuil à Saint-Germain ?"),
    ("fr", "{op} un bus 12 arrêté depuis 5 min à Colombier, un souci ?"),
    ("fr", "merci au chauffeur du C1 qui a attendu ma mère à Chèques Postaux {op} 🙏"),
    ("fr", "{op} j'ai perdu mon écharpe grise dans le métro a ce midi, où je peux demander ?"),
    ("fr", "{op} les valideurs de la station Gares ne marchent pas, on fait comment ?"),
    ("en", "{op} Hi, does the C6 go all the way to the airport terminal? Thanks"),
    ("fr", "{op} pourquoi le 9 est toujours en retard le mardi aprem ?"),
    ("fr", "{op} est-ce que le ticket 1h est valable sur la navette aéroport ?"),
    ("fr", "{op} la clim du C4 est en panne, on étouffe"),
    ("en", "{op} Is there a bus from the airport to the city centre after 23:00?"),
    ("fr", "{op} super l'appli, les horaires en temps réel sont enfin fiables"),
    ("fr", "{op} des travaux rue de Nantes ? le 11 fait un détour"),
    ("fr", "{op} bonjour, comment recharger ma KorriGo en ligne ?"),
]
# ... and posts a keyword search stream picks up (not addressed to us: source "search").
BASELINE_SEARCH = [
    ("fr", "Vol pour Nice retardé de 40 min à l'aéroport de Rennes, classique"),
    ("fr", "le parking P2 de l'aéroport de Rennes est plein, prévoyez large"),
    ("en", "Landed at Rennes airport, tiny but so efficient!"),
    ("fr", "Enfin les vacances ✈️ #aeroportRennes"),
    ("fr", "Le nouveau café de l'aéroport Rennes Saint-Jacques est une bombe, foncez"),
    ("fr", "quelqu'un sait si la navette aéroport Rennes tourne le dimanche ?"),
    ("en", "Rennes airport security line took 5 minutes. Paris could never"),
    ("fr", "Exercice d'évacuation prévu jeudi matin à l'aéroport de Rennes selon la préfecture"),
    ("fr", "Aéroport de Rennes : nouvelle ligne vers Porto cet été"),
    ("fr", "attente interminable au contrôle à l'aéroport de Rennes aujourd'hui"),
]

CORDON_POSTS = [
    ("fr", "Hall de l'aéroport de Rennes bouclé, un bagage abandonné près de l'enregistrement"),
    (
        "fr",
        "on nous fait sortir du terminal de l'aéroport Rennes Saint-Jacques, périmètre de sécurité",
    ),
    ("en", "Rennes airport terminal being cleared, police tape everywhere. Unattended bag?"),
    ("fr", "bagage abandonné à l'aéroport de Rennes, les démineurs arrivent. On attend dehors"),
    ("fr", "{op} le C6 dessert toujours l'aéroport ? le terminal est fermé"),
    ("fr", "périmètre de sécurité à l'aéroport de #Rennes, enregistrement suspendu"),
]

AIRPORT_FR = [
    "l'aéroport de Rennes",
    "l'aéroport Rennes Saint-Jacques",
    "l'aéroport de Rennes-Saint-Jacques",
    "l'aeroport de rennes",
    "l'aéroport #Rennes",
]
AIRPORT_EN = ["Rennes airport", "Rennes Saint-Jacques airport", "the airport in Rennes (France)"]

RUMOUR_FR = [
    "🚨 Alerte à la bombe à {a} ! terminal évacué",
    "ALERTE A LA BOMBE à {a}, tout le monde dehors, c'est la panique",
    "Alerte à la bombe en cours à {a}, évitez le secteur",
    "alerte a la bombe a {a} ??? quelqu'un a des infos",
    "mon frère est coincé dehors à {a}, alerte à la bombe apparemment 😨",
    "Alerte à la bombe à {a} : les vols sont suspendus selon plusieurs passagers",
    "Une alerte à la bombe à {a}, on en sait plus ? #Rennes",
    "Alerte à la bombe à {a}. Déminage en cours d'après des témoins",
    "c'est vrai cette alerte à la bombe à {a} ? je dois prendre l'avion à 17h",
    "alerte à la bombe à {a}, encore... on vit une époque formidable",
    "RT si vous êtes bloqués à {a} à cause de l'alerte à la bombe",
    "Des images de l'alerte à la bombe à {a} circulent, prudence avant de partager",
]
RUMOUR_EN = [
    "BREAKING: bomb alert at {a}, terminal evacuated",
    "Bomb threat at {a} right now, everyone pushed outside",
    "Anyone know what's happening at {a}? People are saying bomb alert",
    "Bomb alert at {a}. Flights on hold, my sister is stuck there",
    "Reports of a bomb alert at {a}. Stay safe everyone",
]
# Our account is asked too: does the bus still go there?
RUMOUR_TO_US = [
    ("fr", "{op} alerte à la bombe à l'aéroport, le C6 va toujours jusqu'au terminal ?"),
    ("fr", "{op} c'est vrai qu'il y a une alerte à la bombe à l'aéroport ? le C6 roule ?"),
    ("en", "{op} bomb alert at the airport, is the C6 still running there?"),
]
MEDIA = [
    # handle, name, reach, language, text
    (
        "ouest_info_agence",
        "Agence Ouest Info",
        412000,
        "fr",
        "URGENT - Alerte à la bombe à l'aéroport de Rennes-Saint-Jacques : le terminal est "
        "évacué, un périmètre de sécurité est en place (source aéroportuaire) #Rennes",
    ),
    (
        "rennes_direct",
        "Rennes Direct",
        86000,
        "fr",
        "🔴 Alerte à la bombe à l'aéroport de Rennes : le hall d'enregistrement évacué, "
        "les démineurs sur place. On vous tient informés.",
    ),
    (
        "FlashInfoFR",
        "Flash Info France",
        880000,
        "fr",
        "ALERTE - Alerte à la bombe en cours à l'aéroport de Rennes (Ille-et-Vilaine)",
    ),
    (
        "EuroWireNews",
        "EuroWire News",
        1210000,
        "en",
        "BREAKING: Bomb alert at Rennes airport in western France, terminal evacuated - "
        "local media",
    ),
    (
        "breizh_radio",
        "Radio Breizh Info",
        54000,
        "fr",
        "Alerte à la bombe à l'aéroport de Rennes : selon nos informations il s'agirait "
        "d'un bagage abandonné. Prudence avec les rumeurs.",
    ),
]
ALL_CLEAR_POSTS = [
    (
        "prefet35_demo",
        "Préfecture (démo)",
        98000,
        "fr",
        "Aéroport de Rennes : le bagage abandonné a été neutralisé, il ne contenait rien de "
        "dangereux. Il n'y a pas eu d'alerte à la bombe. Le terminal rouvre.",
    ),
    (
        "ouest_info_agence",
        "Agence Ouest Info",
        412000,
        "fr",
        "Aéroport de Rennes : fin de l'alerte, le bagage suspect était inoffensif. Reprise du "
        "trafic aérien (préfecture) #Rennes",
    ),
]
AFTER_FR = [
    "bon finalement pas de bombe à {a}, juste un sac oublié 🙄",
    "fausse alerte à la bombe à {a}, on peut rentrer",
    "le terminal de {a} rouvre, fin de l'alerte à la bombe",
]
AFTER_EN = ["False alarm at {a}, the bag was harmless. Terminal reopening"]

# Messages per minute of the rumour, from BURST: the agency's post sets it off.
BURST_CURVE = [6, 14, 22, 28, 32, 30, 27, 24, 21, 18, 16, 14, 12, 10, 9, 8, 7, 6, 6, 5]
AFTER_CURVE = [4, 3, 3, 2, 2, 2, 1, 1, 1, 1]  # per minute after the all-clear

FIRST = [
    "lea",
    "tom",
    "ines",
    "hugo",
    "manon",
    "yanis",
    "chloe",
    "lucas",
    "emma",
    "nathan",
    "jade",
    "enzo",
    "lina",
    "noah",
    "sarah",
    "ewen",
    "maelys",
    "gael",
    "rose",
    "malo",
    "anna",
    "kylian",
    "zoe",
    "tristan",
    "louise",
    "sam",
    "alex",
    "james",
    "olivia",
    "ben",
    "grace",
    "liam",
]


def handle(rng: random.Random, network: str) -> str:
    base = (
        rng.choice(FIRST)
        + rng.choice(["", "_", "."])
        + rng.choice(["", str(rng.randint(1, 99)), "rns", "bzh", "35", "off"])
    )
    base = base.strip("._")[:15] or "user"
    return base.replace(".", "_") if network == "x" else f"{base.replace('_', '-')}.bsky.social"


def reach(rng: random.Random) -> int:
    return max(3, int(rng.lognormvariate(5.1, 1.0)))


def build() -> list[dict]:
    rng = random.Random(SEED)  # noqa: S311 - a reproducible file, not a secret
    lines: list[dict] = []

    def add(at, text, lang, *, network="x", search=True, author=None, kind="mention"):
        if author is None:
            h = handle(rng, network)
            author = {
                "handle": h,
                "name": h.split(".")[0].replace("_", " ").title(),
                "reach": reach(rng),
            }
        line = {
            "at": round(at, 1),
            "id": "",
            "network": network,
            "kind": kind,
            "author": author,
            "text": text.replace("{op}", OPERATOR[network]),
            "reply_to": None,
            "lang": lang,
        }
        if search:
            line["source"] = "search"
        lines.append(line)

    # An ordinary afternoon: about one message every 5 minutes, a few of them matching words
    # such as "bombe" or "évacuation" harmlessly.
    t = rng.uniform(60, 240)
    while t < CORDON:
        if rng.random() < 0.6:
            lang, text = rng.choice(BASELINE_TO_US)
            add(t, text, lang, network=rng.choice(["x", "x", "bluesky"]), search=False)
        else:
            lang, text = rng.choice(BASELINE_SEARCH)
            add(t, text, lang, network=rng.choice(["x", "x", "bluesky"]))
        t += rng.uniform(120, 480)
    # The cordon: a handful of posts from people in the terminal.
    for i, (lang, text) in enumerate(CORDON_POSTS):
        at = CORDON + 30 + i * rng.uniform(60, 110)
        add(at, text, lang, search="{op}" not in text)
    # The rumour: the agency first, then everyone.
    media_times = [BURST, BURST + 95, BURST + 170, BURST + 230, BURST + 420]
    for (h, name, r, lang, text), at in zip(MEDIA, media_times, strict=True):
        add(at, text, lang, author={"handle": h, "name": name, "reach": r})
    for minute, count in enumerate(BURST_CURVE):
        start = BURST + 60 * minute
        # The media posts count in their minute's total.
        media_here = sum(1 for at in media_times if int((at - BURST) // 60) == minute)
        for _ in range(count - media_here):
            at = start + rng.uniform(1, 59.5)
            network = "x" if rng.random() < 0.75 else "bluesky"
            roll = rng.random()
            if roll < 0.06:
                lang, text = rng.choice(RUMOUR_TO_US)
                add(at, text, lang, network=network, search=False)
            elif roll < 0.72:
                add(
                    at,
                    rng.choice(RUMOUR_FR).format(a=rng.choice(AIRPORT_FR)),
                    "fr",
                    network=network,
                )
            else:
                add(
                    at,
                    rng.choice(RUMOUR_EN).format(a=rng.choice(AIRPORT_EN)),
                    "en",
                    network=network,
                )
    # The all-clear and the tail.
    for (h, name, r, lang, text), at in zip(
        ALL_CLEAR_POSTS, [ALL_CLEAR, ALL_CLEAR + 140], strict=True
    ):
        add(at, text, lang, author={"handle": h, "name": name, "reach": r})
    for minute, count in enumerate(AFTER_CURVE):
        for _ in range(count):
            at = ALL_CLEAR + 60 * minute + rng.uniform(1, 59.5)
            if rng.random() < 0.8:
                add(at, rng.choice(AFTER_FR).format(a=rng.choice(AIRPORT_FR)), "fr")
            else:
                add(at, rng.choice(AFTER_EN).format(a=rng.choice(AIRPORT_EN)), "en")
    t = ALL_CLEAR + 60 * len(AFTER_CURVE)
    while t < END:
        lang, text = rng.choice(BASELINE_TO_US)
        add(t, text, lang, network=rng.choice(["x", "bluesky"]), search=False)
        t += rng.uniform(200, 500)

    lines.sort(key=lambda line: line["at"])
    for number, line in enumerate(lines, start=1):
        line["id"] = f"s3-{number:04d}"
    return lines


def main() -> None:
    lines = build()
    with open(OUT_PATH, "w", encoding="utf-8", newline="\n") as out:
        out.write(json.dumps({"meta": META}, ensure_ascii=False) + "\n")
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} messages to {OUT_PATH}")


if __name__ == "__main__":
    main()
