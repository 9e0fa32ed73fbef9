"""Local speaker attribution end to end: read cues, cluster names, split conversations, decode."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from khipu.characters.attribution.gender import epithet_genders, pronoun_votes
from khipu.characters.attribution.lexicons import (
    CONTINUATION_VERBS,
    EPITHET_NOUNS,
    KIN_NOUNS,
    PARENT_TITLES,
    PERSON_VERBS,
    ROLE_NOUNS,
    TITLES,
    Gender,
)
from khipu.characters.attribution.model import (
    Attribution,
    AttributionResult,
    DetectedCharacter,
    KnownCharacter,
    Line,
)
from khipu.characters.attribution.names import (
    THE,
    CharacterEntity,
    FormEvidence,
    NameForm,
    NameIndex,
    WordCensus,
    build_name_index,
    find_name_forms,
    find_role_appositions,
    find_the_forms,
    parse_surface,
    role_key,
)
from khipu.characters.attribution.quotes import (
    Cue,
    CueReader,
    Passage,
    Vocative,
    find_vocatives,
    group_passages,
)
from khipu.characters.attribution.resolve import (
    Cast,
    ConversationResolver,
    Decision,
    Salience,
    Turn,
)

# Words before a capitalised name that make it a place or a thing ("at Vevey", "the Trois
# Couronnes"); "the Hatter" is a name only where an attribution vouches for it.
_PLACE_PREPOSITIONS = frozenset(
    {"at", "in", "from", "near", "into", "towards", "through", "the", "to", "of"}
)
_FIRST_PERSON_NARRATION = re.compile(r"\b(?:I|me|my|myself)\b")
_NARRATOR_NAME = re.compile(r"\b[Mm]y name (?:is|was) (?P<name>[A-Z][a-z]+(?: [A-Z][a-z]+)?)")
_NEXT_VERB = re.compile(r"\s+(?:[a-z]+ly\s+)?([a-z]+)\b")
_CONVERSATION_GAP_CHARS = 700  # narration longer than this between two quotes ends a conversation
_CONVERSATION_GAP_PARAGRAPHS = 3
_NARRATOR_KEY = "narrator"
_NARRATOR_ADDRESSES = 2  # times a name must answer or be answered by "said I" to be the narrator's
# Speakers decided this surely count as present for the second pass; guesses must not confirm
# themselves.
_PRESENT_CONFIDENCE = 0.5
_ADDING = frozenset({"added", "adds"})
_ROLE_SPEECHES = 2  # "said the clerk" this often makes the clerk a character
# Nouns a role can be ("his aunt, Mrs. Costello", "Eugenio’s our courier"), not "the way" nor
# "the girl", which a book calls many people.
_ROLE_APPOSITION_NOUNS = ROLE_NOUNS | KIN_NOUNS


@dataclass(frozen=True, slots=True)
class _QuoteGroup:
    """Quotes of one paragraph that share a speaker, with the cues that point at it."""

    line_ids: tuple[str, ...]
    texts: tuple[str, ...]
    cues: tuple[Cue, ...]
    opening_cues: tuple[Cue, ...]  # those of its first quote: "“…,” he went on" continues a turn


@dataclass(frozen=True, slots=True)
class _ReadPassage:
    passage: Passage
    groups: tuple[_QuoteGroup, ...]
    vocatives: tuple[tuple[Vocative, ...], ...]  # per group
    reported: Cue | None = None  # speech reported in a narration-only paragraph


def attribute_speakers(
    lines: Sequence[Line],
    *,
    known: Sequence[KnownCharacter] = (),
    locked: Mapping[str, str] | None = None,
) -> AttributionResult:
    """Find the characters who speak and attribute every dialogue line to one of them (or None).

    `locked` maps line ids to character keys fixed by the user: kept as-is and used as evidence.
    Lines must be in reading order.
    """
    locked = dict(locked or {})
    passages = group_passages(lines)
    census = WordCensus(line.text for line in lines)
    reader = CueReader(census)
    read = [_read_passage(passages, i, reader, census) for i in range(len(passages))]
    evidence = _form_evidence(read, census)
    index = build_name_index(
        evidence,
        known=[(k.key, k.name, k.aliases, _gender(k.gender)) for k in known],
    )
    narrator = _narrator(passages, read, index)
    entities = dict(index.entities)
    if narrator is not None:
        entities[narrator.key] = narrator
    cast = Cast(entities, narrator=narrator.key if narrator else None)
    cast.roles = _roles(passages, census, cast)
    cast.roles.update(_role_characters(read, cast))
    cast.epithet_genders = epithet_genders(
        (p.narration for p in passages), _genderless_epithets(read)
    )
    first_person = _first_person_passages(passages) if narrator else set()
    role_mentions = _role_mention_pattern(cast)
    salience = Salience(
        [
            _passage_mentions(r, cast, census, i in first_person, role_mentions)
            for i, r in enumerate(read)
        ],
        [p.scene for p in passages],
    )
    turns = _turns(read, cast, census, locked, salience)
    decisions = _decode(turns, passages, cast, salience)
    # Second pass: who spoke where is the best evidence of who is present for "he" or "his wife".
    spoken = {
        t.passage: d.speaker
        for t, d in zip(turns, decisions, strict=True)
        if d.speaker and d.confidence >= _PRESENT_CONFIDENCE
    }
    decisions = _decode(turns, passages, cast, salience.with_speakers(spoken))
    return _result(lines, turns, decisions, cast, index, known, locked)


def _gender(value: str) -> Gender:
    return "female" if value == "female" else "male" if value == "male" else "unknown"


# -- reading passages ---------------------------------------------------------------------------


def _read_passage(
    passages: Sequence[Passage], i: int, reader: CueReader, census: WordCensus
) -> _ReadPassage:
    passage = passages[i]
    parts = passage.parts
    quote_at = [k for k, part in enumerate(parts) if part.kind == "dialogue"]
    if not quote_at:
        return _ReadPassage(passage, (), (), reader.reported_speech(passage.narration))
    cues: dict[int, list[Cue]] = defaultdict(list)
    new_speaker: set[int] = set()
    bridging: set[int] = set()  # quotes whose "after" cue leads on to the next quote
    for k, part in enumerate(parts):
        if part.kind != "narration":
            continue
        previous_quote = k - 1 if k > 0 and parts[k - 1].kind == "dialogue" else None
        next_quote = k + 1 if k + 1 < len(parts) and parts[k + 1].kind == "dialogue" else None
        after = reader.cue_after_quote(part.text) if previous_quote is not None else None
        if after is not None and (after.place != "beat" or next_quote is None):
            cues[previous_quote].append(after)  # type: ignore[index]
            if next_quote is not None:
                bridging.add(previous_quote)  # type: ignore[arg-type]
                # "sighed the Lory; and an old Crab took the opportunity of saying, “…”"
                before = reader.cue_before_quote(part.text)
                if _another_speaker(before, after):
                    cues[next_quote].append(before)  # type: ignore[arg-type]
                    new_speaker.add(next_quote)
            continue
        if next_quote is not None:
            before = reader.cue_before_quote(part.text)
            if before is not None:
                cues[next_quote].append(before)
    lead = _lead_in(passages, i)
    if lead is not None and quote_at[0] == 0:
        cue = reader.cue_before_quote(lead)
        if cue is not None and cue.place != "beat":
            cues[0].append(cue)
    elif quote_at[0] == 0 and not cues[0]:
        # "Elizabeth hesitated.\n\n“…”": whoever the paragraph before ends on is a likely speaker.
        previous = _narration_before(passages, i)
        cue = reader.cue_before_quote(previous) if previous else None
        if cue is not None:
            cues[0].append(replace(cue, place="beat", verb=None))
    groups = _group_quotes(parts, quote_at, cues, new_speaker, bridging)
    vocatives = tuple(
        tuple(v for text in group.texts for v in find_vocatives(text, census)) for group in groups
    )
    return _ReadPassage(passage, groups, vocatives)


def _another_speaker(before: Cue | None, after: Cue) -> bool:
    """A cue for the next quote naming someone other than the previous quote's speaker."""
    if before is None or before.place == "beat" or before.kind in ("contrastive", "group"):
        return False
    if before.kind != after.kind:
        return True
    if before.kind == "name":
        return before.form != after.form
    return before.gender != after.gender or before.text.lower() != after.text.lower()


