"""Character names: finding name mentions in text and clustering their forms into characters.

"Mr. Bennet", "Elizabeth", "Lizzy" and "Miss Elizabeth Bennet" are forms; a character is a
cluster of forms. Clustering follows English naming conventions (titles, given names,
surnames, nicknames).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from khipu.characters.attribution.lexicons import (
    FEMALE_NAMES,
    MALE_NAMES,
    NICKNAMES,
    NON_NAMES,
    TITLES,
    Gender,
)

_CAP = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_PARTICLE = r"(?:de|du|van|von|der|la|le|di|da)"
_TITLE_ALTERNATION = "|".join(
    sorted((title.capitalize() for title in TITLES), key=len, reverse=True)
)
NAME_PATTERN = re.compile(
    rf"(?<![\w’'])(?:(?P<title>{_TITLE_ALTERNATION})\.?\s+)?"
    rf"(?P<words>{_CAP}(?:(?:\s+[A-Z]\.)*\s+(?:{_PARTICLE}\s+)?{_CAP}){{0,2}})(?![\w])"
)
_INITIAL = re.compile(r"^[A-Z]\.$")
# "the Hatter", "the Mock Turtle": a capitalised epithet that some texts use as a name.
THE_NAME_PATTERN = re.compile(rf"(?<![\w’'])[Tt]he\s+(?P<words>{_CAP}(?:\s+{_CAP})?)(?![\w])")
_WORD = re.compile(r"[A-Za-z]+(?:[’'][a-z]+)?")
_SENTENCE_START = re.compile(r"(?:^|[.!?;:“”\"‘—(]\s*)$")

THE = "the"


@dataclass(frozen=True, slots=True)
class NameForm:
    """One way of writing a name: an optional title ("mr", "the") and capitalised words."""

    title: str | None
    words: tuple[str, ...]

    @property
    def surface(self) -> str:
        if self.title is None:
            return " ".join(self.words)
        if self.title == THE:
            return "the " + " ".join(self.words)
        title = self.title.capitalize()
        dotted = title + "." if title.lower() in _ABBREVIATED_TITLES else title
        return dotted + " " + " ".join(self.words)


_ABBREVIATED_TITLES = frozenset({"mr", "mrs", "ms", "dr", "mme", "mlle", "rev"})


@dataclass(frozen=True, slots=True)
class NameMention:
    start: int
    end: int
    form: NameForm


class WordCensus:
    """How often each word is written lowercase or capitalised mid-sentence in the whole text.

    A capitalised word that is usually lowercase ("Long", "Hope") is a sentence opener or a common
    noun, not a name, unless a title or an attribution vouches for it.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        self.lowercase: Counter[str] = Counter()
        self.capitalised_mid_sentence: Counter[str] = Counter()
        for text in texts:
            for match in _WORD.finditer(text):
                word = match.group()
                if word[0].islower():
                    self.lowercase[word] += 1
                elif not _SENTENCE_START.search(text[max(0, match.start() - 3) : match.start()]):
                    self.capitalised_mid_sentence[word] += 1

    def is_common_word(self, word: str) -> bool:
        if word in NON_NAMES:
            return True
        lower = self.lowercase[word.lower()]
        return lower > 0 and lower >= self.capitalised_mid_sentence[word]


def parse_title(raw: str | None) -> str | None:
    return raw.lower() if raw else None


def find_name_forms(
    text: str, census: WordCensus, *, keep_common_single: bool = False
) -> list[NameMention]:
    """Every name-like mention in `text`, common words trimmed from untitled sequences.

    `keep_common_single` keeps a lone word the census finds common ("Rabbit"): right where an
    attribution vouches for it, wrong in running text.
    """
    mentions: list[NameMention] = []
    for match in NAME_PATTERN.finditer(text):
        title = parse_title(match.group("title"))
        # Middle initials ("Randolph C. Miller") do not distinguish people in running text.
        words = tuple(w for w in re.split(r"\s+", match.group("words")) if not _INITIAL.match(w))
        start = match.start("words") if title is None else match.start()
        if title is None:
            # Drop sentence openers ("But Lizzy") and keep the name-like tail.
            while (words and words[0] in NON_NAMES) or (
                len(words) > 1 and census.is_common_word(words[0])
            ):
                start = text.index(words[1], start) if len(words) > 1 else match.end()
                words = words[1:]
                if not words:
                    break
            if not words:
                continue
            common = [census.is_common_word(word) for word in words]
            if any(common) and not (keep_common_single and len(words) == 1):
                continue
        elif words[0] in NON_NAMES:
            continue  # "Colonel. If you ..." is not a Colonel If
        mentions.append(NameMention(start, match.end(), NameForm(title, words)))
    return mentions


