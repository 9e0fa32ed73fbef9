"""Passages and attribution phrases: who the narration around a quote says is speaking or addressed.

A passage is one paragraph of segments. A cue is a phrase naming the speaker ("said his lady",
"Elizabeth replied", "returned she") or the subject of an action beside the quote; a vocative is a
name the quote itself addresses ("My dear Mr. Bennet, ...").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from khipu.characters.attribution.lexicons import (
    CONTRASTIVE_EPITHETS,
    EPITHET_NOUNS,
    FIRST_PERSON,
    KIN_NOUNS,
    KIN_VOCATIVES,
    PARENT_VOCATIVES,
    PARTICLE_VERBS,
    ROLE_NOUNS,
    SPEECH_VERBS,
    SUBJECT_PRONOUNS,
    Gender,
    word_set,
)
from khipu.characters.attribution.model import Line
from khipu.characters.attribution.names import (
    THE,
    THE_NAME_PATTERN,
    NameForm,
    WordCensus,
    find_name_forms,
)

CueKind = Literal["name", "pronoun", "epithet", "first_person", "contrastive", "group"]
CuePlace = Literal["after", "before", "beat"]

_POSSESSOR_GENDER: dict[str, Gender] = {"his": "male", "her": "female"}
_NOT_MODIFIERS = word_set(
    """
    to and or but with of in on at for by from as that which who when while than then
    """
)
_SENTENCE_END = re.compile(
    r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bMme)(?<!\bMlle)(?<!\b[A-Z])"
    r"[.!?;]\s+(?=[A-Z“\"‘])"
)
_CLOSING_QUOTES = ("”", '"', "’")


@dataclass(frozen=True, slots=True)
class Part:
    kind: str  # "dialogue" | "narration"
    text: str
    line_id: str


@dataclass(frozen=True, slots=True)
class Passage:
    """One paragraph: its segments in order."""

    chapter: int
    paragraph: int
    parts: tuple[Part, ...]
    scene: int = 0  # counts chapters and scene breaks: no conversation spans two scenes

    @property
    def quotes(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.kind == "dialogue")

    @property
    def narration(self) -> str:
        return " ".join(p.text for p in self.parts if p.kind == "narration")

    @property
    def ends_open_quote(self) -> bool:
        """A quote left open at the paragraph's end continues, by convention, in the next one."""
        quotes = self.quotes
        if not quotes or self.parts[-1].kind != "dialogue":
            return False
        return not quotes[-1].text.rstrip().endswith(_CLOSING_QUOTES)


@dataclass(frozen=True, slots=True)
class Cue:
    """A phrase in the narration that names (or points at) the speaker of a quote."""

    kind: CueKind
    text: str
    place: CuePlace
    verb: str | None = None
    form: NameForm | None = None  # for names
    gender: Gender = "unknown"
    relation: str | None = None  # "wife" in "his wife"
    possessor_gender: Gender = "unknown"  # "his wife" -> male possessor
    addressee: NameForm | None = None  # "he said to Mrs. Costello"
    possessor: NameForm | None = None  # "Daisy’s mamma": the relation is Daisy's


@dataclass(frozen=True, slots=True)
class Vocative:
    """Someone a quote addresses: a name form or a term of address with a gender."""

    form: NameForm | None
    gender: Gender
    parent: bool = False  # "Mamma", "Papa": the addressee is a parent in the scene


def group_passages(lines: Sequence[Line]) -> list[Passage]:
    """Group reading-ordered lines into paragraphs; headings are not passages."""
    passages: list[Passage] = []
    current: list[Part] = []
    place: tuple[int, int] | None = None
    scene = 0
    for line in lines:
        if line.kind == "heading":
            continue
        here = (line.chapter, line.paragraph)
        if here != place and current:
            assert place is not None
            passages.append(Passage(place[0], place[1], _absorb_mentions(current), scene))
            current = []
        if here != place and place is not None and (line.scene_break or line.chapter != place[0]):
            scene += 1
        place = here
        current.append(Part(line.kind, line.text, line.id))
    if current and place is not None:
        passages.append(Passage(place[0], place[1], _absorb_mentions(current), scene))
    return passages


