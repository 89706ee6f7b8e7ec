"""Search-box questions (issue 10), measured per kind on retrieval plus the place and period readers.

    .venv/bin/python eval/search_style.py [--json] [FAQ.jsonl ...]

Defaults to eval/faq_search_style.jsonl. It reads `Assistant.retrieve` (not `ask`), so it measures
what retrieval and the readers decide, before the answer templates turn place and period verdicts
into declines and notes:

  place_other   the place is detected (PlaceVerdict.other set)             → would be declined
  place_chain   no place outside the chain detected, and top-1 right      → answered
  neighbour     retrieval declines                                         → declined
  not_stated    top-1 right (the "文件中没有写明…" wording is the template's)
  keywords, year, latest   top-1 right, and no other place detected;
                year/latest also: the year / the "current?" wording detected
  any other kind (faq.jsonl): in-scope questions with another place detected — false declines to come

Tune on eval/faq_search_style.jsonl and eval/faq.jsonl only; eval/faq_holdout.jsonl is reported,
never tuned against.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from assistant import Assistant  # noqa: E402
from assistant.periods import Periods  # noqa: E402
from assistant.places import load_places  # noqa: E402

IN_SCOPE_KINDS = ("place_chain", "keywords", "year", "latest", "not_stated")
# The day the figures are taken on: fixed, so relative years (去年) read the same in every run.
TODAY = dt.date(2026, 1, 15)


def measure(bot: Assistant, path: Path) -> dict[str, object]:
    places = load_places(bot.corpus, bot.lexicon.tokenizer)
    periods = Periods.load(bot.corpus.root / "lexicon")
    ok: dict[str, list[bool]] = defaultdict(list)
    extra: dict[str, list[bool]] = defaultdict(list)
    failures: list[dict[str, object]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        q, kind, expect = item["q"], item["kind"], item["expect"]
        place = places.read(q)
        period = periods.read(q, TODAY)
        r = bot.retrieve(q)
        first = r.matched[0].chunk.id if r.matched else None
        top1 = first in expect
        if kind == "place_other":
            good = place.other is not None
            extra["place_as_written"].append(place.other == item["must"][0])
        elif kind == "neighbour":
            good = r.kind == "no_match"
        elif kind == "oos":
            good = r.kind == "no_match"
        elif kind in IN_SCOPE_KINDS:
            good = top1 and place.other is None
            if kind == "year":
                extra["year_detected"].append(bool(period.years))
            if kind == "latest":
                extra["latest_detected"].append(period.latest)
        elif expect:
            # Existing kinds: the place reader must not turn an answered question into a decline.
            good = place.other is None
        else:
            continue
        ok[kind].append(good)
        if not good:
            failures.append(
                {"kind": kind, "q": q, "expect": expect, "got": first, "neighbour": r.neighbour,
                 "other": place.other, "chain": place.chain}
            )
    in_scope = [g for k in IN_SCOPE_KINDS for g in ok.get(k, [])]
    summary = {
        "file": str(path),
        "by_kind": {k: {"n": len(v), "rate": round(sum(v) / len(v), 4)} for k, v in sorted(ok.items())},
        "other_place_declined": _rate(ok.get("place_other", [])),
        "chain_answered": _rate(ok.get("place_chain", [])),
        "neighbour_declined": _rate(ok.get("neighbour", [])),
        "search_in_scope_top1": _rate(in_scope),
        **{k: _rate(v) for k, v in sorted(extra.items())},
        "failures": failures,
    }
    return summary


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("faq", nargs="*", type=Path, default=[REPO / "eval" / "faq_search_style.jsonl"])
    ap.add_argument("--json", action="store_true", help="one JSON object per file")
    args = ap.parse_args(argv)
    bot = Assistant.load()
    for path in args.faq:
        s = measure(bot, path)
        if args.json:
            print(json.dumps(s, ensure_ascii=False))
            continue
        print(f"== {s['file']}")
        for k, v in s["by_kind"].items():
            print(f"  {k:<12} n={v['n']:<4} {v['rate']:.3f}")
        for k in ("other_place_declined", "chain_answered", "neighbour_declined", "search_in_scope_top1",
                  "place_as_written", "year_detected", "latest_detected"):
            if s.get(k) is not None:
                print(f"  {k:<22} {s[k]:.3f}")
        for f in s["failures"]:
            print(f"  FAIL {f['kind']}: {f['q']}  expect={f['expect']} got={f['got']} "
                  f"neighbour={f['neighbour']} other={f['other']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
