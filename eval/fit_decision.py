"""Fit the answer/decline decision (assistant/decision.py) by stratified k-fold cross-validation and
write it to corpus/decision.json.

    python eval/fit_decision.py [--faq eval/faq.jsonl --faq eval/faq_scope.jsonl ...] [--folds 5]

A logistic regression over the named evidence features of the best-ranked chunk (decision.FEATURES),
on labelled questions: in scope (a non-empty ``expect``) = answer, the decline kinds = decline. One of
the features is the wording model's score (assistant/phrasing.py, eval/fit_phrasing.py), stacked: out of
fold when the decision is fitted, refitted inside every split when it is scored.

Two estimates of how it does on questions nobody fitted on: k-fold (5 × 3) and leave-one-file-out (each
training file, written by its own author and method, held out whole). The second is the honest one — a
file's voice never leaks into its own test — and it chooses the threshold: the lowest at which
out-of-scope questions answered, pooled over the held-out files, stay within --budget (3 %), so that no
in-scope question is declined that the budget does not require. The final model is then fitted on all
the questions; no in-sample figure is printed or written.

Left out, because a hand rule decides them and the model never sees them at run time: follow-ups
(with context), clarify and greeting items, questions citing a measure by number or asking what a
named department does, other places (place_other: assistant/places.py), and group and two-part
questions (answered by the planner's group list and per-part retrieval).

eval/faq_holdout.jsonl and eval/faq_sealed.jsonl are never read here.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from fit_context import fit_context_prior
from fit_phrasing import fit_phrasing, out_of_fold, stacked_column, write_phrasing
from fit_topics import training_paths, with_out_of_fold_wording
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from assistant import Assistant
from assistant.cli_eval import EVAL_EMBED_TIMEOUT
from assistant.decision import FEATURES, features, load_decision, phrasing_text
from assistant.embed import EMBED_TIMEOUT_ENV
from assistant.evaluation import FaqItem, load_faq

# Left out by default: fitted with them, their coefficients came out with signs no reviewer could defend
# on questions nobody tuned for (more uncovered subject → more likely to answer; subject_share negative
# beside subject_best) — artefacts of their correlation with subject_best and subject_hit, which carry
# the same evidence. --drop with no names keeps every feature.
DEFAULT_DROP = ("subject_share", "subject_uncovered", "subject_unknown")
SKIP_KINDS = frozenset({"place_other", "group", "multi", "greeting", "clarify", "followup"})
# Training files the decision is not fitted on by default, and why. faq_voices6's near-misses share only a site's name
# with a measure (「青年驿站几点开门」); no evidence feature separates them yet (eval/README.md, "The fitted decision"),
# so with them in the fit the budget rule only raised the threshold (0.47 → 0.70) and doubled in-scope declines without
# catching them. Kept out, the file measures the decision on questions it never saw. It still trains the topic model.
DECISION_HELD_OUT = ("faq_voices6",)


def usable(item: FaqItem) -> bool:
    return not item.context and item.kind not in SKIP_KINDS and item.target in ("answer", "decline")


def dataset(
    bot: Assistant, items: list[FaqItem], names: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, list[FaqItem], list[bool], list[str]]:
    """Features of each question's best hit (the phrasing column 0: it is filled per split), labels,
    the items kept, the hand rule's verdicts and the text the wording model reads."""
    r = bot.retriever
    xs, ys, kept, hand, texts = [], [], [], [], []
    every = with_out_of_fold_wording(bot, items, [r.evidence(it.q) for it in tqdm(items, desc="evidence")])
    for it, ev in zip(items, every, strict=True):
        if ev.greeting or ev.cited or (ev.duty and ev.units):
            continue  # decided by a hand rule (see fusion's docstring)
        ranked = r.decide(ev, 3, model=None)
        if not ranked.hits:
            continue  # no evidence at all: declined whatever the model says
        top = next(i for i, c in enumerate(r.chunks) if c.id == ranked.hits[0].chunk.id)
        xs.append(features(ev, top, names, ranked.kind == "answer"))
        ys.append(1 if it.target == "answer" else 0)
        kept.append(it)
        hand.append(ranked.kind == "answer")
        texts.append(phrasing_text(ev))
    return np.array(xs), np.array(ys), kept, hand, texts


def rates(p: np.ndarray, y: np.ndarray, t: float) -> tuple[float, float]:
    """(out-of-scope answered, in-scope declined) at threshold t."""
    return float(np.mean(p[y == 0] >= t)), float(np.mean(p[y == 1] < t))


