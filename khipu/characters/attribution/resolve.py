"""Choosing each turn's speaker: cues, pronouns, epithets, vocatives and turn-taking, jointly.

A conversation is a run of dialogue paragraphs ("turns") not separated by long narration. Each
turn scores every candidate speaker on its own evidence; a second-order Viterbi pass then adds
turn-taking (A, B, A, B), continuation and "the addressed one answers", so that one explicit
attribution carries over the unattributed turns around it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from khipu.characters.attribution.gender import compatible
from khipu.characters.attribution.lexicons import (
    PARENT_RELATIONS,
    REPLY_VERBS,
    SIBLING_RELATIONS,
    SPOUSE_RELATIONS,
    Gender,
)
from khipu.characters.attribution.names import CharacterEntity, NameForm, role_key, title_class
from khipu.characters.attribution.quotes import Cue

IMPOSSIBLE = -1e9
PRONOUN_PRESENCE = 1.0
PRONOUN_LEAD = 1.5
_MAX_CANDIDATES = 7
_SALIENCE_DECAY = 0.75  # per paragraph
_SALIENCE_REACH = 12  # paragraphs looked back


@dataclass(frozen=True, slots=True)
class Turn:
    """One speaker's stretch of dialogue: usually a paragraph's quotes."""

    passage: int  # index of its paragraph in the book's passage list
    scene: int  # its chapter and scene (see `Passage.scene`)
    line_ids: tuple[str, ...]
    cues: tuple[Cue, ...]
    addressees: frozenset[str]  # character keys the quotes address
    named_in_quote: frozenset[str]  # character keys the quotes mention in the third person
    continues_previous: bool  # the previous quote was left open, or "he went on"
    locked: str | None  # a speaker fixed by the user


@dataclass(frozen=True, slots=True)
class Decision:
    speaker: str | None
    confidence: float
    method: str


@dataclass(slots=True)
class Cast:
    """The characters known so far, plus relatives derived on demand ("his wife" of Mr. X)."""

    entities: dict[str, CharacterEntity]
    narrator: str | None = None
    derived: dict[str, CharacterEntity] = field(default_factory=dict)
    by_form: dict[NameForm, str] = field(default_factory=dict)
    roles: dict[tuple[str, str], str] = field(default_factory=dict)  # ("his", "aunt") -> key
    epithet_genders: dict[str, Gender] = field(default_factory=dict)  # "child" -> "male"

    def __post_init__(self) -> None:
        for entity in self.entities.values():
            for form in entity.forms:
                self.by_form.setdefault(form, entity.key)

    def gender(self, key: str) -> Gender:
        entity = self.entities.get(key)
        return entity.gender if entity is not None else "unknown"

    def cue_gender(self, cue: Cue) -> Gender:
        """A cue's gender, or for "said the child" the gender this book gives "the child"."""
        if cue.gender != "unknown" or cue.kind != "epithet" or cue.relation is None:
            return cue.gender
        return self.epithet_genders.get(cue.relation, "unknown")

    def is_person(self, key: str) -> bool:
        entity = self.entities.get(key)
        return entity is None or entity.is_person

    def relative(self, possessor: str, relation: str, *, derive: bool = True) -> str | None:
        """The Mrs. X of Mr. X's "his wife", the Mr. X of Miss X's "her father", ...; with
        `derive`, a Mrs. X the book never names is made up for "his wife"."""
        entity = self.entities[possessor]
        surname = entity.surname
        if (
            surname is None
            or relation not in SPOUSE_RELATIONS | PARENT_RELATIONS | SIBLING_RELATIONS
        ):
            return None
        if relation in SIBLING_RELATIONS:
            gender: Gender = "female" if relation in ("sister", "daughter") else "male"
            kin = [
                e.key
                for e in self.entities.values()
                if e.surname == surname and e.key != possessor and e.gender == gender and e.given
            ]
            return kin[0] if len(kin) == 1 else None
        wanted = "mrs" if relation in ("wife", "lady", "mother") else "m"
        if relation in SPOUSE_RELATIONS and entity.gender == (
            "female" if wanted == "mrs" else "male"
        ):
            return None  # "his wife" cannot be a woman's wife in these conventions
        for other in self.entities.values():
            if (
                other.key != possessor
                and other.surname == surname
                and _has_title_class(other, wanted)
            ):
                return other.key
        if _has_title_class(entity, wanted) or not derive:
            return None  # Mrs. X's "her mother" is not Mrs. X
        return self._derive(surname, wanted)

    def _derive(self, surname: str, wanted: str) -> str:
        title = "mrs" if wanted == "mrs" else "mr"
        form = NameForm(title, (surname,))
        key = "-".join((title, surname.lower()))
        while key in self.entities and self.entities[key].forms != (form,):
            key += "-x"
        if key not in self.entities:
            entity = CharacterEntity(
                key=key,
                name=form.surface,
                aliases=(),
                gender="female" if wanted == "mrs" else "male",
                given=None,
                surname=surname,
                forms=(form,),
                is_person=True,
                known=False,
                mention_count=0,
            )
            self.entities[key] = entity
            self.derived[key] = entity
            self.by_form.setdefault(form, key)
        return key


