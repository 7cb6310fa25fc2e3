"""Train the contextual head on the authored dataset: `python -m routing.train_contextual`.

Fits multinomial logistic regression (numpy, L2, full-batch gradient descent from zeros, so the
same vectors always give the same weights) on the MiniLM embeddings of `train.jsonl`, fits a
softmax temperature on `dev.jsonl` (calibration), and chooses the threshold on dev plus
out-of-fold train scores *as the gate uses them* (the disclosure-cue rules applied): the highest
threshold that keeps the classifier's recall over every form >= 0.95 (it is the last layer for any
value the rules miss), never under the one that keeps false flags <= 4 % nor under 0.5. It prints
the curve (near-miss flag rate vs implied and all-forms recall) and which rule decided, and
saves `routing/data/contextual_head.npz`. The held-back split is never read here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from routing.contextual import NONE_LABEL, ContextualHead, is_general_question
from routing.policy import CONTEXTUAL_CATEGORIES

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "sensitivity"
HEAD_PATH = Path(__file__).resolve().parent / "data" / "contextual_head.npz"
LABELS = (NONE_LABEL, *CONTEXTUAL_CATEGORIES)
# Templates that measure the gate but do not train or calibrate the head: retraining with the
# version 6 templates gave no gain on dev (same recall, ordinary flags 0.018 -> 0.027) and lowered
# the scores of password messages the rules miss; the cue rules already cover their shapes.
EVAL_ONLY_TEMPLATES = ("v6:",)


def read_split(name: str, data_dir: Path = DATA_DIR) -> list[dict[str, object]]:
    with (data_dir / f"{name}.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def targets(rows: list[dict[str, object]]) -> np.ndarray:
    return np.array([LABELS.index(str(r["category"])) if r["sensitive"] else 0 for r in rows])


def fit(
    vectors: np.ndarray, y: np.ndarray, *, classes: int, l2: float = 1e-3, steps: int = 3000, lr: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression by full-batch gradient descent from zeros (deterministic)."""
    n, dim = vectors.shape
    onehot = np.eye(classes)[y]
    # Classes weighted to equal total mass, so nine small categories are not drowned by "none".
    counts = np.maximum(onehot.sum(axis=0), 1)
    sample_weight = (n / (classes * counts))[y][:, None]
    weights, bias = np.zeros((dim, classes)), np.zeros(classes)
    for _ in range(steps):
        logits = vectors @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        grad = sample_weight * (prob - onehot) / n
        weights -= lr * (vectors.T @ grad + l2 * weights)
        bias -= lr * grad.sum(axis=0)
    return weights, bias


def fit_temperature(head: ContextualHead, vectors: np.ndarray, y: np.ndarray) -> float:
    """The softmax temperature with the lowest negative log-likelihood on the dev split."""
    best, best_nll = 1.0, float("inf")
    for temperature in np.round(np.arange(0.25, 4.01, 0.05), 2):
        trial = ContextualHead(head.labels, head.weights, head.bias, float(temperature), head.embedder_sha256)
        prob = trial.probabilities(vectors)[np.arange(len(y)), y]
        nll = float(-np.log(np.clip(prob, 1e-12, None)).mean())
        if nll < best_nll:
            best, best_nll = float(temperature), nll
    return best


FLOOR = 0.5  # a verdict must at least say "more likely sensitive than not"


def rule_threshold(scores: np.ndarray, sensitive: np.ndarray, max_false_flags: float) -> float:
    """The rule, before the floor: the lowest threshold whose false-flag rate on the negatives, as
    the gate scores them (cue rules applied), is at most the target."""
    negatives = np.sort(scores[~sensitive])[::-1]
    allowed = int(np.floor(max_false_flags * len(negatives)))
    if allowed >= len(negatives):
        return 0.0
    return float(np.round(min(0.95, negatives[allowed] + 1e-3), 3))


def recall_threshold(scores: np.ndarray, positives: np.ndarray, min_recall: float) -> float:
    """The highest threshold (0.01 steps, at most 0.95) that keeps recall of `positives` >= `min_recall`."""
    kept = [
        t for t in np.round(np.arange(0.01, 0.96, 0.01), 2) if (scores[positives] >= t).mean() >= min_recall
    ]
    return float(max(kept, default=0.0))


def threshold_for(
    scores: np.ndarray,
    sensitive: np.ndarray,
    max_false_flags: float,
    positives: np.ndarray,
    min_recall: float,
) -> float:
    """The highest threshold that keeps recall of `positives` at `min_recall` (fewest false flags for the
    recall we promise), never under the false-flag rule nor `FLOOR`; `main` says which decided."""
    return max(
        FLOOR,
        rule_threshold(scores, sensitive, max_false_flags),
        recall_threshold(scores, positives, min_recall),
    )


def curve(
    scores: np.ndarray, sensitive: np.ndarray, near_miss: np.ndarray, implied: np.ndarray
) -> list[tuple[float, float, float]]:
    """(threshold, near-miss flag rate, implied recall) of the classifier as the gate uses it."""
    points = []
    for threshold in np.round(np.arange(0.30, 0.96, 0.05), 2):
        flagged = scores >= threshold
        points.append(
            (float(threshold), float(flagged[near_miss & ~sensitive].mean()), float(flagged[implied].mean()))
        )
    return points