def find_the_forms(text: str) -> list[NameMention]:
    """Capitalised epithets ("the Hatter"); only those vouched for by attributions are kept."""
    return [
        NameMention(m.start(), m.end(), NameForm(THE, tuple(m.group("words").split())))
        for m in THE_NAME_PATTERN.finditer(text)
        if m.group("words") not in NON_NAMES
    ]


def formal_given_name(word: str) -> str:
    return NICKNAMES.get(word, word)


def title_gender(title: str | None) -> Gender:
    if title is None or title == THE:
        return "unknown"
    return TITLES[title][0]


def name_list_gender(word: str) -> Gender:
    if word in FEMALE_NAMES or formal_given_name(word) in FEMALE_NAMES:
        return "female"
    if word in MALE_NAMES or formal_given_name(word) in MALE_NAMES:
        return "male"
    return "unknown"


@dataclass(slots=True)
class FormEvidence:
    """What the text says about one name form, gathered before clustering."""

    count: int = 0
    male_votes: float = 0.0
    female_votes: float = 0.0
    speaker_count: int = 0  # times it is the subject of an explicit attribution
    vocative_count: int = 0
    place_count: int = 0  # times it follows "at", "in", "from" ...
    agent_count: int = 0  # times it is the subject of a verb only people do ("smiled", "said")


@dataclass(frozen=True, slots=True)
class CharacterEntity:
    """A cluster of name forms believed to be one character."""

    key: str
    name: str
    aliases: tuple[str, ...]
    gender: Gender
    given: str | None
    surname: str | None
    forms: tuple[NameForm, ...]
    is_person: bool
    known: bool
    mention_count: int


@dataclass(frozen=True, slots=True)
class NameIndex:
    entities: Mapping[str, CharacterEntity]
    by_form: Mapping[NameForm, str]

    def entity_for(self, form: NameForm) -> CharacterEntity | None:
        key = self.by_form.get(form)
        return self.entities[key] if key is not None else None


@dataclass(slots=True)
class _Cluster:
    """A character under construction."""

    forms: Counter[NameForm] = field(default_factory=Counter)
    titles: set[str] = field(default_factory=set)
    given: str | None = None
    surname: str | None = None
    male: float = 0.0
    female: float = 0.0
    person: float = 0.0
    place: float = 0.0
    known_key: str | None = None
    known_name: str | None = None
    known_gender: Gender = "unknown"
    known_aliases: tuple[str, ...] = ()

    def add(
        self, form: NameForm, evidence: FormEvidence, balance: tuple[float, float] = (1.0, 1.0)
    ) -> None:
        if not self.forms:
            # A common given name is good evidence once per character, not once per mention.
            self._vote(name_list_gender(form.words[0]) if form.title != THE else "unknown", 2.0)
        self.forms[form] += max(evidence.count, 1)
        if form.title and form.title != THE:
            self.titles.add(form.title)
        self.male += balance[0] * evidence.male_votes
        self.female += balance[1] * evidence.female_votes
        self.person += 2 * evidence.speaker_count + evidence.vocative_count + evidence.agent_count
        self.place += evidence.place_count
        gender = title_gender(form.title)
        if gender != "unknown":
            self.person += evidence.count
            self._vote(gender, 5.0 * max(evidence.count, 1))

    def _vote(self, gender: Gender, weight: float) -> None:
        if gender == "male":
            self.male += weight
        elif gender == "female":
            self.female += weight

    @property
    def gender(self) -> Gender:
        if self.known_gender != "unknown":
            return self.known_gender
        if self.male > 1.5 * self.female and self.male >= 1:
            return "male"
        if self.female > 1.5 * self.male and self.female >= 1:
            return "female"
        return "unknown"

    def compatible(self, gender: Gender) -> bool:
        return gender == "unknown" or self.gender in ("unknown", gender)

    @property
    def count(self) -> int:
        return sum(self.forms.values())


def title_class(title: str) -> str:
    """Titles that name the same person with a surname: Mr./Colonel/Captain are one class."""
    if title in ("mrs", "ms", "mme", "madame", "signora", "frau"):
        return "mrs"
    if title in ("miss", "mlle", "mademoiselle"):
        return "miss"
    if title in ("lady", "lord", "countess", "count", "duke", "duchess", "baron", "baroness"):
        return title
    if title_gender(title) == "male" or title in ("dr", "doctor", "professor"):
        return "m"
    return title