def _has_title_class(entity: CharacterEntity, wanted: str) -> bool:
    return any(f.title and title_class(f.title) == wanted for f in entity.forms)


class Salience:
    """How present each character is around a paragraph: recent mentions weigh most."""

    def __init__(
        self,
        mentions: Sequence[Mapping[str, float]],
        scenes: Sequence[int],
        speakers: Mapping[int, str] | None = None,
    ) -> None:
        self.mentions = mentions
        self.scenes = scenes
        self.speakers = dict(speakers or {})

    def with_speakers(self, speakers: Mapping[int, str]) -> Salience:
        """The same, counting each paragraph's (provisional) speaker as present after it spoke."""
        return Salience(self.mentions, self.scenes, speakers)

    def at(self, passage: int) -> dict[str, float]:
        scores: dict[str, float] = {}
        scene = self.scenes[passage]
        for back in range(_SALIENCE_REACH):
            p = passage - back
            if p < 0 or self.scenes[p] != scene:
                break
            decay = _SALIENCE_DECAY**back
            for key, weight in self.mentions[p].items():
                scores[key] = max(scores.get(key, 0.0), weight * decay)
            speaker = self.speakers.get(p) if back > 0 else None
            if speaker is not None:
                scores[speaker] = max(scores.get(speaker, 0.0), decay)
        return scores


@dataclass(slots=True)
class _TurnEvidence:
    """Per-candidate scores of one turn and what earned them."""

    scores: list[float]
    methods: list[str]
    contrastive: bool = False
    replying: bool = False
    continuing: bool = False


