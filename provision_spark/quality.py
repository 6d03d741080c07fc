"""The instruction quality report: what a user should know about a set of instructions before
training on it, computed from the ``instructions`` (and ``quarantine``) tables alone.

Per generator: items, distinct answers, answer entropy (bits), top-answer share (and whether it is
above the share limit where at least ``MIN_ANSWERS_FOR_LIMIT`` answers are possible), and the
balance of the right choice's position (chi-square p-value against uniform positions). Over all
items: an estimate of each hard defect class, by detectors that read only the texts (independent
of the generators' code), and checker drops by reason.

Everything is a group-by; only per-generator and per-class aggregates reach the driver.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from scipy import stats

#: Default most a single answer may take of a generator's items.
SHARE_LIMIT = 0.35
#: The share limit applies where a generator's items have at least this many distinct answers.
MIN_ANSWERS_FOR_LIMIT = 4
#: Position balance below this p-value is reported as unbalanced.
BALANCE_P = 0.01


def _text() -> Column:
    return F.concat_ws("\n", "question", "answer", "mc_question")


#: Nouns Visual Genome lemmatised from plural-only words ("the pant", "a jean").
_LEMMAS = r"(?i)\b(?:the|a|an|\d+) (?:\w+ )?(?:pant|jean|sunglass|trouser|legging|goggle|short)\b(?! (?:sleeve|hair|pants|man|woman|stop)\b)"
#: Predicates passed through with an article or an auxiliary ("has a the nose", "is being on", "wearing a?").
_RAW_PREDICATE = (
    r"\b(?:a|an|the) (?:a|an|the)\b|(?<=\w )(?:a|an|the)[?.,!]"
    r"|\b(?:is|are) (?:being|be|is|are) (?:on|in|of|at|near|by|with)\b"
)
#: Names that are sentences ("see tail light.", "desk is grey.").
_SENTENCE_NAME = r"\w\.[?,]|[a-z]{2}\. [a-z]"
_NUMBER_LABEL = r"(?m)^\(?\d+[.)] "


def _numeric_labels() -> Column:
    return F.col("mc_question").rlike(_NUMBER_LABEL) & F.exists("choices", lambda c: c.rlike(r"^-?\d+(\.\d+)?$"))


def _unordered_images() -> Column:
    return F.forall("choices", lambda c: c.rlike(r"^Image \d+$")) & (F.col("choices") != F.array_sort("choices"))


def _repeated_sentence() -> Column:
    sentences = F.split(F.col("answer"), r"(?<=[.!?]) +")
    return F.size(sentences) > F.size(F.array_distinct(sentences))


#: Hard defect classes a text-only detector can see: name -> a boolean Column over instruction rows.
HARD_DEFECTS: dict[str, Callable[[], Column]] = {
    "raw_predicate_grammar": lambda: _text().rlike(_RAW_PREDICATE),
    "lemma_in_text": lambda: _text().rlike(_LEMMAS),
    "sentence_like_name": lambda: F.concat_ws("\n", "question", "answer").rlike(_SENTENCE_NAME),
    "numeric_choice_labels": _numeric_labels,
    "image_options_unordered": _unordered_images,
    "repeated_caption_sentence": _repeated_sentence,
    "bare_countable_noun": lambda: F.col("_bare_countable"),
}

#: "Which image has street?", "shows light, ...": a singular countable noun with no article.
_BARE = r"(?i)\b(?:has|have|shows|show|contains) ([a-z]+)(?:\?|,| and\b)"


@functools.lru_cache(maxsize=65536)
def _countable_singular(word: str) -> bool:
    """Whether ``word`` is a singular countable noun (needs an article): WordNet-free, by inflect and
    the uncountable list; digits, plurals and mass nouns need none."""
    import inflect

    from provision_spark.generators.vocab import is_mass

    if not word or word in ("a", "an", "the", "no", "any", "some") or is_mass(word):
        return False
    engine = inflect.engine()
    singular = engine.singular_noun(word)
    return not singular and engine.plural_noun(word) != word


def _with_bare_countable(instructions: DataFrame) -> DataFrame:
    """``instructions`` with ``_bare_countable``: the distinct candidate words are judged on the driver."""
    candidate = F.lower(F.regexp_extract(F.concat_ws("\n", "question", "answer"), _BARE, 1))
    rows = instructions.withColumn("_candidate", candidate)
    words = [r[0] for r in rows.select("_candidate").distinct().collect() if r[0]]
    countable = [w for w in words if _countable_singular(w)]
    return rows.withColumn("_bare_countable", F.col("_candidate").isin(countable) if countable else F.lit(False))


def entropy_bits(counts: list[int]) -> float:
    total = sum(counts)
    return -sum(c / total * math.log2(c / total) for c in counts if c) if total else 0.0


def position_p_value(counts: dict[tuple[int, int], int]) -> float | None:
    """Chi-square p-value that the right choice's position is uniform, pooled over choice counts.

    ``counts``: (number of choices, correct index) -> items. None when there is nothing to test.
    """
    statistic, dof = 0.0, 0
    for size in {s for s, _ in counts}:
        observed = [counts.get((size, i), 0) for i in range(size)]
        if size < 2 or sum(observed) == 0:
            continue
        statistic += float(stats.chisquare(observed).statistic)
        dof += size - 1
    return float(stats.chi2.sf(statistic, dof)) if dof else None


def report(instructions: DataFrame, quarantine: DataFrame | None = None, share_limit: float = SHARE_LIMIT) -> dict:
    """The quality report of ``instructions`` (rows of the ``instructions`` table) as a plain dict."""
    per_answer = instructions.groupBy("generator", "answer").count()
    w = Window.partitionBy("generator")
    answers = (
        per_answer.withColumn("total", F.sum("count").over(w))
        .withColumn("p", F.col("count") / F.col("total"))
        .groupBy("generator")
        .agg(
            F.first("total").alias("items"),
            F.count("*").alias("answers"),
            F.max("p").alias("top_share"),
            F.max_by("answer", "count").alias("top_answer"),
            (-F.sum(F.col("p") * F.log2("p"))).alias("entropy_bits"),
        )
        .collect()
    )
    positions: dict[str, dict[tuple[int, int], int]] = {}
    for r in instructions.groupBy("generator", F.size("choices").alias("n"), "correct_index").count().collect():
        positions.setdefault(r["generator"], {})[(r["n"], r["correct_index"])] = r["count"]
    generators = []
    for r in sorted(answers, key=lambda r: r["generator"]):
        limited = r["answers"] >= MIN_ANSWERS_FOR_LIMIT
        p = position_p_value(positions.get(r["generator"], {}))
        generators.append(
            {
                "generator": r["generator"],
                "items": int(r["items"]),
                "answers": int(r["answers"]),
                "entropy_bits": round(float(r["entropy_bits"]), 4),
                "top_answer": r["top_answer"],
                "top_share": round(float(r["top_share"]), 4),
                "above_share_limit": bool(limited and r["top_share"] > share_limit),
                "position_p": None if p is None else round(p, 6),
                "position_unbalanced": p is not None and p < BALANCE_P,
            }
        )
    all_positions: dict[tuple[int, int], int] = {}
    for per in positions.values():
        for key, n in per.items():
            all_positions[key] = all_positions.get(key, 0) + n
    flagged = _with_bare_countable(instructions).select(
        *[F.sum(detector().cast("int")).alias(name) for name, detector in HARD_DEFECTS.items()]
    )
    defects = {k: int(v or 0) for k, v in flagged.first().asDict().items()}
    drops = []
    if quarantine is not None:
        reason = F.regexp_replace(F.regexp_replace("reason", "'[^']*'", "'...'"), "[0-9]+", "#")
        drops = [
            {"stage": r["stage"], "reason": r["reason"], "n": int(r["count"])}
            for r in quarantine.filter(F.col("entity") == "instruction")
            .groupBy("stage", reason.alias("reason"))
            .count()
            .orderBy(F.desc("count"), "reason")
            .collect()
        ]
    overall_p = position_p_value(all_positions)
    return {
        "share_limit": share_limit,
        "items": sum(g["items"] for g in generators),
        "generators": generators,
        "hard_defects": defects,
        "position_p": None if overall_p is None else round(overall_p, 6),
        "checker_drops": drops,
        "passed": (
            not any(defects.values())
            and not any(g["above_share_limit"] for g in generators)
            and (overall_p is None or overall_p > BALANCE_P)
        ),
    }


def to_markdown(quality: dict) -> str:
    """The report as Markdown (the MLflow artifact users read)."""
    lines = [f"# Instruction quality ({quality['items']} items)", ""]
    lines += ["| generator | items | answers | entropy (bits) | top answer | top share | position p |"]
    lines += ["|---|---:|---:|---:|---|---:|---:|"]
    for g in quality["generators"]:
        flag = " (over limit)" if g["above_share_limit"] else ""
        lines.append(
            f"| {g['generator']} | {g['items']} | {g['answers']} | {g['entropy_bits']} | "
            f"{_cell(g['top_answer'])} | {g['top_share']}{flag} | {g['position_p']} |"
        )
    lines += ["", f"Position balance over all items: p = {quality['position_p']}", "", "## Hard defects", ""]
    lines += [f"- {name}: {n}" for name, n in quality["hard_defects"].items()]
    lines += ["", "## Checker drops", ""]
    lines += [f"- {d['stage']}: {d['reason']}: {d['n']}" for d in quality["checker_drops"]] or ["- none"]
    return "\n".join(lines) + "\n"


def _cell(text: str | None) -> str:
    return re.sub(r"\s+", " ", str(text))[:40].replace("|", "\\|")