class _Clusterer:
    """Groups name forms into characters by titles, given names, surnames and nicknames."""

    def __init__(self, evidence: Mapping[NameForm, FormEvidence]) -> None:
        self.evidence = evidence
        self.clusters: list[_Cluster] = []
        self.cluster_of: dict[NameForm, _Cluster] = {}
        self.given_names = self._given_name_evidence()
        self.surnames = self._surname_evidence()
        self.balance = _pronoun_balance(evidence.values())

    def _given_name_evidence(self) -> set[str]:
        given = {w for form in self.evidence for w in form.words[:1] if len(form.words) > 1}
        given |= {
            formal_given_name(form.words[0]) for form in self.evidence if len(form.words) == 1
        }
        return {w for w in given if name_list_gender(w) != "unknown" or w in given}

    def _surname_evidence(self) -> set[str]:
        surnames: set[str] = set()
        for form in self.evidence:
            if (form.title and form.title != THE and TITLES[form.title][1] == "surname") or (
                len(form.words) > 1 and form.title != THE
            ):
                surnames.add(form.words[-1])
        return surnames

    def place(self, form: NameForm, cluster: _Cluster) -> None:
        cluster.add(form, self.evidence.get(form, FormEvidence()), self.balance)
        self.cluster_of[form] = cluster

    def new_cluster(self, form: NameForm, *, given: str | None, surname: str | None) -> _Cluster:
        cluster = _Cluster(given=given, surname=surname)
        self.clusters.append(cluster)
        self.place(form, cluster)
        return cluster

    def seed_known(self, key: str, name: str, aliases: Sequence[str], gender: Gender) -> None:
        cluster = _Cluster(known_key=key, known_name=name, known_gender=gender)
        cluster.known_aliases = tuple(aliases)
        self.clusters.append(cluster)
        for surface in (name, *aliases):
            form = parse_surface(surface)
            if form is None or form in self.cluster_of:
                continue
            self.place(form, cluster)
            if len(form.words) > 1 and form.title != THE:
                cluster.given = cluster.given or form.words[0]
                cluster.surname = cluster.surname or form.words[-1]
            elif form.title and form.title != THE:
                self._set_titled_part(cluster, form)
            elif form.words[0] in self.surnames and form.words[0] not in self.given_names:
                cluster.surname = cluster.surname or form.words[0]
            else:
                cluster.given = cluster.given or form.words[0]

    def _set_titled_part(self, cluster: _Cluster, form: NameForm) -> None:
        if self._takes_given_name(form):
            cluster.given = cluster.given or form.words[0]
        else:
            cluster.surname = cluster.surname or form.words[-1]

    def _takes_given_name(self, form: NameForm) -> bool:
        assert form.title is not None
        takes = TITLES[form.title][1]
        if takes == "either":
            word = form.words[0]
            return (word in self.given_names or name_list_gender(word) != "unknown") and (
                word not in self.surnames or len(form.words) > 1
            )
        return takes == "given"

    def cluster(self) -> list[_Cluster]:
        forms = sorted(self.evidence, key=lambda f: -self.evidence[f].count)
        pending = [f for f in forms if f not in self.cluster_of]
        titles_alone = [f for f in pending if _is_title_alone(f)]
        for form in [f for f in pending if f.title == THE and f not in titles_alone]:
            self._place_the_form(form)
        full = [f for f in pending if len(f.words) > 1 and f.title != THE]
        titled = [f for f in pending if len(f.words) == 1 and f.title and f.title != THE]
        single = [
            f for f in pending if len(f.words) == 1 and f.title is None and f not in titles_alone
        ]
        for form in full:
            self._place_full(form)
        for form in titled:
            if self._takes_given_name(form):
                self._place_titled_given(form)
        for form in titled:
            if not self._takes_given_name(form):
                self._place_titled_surname(form)
        for form in titles_alone:
            self._place_title_alone(form)
        for form in single:
            self._place_single(form)
        return self.clusters

    def _place_the_form(self, form: NameForm) -> None:
        """ "the White Rabbit" and "the Rabbit" are one character when no other shares the noun."""
        same_noun = [c for c in self.clusters if _has_the_form(c, form.words[-1])]
        if len(same_noun) == 1:
            self.place(form, same_noun[0])
        else:
            self.new_cluster(form, given=None, surname=None)

    def _place_title_alone(self, form: NameForm) -> None:
        """ "the Colonel" is Colonel Saunders when the book has one colonel."""
        title = form.words[0].lower()
        bearers = [c for c in self.clusters if title in c.titles or _doctor(title, c.titles)]
        alone = [
            c
            for c in self.clusters
            if any(_is_title_alone(f) and f.words == form.words for f in c.forms)
        ]
        if len(bearers) == 1:
            self.place(form, bearers[0])
        elif alone:
            self.place(form, alone[0])
        else:
            self.new_cluster(form, given=None, surname=None)

    def _place_full(self, form: NameForm) -> None:
        given, surname = form.words[0], " ".join(form.words[1:])
        gender = title_gender(form.title)
        for cluster in self.clusters:
            if (
                cluster.given == given
                and cluster.surname == surname
                and cluster.compatible(gender)
                and not self._title_conflict(cluster, form.title)
            ):
                self.place(form, cluster)
                return
        self.new_cluster(form, given=given, surname=surname)

    @staticmethod
    def _title_conflict(cluster: _Cluster, title: str | None) -> bool:
        if title is None or not cluster.titles:
            return False
        classes = {title_class(t) for t in cluster.titles}
        return (
            title_class(title) not in classes
            and {"mrs", "miss"} & (classes | {title_class(title)}) != set()
        )

    def _place_titled_given(self, form: NameForm) -> None:
        assert form.title is not None
        given = formal_given_name(form.words[0])
        gender = title_gender(form.title)
        plain_title = form.title in ("miss", "master")
        matches = [
            c
            for c in self.clusters
            if c.given is not None
            and formal_given_name(c.given) == given
            and c.compatible(gender)
            and (plain_title or form.title in c.titles)
        ]
        if len(matches) == 1:
            self.place(form, matches[0])
        else:
            self.new_cluster(form, given=form.words[0], surname=None)

    def _place_titled_surname(self, form: NameForm) -> None:
        assert form.title is not None
        surname = form.words[0]
        wanted = title_class(form.title)
        gender = title_gender(form.title)
        same_class = [
            c
            for c in self.clusters
            if c.surname == surname
            and c.given is None
            and any(title_class(t) == wanted for t in c.titles)
        ]
        if same_class:
            self.place(form, same_class[0])
            return
        full_matches = [
            c
            for c in self.clusters
            if c.surname == surname and c.given is not None and c.gender == gender != "unknown"
        ]
        # A married woman's "Mrs. X" is not her daughters' "Elizabeth X"; and "Miss X" is only
        # the one unmarried X daughter when the text knows no other.
        unique = full_matches[0] if len(full_matches) == 1 else None
        if unique is not None and (
            wanted == "m"
            or (wanted == "miss" and not self._other_given_names_share(surname, unique))
        ):
            self.place(form, unique)
        else:
            self.new_cluster(form, given=None, surname=surname)

    def _other_given_names_share(self, surname: str, cluster: _Cluster) -> bool:
        return any(
            c is not cluster and c.surname == surname and c.given is not None and c.gender != "male"
            for c in self.clusters
        )

    def _place_single(self, form: NameForm) -> None:
        word = form.words[0]
        formal = formal_given_name(word)
        gender = name_list_gender(word)
        by_given = [
            c
            for c in self.clusters
            if c.given is not None
            and (c.given == word or (formal != word and formal_given_name(c.given) == formal))
            and c.compatible(gender)
            and (c.given == word or not self._titled_by_rank(c))
        ]
        titled_men = [
            c for c in self.clusters if c.surname == word and c.given is None and _is_mister(c)
        ]
        if by_given and len(titled_men) == 1 and titled_men[0] not in by_given:
            # A bare surname is the titled man's: "Fitzwilliam" is Colonel Fitzwilliam, not
            # Fitzwilliam Darcy.
            self.place(form, titled_men[0])
            return
        if by_given:
            self.place(form, max(by_given, key=lambda c: c.count))
            return
        by_surname = [c for c in self.clusters if c.surname == word]
        men = [
            c for c in by_surname if c.gender == "male" or "m" in {title_class(t) for t in c.titles}
        ]
        # A bare surname is, by convention, the man's: "Bingley" is Mr. Bingley, "Darcy" is
        # Fitzwilliam Darcy, and "Wickham" is not Mrs. Wickham. With two men of the name, only
        # the one called Mr. X is "X".
        misters = [c for c in men if "m" in {title_class(t) for t in c.titles}]
        chosen = men if len(men) == 1 else misters
        if len(chosen) == 1:
            self.place(form, chosen[0])
            return
        untitled = [c for c in by_surname if c.given is None and c.gender != "female"]
        if len(untitled) == 1:
            self.place(form, untitled[0])
            return
        related = self._pet_form_of(word, gender) or self._the_form_of(word)
        if related is not None:
            self.place(form, related)
            return
        if word in self.surnames and word not in self.given_names:
            self.new_cluster(form, given=None, surname=word)
        else:
            self.new_cluster(form, given=word, surname=None)

    def _pet_form_of(self, word: str, gender: Gender) -> _Cluster | None:
        """The one character whose name this is a clipped or pet form of: Kit of Kitty, Skaggsy
        of Skaggs, Tommy of Tom. A known nickname ("Will") only goes to its formal name."""
        if word in NICKNAMES:
            return None
        found = {
            id(c): c
            for c in self.clusters
            if c.compatible(gender)
            and (
                (c.given is not None and _clipped(word, c.given))
                or any(name is not None and _pet(word, name) for name in (c.given, c.surname))
            )
        }
        return next(iter(found.values())) if len(found) == 1 else None

    def _the_form_of(self, word: str) -> _Cluster | None:
        """ "O Mouse" addresses the Mouse: a capitalised noun is its "the" form's character."""
        found = [c for c in self.clusters if _has_the_form(c, word)]
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _titled_by_rank(cluster: _Cluster) -> bool:
        """Sir William or Lady Catherine are not called by a nickname."""
        return bool(cluster.titles & {"sir", "lady", "lord", "dame", "king", "queen", "prince"})