def _lead_in(passages: Sequence[Passage], i: int) -> str | None:
    """A narration paragraph ending in ":" (or a dash) introduces the next paragraph's quote."""
    text = _narration_before(passages, i)
    return text if text is not None and text.endswith((":", "—", "–", "-")) else None


def _narration_before(passages: Sequence[Passage], i: int) -> str | None:
    """The paragraph before, when it is narration only in the same scene."""
    if i == 0:
        return None
    previous = passages[i - 1]
    if previous.scene != passages[i].scene or previous.quotes:
        return None
    return previous.narration.rstrip()


def _group_quotes(
    parts,
    quote_at: list[int],
    cues: Mapping[int, list[Cue]],
    new_speaker: set[int],
    bridging: set[int],
) -> tuple[_QuoteGroup, ...]:
    """One group per paragraph unless two different names are said to speak in it, or the
    narration between two quotes brings in another speaker."""
    named = {
        k: next((c.form for c in cues.get(k, []) if c.kind == "name" and c.place != "beat"), None)
        for k in quote_at
    }
    distinct = {form for form in named.values() if form is not None}
    if len(distinct) < 2 and not new_speaker:
        return (_make_group(parts, quote_at, cues, bridging),)
    runs: list[list[int]] = []
    current_form: NameForm | None = None
    for k in quote_at:
        form = named[k]
        if (
            not runs
            or k in new_speaker
            or (form is not None and current_form is not None and form != current_form)
        ):
            runs.append([k])
            current_form = form
        else:
            runs[-1].append(k)
            current_form = form or current_form
    return tuple(_make_group(parts, run, cues, bridging) for run in runs)


