"""Local speaker attribution, on the corpus novel and on small constructed scenes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from khipu.characters.attribution import (
    AttributionResult,
    DetectedCharacter,
    KnownCharacter,
    Line,
    attribute_speakers,
)
from khipu.manuscripts.document import Paragraph, ParsedChapter
from khipu.manuscripts.parsing import parse_manuscript
from khipu.manuscripts.segmentation import segment_chapter

CORPUS = Path(__file__).parents[1] / "fixtures" / "pride-and-prejudice.epub"


def chapter_lines(chapter: ParsedChapter, index: int) -> list[Line]:
    return [
        Line(f"{index}:{n}", index, segment.paragraph, segment.kind, segment.text)
        for n, segment in enumerate(segment_chapter(chapter))
    ]


def scene(*paragraphs: str) -> list[Line]:
    """One constructed chapter, segmented by the real segmenter."""
    chapter = ParsedChapter("I", "chapter", tuple(Paragraph(text) for text in paragraphs))
    return chapter_lines(chapter, 0)


def line_id(lines: list[Line], start: str) -> str:
    (found,) = [
        line.id for line in lines if line.kind == "dialogue" and line.text.startswith(start)
    ]
    return found


def speaker_name(result: AttributionResult, lines: list[Line], start: str) -> str | None:
    attribution = result.attributions[line_id(lines, start)]
    names = {c.key: c.name for c in result.characters}
    return names.get(attribution.speaker) if attribution.speaker else None


def character(result: AttributionResult, name: str) -> DetectedCharacter:
    (found,) = [c for c in result.characters if c.name == name]
    return found


# -- the corpus novel, chapter 1 ----------------------------------------------------------------


@pytest.fixture(scope="module")
def chapter_one() -> tuple[list[Line], AttributionResult]:
    manuscript = parse_manuscript(CORPUS.read_bytes())
    first = next(c for c in manuscript.chapters if c.kind == "chapter")
    lines = chapter_lines(first, 0)
    return lines, attribute_speakers(lines)


def test_chapter_one_finds_mr_and_mrs_bennet_as_distinct_characters_with_their_genders(
    chapter_one: tuple[list[Line], AttributionResult],
) -> None:
    _, result = chapter_one
    mr, mrs = character(result, "Mr. Bennet"), character(result, "Mrs. Bennet")
    assert mr.key != mrs.key
    assert (mr.gender, mrs.gender) == ("male", "female")
    assert mr.line_count >= 10 and mrs.line_count >= 10


def test_chapter_one_every_dialogue_line_is_attributed_to_one_of_the_bennets(
    chapter_one: tuple[list[Line], AttributionResult],
) -> None:
    lines, result = chapter_one
    dialogue = [line.id for line in lines if line.kind == "dialogue"]
    assert set(result.attributions) == set(dialogue)
    bennets = {character(result, "Mr. Bennet").key, character(result, "Mrs. Bennet").key}
    assert {result.attributions[d].speaker for d in dialogue} == bennets


@pytest.mark.parametrize(
    ("start", "speaker", "method"),
    [
        ("“have you heard that Netherfield", "Mrs. Bennet", "epithet"),  # said his lady
        ("“But it is,”", "Mrs. Bennet", "pronoun"),  # returned she
        ("“for Mrs. Long has just been here", "Mrs. Bennet", "pronoun"),
        ("“Do not you want to know who has taken it?”", "Mrs. Bennet", "epithet"),  # cried his wife
        ("“They have none of them much to recommend them,”", "Mr. Bennet", "pronoun"),  # replied he
        ("“You want to tell me, and I have no objection", "Mr. Bennet", "turn_taking"),
    ],
)
def test_chapter_one_explicit_pronoun_and_epithet_cues_name_the_speaker(
    chapter_one: tuple[list[Line], AttributionResult], start: str, speaker: str, method: str
) -> None:
    lines, result = chapter_one
    assert speaker_name(result, lines, start) == speaker
    assert result.attributions[line_id(lines, start)].method == method


def test_chapter_one_line_addressing_my_dear_mr_bennet_is_not_his(
    chapter_one: tuple[list[Line], AttributionResult],
) -> None:
    lines, result = chapter_one
    opening = [line.id for line in lines if line.text.startswith("“My dear Mr. Bennet,")]
    assert len(opening) == 2  # the novel's first line, and “My dear Mr. Bennet,” replied his wife
    mr, mrs = character(result, "Mr. Bennet"), character(result, "Mrs. Bennet")
    for opening_id in opening:
        assert result.attributions[opening_id].speaker == mrs.key != mr.key


def test_chapter_one_sample_lines_are_the_speakers_longest_lines(
    chapter_one: tuple[list[Line], AttributionResult],
) -> None:
    lines, result = chapter_one
    text_of = {line.id: line.text for line in lines}
    mrs = character(result, "Mrs. Bennet")
    samples = [len(text_of[i]) for i in mrs.sample_lines]
    assert len(samples) == 3 and samples == sorted(samples, reverse=True)
    her_lines = [i for i, a in result.attributions.items() if a.speaker == mrs.key]
    assert samples[0] == max(len(text_of[i]) for i in her_lines)


# -- names and aliases --------------------------------------------------------------------------


ALIAS_SCENE = (
    "Miss Elizabeth Bennet came down to breakfast late. Her father, Mr. Bennet, was reading.",
    "“Lizzy, you are late,” said Mr. Bennet.",
    "“I was walking, papa,” said Elizabeth.",
    "Mrs. Bennet came in with a letter. “Mr. Bennet, read this at once,” said Mrs. Bennet.",
    "“Must I?” said Mr. Bennet.",
    "“Lizzy will read it to me, then,” she said, and Lizzy took it.",
    "“It is from my aunt,” said Lizzy.",
)


def test_elizabeth_lizzy_and_miss_elizabeth_bennet_are_one_character() -> None:
    result = attribute_speakers(scene(*ALIAS_SCENE))
    elizabeth = character(result, "Elizabeth Bennet")
    assert {"Elizabeth", "Lizzy", "Miss Elizabeth Bennet"} <= set(elizabeth.aliases)
    assert elizabeth.gender == "female"
    assert elizabeth.line_count == 2


def test_mr_bennet_and_mrs_bennet_stay_two_characters() -> None:
    result = attribute_speakers(scene(*ALIAS_SCENE))
    mr, mrs = character(result, "Mr. Bennet"), character(result, "Mrs. Bennet")
    assert mr.key != mrs.key
    assert (mr.gender, mrs.gender, mr.line_count, mrs.line_count) == ("male", "female", 2, 2)
    assert "Mrs. Bennet" not in mr.aliases and "Mr. Bennet" not in mrs.aliases


def test_a_bare_surname_is_the_mans_unless_two_men_share_it() -> None:
    lines = scene(
        "Mr. Wickham and Mrs. Wickham arrived together, and Mr. Darcy stood up.",
        "“You are welcome,” said Darcy.",
        "“Thank you,” said Wickham.",
        "“We are delighted,” said Mrs. Wickham.",
        "Henry Tilney and his brother Frederick Tilney came in after them.",
        "“Good evening,” said Tilney.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“You are welcome,”") == "Mr. Darcy"
    assert speaker_name(result, lines, "“Thank you,”") == "Mr. Wickham"
    assert speaker_name(result, lines, "“We are delighted,”") == "Mrs. Wickham"
    assert speaker_name(result, lines, "“Good evening,”") == "Tilney"  # Henry's or Frederick's?


def test_a_name_seen_once_without_speaking_does_not_clutter_the_character_list() -> None:
    lines = scene(
        "Anne met Captain Wentworth at the gate. Uppercross was quiet.",
        "“You are early,” said Anne.",
        "“I could not wait,” said Captain Wentworth.",
    )
    names = {c.name for c in attribute_speakers(lines).characters}
    assert names == {"Anne", "Captain Wentworth"}


# -- vocatives ----------------------------------------------------------------------------------


def test_mamma_speaks_to_the_mother_so_the_daughter_asks_and_the_mother_answers() -> None:
    lines = scene(
        "Mrs. Dashwood was sewing by the window when Marianne came in from the garden.",
        "“Mamma, may I walk to the village?”",
        "“Not in this rain, my dear.”",
        "“Then I shall read, Mamma.”",
    )
    result = attribute_speakers(lines)
    speakers = [speaker_name(result, lines, line.text) for line in lines if line.kind == "dialogue"]
    assert speakers == ["Marianne", "Mrs. Dashwood", "Marianne"]


def test_a_vocative_in_the_middle_of_a_quote_rules_out_the_one_addressed() -> None:
    lines = scene(
        "Mr. Palmer and Mrs. Jennings sat down to cards.",
        "“How good it was in you to come, my dear Mr. Palmer! But I knew you would.”",
        "“I always come,” said Mr. Palmer.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“How good it was") == "Mrs. Jennings"


def test_a_character_addressed_by_name_keeps_her_single_line() -> None:
    lines = scene(
        "Edward and Elinor walked on. Colonel Brandon followed them.",
        "“Elinor, you are tired,” said he.",
        "“A little, Edward.”",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“A little, Edward.”") == "Elinor"
    assert character(result, "Elinor").line_count == 1


# -- known characters and locked lines ----------------------------------------------------------


def test_a_user_renamed_character_keeps_its_key_and_name() -> None:
    known = [KnownCharacter("c-17", "Lizzie", aliases=("Elizabeth", "Lizzy"), gender="female")]
    lines = scene(*ALIAS_SCENE)
    result = attribute_speakers(lines, known=known)
    renamed = character(result, "Lizzie")
    assert renamed.key == "c-17" and renamed.gender == "female"
    assert result.attributions[line_id(lines, "“I was walking, papa,”")].speaker == "c-17"
    assert "Elizabeth Bennet" not in {c.name for c in result.characters}


TURN_SCENE = (
    "Anne and Tom sat by the fire until the clock struck.",
    "“Is it late?”",
    "“Not yet.”",
    "“Shall we go?”",
    "“In a minute.”",
)
PAIR = [
    KnownCharacter("k-anne", "Anne", gender="female"),
    KnownCharacter("k-tom", "Tom", gender="male"),
]


@pytest.mark.parametrize(("first", "second"), [("k-anne", "k-tom"), ("k-tom", "k-anne")])
def test_turn_taking_alternates_from_a_locked_line(first: str, second: str) -> None:
    lines = scene(*TURN_SCENE)
    opening = line_id(lines, "“Is it late?”")
    result = attribute_speakers(lines, known=PAIR, locked={opening: first})
    speakers = [result.attributions[line.id].speaker for line in lines if line.kind == "dialogue"]
    assert speakers == [first, second, first, second]
    assert result.attributions[opening].method == "locked"
    assert result.attributions[opening].confidence == 1.0


def test_a_locked_line_keeps_its_speaker_against_an_explicit_cue() -> None:
    lines = scene(*ALIAS_SCENE)
    result = attribute_speakers(lines)
    mrs = character(result, "Mrs. Bennet").key
    target = line_id(lines, "“Must I?”")  # said Mr. Bennet, but the user says otherwise
    locked = attribute_speakers(lines, locked={target: mrs})
    assert locked.attributions[target].speaker == mrs
    assert locked.attributions[target].method == "locked"


# -- turn-taking, epithets, first-person narrators ----------------------------------------------


def test_unattributed_lines_alternate_between_the_two_speakers_of_a_conversation() -> None:
    lines = scene(
        "Mary found John in the yard after supper.",
        "“Where have you been?” said Mary.",
        "“At the mill,” answered John.",
        "“All day?”",
        "“All day.”",
        "“You must be tired.”",
        "“I am.”",
    )
    result = attribute_speakers(lines)
    speakers = [speaker_name(result, lines, line.text) for line in lines if line.kind == "dialogue"]
    assert speakers == ["Mary", "John", "Mary", "John", "Mary", "John"]
    methods = [result.attributions[line.id].method for line in lines if line.kind == "dialogue"]
    assert methods == ["explicit", "explicit", *["turn_taking"] * 4]


def test_turn_taking_restarts_after_long_narration() -> None:
    lines = scene(
        "Mary found John in the yard after supper.",
        "“Where have you been?” said Mary.",
        "“At the mill,” answered John.",
        "“All day?”",
        "Three days later Mary drove alone to town, and there she met Mrs. Price at the draper’s. "
        "The shop was crowded with farmers’ wives, and the two women stood a long while by the "
        "window, watching the rain and the carts in the square, before either of them spoke a "
        "word about the wedding, the harvest, the new curate, or anything else at all. The rain "
        "went on, and the carts went by, and the draper counted his ribbons behind the counter, "
        "and the clock over the door struck the half hour, and then the hour, while the wives "
        "bought their thread and their buttons and went out again into the wet street.",
        "“It is a wet one,” said the old woman.",
        "“Wetter than last week.”",
        "“And colder.”",
    )
    result = attribute_speakers(lines)
    # Before the break John would answer Mary; after it, only Mary and Mrs. Price are present.
    assert speaker_name(result, lines, "“All day?”") == "Mary"
    assert speaker_name(result, lines, "“It is a wet one,”") == "Mrs. Price"
    assert speaker_name(result, lines, "“Wetter than last week.”") == "Mary"
    assert speaker_name(result, lines, "“And colder.”") == "Mrs. Price"
    assert result.attributions[line_id(lines, "“It is a wet one,”")].method == "epithet"


def test_relational_and_descriptive_epithets_resolve_to_the_character_present() -> None:
    lines = scene(
        "Mr. Harding came home late, and Mrs. Harding was waiting for him in the hall.",
        "“You are late,” said his wife.",
        "“The bishop kept me,” said the old man, taking off his coat.",
        "“And did he say anything about the hospital?” she asked.",
        "“Nothing at all,” he replied.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“You are late,”") == "Mrs. Harding"
    assert speaker_name(result, lines, "“The bishop kept me,”") == "Mr. Harding"
    assert speaker_name(result, lines, "“And did he say") == "Mrs. Harding"
    assert speaker_name(result, lines, "“Nothing at all,”") == "Mr. Harding"
    methods = [result.attributions[line.id].method for line in lines if line.kind == "dialogue"]
    assert methods == ["epithet", "epithet", "pronoun", "pronoun"]


FIRST_PERSON_SCENE = (
    "I had not seen Holmes for a month when Holmes called on me one wet evening.",
    "“You look tired,” said he.",
    "“I have been working,” said I.",
    "“On what?” he asked.",
    "“A novel,” I answered, and I showed him the pages.",
)


def test_a_first_person_narrator_who_speaks_becomes_the_narrator_character() -> None:
    lines = scene(*FIRST_PERSON_SCENE)
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“I have been working,”") == "Narrator"
    assert speaker_name(result, lines, "“A novel,”") == "Narrator"
    assert speaker_name(result, lines, "“You look tired,”") == "Holmes"
    assert speaker_name(result, lines, "“On what?”") == "Holmes"
    assert character(result, "Narrator").line_count == 2


def test_a_narrator_who_gives_a_name_is_called_by_it() -> None:
    lines = scene("My name is Ishmael, and I went to sea that winter.", *FIRST_PERSON_SCENE)
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“I have been working,”") == "Ishmael"
    assert "Narrator" not in {c.name for c in result.characters}


# -- names: pet forms, "the" forms, titles alone -------------------------------------------------


def test_clipped_and_pet_forms_join_the_full_name() -> None:
    lines = scene(
        "Kitty Hamilton and Mr. Skaggs sat in the parlour with Francis Oakley.",
        "“You sing well, Kit,” said Skaggsy.",
        "“Thank you, Mr. Skaggs,” said Kit.",
        "“She does,” said Frank.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“Thank you") == "Kitty Hamilton"
    assert speaker_name(result, lines, "“You sing well") == "Mr. Skaggs"
    assert speaker_name(result, lines, "“She does,”") == "Francis Oakley"
    assert {"Kit"} <= set(character(result, "Kitty Hamilton").aliases)


def test_a_capitalised_creature_and_its_the_form_are_one_character() -> None:
    lines = scene(
        "Alice swam to the shore, and the Mouse swam after her.",
        "“O Mouse, do you know the way?” said Alice.",
        "“I do,” said the Mouse.",
        "“Then show me,” said Alice.",
        "“Follow me,” said the Mouse.",
    )
    result = attribute_speakers(lines)
    mouse = character(result, "the Mouse")
    assert "Mouse" in mouse.aliases and mouse.line_count == 2
    assert speaker_name(result, lines, "“I do,”") == "the Mouse"


def test_the_colonel_is_the_books_one_colonel_and_a_bare_surname_the_titled_mans() -> None:
    lines = scene(
        "Colonel Saunders and Fitzwilliam Darcy dined with Captain Fitzwilliam.",
        "“Any doubt?” said Mr. Darcy.",
        "“Certainly not,” said the Colonel.",
        "“None at all,” said Fitzwilliam.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“Certainly not,”") == "Colonel Saunders"
    assert speaker_name(result, lines, "“None at all,”") == "Captain Fitzwilliam"


# -- speakers known by their occupation ----------------------------------------------------------


def test_a_speaker_called_only_the_detective_becomes_a_character() -> None:
    lines = scene(
        "The detective examined the room while Mr. Oakley waited.",
        "“When did you open the cabinet?” said the detective.",
        "“Last night,” said Mr. Oakley.",
        "“Was the window open?” asked the detective.",
        "“It always is.”",
        "“Then I have a clue.”",
    )
    result = attribute_speakers(lines)
    detective = character(result, "the detective")
    assert detective.line_count == 3
    assert speaker_name(result, lines, "“Then I have a clue.”") == "the detective"
    assert speaker_name(result, lines, "“It always is.”") == "Mr. Oakley"


def test_quotes_said_by_several_people_are_no_ones() -> None:
    lines = scene(
        "Mr. Darcy bowed to Elizabeth and the Miss Lucases.",
        "“Welcome,” said Mr. Darcy.",
        "“Thank you!” cried the ladies.",
    )
    result = attribute_speakers(lines)
    assert result.attributions[line_id(lines, "“Thank you!”")].speaker is None


# -- attribution phrases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "speaker"),
    [
        ("was Kitty’s answer.", "Kitty"),  # the speaker owns the reply
        ("mused Kitty.", "Kitty"),  # any verb, inverted, says "said"
        ("Kitty had replied.", "Kitty"),  # the past perfect right after a quote
        ("was his reply.", "Joe"),
    ],
)
def test_attributions_without_a_verb_of_saying_name_the_speaker(after: str, speaker: str) -> None:
    lines = scene(
        "Kitty and Joe sat by the fire.",
        "“It is late,” said Joe.",
        "“Is it?” said Kitty.",
        f"“We should go,” {after}",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“We should go,”") == speaker


def test_a_relative_of_a_named_character_is_found_through_the_name() -> None:
    lines = scene(
        "Winterbourne met Daisy Miller and Mrs. Miller on the terrace.",
        "“Good evening, Mrs. Miller,” said Winterbourne.",
        "“Oh, no; with this gentleman!” answered Daisy’s mamma.",
        "“Mother, I shall go,” said Daisy.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“Oh, no; with this gentleman!”") == "Mrs. Miller"


def test_her_mother_is_the_mother_of_the_woman_who_has_one() -> None:
    lines = scene(
        "Mrs. Miller walked to the parapet, and Daisy Miller followed her.",
        "“What are you doing here?” said Daisy.",
        "“I don’t know,” said her mother.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“I don’t know,”") == "Mrs. Miller"


def test_narration_between_two_quotes_can_bring_in_the_second_speaker() -> None:
    lines = scene(
        "The Lory and the Crab sat on the bank with Alice.",
        "“What a pity!” sighed the Lory; and the Crab took the opportunity of saying, "
        "“Let this be a lesson to you!”",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“What a pity!”") == "the Lory"
    assert speaker_name(result, lines, "“Let this be a lesson") == "the Crab"


def test_a_speaker_who_adds_within_a_paragraph_does_not_continue_the_previous_turn() -> None:
    lines = scene(
        "Tom and John stood at the gate.",
        "“Will you come?” said Tom.",
        "“I cannot.” He paused, and then he added, “I am busy.”",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“I cannot.”") == "John"


# -- who is present ------------------------------------------------------------------------------


def test_quoted_words_inside_narration_are_no_ones_speech() -> None:
    lines = scene(
        "Winterbourne sat in the garden of the “Trois Couronnes,” looking about him.",
        "“Will you give me a lump of sugar?” asked Randolph.",
        "“Yes, you may take one,” said Winterbourne.",
        "“She s my sister.”",
    )
    result = attribute_speakers(lines)
    assert result.attributions[line_id(lines, "“Trois Couronnes,”")].speaker is None
    assert "Trois Couronnes" not in {c.name for c in result.characters}
    assert speaker_name(result, lines, "“She s my sister.”") == "Randolph"


def test_a_name_in_apposition_is_not_the_one_addressed() -> None:
    lines = scene(
        "Frank sat down heavily, and his brother Maurice Oakley stood by the fire.",
        "“Who was in your room?” said Maurice.",
        "“His boy, Joe, shaved me,” said Frank.",
        "“Then it lies between the servants.”",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“Then it lies") == "Maurice Oakley"


def test_she_said_is_the_woman_in_the_scene_not_one_she_talks_about() -> None:
    lines = scene(
        "Alice sat down on the bank and began to cry.",
        "“I’m sure I’m not Ada,” she said, “and I can’t be Mabel, for Mabel knows nothing.”",
        "Alice looked down at her hands.",
        "“How can I have done that?” she thought.",
    )
    result = attribute_speakers(lines)
    assert speaker_name(result, lines, "“How can I have done that?”") == "Alice"
    assert "Mabel" not in {c.name for c in result.characters}


def test_a_scene_break_ends_the_conversation() -> None:
    paragraphs = [
        Paragraph("Mary found John in the yard after supper."),
        Paragraph("“Where have you been?” said Mary."),
        Paragraph("“At the mill,” answered John."),
        Paragraph("Mrs. Price was alone in the shop.", scene_break_before=True),
        Paragraph("“Wet again,” said Mrs. Price."),
        Paragraph("“Wetter than last week.”"),
    ]
    segments = segment_chapter(ParsedChapter("I", "chapter", tuple(paragraphs)))
    lines = [
        Line(f"0:{n}", 0, s.paragraph, s.kind, s.text, scene_break=s.boundary == "scene")
        for n, s in enumerate(segments)
    ]
    result = attribute_speakers(lines)
    # Without the break, John would answer Mrs. Price; after it, only she is in the scene.
    assert speaker_name(result, lines, "“Wetter than last week.”") != "John"
    without_break = [replace(line, scene_break=False) for line in lines]
    unbroken = attribute_speakers(without_break)
    assert speaker_name(unbroken, without_break, "“Wetter than last week.”") == "John"


def test_a_narrator_whom_the_others_address_by_name_is_called_by_it() -> None:
    lines = scene(
        "I had not seen Holmes for a month when he called on me one wet evening.",
        "“You look tired, Watson,” said he.",
        "“I have been working,” said I.",
        "“On what, my dear Watson?” Holmes asked.",
        "“A novel,” I answered, and I showed him the pages.",
        "“Excellent, Watson!”",
    )
    result = attribute_speakers(lines)
    watson = character(result, "Watson")
    assert "Narrator" in watson.aliases
    assert speaker_name(result, lines, "“I have been working,”") == "Watson"
    assert speaker_name(result, lines, "“Excellent, Watson!”") == "Holmes"