def _absorb_mentions(parts: Sequence[Part]) -> tuple[Part, ...]:
    """Quoted words inside a sentence of narration (the inn of the “Trois Couronnes”, a bottle
    marked “poison”) are no one's speech: they become part of the narration around them."""
    merged: list[Part] = []
    for k, part in enumerate(parts):
        if part.kind == "dialogue" and _mentioned_only(parts, k):
            part = Part("narration", part.text, part.line_id)
        if merged and part.kind == "narration" and merged[-1].kind == "narration":
            merged[-1] = Part("narration", f"{merged[-1].text} {part.text}", merged[-1].line_id)
        else:
            merged.append(part)
    return tuple(merged)


def _mentioned_only(parts: Sequence[Part], k: int) -> bool:
    """A short quotation that the narration runs into without a pause or a verb of saying."""
    quote = parts[k].text
    if k == 0 or parts[k - 1].kind != "narration" or len(quote.split()) > _MENTION_WORDS:
        return False
    if "!" in quote or "?" in quote:
        return False  # an exclamation or a question is said, even run into the sentence
    before = parts[k - 1].text.rstrip()
    last_words = [w.lower() for w in re.findall(r"[A-Za-z]+", before)[-2:]]
    if before.endswith((",", ":", "—", ";", ".", "!", "?")) or SPEECH_VERBS & set(last_words):
        return False
    after = parts[k + 1].text if k + 1 < len(parts) else ""
    return not after or after[0].islower()


@dataclass(frozen=True, slots=True)
class _Subject:
    """A phrase in the narration that could be the subject of a speech verb, with its span."""

    start: int
    end: int
    cue: Cue


_PRONOUN = re.compile(r"\b(?:[Hh]e|[Ss]he|I|[Tt]hey|[Ii]t)\b")
_EPITHET_NOUN_ALTERNATION = "|".join(
    sorted({*EPITHET_NOUNS, *CONTRASTIVE_EPITHETS}, key=len, reverse=True)
)
_EPITHET = re.compile(
    r"\b(?P<det>[Tt]he|[Hh]is|[Hh]er|[Mm]y|[Tt]heir|[Oo]ur|[Yy]our|[Tt]his|[Tt]hat)"
    rf"(?P<mods>(?:\s+[a-z]+){{0,2}}?)\s+(?P<noun>{_EPITHET_NOUN_ALTERNATION})\b"
)
_VERB_ALTERNATION = "|".join(sorted(SPEECH_VERBS, key=len, reverse=True))
_ROLE_EPITHET = re.compile(
    r"\b[Tt]he(?:\s+[a-z]+){0,2}?\s+(?P<noun>[a-z]{3,})"
    rf"(?=\s*(?:[,.;:!?—”\"]|$)|\s+(?:[a-z]+ly\s+)?(?:{_VERB_ALTERNATION})\b)"
)
_SPEECH_VERB = re.compile(r"\b[A-Za-z]+\b")
_LEADING_LINK = re.compile(
    r"^\W*(?:(?:and|but|then|as|while|so|now|here|at\s+last|again)\b\W*)*", re.I
)
_NOT_UTTERED = frozenset({"to", "was", "were", "be", "been", "being", "is", "are"})
# Right after a quote, "Fannie had replied" attributes it; elsewhere "I had spoken to her" is the
# past of the story, not this quote.
_PERFECT = frozenset({"had", "have", "has"})
_MENTION_WORDS = 4  # quoted words this short, run into a sentence, are mentioned, not said
_REPORT_LIMIT = 300  # longer narration is a scene of its own, not a turn in the conversation
_NOT_REPORTING = word_set(
    """
    thought thinks wondered wonders smiled smiles laughed laughs sighed sighs grinned grins
    began begins continued continues
    """
)
# "Daisy’s mamma", "Mr. Bennet's daughter": a relative of someone named.
_KIN_WORDS = {
    **{word: word for word in KIN_NOUNS if word in EPITHET_NOUNS},
    "mamma": "mother",
    "mama": "mother",
    "papa": "father",
}
_NAMED_KIN = re.compile(
    r"(?P<owner>(?:[A-Z][a-z]+\.?\s+)*[A-Z][a-z]+)(?:’s|'s| s)\s+"
    rf"(?P<kin>{'|'.join(_KIN_WORDS)})\b"
)
_INVERTED_VERB = re.compile(r"^\W*(?:[a-z]+ly\s+)?(?P<verb>[a-z]{3,}ed)\s+(?=\S)")
_SPEECH_NOUN = re.compile(
    r"^\W*(?:was|came)\s+(?P<owner>[Hh]is|[Hh]er|(?:[A-Z][\w.]*\s+)*[A-Z]\w*)(?:’s|'s)?"
    r"(?:\s+[a-z]+){0,2}?\s+(?P<noun>reply|answer|question|remark|comment|response|rejoinder|"
    r"retort|exclamation|greeting|farewell|protest|observation|suggestion|inquiry|query|cry|"
    r"explanation|announcement|objection|command|request|advice|verdict)\b"
)
_TO_NAME = re.compile(r"\b(?:to|addressing)\s+(?=[A-Z])")
_AGENT = re.compile(r"\s+by\s+")
_ASIDE_LIMIT = (
    8  # words allowed between a subject and its verb ("he withdrew his own and coldly said")
)


