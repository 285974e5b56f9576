"""A character CRF that tags the parts of an address written any way people write them.

Trained on annotated addresses in the BIO format of Li et al., "Neural Chinese Address Parsing"
(NAACL 2019): one token and one tag per line, a blank line between addresses (``enteronce
address train --corpus FILE``). Tokens are single characters, except runs of ASCII letters and
digits, which are one token (``602``, ``B``). Features: the token and its neighbours, their
character class, and the gazetteer — whether the token lies at the start, inside or at the end of a
division name of each level (every province, city, county and street of the country, Zhejiang's
communities, short and legacy names). python-crfsuite (CRFsuite, L-BFGS with elastic net) trains
and tags; the model ships in ``address_master/models/``, described by its model card.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.text import char_fold_table

MODELS = Path(__file__).parent / "models"
MODEL = MODELS / "address_crf.crfsuite"
TOKEN = re.compile(r"[0-9A-Za-z]+|\S")
LETTER_DIGIT_RUN = re.compile(r"[0-9A-Za-z]+")
# Corpus labels → the parse contract's fields (labels without a field are kept out of the fields).
FIELD_OF_LABEL = {
    "prov": "province", "city": "city", "district": "district", "town": "street", "community": "community",
    "road": "road", "roadno": "road_no", "poi": "compound", "houseno": "building", "cellno": "unit",
    "floorno": "floor", "roomno": "room", "devzone": "devzone", "subpoi": "subpoi",
}
ROAD_CHARS = frozenset("路街道巷弄")
PLACE_CHARS = frozenset("苑园村厦寓府庭湾区")
TRAINING = {"c1": 0.05, "c2": 0.01, "max_iterations": 300, "feature.possible_transitions": True}


@dataclass(frozen=True)
class Span:
    label: str
    start: int
    end: int  # exclusive, in characters of the text
    text: str


@functools.cache
def _fold() -> dict[int, str]:
    return str.maketrans(char_fold_table())


def normalize_chars(text: str) -> str:
    """One character for one character (spans keep their offsets): see :func:`pipelines.text.char_fold_table`."""
    return text.translate(_fold())


def tokenize(text: str) -> list[tuple[int, int]]:
    """Token (start, end) offsets: ASCII letter/digit runs, else single characters; spaces dropped."""
    return [m.span() for m in TOKEN.finditer(text)]


@functools.lru_cache(maxsize=65_536)  # characters repeat: a lookup, not the tests below
def _shape(token: str) -> str:
    if token[0].isdigit():
        return f"D{min(len(token), 5)}"
    if token[0].isascii() and token[0].isalpha():
        return f"A{min(len(token), 3)}"
    return token


@functools.lru_cache(maxsize=65_536)
def _klass(token: str) -> str:
    if token[0].isdigit():
        return "D"
    if token[0].isascii() and token[0].isalpha():
        return "A"
    if "\u4e00" <= token[0] <= "\u9fff" or token[0] in "〇":
        return "C" if token[0] in "零〇一二两三四五六七八九十百千" else "H"
    return "P"


@functools.cache
def _automaton():
    """Aho–Corasick automaton over every division name (pyahocorasick): name → levels it names
    (built once, then loaded: :func:`pipelines.reference.built_once`)."""
    import ahocorasick

    from address_master.gazetteer import INPUTS
    from pipelines.reference import built_once

    return built_once("division-automaton", _build_automaton, [Path(__file__), Path(ahocorasick.__file__), *INPUTS])


def _build_automaton():
    import ahocorasick

    from address_master.gazetteer import LEVEL_OF_CODE, gazetteer

    gaz = gazetteer()
    automaton = ahocorasick.Automaton()
    for name, codes in gaz.by_name.items():
        if len(name) >= 2:
            automaton.add_word(name, (len(name), "".join(sorted({str(LEVEL_OF_CODE[len(c)]) for c in codes}))))
    automaton.make_automaton()
    return automaton


@functools.cache
def _names_hold_letters_or_digits() -> bool:
    from address_master.gazetteer import gazetteer

    return any(LETTER_DIGIT_RUN.search(name) for name in gazetteer().by_name)


def warm_up(model: Path = MODEL) -> None:
    """Load the tagger and the name automaton (about 0.4 s), before the first text."""
    _tagger(model)
    _automaton()
    _names_hold_letters_or_digits()


def _shape_pattern(text: str) -> str:
    """``text`` (normalised) with each letter/digit run written as a run of the same shape
    ("301" → "000", "B12" → "AAA"). :func:`features` sees a run only through its shape and class,
    and no division name holds a letter or digit, so texts with the same pattern get the same
    features token for token, hence the same tags: "…9幢2单元301室" and "…9幢2单元302室" are tagged once.
    """
    if _names_hold_letters_or_digits():  # a name such a run could be part of: no sharing
        return text
    return LETTER_DIGIT_RUN.sub(lambda m: "0" * min(len(m[0]), 5) if m[0][0].isdigit() else "A" * min(len(m[0]), 3), text)


# attributes of a few values, built once
_POSITION = tuple(f"p={i}" for i in range(10))
_REMAINING = tuple(f"r={i}" for i in range(10))
_DIGITS_LEFT = tuple(f"dl={i}" for i in range(4))
_DIGITS_RIGHT = tuple(f"dr={i}" for i in range(4))
_HAO_LEFT, _ROAD_LEFT, _PLACE_LEFT = (("hl=0", "hl=1"), ("rl=0", "rl=1"), ("pl=0", "pl=1"))


def features(text: str, spans: list[tuple[int, int]]) -> list[list[str]]:
    """CRFsuite features of each token of ``text`` (normalised) at ``spans``.

    A letter/digit run counts only by its shape and class (:func:`_shape_pattern` relies on it)."""
    tokens = [text[a:b] for a, b in spans]
    shapes = [_shape(t) for t in tokens]
    classes = [_klass(t) for t in tokens]
    start_of = {a: i for i, (a, _) in enumerate(spans)}
    index_of_char = {}
    for i, (a, b) in enumerate(spans):
        for c in range(a, b):
            index_of_char[c] = i
    gaz: list[set[str]] = [set() for _ in spans]
    for end, (length, levels) in _automaton().iter(text):
        first, last = index_of_char.get(end - length + 1), index_of_char.get(end)
        if first is None or last is None or (end - length + 1) not in start_of:
            continue
        for level in levels:
            if first == last:
                gaz[first].add(f"g{level}S")
            else:
                gaz[first].add(f"g{level}B")
                gaz[last].add(f"g{level}E")
                for k in range(first + 1, last):
                    gaz[k].add(f"g{level}I")
    n = len(tokens)
    # what lies to the left and right: telling a building number from a road number, a compound from a sub-compound
    digits_left, seen_hao, seen_road, seen_place = 0, False, False, False
    context = []
    for i in range(n):
        context.append((_DIGITS_LEFT[digits_left if digits_left < 3 else 3], _HAO_LEFT[seen_hao], _ROAD_LEFT[seen_road], _PLACE_LEFT[seen_place]))
        t = tokens[i]
        digits_left += classes[i] == "D"
        seen_hao |= t == "号"
        seen_road |= t in ROAD_CHARS
        seen_place |= t in PLACE_CHARS
    digits_right = 0
    for i in range(n - 1, -1, -1):
        context[i] = (*context[i], _DIGITS_RIGHT[digits_right if digits_right < 3 else 3])
        digits_right += classes[i] == "D"
    out = []
    # three sentinels each side: the neighbours of token i are padded[i + 3 ± k]
    padded = ["^", "^", "^", *shapes, "$", "$", "$"]
    klasses = ["^", *classes, "$"]
    for i in range(n):
        prev3, prev2, prev1, w, next1, next2, next3 = padded[i:i + 7]
        k = klasses[i + 1]
        row = [
            "w=" + w, "k=" + k, "w-1=" + prev1, "w+1=" + next1, "w-2=" + prev2, "w+2=" + next2, "w-3=" + prev3, "w+3=" + next3,
            f"w-1w={prev1}{w}", f"ww+1={w}{next1}", f"w-2w-1={prev2}{prev1}", f"w+1w+2={next1}{next2}",
            f"w-1ww+1={prev1}{w}{next1}", f"w-2w-1w={prev2}{prev1}{w}", f"ww+1w+2={w}{next1}{next2}",
            f"k-1k={klasses[i]}{k}", f"kk+1={k}{klasses[i + 2]}",
            _POSITION[i if i < 9 else 9], _REMAINING[n - 1 - i if n - 1 - i < 9 else 9],
            *gaz[i], *context[i],
        ]
        out.append(row)
    return out


# ------------------------------------------------------------------------------ corpus
def read_corpus(path: Path) -> Iterator[tuple[str, list[Span]]]:
    """Addresses of a BIO corpus file: (text, gold spans), text normalised like tagged text."""
    tokens: list[str] = []
    tags: list[str] = []
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                if tokens:
                    yield _spans_of(tokens, tags)
                tokens, tags = [], []
                continue
            token, _, tag = line.rpartition(" ")
            if not token or not (tag == "O" or tag[:2] in ("B-", "I-")):
                raise ValueError(f"{path}:{number}: expected '<token> <B-label|I-label|O>', got {line!r}")
            tokens.append(token)
            tags.append(tag)
    if tokens:
        yield _spans_of(tokens, tags)


def _spans_of(tokens: list[str], tags: list[str]) -> tuple[str, list[Span]]:
    text = normalize_chars("".join(tokens))
    ends = list(itertools.accumulate(len(t) for t in tokens))
    return text, _decode(text, list(zip([0, *ends[:-1]], ends)), tags)


def _decode(text: str, offsets: list[tuple[int, int]], tags: list[str]) -> list[Span]:
    """Labelled spans from BIO tags of the tokens at ``offsets`` (an I- continuing its label extends the span)."""
    spans: list[Span] = []
    current: list | None = None
    for (start, end), tag in zip(offsets, tags):
        label = tag[2:] if tag != "O" else None
        if label and tag.startswith("I-") and current and current[0] == label:
            current[2] = end
            continue
        if current:
            spans.append(Span(current[0], current[1], current[2], text[current[1]:current[2]]))
        current = [label, start, end] if label else None
    if current:
        spans.append(Span(current[0], current[1], current[2], text[current[1]:current[2]]))
    return spans


def _bio(spans_of_tokens: list[tuple[int, int]], gold: list[Span]) -> list[str]:
    """BIO tags for our tokens from character spans (a token takes the label of its first character)."""
    label_at: dict[int, tuple[str, int]] = {}
    for s in gold:
        for c in range(s.start, s.end):
            label_at[c] = (s.label, s.start)
    tags = []
    previous = None
    for a, _ in spans_of_tokens:
        hit = label_at.get(a)
        if hit is None:
            tags.append("O")
            previous = None
            continue
        tags.append(("I-" if previous == hit else "B-") + hit[0])
        previous = hit
    return tags


def train(corpus: Iterable[Path], model: Path = MODEL, progress: bool = False) -> dict:
    """Train the tagger on BIO corpus files; writes ``model`` and returns training facts."""
    import pycrfsuite

    trainer = pycrfsuite.Trainer(verbose=progress)
    trainer.set_params(TRAINING)
    n = 0
    started = time.perf_counter()
    for path in corpus:
        for text, gold in read_corpus(path):
            offsets = tokenize(text)
            trainer.append(features(text, offsets), _bio(offsets, gold))
            n += 1
    if n == 0:
        raise ValueError("the corpus holds no addresses")
    model.parent.mkdir(parents=True, exist_ok=True)
    trainer.train(str(model))
    facts = {"addresses": n, "seconds": round(time.perf_counter() - started, 1), "params": TRAINING}
    _tagger.cache_clear()
    return facts


@functools.lru_cache(maxsize=4)
def _tagger(model: Path):
    import pycrfsuite

    if not model.exists():
        raise FileNotFoundError(f"{model}: no trained address model (train one with `enteronce address train --corpus FILE`)")
    tagger = pycrfsuite.Tagger()
    tagger.open(str(model))
    return tagger


_TAGGING = threading.Lock()  # a Tagger is one stateful object (set the sequence, then decode): one thread at a time


def tag(text: str, model: Path = MODEL) -> list[Span]:
    """The labelled spans of one address (offsets into ``text``)."""
    return tag_many([text], model)[0]


def tag_many(texts: Iterable[str], model: Path = MODEL) -> list[list[Span]]:
    """:func:`tag` of each text, tagging each shape pattern (:func:`_shape_pattern`) once: addresses
    that differ only in their numbers (rooms of one building) share one tagging."""
    tagger = _tagger(model)
    labels_of_pattern: dict[str, list[str]] = {}
    out = []
    with _TAGGING:
        for text in texts:
            normal = normalize_chars(text)
            offsets = tokenize(normal)
            if not offsets:
                out.append([])
                continue
            pattern = _shape_pattern(normal)
            labels = labels_of_pattern.get(pattern)
            if labels is None:
                labels = labels_of_pattern[pattern] = tagger.tag(features(normal, offsets))
            out.append(_decode(normal, offsets, labels))
    return out


def span_scores(pairs: Iterable[tuple[list[Span], list[Span]]]) -> dict[str, dict[str, float]]:
    """Exact-match span precision / recall / F1 per label and over all labels (``_all``)."""
    counts: dict[str, list[int]] = {}
    for gold, predicted in pairs:
        g = {(s.label, s.start, s.end) for s in gold}
        p = {(s.label, s.start, s.end) for s in predicted}
        for label in {x[0] for x in g | p} | {"_all"}:
            gl = g if label == "_all" else {x for x in g if x[0] == label}
            pl_ = p if label == "_all" else {x for x in p if x[0] == label}
            c = counts.setdefault(label, [0, 0, 0])
            c[0] += len(gl & pl_)
            c[1] += len(pl_)
            c[2] += len(gl)
    out = {}
    for label, (tp, npred, ngold) in sorted(counts.items()):
        precision, recall = (tp / npred if npred else 0.0), (tp / ngold if ngold else 0.0)
        out[label] = {"precision": round(precision, 4), "recall": round(recall, 4),
                      "f1": round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0, "support": ngold}
    return out


def write_scores(path: Path, scores: dict) -> None:
    path.write_text(json.dumps(scores, ensure_ascii=False, indent=1), encoding="utf-8")