_PET_ENDINGS = ("y", "ie", "ey", "sy", "sie", "kins")


def _clipped(word: str, given: str) -> bool:
    """Kit for Kitty, Alex for Alexander: the first syllables of a given name."""
    return len(word) >= 3 and len(given) > len(word) and given.startswith(word)


def _pet(word: str, name: str) -> bool:
    """Skaggsy for Skaggs, Tommy for Tom, Johnnie for John."""
    if not word.startswith(name) or len(word) <= len(name):
        return False
    ending = word[len(name) :]
    return ending in _PET_ENDINGS or (ending[0] == name[-1] and ending[1:] in _PET_ENDINGS)


def _has_the_form(cluster: _Cluster, noun: str) -> bool:
    return any(f.title == THE and f.words[-1] == noun for f in cluster.forms)


def _is_title_alone(form: NameForm) -> bool:
    """ "the Colonel", or "Colonel" in an address ("Why, Colonel, ...")."""
    return form.title in (THE, None) and len(form.words) == 1 and form.words[0].lower() in TITLES


def _doctor(title: str, titles: set[str]) -> bool:
    return title == "doctor" and "dr" in titles


def _is_mister(cluster: _Cluster) -> bool:
    return "m" in {title_class(t) for t in cluster.titles}


def _pronoun_balance(evidence: Iterable[FormEvidence]) -> tuple[float, float]:
    """Weights that make a pronoun after a name count against the book's own mix of "he" and
    "she": in a book about one girl, "she" follows every name, the White Rabbit's too."""
    male = sum(e.male_votes for e in evidence)
    female = sum(e.female_votes for e in evidence)
    if male + female < 20:
        return 1.0, 1.0
    share = min(max(male / (male + female), 0.2), 0.8)
    return 0.5 / share, 0.5 / (1.0 - share)