class ConversationResolver:
    """Decodes the speakers of one conversation's turns."""

    def __init__(self, cast: Cast, salience: Salience) -> None:
        self.cast = cast
        self.salience = salience

    def resolve(self, turns: Sequence[Turn], *, carried: Sequence[str] = ()) -> list[Decision]:
        candidates = self._candidates(turns, carried)
        labels: list[str | None] = [*candidates, None]
        evidence = [self._evidence(turn, labels) for turn in turns]
        path, margins = _viterbi(
            turns, labels, evidence, lambda i: self._transitions(turns, evidence, i, labels)
        )
        return [
            self._decision(i, turns, labels, evidence, path, margins[i]) for i in range(len(turns))
        ]

    # -- candidates ---------------------------------------------------------------------------

    def _candidates(self, turns: Sequence[Turn], carried: Sequence[str]) -> list[str]:
        score: defaultdict[str, float] = defaultdict(float)
        for turn in turns:
            if turn.locked is not None:
                score[turn.locked] += 20
            for cue in turn.cues:
                for key, weight in self._cue_candidates(turn, cue):
                    score[key] += weight
            for key in turn.addressees:
                score[key] += 4
        first = turns[0].passage
        for key, weight in self.salience.at(first).items():
            score[key] += 2 * weight
        for turn in turns:
            for key, weight in self.salience.mentions[turn.passage].items():
                score[key] += weight
        for rank, key in enumerate(carried):
            score[key] += 3 - rank
        locked = {turn.locked for turn in turns if turn.locked is not None}
        eligible = [
            key
            for key in score
            if key in locked
            or (key in self.cast.entities and (self.cast.is_person(key) or score[key] >= 10))
        ]
        eligible.sort(key=lambda k: -score[k])
        return eligible[:_MAX_CANDIDATES]

    def _cue_candidates(self, turn: Turn, cue: Cue) -> list[tuple[str, float]]:
        if cue.kind == "name" and cue.form is not None:
            key = self._key_for(cue.form)
            return [(key, 10.0 if cue.place != "beat" else 4.0)] if key else []
        if cue.kind == "first_person" and self.cast.narrator is not None:
            return [(self.cast.narrator, 10.0)]
        if cue.kind == "epithet":
            target, _ = self._relation_target(turn, cue)
            if target is not None:
                return [(target, 6.0)]
        if cue.kind in ("pronoun", "epithet"):
            salient = self.salience.at(turn.passage)
            fitting = [
                k
                for k in sorted(salient, key=lambda k: -salient[k])
                if k in self.cast.entities
                and self.cast.is_person(k)
                and compatible(self.cast.gender(k), self.cast.cue_gender(cue))
            ]
            return [(k, 3.0 * salient[k]) for k in fitting[:2]]
        return []

    def _key_for(self, form: NameForm) -> str | None:
        return self.cast.by_form.get(form)

    def _relation_target(self, turn: Turn, cue: Cue) -> tuple[str | None, str | None]:
        """For "his wife": (the wife, the husband) when the text makes them out; for "the
        courier" or "his aunt", the character the text calls so ("Eugenio’s our courier")."""
        if cue.relation is None:
            return None, None
        determiner = cue.text.split()[0]
        role = self.cast.roles.get(role_key(determiner, cue.relation))
        if cue.possessor is not None:  # "Daisy’s mamma"
            named = self._key_for(cue.possessor)
            if named is None or named not in self.cast.entities:
                return role, None
            return self.cast.relative(named, cue.relation) or role, named
        if cue.possessor_gender == "unknown":
            return role, None
        possessors = self._possessors(turn, cue.possessor_gender)
        if not possessors:
            return role, None
        # "said her mother": the most present woman who has a mother in the book, else the most
        # present woman (whose mother the book may never name).
        for possessor in possessors:
            relative = self.cast.relative(possessor, cue.relation, derive=False)
            if relative is not None:
                return relative, possessor
        return self.cast.relative(possessors[0], cue.relation) or role, possessors[0]

    def _leading_presence(self, turn: Turn, gender: Gender, salient: Mapping[str, float]) -> float:
        """The presence of the most present character a pronoun of this gender can mean."""
        return max(
            (
                min(weight, 1.0)
                for key, weight in salient.items()
                if key in self.cast.entities
                and key not in turn.addressees
                and self.cast.is_person(key)
                and compatible(self.cast.gender(key), gender)
            ),
            default=0.0,
        )

    def _possessors(self, turn: Turn, gender: Gender) -> list[str]:
        """Who "his" or "her" may mean, the most present first."""
        salient = self.salience.at(turn.passage)
        for key in turn.addressees:
            salient[key] = salient.get(key, 0.0) + 1.0  # "said his lady to him": him is addressed
        fitting = [
            k
            for k in salient
            if k in self.cast.entities and self.cast.is_person(k) and self.cast.gender(k) == gender
        ]
        return sorted(fitting, key=lambda k: -salient[k])

    # -- evidence -----------------------------------------------------------------------------

    def _evidence(self, turn: Turn, labels: Sequence[str | None]) -> _TurnEvidence:
        salient = self.salience.at(turn.passage)
        scores: list[float] = []
        methods: list[str] = []
        for label in labels:
            score, method = self._score(turn, label, salient)
            scores.append(score)
            methods.append(method)
        verbs = {cue.verb for cue in turn.cues if cue.place != "beat"}
        return _TurnEvidence(
            scores,
            methods,
            contrastive=any(c.kind == "contrastive" and c.place != "beat" for c in turn.cues),
            replying=bool(verbs & REPLY_VERBS),
            continuing=turn.continues_previous,
        )

    def _score(
        self, turn: Turn, label: str | None, salient: Mapping[str, float]
    ) -> tuple[float, str]:
        if turn.locked is not None:
            return (0.0, "locked") if label == turn.locked else (IMPOSSIBLE, "locked")
        score = -2.0 if label is None else 0.6 * min(salient.get(label, 0.0), 1.5)
        method = "turn_taking"
        spoken = [c for c in turn.cues if c.place != "beat"]
        beats = [c for c in turn.cues if c.place == "beat"]
        for cue in spoken or beats:
            delta, cue_method = self._cue_score(turn, cue, label, salient)
            score += delta
            if delta > 0 and method == "turn_taking":
                method = cue_method
        if label is not None and label in turn.addressees:
            score -= 5.0
        if label is not None and label in turn.named_in_quote:
            score -= 1.5
        return score, method

    def _cue_score(
        self, turn: Turn, cue: Cue, label: str | None, salient: Mapping[str, float]
    ) -> tuple[float, str]:
        beat = cue.place == "beat"
        if cue.kind in ("name", "first_person"):
            key = (
                self.cast.narrator
                if cue.kind == "first_person"
                else (self._key_for(cue.form) if cue.form else None)
            )
            if key is None:
                return 0.0, "explicit"
            if beat:
                return (2.0, "action") if label == key else (0.0, "action")
            return (6.0, "explicit") if label == key else (-4.0, "explicit")
        if cue.kind == "group":
            if beat:
                return 0.0, "turn_taking"
            return (2.5, "turn_taking") if label is None else (-1.5, "turn_taking")
        if label is None:
            return 0.0, "turn_taking"
        gender = self.cast.gender(label)
        if cue.kind == "pronoun":
            presence = min(salient.get(label, 0.0), 1.0)
            if beat:
                if not compatible(gender, cue.gender):
                    return -1.0, "action"
                return (0.3 + 0.7 * presence if gender == cue.gender else 0.3), "action"
            if not compatible(gender, cue.gender):
                return -6.0, "pronoun"
            # "she said" is most likely the most present woman, whoever else was mentioned.
            leading = self._leading_presence(turn, cue.gender, salient)
            relative = presence / leading if leading > 0 else 0.0
            if gender == cue.gender:
                return 1.0 + PRONOUN_PRESENCE * presence + PRONOUN_LEAD * relative, "pronoun"
            return 0.3 + 0.5 * presence, "pronoun"
        if cue.kind == "epithet":
            target, possessor = self._relation_target(turn, cue)
            if label == possessor:
                return -4.0, "epithet"
            if target is not None:
                return (5.0, "epithet") if label == target else (-2.0, "epithet")
            if not compatible(gender, self.cast.cue_gender(cue)):
                return (-1.0 if beat else -5.0), "epithet"
            return (0.3 if beat else 1.0), "epithet"
        return 0.0, "turn_taking"

    # -- turn-taking ---------------------------------------------------------------------------

    def _transitions(
        self,
        turns: Sequence[Turn],
        evidence: Sequence[_TurnEvidence],
        i: int,
        labels: Sequence[str | None],
    ) -> np.ndarray:
        """Scores of moving to turn i: indexed [speaker two turns back, previous, current].

        The last label is "someone else" (None) and the extra index on the first two axes is
        "nobody yet", before the conversation's first turn.
        """
        turn, prior, ev = turns[i], turns[i - 1], evidence[i]
        size = len(labels)
        named = np.array([label is not None for label in labels])
        eye = np.eye(size + 1, size, dtype=bool) & named[None, :]  # [p, c]: c == p, c named
        # Back-to-back paragraphs by one speaker are rare; after a narration paragraph the same
        # speaker often resumes.
        adjacent = turn.passage - prior.passage == 1
        same = 2.5 if ev.continuing else (-2.0 if adjacent else -0.5)
        if ev.contrastive:
            same -= 4.0
        if ev.replying:
            same -= 1.5
        scores = np.zeros((size + 1, size + 1, size))
        scores += np.where(eye, same, 0.0)[None, :, :]
        alternation = eye[:, None, :] & ~eye[None, :, :]  # [q, p, c]: c == q and c != p
        scores += np.where(alternation, 1.0, 0.0)
        answers = np.array([label is not None and label in prior.addressees for label in labels])
        scores += np.where(answers, 2.0, 0.0)[None, None, :]
        addressed = np.array(
            [
                p < size and labels[p] is not None and labels[p] in turn.addressees
                for p in range(size + 1)
            ]
        )
        scores += np.where(addressed, 0.5, 0.0)[None, :, None]
        return scores

    def _decision(
        self,
        i: int,
        turns: Sequence[Turn],
        labels: Sequence[str | None],
        evidence: Sequence[_TurnEvidence],
        path: Sequence[int],
        margin: float,
    ) -> Decision:
        label = labels[path[i]]
        turn = turns[i]
        if turn.locked is not None:
            return Decision(turn.locked, 1.0, "locked")
        if label is None:
            return Decision(None, 0.0, "unknown")
        method = evidence[i].methods[path[i]]
        previous = labels[path[i - 1]] if i > 0 else None
        if method == "turn_taking":
            if i > 0 and label == previous and evidence[i].continuing:
                method = "continuation"
            elif i > 0 and label in turns[i - 1].addressees:
                method = "vocative"
        base = _METHOD_CONFIDENCE[method]
        confidence = 0.2 + (base - 0.2) * (1.0 - math.exp(-max(margin, 0.0) / 2.0))
        return Decision(label, round(confidence, 3), method)