class CueReader:
    """Reads attribution phrases out of narration, using the book's word census for names."""

    def __init__(self, census: WordCensus) -> None:
        self.census = census

    def cue_after_quote(self, narration: str) -> Cue | None:
        """`“…,” said his lady to him one day` or `“…” Elizabeth replied.` or an action beat."""
        cue = self._cue_after_quote(narration)
        return self._with_addressee(cue, narration)

    def cue_before_quote(self, narration: str) -> Cue | None:
        """`Mrs. Bennet said only, “…”` or `he suddenly addressed her with:` or an action beat."""
        cue = self._cue_before_quote(narration)
        return self._with_addressee(cue, _last_sentence(narration))

    def _with_addressee(self, cue: Cue | None, narration: str) -> Cue | None:
        """`he said to Mrs. Costello`, `turning to Giovanelli`: the one spoken to."""
        if cue is None or cue.place == "beat":
            return cue
        for match in _TO_NAME.finditer(narration):
            mentions = find_name_forms(narration[match.end() :], self.census)
            if mentions and mentions[0].start == 0:
                return replace(cue, addressee=mentions[0].form)
        return cue

    def _cue_after_quote(self, narration: str) -> Cue | None:
        subjects = self._subjects(narration, "after")
        for verb_start, verb_end, verb in self._speech_verbs(narration, perfect=True):
            if len(re.findall(r"\w+", narration[:verb_start])) > 6:
                break
            cue = self._subject_of(
                narration, subjects, verb_start, verb_end, verb, inverted_first=True
            )
            if cue is not None:
                return cue
        return (
            self._inverted_verb(narration, subjects)
            or self._speech_noun(narration)
            or self._beat(narration, subjects)
        )

    @staticmethod
    def _inverted_verb(narration: str, subjects: list[_Subject]) -> Cue | None:
        """`“…,” mused his brother.` or `puffed Mrs. Jones`: after a quote, a past-tense verb
        followed by its subject is a way of saying "said", whatever the verb."""
        match = _INVERTED_VERB.match(narration)
        if match is None:
            return None
        subject = next((s for s in subjects if s.start == match.end()), None)
        if subject is None or not _is_person_cue(subject.cue):
            return None
        rest = narration[subject.end :]
        if rest.strip() and not re.match(r"\s*(?:[,.;:!?—]|[a-z])", rest):
            return None
        return _with_verb(subject.cue, match.group("verb"))

    def _speech_noun(self, narration: str) -> Cue | None:
        """`“…” was Kit’s first question.`, `was his reply`: the speaker owns the reply."""
        match = _SPEECH_NOUN.match(narration)
        if match is None:
            return None
        owner = match.group("owner")
        if owner.lower() in _POSSESSOR_GENDER:
            gender = _POSSESSOR_GENDER[owner.lower()]
            return Cue("pronoun", owner, "after", verb=match.group("noun"), gender=gender)
        mentions = find_name_forms(owner, self.census, keep_common_single=True)
        if len(mentions) != 1:
            return None
        return Cue("name", owner, "after", verb=match.group("noun"), form=mentions[0].form)

    def _cue_before_quote(self, narration: str) -> Cue | None:
        sentence_start = len(narration) - len(_last_sentence(narration))
        subjects = [s for s in self._subjects(narration, "before") if s.start >= sentence_start]
        for verb_start, verb_end, verb in reversed(self._speech_verbs(narration)):
            if verb_start < sentence_start:
                break
            cue = self._subject_of(
                narration, subjects, verb_start, verb_end, verb, inverted_first=False
            )
            if cue is not None:
                return cue
        return self._beat(
            narration[sentence_start:], self._subjects(narration[sentence_start:], "beat")
        )

    def reported_speech(self, narration: str) -> Cue | None:
        """`Mr. Bennet replied that he had not.`: a turn taken in narration, between quotes."""
        if len(narration) > _REPORT_LIMIT:
            return None
        first = _SENTENCE_END.split(narration, maxsplit=1)[0]
        subjects = self._subjects(first, "before")
        for verb_start, verb_end, verb in self._speech_verbs(first):
            if verb in _NOT_REPORTING:
                continue
            cue = self._subject_of(
                first, subjects, verb_start, verb_end, verb, inverted_first=False
            )
            if cue is not None and cue.kind in ("name", "pronoun", "epithet", "first_person"):
                return cue
        return None

    def _speech_verbs(self, text: str, *, perfect: bool = False) -> list[tuple[int, int, str]]:
        verbs: list[tuple[int, int, str]] = []
        words = list(_SPEECH_VERB.finditer(text))
        for i, match in enumerate(words):
            word = match.group().lower()
            if word not in SPEECH_VERBS:
                continue
            end = match.end()
            if word in PARTICLE_VERBS:
                following = words[i + 1] if i + 1 < len(words) else None
                if following is None or following.group().lower() not in PARTICLE_VERBS[word]:
                    continue
                end = following.end()
            before = words[i - 1].group().lower() if i > 0 else ""
            if before in _NOT_UTTERED or (before in _PERFECT and not perfect):
                continue  # "to say", "was interrupted": an intention or a passive, not an utterance
            verbs.append((match.start(), end, word))
        return verbs

    @staticmethod
    def _subject_of(
        text: str,
        subjects: list[_Subject],
        verb_start: int,
        verb_end: int,
        verb: str,
        *,
        inverted_first: bool,
    ) -> Cue | None:
        after = next((s for s in subjects if s.start >= verb_end), None)
        between = text[verb_end : after.start] if after is not None else ""
        if after is not None and _AGENT.fullmatch(between) and after.cue.kind != "first_person":
            return _with_verb(after.cue, verb)  # "when thus accosted by Miss Bingley"
        inverted = after if after is not None and not between.strip() else None
        before = None
        for subject in reversed([s for s in subjects if s.end <= verb_start]):
            between = text[subject.end : verb_start]
            words = re.findall(r"[A-Za-z]+", between)
            if re.search(r"[.!?;:]", between) or len(words) > _ASIDE_LIMIT:
                break
            if not any(w.lower() in SPEECH_VERBS for w in words):
                before = subject
                break
        order = (inverted, before) if inverted_first else (before, inverted)
        chosen = next((s for s in order if s is not None), None)
        return _with_verb(chosen.cue, verb) if chosen is not None else None

    @staticmethod
    def _beat(text: str, subjects: list[_Subject]) -> Cue | None:
        """`Elizabeth smiled.` next to a quote: the sentence's subject is likely its speaker."""
        lead = _LEADING_LINK.match(text)
        offset = lead.end() if lead else 0
        first = next((s for s in subjects if s.start >= offset), None)
        if first is None or first.start != offset or first.cue.kind in ("contrastive", "group"):
            return None
        return replace(first.cue, place="beat", verb=None)

    def _subjects(self, text: str, place: CuePlace) -> list[_Subject]:
        subjects: list[_Subject] = []
        taken: list[tuple[int, int]] = []
        for match in THE_NAME_PATTERN.finditer(text):
            words = tuple(match.group("words").split())
            if words[0] in _NEVER_SPEAKERS:
                continue
            cue = Cue("name", match.group(), place, form=NameForm(THE, words))
            subjects.append(_Subject(match.start(), match.end(), cue))
            taken.append((match.start(), match.end()))
        for mention in find_name_forms(text, self.census, keep_common_single=True):
            if any(a <= mention.start < b for a, b in taken):
                continue
            surface = text[mention.start : mention.end]
            if mention.form.words[0] in _NEVER_SPEAKERS and mention.form.title is None:
                continue
            cue = Cue("name", surface, place, form=mention.form)
            subjects.append(_Subject(mention.start, mention.end, cue))
            taken.append((mention.start, mention.end))
        for match in _NAMED_KIN.finditer(text):
            owner = find_name_forms(match.group("owner"), self.census, keep_common_single=True)
            if len(owner) != 1:
                continue
            kin = _KIN_WORDS[match.group("kin").lower()]
            cue = Cue(
                "epithet",
                match.group(),
                place,
                gender=EPITHET_NOUNS[kin],
                relation=kin,
                possessor=owner[0].form,
            )
            subjects = [s for s in subjects if not match.start() <= s.start < match.end()]
            subjects.append(_Subject(match.start(), match.end(), cue))
            taken = [(a, b) for a, b in taken if not match.start() <= a < match.end()]
            taken.append((match.start(), match.end()))
        for match in _PRONOUN.finditer(text):
            word = match.group()
            if word == FIRST_PERSON:
                cue = Cue("first_person", word, place)
            elif word.lower() == "they":
                cue = Cue("group", word, place)  # "said they": several voices, no one character
            elif word.lower() == "it":
                if place == "beat":
                    continue  # "It was late." is no one's action
                cue = Cue("pronoun", word, place)  # "it said": the Dodo, a parrot, a voice
            else:
                cue = Cue("pronoun", word, place, gender=SUBJECT_PRONOUNS[word.lower()])
            subjects.append(_Subject(match.start(), match.end(), cue))
        for match in _EPITHET.finditer(text):
            if any(a <= match.start() < b for a, b in taken):
                continue
            epithet = self._epithet(match, place)
            if epithet is not None:
                subjects.append(_Subject(match.start(), match.end(), epithet))
                taken.append((match.start(), match.end()))
        for match in _ROLE_EPITHET.finditer(text):
            # "inquired the courier": any noun next to a speech verb stands for a speaker.
            noun = match.group("noun")
            if any(a <= match.start() < b for a, b in taken) or noun in _NOT_MODIFIERS:
                continue
            if any(w in SPEECH_VERBS or w in _NOT_MODIFIERS for w in match.group().split()[1:]):
                continue
            if is_plural_noun(noun):  # "cried the ladies", "said the others"
                group = Cue("group", match.group(), place)
                subjects.append(_Subject(match.start(), match.end(), group))
                continue
            cue = Cue(
                "epithet",
                match.group(),
                place,
                gender=EPITHET_NOUNS.get(noun, "unknown"),
                relation=noun,
            )
            subjects.append(_Subject(match.start(), match.end(), cue))
        return sorted(subjects, key=lambda s: s.start)

    @staticmethod
    def _epithet(match: re.Match[str], place: CuePlace) -> Cue | None:
        determiner = match.group("det").lower()
        modifiers = match.group("mods").split()
        noun = match.group("noun")
        if any(m in SPEECH_VERBS or m in _NOT_MODIFIERS for m in modifiers):
            return None
        if noun in CONTRASTIVE_EPITHETS and determiner == "the" and not modifiers:
            return Cue("contrastive", match.group(), place)
        if noun not in EPITHET_NOUNS:
            return None
        return Cue(
            "epithet",
            match.group(),
            place,
            gender=EPITHET_NOUNS[noun],
            relation=noun,
            possessor_gender=_POSSESSOR_GENDER.get(determiner, "unknown"),
        )