def _make_group(
    parts, indices: Sequence[int], cues: Mapping[int, list[Cue]], bridging: set[int]
) -> _QuoteGroup:
    # "“…” he added, “…”" adds to the paragraph's own quote, not to the previous turn ("“…,” he
    # went on, “…”" may carry on either).
    first = indices[0]
    opening = [c for c in cues.get(first, []) if first not in bridging or c.verb not in _ADDING]
    return _QuoteGroup(
        line_ids=tuple(parts[k].line_id for k in indices),
        texts=tuple(parts[k].text for k in indices),
        cues=tuple(c for k in indices for c in cues.get(k, [])),
        opening_cues=tuple(opening),
    )


# -- name evidence ------------------------------------------------------------------------------


def _form_evidence(
    read: Sequence[_ReadPassage], census: WordCensus
) -> dict[NameForm, FormEvidence]:
    evidence: dict[NameForm, FormEvidence] = defaultdict(FormEvidence)
    vouched_the: set[NameForm] = set()
    for item in read:
        for part in item.passage.parts:
            mentions = find_name_forms(part.text, census)
            for mention in mentions:
                record = evidence[mention.form]
                record.count += 1
                preceding = part.text[max(0, mention.start - 8) : mention.start].split()
                if preceding and preceding[-1].lower() in _PLACE_PREPOSITIONS:
                    record.place_count += 1
                if _NEXT_VERB.match(part.text, mention.end) and part.kind == "narration":
                    following = _NEXT_VERB.match(part.text, mention.end)
                    if following is not None and following.group(1).lower() in PERSON_VERBS:
                        record.agent_count += 1
            if part.kind == "narration":
                for mention, gender in pronoun_votes(part.text, mentions):
                    if gender == "male":
                        evidence[mention.form].male_votes += 1
                    else:
                        evidence[mention.form].female_votes += 1
                for mention in find_the_forms(part.text):
                    evidence[mention.form].count += 1
        for group, vocatives in zip(item.groups, item.vocatives, strict=True):
            for cue in group.cues:
                if cue.kind == "name" and cue.form is not None and cue.place != "beat":
                    evidence[cue.form].speaker_count += 1
                    evidence[cue.form].count = max(evidence[cue.form].count, 1)
                    if cue.form.title == THE:
                        vouched_the.add(cue.form)
            for vocative in vocatives:
                if vocative.form is not None:
                    evidence[vocative.form].vocative_count += 1
    # "the Hatter" is a name only where an attribution uses it as one.
    return {
        form: record
        for form, record in evidence.items()
        if form.title != THE or form in vouched_the
    }