def choose_threshold(p: np.ndarray, y: np.ndarray, budget: float) -> float:
    grid = np.round(np.arange(0.05, 0.951, 0.01), 2)
    def cost(t: float) -> float:
        oos, declined = rates(p, y, t)
        return 2 * oos + declined

    # Decline no more than the out-of-scope budget needs: the lowest threshold that keeps out-of-scope
    # answers within it (cross-validated in-scope declines run higher on questions written apart from
    # the lexicon than on these, so every in-scope decline spared counts).
    within = [t for t in grid if rates(p, y, t)[0] <= budget]
    if within:
        return float(within[0])
    return float(min(grid, key=cost))


def choose_band(p: np.ndarray, y: np.ndarray, t: float, max_oos: float = 0.05) -> float:
    """How far below the threshold a decline still names the nearest measure: the widest band
    holding at most `max_oos` of the out-of-scope questions (a suggestion to them is noise)."""
    best = 0.0
    for b in np.round(np.arange(0.0, t, 0.01), 2):
        if float(np.mean((p[y == 0] >= t - b) & (p[y == 0] < t))) <= max_oos:
            best = float(b)
    return best


def fit(x: np.ndarray, y: np.ndarray, c: float) -> tuple[StandardScaler, LogisticRegression]:
    scaler = StandardScaler().fit(x)
    return scaler, LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(scaler.transform(x), y)


def split_probabilities(
    x: np.ndarray, y: np.ndarray, texts: list[str], col: int | None, train: np.ndarray, test: np.ndarray, c: float
) -> np.ndarray:
    """P(answer) on `test` from a decision fitted on `train` alone — its wording model too (stacked)."""
    if col is not None:
        x = x.copy()
        x[:, col] = stacked_column(texts, y, train, test)
    scaler, clf = fit(x[train], y[train], c)
    return clf.predict_proba(scaler.transform(x[test]))[:, 1]


def held_out_files(x: np.ndarray, y: np.ndarray, texts: list[str], col: int | None, files: list[str], c: float) -> np.ndarray:
    """Leave one file out: each question's P(answer) from a decision fitted on the *other* files. k-fold mixes
    lines of one author and method into both sides of every split; a file held out whole is the nearer estimate
    of questions written apart (the held-out file's in-scope declines ran 3x the k-fold figure)."""
    p = np.full(len(y), np.nan)
    groups = np.array(files)
    for name in sorted(set(files)):
        test = groups == name
        if len(set(y[~test])) < 2:
            continue
        p[test] = split_probabilities(x, y, texts, col, np.flatnonzero(~test), np.flatnonzero(test), c)
    return p


