"""Benchmark local speaker attribution against annotated quotes.

Usage:
    python scripts/bench/attribution.py MANUSCRIPT ANNOTATIONS.csv [--errors N] [--mode local|llm]
    python scripts/bench/attribution.py --pdnc DIR [--manuscript PATH] [--errors N] [--mode ...]

`--mode llm` asks the language model the product uses (Azure OpenAI with AZURE_OPENAI_ENDPOINT and
AZURE_OPENAI_API_KEY, else OpenAI with OPENAI_API_KEY) chapter by chapter, and also reports the
tokens spent and their estimated cost; without credentials it says so and measures nothing.

ANNOTATIONS.csv has columns quote_text,speaker[,speaker_aliases] (aliases separated by "|").
A PDNC folder (Project Dialogism Novel Corpus layout) holds novel_text.txt, quotation_info.csv
(quoteText, speaker, optionally quoteType) and character_info.csv (Main Name, Aliases).
The manuscript is parsed and segmented with the real code; each annotated quote is aligned to
dialogue segments by normalised containment (fuzzy as a fallback); a quote counts as correct when
the predicted character is the gold speaker, predicted characters being mapped to gold characters
by name and aliases, case-insensitively (PDNC's "_narr"/"Narr" narrator alias matches "Narrator").
PDNC carries no licence: keep its files outside the repository.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import csv
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from khipu.analytics.service import llm_cost
from khipu.characters import llm
from khipu.characters.attribution import (
    AttributionResult,
    DetectedCharacter,
    Line,
    attribute_speakers,
)
from khipu.config import Settings
from khipu.manuscripts.parsing import parse_manuscript
from khipu.manuscripts.segmentation import segment_chapter

_SEARCH_WINDOW = 80  # dialogue segments looked ahead for an exact match
_FUZZY_WINDOW = 12  # ... and for a fuzzy one
_FUZZY_COVERAGE = 0.85
_MIN_FRACTION = 0.3  # a contained text must be this share of the other, or long, or a prefix
_MIN_CONTAINED = 20
_PDNC_NARRATOR = "narr"  # PDNC writes it "_narr" in most novels, "Narr" in some
_MAJOR_LINES = 5  # characters with at least this many gold lines count for recall


@dataclass(frozen=True, slots=True)
class GoldQuote:
    text: str
    speaker: str
    quote_type: str | None


@dataclass(frozen=True, slots=True)
class Gold:
    quotes: tuple[GoldQuote, ...]
    names: dict[str, frozenset[str]]  # gold speaker -> normalised names and aliases


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", name.lower().replace("’", "'")).strip()


def normalise_text(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


# -- loading ------------------------------------------------------------------------------------


def read_annotations(path: Path) -> Gold:
    quotes: list[GoldQuote] = []
    names: dict[str, set[str]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            speaker = row["speaker"].strip()
            quotes.append(GoldQuote(row["quote_text"], speaker, None))
            aliases = [a for a in (row.get("speaker_aliases") or "").split("|") if a.strip()]
            names.setdefault(speaker, {normalise_name(speaker)}).update(
                normalise_name(a) for a in aliases
            )
    return Gold(tuple(quotes), {k: frozenset(v) for k, v in names.items()})


def read_pdnc(folder: Path) -> Gold:
    names: dict[str, set[str]] = {}
    with (folder / "character_info.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            main = row["Main Name"].strip()
            aliases = _literal_names(row.get("Aliases", ""))
            if any(alias.strip("_").casefold() == _PDNC_NARRATOR for alias in aliases):
                aliases.append("Narrator")  # PDNC's mark for the first-person narrator
            names.setdefault(main, {normalise_name(main)}).update(
                normalise_name(a) for a in aliases
            )
    quotes: list[GoldQuote] = []
    with (folder / "quotation_info.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            speaker = _main_name(row["speaker"].strip(), names)
            quotes.append(GoldQuote(row["quoteText"], speaker, row.get("quoteType") or None))
            names.setdefault(speaker, {normalise_name(speaker)})
    return Gold(tuple(quotes), {k: frozenset(v) for k, v in names.items()})


def _main_name(speaker: str, names: dict[str, set[str]]) -> str:
    """PDNC sometimes names a quote's speaker by an alias; count it for its character."""
    if speaker in names:
        return speaker
    key = normalise_name(speaker)
    owners = [main for main, aliases in names.items() if key in aliases]
    return owners[0] if len(owners) == 1 else speaker