def _roles(
    passages: Sequence[Passage], census: WordCensus, cast: Cast
) -> dict[tuple[str, str], str]:
    """Each role noun the text ties to one character more than to any other."""
    votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for passage in passages:
        for part in passage.parts:
            for role, form in find_role_appositions(
                part.text, census, nouns=_ROLE_APPOSITION_NOUNS
            ):
                key = cast.by_form.get(form)
                if key is not None:
                    votes[role][key] += 1
    roles: dict[tuple[str, str], str] = {}
    for role, counter in votes.items():
        (best, n), *rest = counter.most_common()
        if not rest or n >= 2 * rest[0][1]:
            roles[role] = best
    return roles


def _role_characters(read: Sequence[_ReadPassage], cast: Cast) -> dict[tuple[str, str], str]:
    """Speakers known only by what they do: "said the detective" twice makes "the detective" a
    character, unless the book's one colonel or doctor is meant ("said the Colonel")."""
    said: Counter[str] = Counter()
    for item in read:
        cues = [c for group in item.groups for c in group.cues]
        for cue in [*cues, *([item.reported] if item.reported else [])]:
            if (
                cue.kind == "epithet"
                and cue.place != "beat"
                and cue.relation is not None
                and cue.text.split()[0].lower() == "the"
                and cue.relation in ROLE_NOUNS
            ):
                said[cue.relation] += 1
    roles: dict[tuple[str, str], str] = {}
    for noun, count in said.items():
        role = role_key("the", noun)
        if count < _ROLE_SPEECHES or role in cast.roles:
            continue
        bearers = [e.key for e in cast.entities.values() if _bears_title(e, noun)]
        if len(bearers) == 1:
            roles[role] = bearers[0]
            continue
        form = NameForm(THE, (noun,))
        key = f"the-{noun}"
        while key in cast.entities:
            key += "-x"
        cast.entities[key] = CharacterEntity(
            key=key,
            name=f"the {noun}",
            aliases=(),
            gender=EPITHET_NOUNS.get(noun, "unknown"),
            given=None,
            surname=None,
            forms=(form,),
            is_person=True,
            known=False,
            mention_count=count,
        )
        cast.by_form.setdefault(form, key)
        roles[role] = key
    return roles


def _genderless_epithets(read: Sequence[_ReadPassage]) -> set[str]:
    """Epithet nouns said to speak whose gender English does not fix ("the child")."""
    return {
        cue.relation
        for item in read
        for group in item.groups
        for cue in group.cues
        if cue.kind == "epithet" and cue.relation is not None and cue.gender == "unknown"
    }


def _bears_title(entity: CharacterEntity, noun: str) -> bool:
    titles = {f.title for f in entity.forms if f.title}
    if noun == "doctor":
        return bool(titles & {"dr", "doctor"})
    return noun in TITLES and noun in titles


def _role_mention_pattern(cast: Cast) -> tuple[re.Pattern[str], dict[str, str]] | None:
    """ "The detective examined the room": a role's character is present where it is named."""
    nouns = {
        noun: key
        for (determiner, noun), key in cast.roles.items()
        if determiner == "the" and noun in ROLE_NOUNS
    }
    if not nouns:
        return None
    alternation = "|".join(sorted(map(re.escape, nouns), key=len, reverse=True))
    return re.compile(rf"\b[Tt]he\s+(?:[a-z]+\s+)?({alternation})\b"), nouns