def is_plural_noun(noun: str) -> bool:
    """ "ladies", "others", "men": a group, not one speaker (but not "mistress" or "bus")."""
    if noun in _IRREGULAR_PLURALS:
        return True
    return noun.endswith("s") and not noun.endswith(("ss", "us", "is", "ous"))


_IRREGULAR_PLURALS = frozenset({"men", "women", "gentlemen", "children", "people", "folk"})


def _is_person_cue(cue: Cue) -> bool:
    if cue.kind in ("name", "pronoun", "first_person"):
        return True
    return cue.kind == "epithet" and (cue.relation in EPITHET_NOUNS or cue.relation in ROLE_NOUNS)


def _with_verb(cue: Cue, verb: str) -> Cue:
    return replace(cue, verb=verb)


_NEVER_SPEAKERS = frozenset({"I", "It", "There", "This", "That", "What", "Which", "Who"})


def _last_sentence(text: str) -> str:
    parts = _SENTENCE_END.split(text.rstrip())
    return parts[-1] if parts else text


_VOCATIVE_LEAD = re.compile(
    r"^[“\"‘]?(?i:(?:oh|ah|o|well|why|now|come|nay|yes|no|indeed|but|and|pray|hush|look|see|so|"
    r"then|hallo|hello|good\s+(?:morning|night|evening|bye))[,!]?\s+)*"
    r"(?:(?:[Mm]y|[Oo]ur)\s+(?:dear(?:est)?|good|poor|sweet|own|darling|dear\s+little)\s+|"
    r"[Dd]ear(?:est)?\s+)?(?P<name>[A-Z][\w’'.]*(?:\s+[A-Z][\w’'.]*){0,3}|[Mm]amma|[Mm]ama|[Pp]apa)"
    r"\s*(?=[,!?—;])"
)
_VOCATIVE_TAIL = re.compile(
    r"[,—]\s*(?:(?:my|our)\s+(?:dear(?:est)?|good|poor|sweet|own|darling)\s+|dear(?:est)?\s+)?"
    r"(?P<name>[A-Z][\w’'.]*(?:\s+[A-Z][\w’'.]*){0,3}|mamma|mama|papa)\s*[.!?—…]*[”\"’]?\s*$"
)
_VOCATIVE_MID = re.compile(
    r",\s+(?:(?:my|our)\s+(?:dear(?:est)?|good|poor|sweet|own|darling)\s+)?"
    r"(?P<name>[A-Z][\w’'.]*(?:\s+[A-Z][\w’'.]*){0,2}|mamma|mama|papa)"
    # ... then more of the sentence, or its end ("How good it was, my dear Mr. Bennet! But")
    r"(?:,\s|[!?]|\.(?=\s+[A-Z“\"‘]))"
)