def parse_surface(surface: str) -> NameForm | None:
    """Parse a name as a user or a gold file writes it ("Mr. Bennet", "the Hatter")."""
    text = surface.strip()
    the = re.fullmatch(r"[Tt]he\s+(.+)", text)
    if the:
        return NameForm(THE, tuple(the.group(1).split()))
    match = re.fullmatch(rf"(?:(?P<title>{_TITLE_ALTERNATION})\.?\s+)?(?P<words>.+)", text)
    if match is None:
        return None
    words = tuple(match.group("words").split())
    if not words:
        return None
    return NameForm(parse_title(match.group("title")), words)


def canonical_name(cluster: _Cluster) -> str:
    """The most telling form: the commonest, upgraded from a bare given name to a full name."""
    if cluster.known_name is not None:
        return cluster.known_name
    ranked = sorted(cluster.forms, key=lambda f: (-cluster.forms[f], -len(f.words)))
    best = ranked[0]
    the_forms = [f for f in ranked if f.title == THE and f.words[-1] == best.words[-1]]
    if best.title is None and len(best.words) == 1 and the_forms:
        return the_forms[0].surface  # "the Mouse", also where "O Mouse" is commoner
    if best.title is None and len(best.words) == 1:
        # "Lizzy" -> "Elizabeth Bennet", also when only "Miss Elizabeth Bennet" says so
        first_names = {best.words[0], cluster.given}
        fuller = [
            f for f in ranked if f.title != THE and len(f.words) > 1 and f.words[0] in first_names
        ]
        if fuller:
            return " ".join(fuller[0].words)
    return best.surface