# -- narrator -----------------------------------------------------------------------------------


def _first_person_passages(passages: Sequence[Passage]) -> set[int]:
    return {i for i, p in enumerate(passages) if _FIRST_PERSON_NARRATION.search(p.narration)}


def _narrator(
    passages: Sequence[Passage], read: Sequence[_ReadPassage], index: NameIndex
) -> CharacterEntity | None:
    """A first-person narrator ("I said"), named if the narration gives the name."""
    said_i = sum(
        1
        for item in read
        for group in item.groups
        for cue in group.cues
        if cue.kind == "first_person" and cue.place != "beat"
    )
    narrated = [p for p in passages if p.narration]
    first_person = len(_first_person_passages(narrated))
    if said_i < 2 and (not narrated or first_person < 0.2 * len(narrated)):
        return None
    for passage in passages:
        match = _NARRATOR_NAME.search(passage.narration)
        if match is None:
            continue
        form = parse_surface(match.group("name"))
        entity = index.entity_for(form) if form else None
        if entity is not None:
            return entity
        return CharacterEntity(
            _NARRATOR_KEY,
            match.group("name"),
            ("Narrator",),
            "unknown",
            None,
            None,
            (),
            True,
            False,
            0,
        )
    addressed = _addressed_narrator(read, index)
    if addressed is not None:
        return replace(addressed, aliases=(*addressed.aliases, "Narrator"))
    return CharacterEntity(_NARRATOR_KEY, "Narrator", (), "unknown", None, None, (), True, False, 0)


def _addressed_narrator(read: Sequence[_ReadPassage], index: NameIndex) -> CharacterEntity | None:
    """The name others call the narrator by: "said I" answered by "my dear Watson", again and
    again, and never "said Watson" (the narrator's own lines are never said to be his)."""
    said_by_name = {
        index.by_form.get(cue.form)
        for item in read
        for group in item.groups
        for cue in group.cues
        if cue.kind == "name" and cue.form is not None and cue.place != "beat"
    }
    votes: Counter[str] = Counter()
    for i, item in enumerate(read):
        if not any(
            c.kind == "first_person" and c.place != "beat" for g in item.groups for c in g.cues
        ):
            continue
        for j in (i - 1, i + 1):
            if 0 <= j < len(read) and read[j].passage.scene == item.passage.scene:
                addressed = {
                    key
                    for vocatives in read[j].vocatives
                    for v in vocatives
                    if v.form is not None and (key := index.by_form.get(v.form)) is not None
                }
                votes.update(addressed - said_by_name)
    ranked = votes.most_common(2)
    if not ranked or ranked[0][1] < _NARRATOR_ADDRESSES:
        return None
    if len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]:
        return None
    return index.entities[ranked[0][0]]


# -- mentions and turns -------------------------------------------------------------------------


def _passage_mentions(
    item: _ReadPassage,
    cast: Cast,
    census: WordCensus,
    first_person: bool,
    role_mentions: tuple[re.Pattern[str], dict[str, str]] | None,
) -> dict[str, float]:
    """Who is present in a paragraph: named in its narration, addressed, or said to speak."""
    weights: dict[str, float] = {}

    def note(key: str | None, weight: float) -> None:
        if key is not None:
            weights[key] = max(weights.get(key, 0.0), weight)

    for part in item.passage.parts:
        narration = part.kind == "narration"
        for n, mention in enumerate(find_name_forms(part.text, census)):
            note(cast.by_form.get(mention.form), (1.0 if n == 0 else 0.8) if narration else 0.1)
        if narration:
            for mention in find_the_forms(part.text):
                note(cast.by_form.get(mention.form), 0.9)
            if role_mentions is not None:
                pattern, nouns = role_mentions
                for match in pattern.finditer(part.text):
                    note(nouns[match.group(1)], 0.9)
    for group, vocatives in zip(item.groups, item.vocatives, strict=True):
        for vocative in vocatives:
            if vocative.form is not None:
                note(cast.by_form.get(vocative.form), 0.8)
        for cue in group.cues:
            if cue.kind == "name" and cue.form is not None:
                note(cast.by_form.get(cue.form), 1.0)
    if first_person and cast.narrator is not None:
        note(cast.narrator, 0.8)
    return weights