_APPOSITION_BEFORE = re.compile(
    r"\b(?:(?:[Hh]is|[Hh]er|[Tt]heir|[Tt]he|[Aa]n?)\s+(?:[a-z]+\s+)?[a-z]+|"
    r"(?:[Mm]y|[Yy]our|[Oo]ur)\s+(?:[a-z]+\s+)?"
    r"(?!dear|darling|love|friend|boy|girl|child|man|fellow|lad|sir|madam)[a-z]+)$"
)


def find_vocatives(quote: str, census: WordCensus) -> list[Vocative]:
    """Names and terms of address that a quote speaks to."""
    found: list[Vocative] = []
    for pattern in (_VOCATIVE_LEAD, _VOCATIVE_TAIL, _VOCATIVE_MID):
        for match in pattern.finditer(quote):
            if pattern is not _VOCATIVE_LEAD and _APPOSITION_BEFORE.search(quote, 0, match.start()):
                continue  # "His boy, Joe, shaved me": Joe is the boy, not the one addressed
            vocative = _read_vocative(match.group("name").rstrip("."), census)
            if vocative is not None:
                found.append(vocative)
    return found


def _read_vocative(name: str, census: WordCensus) -> Vocative | None:
    lower = name.lower()
    if lower in KIN_VOCATIVES:
        return Vocative(None, KIN_VOCATIVES[lower], parent=lower in PARENT_VOCATIVES)
    mentions = find_name_forms(name, census)
    if len(mentions) == 1 and mentions[0].end - mentions[0].start == len(name):
        return Vocative(mentions[0].form, "unknown")
    return None