def build_name_index(
    evidence: Mapping[NameForm, FormEvidence],
    *,
    known: Sequence[tuple[str, str, Sequence[str], Gender]] = (),
) -> NameIndex:
    """Cluster name forms into characters; known characters keep their key, name and gender."""
    clusterer = _Clusterer(evidence)
    for key, name, aliases, gender in known:
        clusterer.seed_known(key, name, aliases, gender)
    clusters = clusterer.cluster()
    used_keys = {c.known_key for c in clusters if c.known_key}
    entities: dict[str, CharacterEntity] = {}
    by_form: dict[NameForm, str] = {}
    for cluster in sorted(clusters, key=lambda c: -c.count):
        name = canonical_name(cluster)
        key = cluster.known_key or _unique_key(name, used_keys)
        used_keys.add(key)
        aliases = [f.surface for f in sorted(cluster.forms, key=lambda f: -cluster.forms[f])]
        aliases = list(dict.fromkeys([*cluster.known_aliases, *aliases]))
        entities[key] = CharacterEntity(
            key=key,
            name=name,
            aliases=tuple(a for a in aliases if a != name),
            gender=cluster.gender,
            given=cluster.given,
            surname=cluster.surname,
            forms=tuple(cluster.forms),
            is_person=cluster.known_key is not None or _looks_like_person(cluster),
            known=cluster.known_key is not None,
            mention_count=cluster.count,
        )
        for form in cluster.forms:
            by_form[form] = key
    return NameIndex(entities, by_form)


def _looks_like_person(cluster: _Cluster) -> bool:
    """Titles, attributions, vocatives, common given names or human verbs make a person.

    Pronouns after a name are not enough on their own: places and things get "it" wrong too.
    """
    first_names = sum(
        n for f, n in cluster.forms.items() if name_list_gender(f.words[0]) != "unknown"
    )
    person = cluster.person + first_names
    return person > 0 and person >= cluster.place


def _unique_key(name: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "character"
    key, n = base, 2
    while key in used:
        key, n = f"{base}-{n}", n + 1
    return key


_DETERMINER = r"(?P<det>the|his|her|their|our|my|your|a|an)"
_ROLE_NOUN = r"(?:[a-z]+\s+){0,2}(?P<noun>[a-z]{3,})"
_ROLE_AFTER_NAME = re.compile(rf"^(?:,\s+|(?:’s|'s| s| is| was)\s+){_DETERMINER}\s+{_ROLE_NOUN}\b")
_ROLE_BEFORE_NAME = re.compile(rf"\b{_DETERMINER}\s+{_ROLE_NOUN},?\s+$")
_GENERIC_DETERMINERS = frozenset({"the", "our", "my", "your", "their", "a", "an"})


def role_key(determiner: str, noun: str) -> tuple[str, str]:
    """ "our courier" and "the courier" are one role; "his aunt" and "her aunt" are not."""
    determiner = determiner.lower()
    return ("the" if determiner in _GENERIC_DETERMINERS else determiner, noun)


def find_role_appositions(
    text: str, census: WordCensus, *, nouns: frozenset[str]
) -> list[tuple[tuple[str, str], NameForm]]:
    """Roles the text gives a name: "his aunt, Mrs. Costello", "Eugenio’s our courier"."""
    found: list[tuple[tuple[str, str], NameForm]] = []
    for mention in find_name_forms(text, census):
        after = _ROLE_AFTER_NAME.match(text[mention.end : mention.end + 60])
        before = _ROLE_BEFORE_NAME.search(text[max(0, mention.start - 60) : mention.start])
        for match in (after, before):
            if match is not None and match.group("noun") in nouns:
                found.append((role_key(match.group("det"), match.group("noun")), mention.form))
    return found