def _turns(
    read: Sequence[_ReadPassage],
    cast: Cast,
    census: WordCensus,
    locked: Mapping[str, str],
    salience: Salience,
) -> list[Turn]:
    turns: list[Turn] = []
    for i, item in enumerate(read):
        if not item.groups:
            if item.reported is not None:
                turns.append(_reported_turn(i, item))
            continue
        previous = read[i - 1].passage if i > 0 else None
        continues = (
            previous is not None
            and previous.scene == item.passage.scene
            and previous.ends_open_quote
        )
        for g, (group, vocatives) in enumerate(zip(item.groups, item.vocatives, strict=True)):
            spoken_to = [v.form for v in vocatives] + [c.addressee for c in group.cues]
            addressees = frozenset(
                key
                for form in spoken_to
                if form is not None and (key := cast.by_form.get(form)) is not None
            ) | {
                key
                for vocative in vocatives
                if vocative.parent and (key := _parent_in_scene(vocative, i, cast, salience))
            }
            turns.append(
                Turn(
                    passage=i,
                    scene=item.passage.scene,
                    line_ids=group.line_ids,
                    cues=group.cues,
                    addressees=addressees,
                    named_in_quote=_named_in_quotes(group.texts, cast, census) - addressees,
                    continues_previous=(continues and g == 0) or _goes_on(group.opening_cues),
                    locked=next((locked[x] for x in group.line_ids if x in locked), None),
                )
            )
    return turns


def _goes_on(cues: Sequence[Cue]) -> bool:
    """ "“…,” he went on": the speaker carries on a turn (not "she added", mid-paragraph)."""
    spoken = [c for c in cues if c.place != "beat"]
    return any(c.verb in CONTINUATION_VERBS for c in spoken) and not any(
        c.kind == "name" for c in spoken
    )


def _parent_in_scene(vocative: Vocative, i: int, cast: Cast, salience: Salience) -> str | None:
    """ "Mamma, …" speaks to the most present woman called Mrs. or Lady (a man for "Papa")."""
    present = salience.at(i)
    parents = [
        key
        for key in present
        if cast.gender(key) == vocative.gender
        and (entity := cast.entities.get(key)) is not None
        and any(f.title in PARENT_TITLES for f in entity.forms)
    ]
    return max(parents, key=lambda k: present[k]) if parents else None


def _reported_turn(i: int, item: _ReadPassage) -> Turn:
    """A turn with no lines of its own, so that the turns around it alternate correctly."""
    assert item.reported is not None
    return Turn(
        passage=i,
        scene=item.passage.scene,
        line_ids=(),
        cues=(item.reported,),
        addressees=frozenset(),
        named_in_quote=frozenset(),
        continues_previous=False,
        locked=None,
    )


def _named_in_quotes(texts: Sequence[str], cast: Cast, census: WordCensus) -> frozenset[str]:
    keys = set()
    for text in texts:
        for mention in find_name_forms(text, census):
            key = cast.by_form.get(mention.form)
            if key is not None:
                keys.add(key)
    return frozenset(keys)


# -- decoding -----------------------------------------------------------------------------------


def _conversations(turns: Sequence[Turn], passages: Sequence[Passage]) -> list[list[Turn]]:
    conversations: list[list[Turn]] = []
    for turn in turns:
        if conversations and not _breaks(conversations[-1][-1], turn, passages):
            conversations[-1].append(turn)
        else:
            conversations.append([turn])
    return conversations


def _breaks(previous: Turn, turn: Turn, passages: Sequence[Passage]) -> bool:
    if previous.scene != turn.scene:
        return True
    between = passages[previous.passage + 1 : turn.passage]
    chars = sum(len(p.narration) for p in between)
    return chars > _CONVERSATION_GAP_CHARS or len(between) >= _CONVERSATION_GAP_PARAGRAPHS