_METHOD_CONFIDENCE = {
    "explicit": 0.97,
    "epithet": 0.85,
    "pronoun": 0.85,
    "continuation": 0.8,
    "action": 0.75,
    "vocative": 0.7,
    "turn_taking": 0.65,
}


def _viterbi(
    turns: Sequence[Turn],
    labels: Sequence[str | None],
    evidence: Sequence[_TurnEvidence],
    transitions: Callable[[int], np.ndarray],
) -> tuple[list[int], list[float]]:
    """Best label sequence under a second-order model, and each turn's max-marginal margin.

    alpha[i][p, c] is the best score of turns 0..i ending with labels p, c (p may be "nobody
    yet"); beta[i][p, c] the best score of the turns after i given them.
    """
    n, size = len(turns), len(labels)
    emissions = [np.array(ev.scores) for ev in evidence]
    alpha = [np.full((size + 1, size), -np.inf) for _ in range(n)]
    back: list[np.ndarray] = [np.zeros((size + 1, size), dtype=int) for _ in range(n)]
    alpha[0][size, :] = emissions[0]
    steps = [transitions(i) if i > 0 else np.zeros(0) for i in range(n)]
    for i in range(1, n):
        total = alpha[i - 1][:, :, None] + steps[i][:, :size, :]  # [q, p, c]
        alpha[i][:size, :] = total.max(axis=0) + emissions[i][None, :]
        back[i][:size, :] = total.argmax(axis=0)
    beta = [np.zeros((size + 1, size)) for _ in range(n)]
    for i in range(n - 2, -1, -1):
        ahead = (
            steps[i + 1][:, :size, :]
            + emissions[i + 1][None, None, :]
            + beta[i + 1][None, :size, :]
        )
        beta[i] = ahead.max(axis=2)
    p, c = np.unravel_index(int(np.argmax(alpha[n - 1])), alpha[n - 1].shape)
    path = [int(c)]
    for i in range(n - 1, 0, -1):
        q = back[i][p, c]
        path.append(int(p))
        p, c = q, p
    path.reverse()
    margins = []
    for i in range(n):
        best = np.sort((alpha[i] + beta[i]).max(axis=0))[::-1]
        margins.append(float(best[0] - best[1]) if size > 1 else 10.0)
    return path, margins