def out_of_fold_scores(
    rows: list[dict[str, object]], vectors: np.ndarray, head: ContextualHead, folds: int
) -> np.ndarray:
    """P(sensitive) of each training row from a head fitted without its template's fold."""
    fold_of = np.array(
        [int(hashlib.sha256(str(r["template"]).encode()).hexdigest()[:8], 16) % folds for r in rows]
    )
    y, scores = targets(rows), np.zeros(len(rows))
    for fold in range(folds):
        held = fold_of == fold
        weights, bias = fit(vectors[~held], y[~held], classes=len(LABELS))
        trial = ContextualHead(head.labels, weights, bias, head.temperature, head.embedder_sha256)
        scores[held] = 1.0 - trial.probabilities(vectors[held])[:, 0]
    return scores


def _scored(rows: list[dict[str, object]], scores: np.ndarray) -> np.ndarray:
    # The gate never lets the classifier alone flag a contentless message, a question with no
    # disclosure cue or a statement about a document (`routing.disclosure_cues`): the threshold
    # sees what the gate scores.
    return np.where([is_general_question(str(r["text"])) for r in rows], 0.0, scores)


def _report_calibration(
    rows: list[dict[str, object]],
    pooled: np.ndarray,
    sensitive: np.ndarray,
    args: argparse.Namespace,
    threshold: float,
) -> None:
    """The curve the threshold is chosen on, and whether the rule or the floor decided."""
    near_miss = np.array([r["form"] == "near_miss" for r in rows])
    implied = np.array([r["form"] == "implied" for r in rows])
    print("  threshold  near-miss flagged  implied recall  all-forms recall  (dev + OOF train, cue rules)")
    for point, flags, recall in curve(pooled, sensitive, near_miss, implied):
        every = (pooled[sensitive] >= point).mean()
        print(f"  {point:9.2f}  {flags:17.3f}  {recall:14.3f}  {every:16.3f}")
    by_flags = rule_threshold(pooled, sensitive, args.max_false_flags)
    by_recall = recall_threshold(pooled, sensitive, args.min_recall)
    candidates = {"floor": FLOOR, "false-flag rule": by_flags, "recall rule": by_recall}
    decided = max(candidates, key=lambda name: candidates[name])
    print(
        f"  false-flag rule (<= {args.max_false_flags:.0%}) gives {by_flags:.3f}; recall rule "
        f"(all forms >= {args.min_recall:.2f}) gives {by_recall:.3f}; floor {FLOOR}; the {decided} decides"
    )
    print(f"  pooled out-of-fold negatives flagged: {(pooled[~sensitive] >= threshold).mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-false-flags", type=float, default=0.04)
    parser.add_argument(
        "--min-recall", type=float, default=0.95,
        help="Recall over every form (dev + out-of-fold train, classifier alone) the threshold must keep.",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=HEAD_PATH)
    parser.add_argument("--folds", type=int, default=5, help="Template-grouped folds for the threshold.")
    args = parser.parse_args()
    from models.embeddings import OnnxMiniLMEmbedder

    embedder = OnnxMiniLMEmbedder()
    train, dev = (
        [r for r in read_split(name) if not str(r["template"]).startswith(EVAL_ONLY_TEMPLATES)]
        for name in ("train", "dev")
    )
    x_train = embedder.embed_array([str(r["text"]) for r in train])
    x_dev = embedder.embed_array([str(r["text"]) for r in dev])
    weights, bias = fit(x_train, targets(train), classes=len(LABELS))
    head = ContextualHead(LABELS, weights, bias, 1.0, embedder.model_sha256)
    temperature = fit_temperature(head, x_dev, targets(dev))
    head = ContextualHead(LABELS, weights, bias, temperature, embedder.model_sha256)
    scores = _scored(dev, 1.0 - head.probabilities(x_dev)[:, 0])
    sensitive = np.array([bool(r["sensitive"]) for r in dev])
    # Dev alone has too few negatives that are not general questions: the threshold is set on dev
    # plus out-of-fold scores of train (folds by template, so no template scores itself).
    pooled = np.concatenate([_scored(train, out_of_fold_scores(train, x_train, head, args.folds)), scores])
    pooled_sensitive = np.concatenate([[bool(r["sensitive"]) for r in train], sensitive])
    # Recall over every form: the classifier is the last layer for any value the rules miss.
    threshold = threshold_for(
        pooled, pooled_sensitive, args.max_false_flags, pooled_sensitive, args.min_recall
    )
    _report_calibration(train + dev, pooled, pooled_sensitive, args, threshold)
    print(f"train {len(train)}, dev {len(dev)}; temperature {temperature}; dev threshold {threshold}")
    for form in ("direct", "obfuscated", "implied"):
        mask = np.array([r["form"] == form for r in dev])
        print(f"  dev {form}: recall {(scores[mask] >= threshold).mean():.3f} (n={mask.sum()})")
    print(f"  dev negatives flagged: {(scores[~sensitive] >= threshold).mean():.3f}")
    head.save(args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