def _literal_names(raw: str) -> list[str]:
    raw = raw.strip()
    if not raw:
        return []
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return [raw]
    return [str(v) for v in value] if isinstance(value, (set, list, tuple)) else [str(value)]


def manuscript_lines(path: Path) -> list[Line]:
    manuscript = parse_manuscript(path.read_bytes())
    lines: list[Line] = []
    chapters = [c for c in manuscript.chapters if c.kind == "chapter"]
    for c, chapter in enumerate(chapters):
        for s, segment in enumerate(segment_chapter(chapter)):
            lines.append(Line(f"{c}:{s}", c, segment.paragraph, segment.kind, segment.text))
    return lines


# -- alignment ----------------------------------------------------------------------------------


def _contains(segment: str, quote: str) -> bool:
    if not segment or not quote:
        return False
    if segment == quote:
        return True
    if segment in quote:
        return len(segment) >= _MIN_CONTAINED or len(segment) >= _MIN_FRACTION * len(quote)
    if quote in segment:
        return len(quote) >= _MIN_CONTAINED or len(quote) >= _MIN_FRACTION * len(segment)
    return False


def _fuzzy_contains(segment: str, quote: str) -> bool:
    shorter = min(len(segment), len(quote))
    if shorter < _MIN_CONTAINED:
        return False
    matcher = SequenceMatcher(None, segment, quote, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched >= _FUZZY_COVERAGE * shorter


def align(quotes: tuple[GoldQuote, ...], lines: list[Line]) -> list[str | None]:
    """For each gold quote, the id of the first dialogue segment it aligns to (or None)."""
    dialogue = [
        (line.id, normalise_text(line.text), (line.chapter, line.paragraph))
        for line in lines
        if line.kind == "dialogue"
    ]
    aligned: list[str | None] = []
    cursor = 0
    for quote in quotes:
        target = normalise_text(quote.text)
        found = None
        for k in range(cursor, min(cursor + _SEARCH_WINDOW, len(dialogue))):
            if _contains(dialogue[k][1], target):
                found = k
                break
        if found is None:
            for k in range(cursor, min(cursor + _FUZZY_WINDOW, len(dialogue))):
                if _fuzzy_contains(dialogue[k][1], target):
                    found = k
                    break
        if found is None:
            aligned.append(None)
            continue
        aligned.append(dialogue[found][0])
        cursor = found + 1
        # The rest of a quote split by attribution narration is part of the same gold quote.
        while (
            cursor < len(dialogue)
            and dialogue[cursor][2] == dialogue[found][2]
            and dialogue[cursor][1]
            and dialogue[cursor][1] in target
        ):
            cursor += 1
    return aligned


# -- scoring ------------------------------------------------------------------------------------


def map_characters(characters: tuple[DetectedCharacter, ...], gold: Gold) -> dict[str, str]:
    """Predicted character key -> gold speaker, by canonical name first, then by aliases."""
    mapping: dict[str, str] = {}
    for character in characters:
        own = {normalise_name(character.name)}
        every = own | {normalise_name(a) for a in character.aliases}
        by_main = [g for g, names in gold.names.items() if own & names]
        by_alias = [g for g, names in gold.names.items() if every & names]
        candidates = by_main or by_alias
        if not candidates:
            continue
        exact = [g for g in candidates if normalise_name(g) in own]
        mapping[character.key] = (
            exact[0]
            if exact
            else max(candidates, key=lambda g: (len(every & gold.names[g]), -len(g)))
        )
    return mapping


@dataclass(frozen=True, slots=True)
class Report:
    total: int
    aligned: int
    correct: int
    by_type: dict[str, tuple[int, int]]
    recall_found: int
    recall_total: int
    missing: list[str]
    methods: Counter[str]
    method_accuracy: dict[str, tuple[int, int]]
    seconds: float
    errors: list[tuple[str, str, str | None]]


def evaluate(lines: list[Line], gold: Gold, result: AttributionResult, seconds: float) -> Report:
    mapping = map_characters(result.characters, gold)
    aligned = align(gold.quotes, lines)
    correct = 0
    by_type: dict[str, list[int]] = {}
    per_method: dict[str, list[int]] = {}
    errors: list[tuple[str, str, str | None]] = []
    for quote, line_id in zip(gold.quotes, aligned, strict=True):
        if line_id is None:
            continue
        attribution = result.attributions[line_id]
        predicted = mapping.get(attribution.speaker) if attribution.speaker else None
        hit = predicted == quote.speaker
        correct += hit
        kind = quote.quote_type or "all"
        by_type.setdefault(kind, [0, 0])
        by_type[kind][0] += hit
        by_type[kind][1] += 1
        per_method.setdefault(attribution.method, [0, 0])
        per_method[attribution.method][0] += hit
        per_method[attribution.method][1] += 1
        if not hit:
            errors.append((quote.text[:70], quote.speaker, predicted or attribution.speaker))
    lines_per_speaker = Counter(q.speaker for q in gold.quotes)
    major = [s for s, n in lines_per_speaker.items() if n >= _MAJOR_LINES]
    found = set(mapping.values())
    methods = Counter(a.method for a in result.attributions.values())
    return Report(
        total=len(gold.quotes),
        aligned=sum(1 for a in aligned if a is not None),
        correct=correct,
        by_type={k: (v[0], v[1]) for k, v in by_type.items()},
        recall_found=sum(1 for s in major if s in found),
        recall_total=len(major),
        missing=sorted(s for s in major if s not in found),
        methods=methods,
        method_accuracy={k: (v[0], v[1]) for k, v in per_method.items()},
        seconds=seconds,
        errors=errors,
    )


def print_report(report: Report, result: AttributionResult, *, errors: int) -> None:
    def share(a: int, b: int) -> str:
        return f"{a}/{b} = {100 * a / b:.1f}%" if b else "n/a"

    print(f"annotated quotes      {report.total}")
    print(f"aligned to segments   {share(report.aligned, report.total)}")
    print(f"attribution accuracy  {share(report.correct, report.aligned)}  (correct / aligned)")
    print(f"end-to-end accuracy   {share(report.correct, report.total)}  (correct / annotated)")
    for kind, (hit, n) in sorted(report.by_type.items()):
        if kind != "all":
            print(f"  {kind:<20}{share(hit, n)}")
    print(
        f"character recall      {share(report.recall_found, report.recall_total)}"
        f"  (gold speakers with >= {_MAJOR_LINES} lines)"
        + (f"; missing: {', '.join(report.missing)}" if report.missing else "")
    )
    print(f"characters detected   {len(result.characters)}")
    print(f"time                  {report.seconds:.2f} s")
    print("dialogue lines by method (accuracy on aligned quotes):")
    for method, count in report.methods.most_common():
        hit, n = report.method_accuracy.get(method, (0, 0))
        print(f"  {method:<16}{count:>6}   {share(hit, n)}")
    for quote, gold_speaker, predicted in report.errors[:errors]:
        print(f"  x {gold_speaker!s:>20} <- {predicted!s:<20} {quote}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("manuscript", nargs="?", type=Path)
    parser.add_argument("annotations", nargs="?", type=Path)
    parser.add_argument("--pdnc", type=Path, help="a PDNC novel folder")
    parser.add_argument("--manuscript", dest="override", type=Path, help="use this text instead")
    parser.add_argument("--errors", type=int, default=0, help="print this many wrong quotes")
    parser.add_argument(
        "--mode", choices=("local", "llm"), default="local", help="the attribution to measure"
    )
    args = parser.parse_args(argv)
    if args.pdnc:
        gold = read_pdnc(args.pdnc)
        manuscript = args.override or args.pdnc / "novel_text.txt"
    elif args.manuscript and args.annotations:
        gold = read_annotations(args.annotations)
        manuscript = args.manuscript
    else:
        parser.error("give MANUSCRIPT ANNOTATIONS.csv, or --pdnc DIR")
    settings = Settings()
    if args.mode == "llm" and not llm.configured(settings):
        print(
            "unmeasured: no credentials (set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY, "
            "or OPENAI_API_KEY)"
        )
        return 0
    lines = manuscript_lines(manuscript)
    started = time.perf_counter()
    if args.mode == "llm":
        attributed = asyncio.run(attribute_with_llm(settings, lines))
        result = attributed.result
    else:
        result = attribute_speakers(lines)
    seconds = time.perf_counter() - started
    report = evaluate(lines, gold, result, seconds)
    print_report(report, result, errors=args.errors)
    if args.mode == "llm":
        cost = llm_cost(settings, attributed.tokens)
        print(f"tokens                {attributed.tokens}  (estimated ${cost:.4f})")
    return 0


async def attribute_with_llm(settings: Settings, lines: list[Line]) -> llm.LLMAttribution:
    async with llm.chat_model(settings) as chat:
        return await llm.attribute_with_llm(lines, chat)


if __name__ == "__main__":
    sys.exit(main())
