"""French and English cue words: triage is useful before any agent has labelled anything.

Entries are folded (lower case, no accents); a trailing '*' matches any word beginning with
it; several words match a sequence. Each cue votes for a category with a weight.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from relais.triage.text import fold

# Emoji are not words: their cues are in relais.triage.engine.EMOJI_CUES.
CUES: dict[str, dict[str, float]] = {}


def _add(category: str, weight: float, entries: str) -> None:
    for raw in entries.split("|"):
        entry = fold(raw.strip())
        if entry:
            CUES.setdefault(entry, {})[category] = weight


# --- intents ------------------------------------------------------------------------------
_add(
    "question",
    1.0,
    "est ce que|est-ce que|pourquoi|quand|comment|combien|quel|quelle|quels|quelles|"
    "savez vous|sauriez vous|pouvez vous|peut on|y a t il|ya t il|y aura t il|circule t|circulent ils|"
    "circule-t-il|fonctionne t|passe t|est il|est elle|c est normal|on peut|possible de|des infos|"
    "une info|info svp|renseignement*|horaire*|a quelle heure|is there|are there|is the|are the|does the|"
    "do the|when|where|how|what time|which|can i|could you|will the|any news|any update*|running today",
)
_add(
    "complaint",
    1.2,
    "inadmissible|scandal*|honte|honteux|honteuse|lamentable|nul|nulle|marre|ras le bol|"
    "n importe quoi|pas normal|inacceptable|inexcusable|degoute*|j en ai assez|toujours en retard|encore en retard|"
    "rembourse*|indemnis*|plainte|reclamation*|pitoyable|catastroph*|deplorable|incompetent*|mepris|"
    "on se fout|foutage|jamais a l heure|terrible|worst|ridiculous|unacceptable|disappointed|disgrace*|"
    "pathetic|refund|complain*|fed up|useless|awful|joke",
)
_add(
    "incident_report",
    1.2,
    "bloque*|coince*|en panne|panne|arrete en pleine|arret d urgence|ne passe pas|"
    "n est jamais passe|jamais passe|pas passe|n est pas passe|toujours pas passe|supprime*|annule*|retard*|"
    "incident|accident|malaise|agression|agresse*|colis suspect|bagage abandonne|fumee|incendie|"
    "deraille*|bonde*|plein a craquer|porte bloquee|porte coincee|ascenseur en panne|escalator en panne|"
    "stuck|broke down|broken down|delayed|delay|never came|didn t come|did not come|cancelled|canceled|"
    "no bus|no train|not running|skipped|overcrowded|breakdown",
)
_add(
    "service_request",
    1.6,
    "graffiti*|tag|tags|tague*|poubelle*|ordure*|dechet*|encombrant*|depot sauvage|"
    "lampadaire*|eclairage|lumiere eteinte|eteint depuis|nid de poule|nids de poule|trottoir*|chaussee|"
    "voirie|abribus casse|abri bus casse|vitre cassee|banc casse|fuite|egout*|caniveau*|debordent|deborde|"
    "deborde*|arbre tombe|branche*|dechets|salete|proprete|signalement|signaler|degradation*|vandalis*|"
    "street light|streetlight|pothole*|litter|trash|garbage|bins|overflowing|broken bench|fly tipping|vandal*",
)
_add(
    "praise",
    1.0,
    "merci|mercii|merci beaucoup|bravo|felicitations|super|genial|top|excellent|parfait|"
    "chapeau|au top|bon travail|bien joue|sympa|adorable|gentil|efficace|reactivite|reactif|"
    "thanks|thank you|thx|great job|awesome|kudos|well done|amazing|love it",
)
_add(
    "polemic",
    1.3,
    "politique*|propagande|ideolog*|gauchiste*|facho*|fasciste*|woke|wokisme|islamo*|"
    "extreme droite|extreme gauche|militant*|boycott*|censure*|complot*|honte a la mairie|maire demission|"
    "demission|elus|prise d otage|prises d otage|otages|pris en otage|syndicat*|greviste*|"
    "soutien aux|solidarite avec|neutralite|partisan*|communautaris*|racis*|islam*|palestin*|israel*|"
    "propaganda|leftist*|fascist*|political|politics|boycott",
)
_add(
    "spam_abuse",
    2.5,
    "connard*|connasse*|encule*|fdp|ntm|nique*|salope*|batard*|pute*|abruti*|"
    "debile*|cretin*|ta gueule|ferme la|bouffon*|fuck*|asshole*|bitch*|idiots|morons|"
    "gagnez|gagner un iphone|crypto*|bitcoin*|onlyfans|promo code|code promo|follow back|followback|"
    "abonnez vous|click here|cliquez ici|investissement garanti|dm me|dm pour",
)

# --- sentiment ----------------------------------------------------------------------------
_add(
    "positive",
    1.0,
    "merci|bravo|super|genial|top|excellent|parfait|content|contente|ravi|ravie|heureux|"
    "heureuse|cool|sympa|efficace|rapide|agreable|impeccable|nickel|chapeau|bien joue|au top|"
    "thanks|thank you|great|awesome|love|good|nice|happy|perfect|excellent|amazing|best|helpful",
)
_add(
    "negative",
    1.0,
    "nul|nulle|honte|honteux|inadmissible|scandale|scandaleux|marre|ras le bol|colere|"
    "enerve*|furieux|furieuse|degoute*|lamentable|pitoyable|catastroph*|deplorable|galere*|horrible|"
    "insupportable|inacceptable|retard*|bloque*|en panne|supprime*|annule*|jamais|toujours pas|encore|"
    "terrible|worst|bad|awful|hate|angry|annoyed|ridiculous|delayed|delay|stuck|cancelled|canceled|"
    "unacceptable|disappointed|useless|late|never|rude|frustrat*",
)

# --- urgency ------------------------------------------------------------------------------
_add(
    "safety",
    3.0,
    "malaise|malade|evanoui*|inconscient*|blesse*|blessure*|saigne*|sang|secours|"
    "pompiers|samu|ambulance|agression|agresse*|agresseur*|frappe|frappee|bagarre*|harcel*|attouchement*|"
    "arme|armes|couteau|pistolet|fusil|colis suspect|bagage abandonne|bagages abandonnes|alerte a la bombe|"
    "bombe|fumee|incendie|feu a bord|en feu|odeur de brule|inonde*|inondation*|personne sur les voies|sur les voies|sur les voies|"
    "quelqu un sur les voies|accident grave|au secours|a l aide|danger|dangereux|"
    "fainted|unconscious|injured|bleeding|ambulance|assault*|attacked|fight|harass*|weapon|knife|gun|"
    "suspicious package|unattended bag|bomb|smoke|fire|flood*|on the track|on the tracks|on the rails|"
    "help me|emergency",
)
_add(
    "blocking",
    2.0,
    "bloque*|coince*|en panne|arrete en pleine voie|arrete entre|ne passe pas|jamais passe|"
    "n est jamais passe|pas passe|supprime*|interrompu*|interruption|plus de bus|plus de metro|aucun bus|"
    "pas de bus|pas de metro|rate mon train|rater mon train|louper mon train|correspondance|"
    "stuck|stranded|broke down|broken down|not running|never came|cancelled|canceled|no bus|"
    "no service|missed my|miss my",
)

NEGATIONS = {
    "pas",
    "plus",
    "jamais",
    "ni",
    "not",
    "no",
    "never",
    "dont",
    "don",
    "isn",
    "wasn",
    "aren",
}


@dataclass
class Hits:
    scores: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    cues: list[tuple[str, str]] = field(default_factory=list)  # (category, cue), for explanations


class CueMatcher:
    """Matches every cue in one pass over the words of a text.

    At each word, the longest cue of several words that starts there wins; otherwise the
    word itself, as an exact cue or under the longest prefix cue ("retard*"). Only the
    words that begin a multi-word cue try the longer ones, and what a single word matches
    is remembered (words repeat from one message to the next), so a message costs about
    one dictionary look-up per word."""

    CACHE_LIMIT = 200_000  # words remembered; hostile text must not grow it without end

    def __init__(self, cues: dict[str, dict[str, float]] = CUES):
        self.exact: dict[tuple[str, ...], dict[str, float]] = {}
        self.prefix: dict[str, dict[str, float]] = {}
        self.max_words = 1
        for entry, categories in cues.items():
            if entry.endswith("*") and " " not in entry:
                self.prefix[entry[:-1]] = categories
            else:
                key = tuple(entry.rstrip("*").split())
                self.exact[key] = categories
                self.max_words = max(self.max_words, len(key))
        self.prefix_lengths = sorted({len(p) for p in self.prefix}, reverse=True)
        # First words of the cues of several words: only they try the longer look-ups.
        self.starts = {key[0] for key in self.exact if len(key) > 1}
        self._single: dict[str, dict[str, float] | None] = {}

    def _word(self, word: str) -> dict[str, float] | None:
        """The categories of one word: an exact cue, else its longest prefix cue."""
        try:
            return self._single[word]
        except KeyError:
            pass
        categories = self.exact.get((word,))
        if not categories:
            for length in self.prefix_lengths:
                if length <= len(word):
                    categories = self.prefix.get(word[:length])
                    if categories:
                        break
        if len(self._single) < self.CACHE_LIMIT:
            self._single[word] = categories or None
        return categories or None

    def match(self, words: list[str]) -> Hits:
        hits = Hits()
        n = len(words)
        exact, starts = self.exact, self.starts
        for i, word in enumerate(words):
            if word in starts:
                for size in range(min(self.max_words, n - i), 1, -1):
                    key = tuple(words[i : i + size])
                    categories = exact.get(key)
                    if categories:
                        self._vote(hits, categories, " ".join(key), words, i)
                        break
                else:
                    categories = self._word(word)
                    if categories:
                        self._vote(hits, categories, word, words, i)
                continue
            categories = self._word(word)
            if categories:
                self._vote(hits, categories, word, words, i)
        return hits

    @staticmethod
    def _vote(hits: Hits, categories: dict[str, float], cue: str, words: list[str], i: int) -> None:
        negated = any(w in NEGATIONS for w in words[max(0, i - 2) : i])
        for category, weight in categories.items():
            if negated and category == "positive":
                category = "negative"  # "pas content", "not good"
            hits.scores[category] += weight
            hits.cues.append((category, cue))