def _decode(
    turns: Sequence[Turn], passages: Sequence[Passage], cast: Cast, salience: Salience
) -> list[Decision]:
    resolver = ConversationResolver(cast, salience)
    decisions: list[Decision] = []
    carried: list[str] = []
    last_scene: int | None = None
    for conversation in _conversations(turns, passages):
        if conversation[0].scene != last_scene:
            carried = []
        decided = resolver.resolve(conversation, carried=carried)
        decisions.extend(decided)
        speakers = [d.speaker for d in reversed(decided) if d.speaker is not None]
        carried = list(dict.fromkeys(speakers))[:2]
        last_scene = conversation[0].scene
    return decisions


# -- result -------------------------------------------------------------------------------------


def _result(
    lines: Sequence[Line],
    turns: Sequence[Turn],
    decisions: Sequence[Decision],
    cast: Cast,
    index: NameIndex,
    known: Sequence[KnownCharacter],
    locked: Mapping[str, str],
) -> AttributionResult:
    attributions: dict[str, Attribution] = {}
    for turn, decision in zip(turns, decisions, strict=True):
        for line_id in turn.line_ids:
            if line_id in locked:
                attributions[line_id] = Attribution(locked[line_id], 1.0, "locked")
            elif decision.method == "locked":
                attributions[line_id] = Attribution(decision.speaker, 0.9, "same_paragraph")
            else:
                attributions[line_id] = Attribution(
                    decision.speaker, decision.confidence, decision.method
                )
    for line in lines:  # a dialogue line outside any paragraph grouping cannot happen, but be total
        if line.kind == "dialogue" and line.id not in attributions:
            attributions[line.id] = Attribution(locked.get(line.id), 0.0, "unknown")
    named = _named_speakers(turns, cast)
    text_of = {line.id: line.text for line in lines}
    by_speaker: dict[str, list[str]] = defaultdict(list)
    for line_id, attribution in attributions.items():
        if attribution.speaker is not None:
            by_speaker[attribution.speaker].append(line_id)
    known_keys = {k.key for k in known}
    clutter = {
        key
        for key, ids in by_speaker.items()
        if key not in known_keys
        and key not in locked.values()
        and ((len(ids) < 2 and key not in named) or key not in cast.entities)
    }
    for line_id, attribution in list(attributions.items()):
        if attribution.speaker in clutter and line_id not in locked:
            attributions[line_id] = Attribution(None, 0.0, "unknown")
    characters = [
        _character(cast.entities[key], by_speaker.get(key, []), text_of)
        for key in sorted(
            {k for k in by_speaker if k not in clutter and k in cast.entities} | known_keys,
            key=lambda k: (-len(by_speaker.get(k, [])), k),
        )
        if key in cast.entities
    ]
    return AttributionResult(tuple(characters), attributions)


def _named_speakers(turns: Sequence[Turn], cast: Cast) -> set[str]:
    """Characters with name evidence: named as a speaker, titled, derived from a relation, or
    addressed by a name that has a gender."""
    keys = {
        key
        for turn in turns
        for cue in turn.cues
        if cue.kind == "name" and cue.form and (key := cast.by_form.get(cue.form))
    }
    keys |= {
        key
        for turn in turns
        for key in turn.addressees
        if key in cast.entities and cast.entities[key].gender != "unknown"
    }
    keys |= set(cast.derived)
    keys |= set(cast.roles.values())
    keys |= {e.key for e in cast.entities.values() if any(f.title for f in e.forms)}
    if cast.narrator is not None:
        keys.add(cast.narrator)
    return keys


def _character(
    entity: CharacterEntity, line_ids: Sequence[str], text_of: Mapping[str, str]
) -> DetectedCharacter:
    longest = sorted(line_ids, key=lambda x: -len(text_of.get(x, "")))
    return DetectedCharacter(
        key=entity.key,
        name=entity.name,
        aliases=entity.aliases,
        gender=entity.gender,
        line_count=len(line_ids),
        sample_lines=tuple(longest[:3]),
    )