def by_file(p: np.ndarray, y: np.ndarray, files: list[str], t: float) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    groups = np.array(files)
    for name in sorted(set(files)):
        m = (groups == name) & ~np.isnan(p)
        pt, yt = p[m], y[m]
        out[name] = {
            "n": int(m.sum()),
            "out_of_scope_answered": round(float(np.mean(pt[yt == 0] >= t)), 4) if (yt == 0).any() else None,
            "in_scope_declined": round(float(np.mean(pt[yt == 1] < t)), 4) if (yt == 1).any() else None,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faq", action="append", type=Path, help="training file (repeatable); default: every training file but DECISION_HELD_OUT")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget", type=float, default=0.03)
    ap.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="answer at P >= this; default 0: the lowest threshold at which the out-of-scope questions answered, "
        "pooled over the files each held out whole, stay within --budget (k-fold figures are the optimistic ones)",
    )
    ap.add_argument(
        "--C",
        type=float,
        default=1.0,
        help="inverse regularisation (1: with faq_voices.jsonl in training, C=1 held out-of-scope answers on "
        "the held-out files at or below C=3 for fewer in-scope declines, leave-one-file-out; 0.1 declined more)",
    )
    ap.add_argument("--out", type=Path, default=None, help="default: <corpus>/decision.json")
    ap.add_argument("--show", action="store_true", help="list the cross-validated mistakes")
    ap.add_argument(
        "--drop", nargs="*", default=list(DEFAULT_DROP), help="features to leave out (see decision.FEATURES)"
    )
    args = ap.parse_args()
    # Every training file, as eval/tune.py and eval/fit_topics.py read, but the decision's own held-out ones.
    files = training_paths(ap, args.faq, "fitted")
    if not args.faq:
        files = [f for f in files if f.stem not in DECISION_HELD_OUT]

    # Evidence of the answers, not of the machine's load: no 2-second embedding limit (see cli_eval).
    os.environ.setdefault(EMBED_TIMEOUT_ENV, str(EVAL_EMBED_TIMEOUT))
    bot = Assistant.load()
    items = [it for f in files for it in load_faq(f) if usable(it)]
    names = tuple(n for n in FEATURES if n not in args.drop)
    x, y, kept, hand, texts = dataset(bot, items, names)
    col = names.index("phrasing") if "phrasing" in names else None
    print(f"{len(kept)} questions ({int(y.sum())} in scope, {int((1 - y).sum())} out of scope) from", *map(str, files))

    # Out-of-fold probabilities, averaged over repeats of the k-fold split.
    oof = np.zeros(len(y))
    cv = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=19)
    for train, test in tqdm(list(cv.split(x, y)), desc="cross-validation"):
        oof[test] += split_probabilities(x, y, texts, col, train, test, args.C) / args.repeats
    sources = [Path(it.source).name for it in kept]
    held_p = held_out_files(x, y, texts, col, sources, args.C)
    known = ~np.isnan(held_p)
    t = args.threshold or choose_threshold(held_p[known], y[known], args.budget)
    band = choose_band(oof, y, t)
    oos_answered, in_declined = rates(oof, y, t)
    hand_arr = np.array(hand)
    hand_oos, hand_in = float(np.mean(hand_arr[y == 0])), float(np.mean(~hand_arr[y == 1]))
    near_in = float(np.mean((oof[y == 1] >= t - band) & (oof[y == 1] < t)))
    print(f"cross-validated ({args.folds}-fold × {args.repeats}), threshold {t:.2f}:")
    print(f"  out-of-scope answered {oos_answered:.1%}   in-scope declined {in_declined:.1%}")
    print(f"  hand thresholds on the same questions: out-of-scope answered {hand_oos:.1%}, in-scope declined {hand_in:.1%}")
    print(f"  near-miss band {band:.2f}: names the nearest measure for {near_in:.1%} of in-scope questions")
    held = by_file(held_p, y, sources, t)
    pooled_oos, pooled_in = rates(held_p[known], y[known], t)
    print(f"  leave one file out (fitted on the others), pooled: out-of-scope answered {pooled_oos:.1%}"
          f"   in-scope declined {pooled_in:.1%}")
    for name, r in held.items():
        print(f"    {name:28s} n={r['n']:4d}  out-of-scope answered {r['out_of_scope_answered'] or 0:.1%}"
              f"   in-scope declined {r['in_scope_declined'] or 0:.1%}")
    if args.show:
        for it, p, lab in zip(kept, oof, y, strict=True):
            if (p >= t) != bool(lab):
                print(f"  {'answered' if p >= t else 'declined'} p={p:.2f} {it.kind} {it.q}  [{Path(it.source).name}:{it.line}]")

    out = args.out or bot.corpus.root / "decision.json"
    trained_on = {str(f): sum(1 for it in kept if Path(it.source) == f) for f in files}
    phrasing_file = None
    if col is not None:
        x[:, col] = out_of_fold(texts, y)  # the decision weighs wording scores it did not fit on
        phrasing_file = out.with_name(out.stem + "_phrasing.json")
        write_phrasing(fit_phrasing(texts, y), phrasing_file, trained_on)
    scaler, clf = fit(x, y, args.C)
    data = {
        "about": "Answer/decline decision (assistant/decision.py). Regenerate: python eval/fit_decision.py",
        "model": f"logistic regression, C={args.C}, balanced classes, standardised features",
        "embedder": bot.manifest.embedder,
        "trained_on": trained_on,
        "phrasing": phrasing_file.name if phrasing_file else None,
        "n": {"in_scope": int(y.sum()), "out_of_scope": int((1 - y).sum())},
        "features": [
            {
                "name": name,
                "what": FEATURES[name],
                "coef": round(float(c), 4),
                "mean": round(float(m), 6),
                "scale": round(float(s), 6) or 1.0,
            }
            for name, c, m, s in zip(names, clf.coef_[0], scaler.mean_, scaler.scale_, strict=True)
        ],
        "intercept": round(float(clf.intercept_[0]), 4),
        "threshold": t,
        "threshold_rule": (
            "fixed (--threshold; see its help)" if args.threshold else f"lowest with out-of-scope answered <= {args.budget}, files held out whole"
        ),
        "near_band": band,
        "cv": {
            "folds": args.folds,
            "repeats": args.repeats,
            "out_of_scope_answered": round(oos_answered, 4),
            "in_scope_declined": round(in_declined, 4),
            "near_miss_in_scope": round(near_in, 4),
            "hand_rule_out_of_scope_answered": round(hand_oos, 4),
            "hand_rule_in_scope_declined": round(hand_in, 4),
        },
        "leave_one_file_out": {
            "pooled": {"out_of_scope_answered": round(pooled_oos, 4), "in_scope_declined": round(pooled_in, 4)},
            **held,
        },
    }
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    # The conversation prior is measured with the decision just fitted (and no prior), then added to it.
    bot.retriever.model = load_decision(out, bot.manifest.embedder)
    every = [it for f in files for it in load_faq(f)]
    data["context_prior"] = fit_context_prior(bot, every, args.budget)
    out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    for f in data["features"]:
        print(f"  {f['coef']:+.3f}  {f['name']}")
    print(f"  {data['intercept']:+.3f}  (intercept)")


if __name__ == "__main__":
    main()
