"""`newsqa eval`, `bench` and `reader`: evaluate the answers, benchmark the service, train and
evaluate the reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from newsqa.errors import NewsqaError

if TYPE_CHECKING:
    pass

from newsqa.cli.common import (
    IndexDir,
    app,
    console,
    err,
    fail,
    progress_bar,
    settings_for,
)


@app.command("eval")
def eval_(
    corpus: Annotated[list[Path], typer.Option("--corpus", help="Corpus files or folders.")],
    questions: Annotated[list[Path], typer.Option("--questions", help="Question files (JSONL).")],
    index_dir: IndexDir = None,
    mode: Annotated[
        str | None, typer.Option(help="bm25, dense, hybrid (default) or all; not with --url.")
    ] = None,
    k: Annotated[int, typer.Option(min=1, max=50)] = 10,
    out: Annotated[Path | None, typer.Option(help="Write the report here.")] = None,
    url: Annotated[str | None, typer.Option(help="Ask a running server instead.")] = None,
    gate: Annotated[Path | None, typer.Option(help="Thresholds file; exit 1 below them.")] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=0.1, help="With --url: seconds one answer may take (default 120)."),
    ] = None,
) -> None:
    """Run reference questions through the answer path and score retrieval, answers, citations."""
    import httpx

    from eval.report import check_out_dir, rich_table, write_report
    from eval.suite import MODES, check_gate, load_gate, run_eval

    if mode is not None and url is not None:  # it was ignored: the server has its own mode
        raise typer.BadParameter("the server at --url answers in its own mode", param_hint="--mode")
    if timeout is not None and url is None:  # in process nothing is timed out: it was ignored
        raise typer.BadParameter(
            "it times answers over HTTP: give --url too", param_hint="--timeout"
        )
    mode = mode or "hybrid"
    modes = list(MODES) if mode == "all" else [mode]
    if any(m not in MODES for m in modes):  # a usage error: exit 2, as for other options
        raise typer.BadParameter(f"bm25, dense, hybrid or all, not {mode!r}", param_hint="--mode")
    for path in [*corpus, *questions]:
        if not path.exists():
            raise fail(FileNotFoundError(f"no such file or folder: {path}"))
    settings = settings_for()
    try:
        if out is not None:
            check_out_dir(out)  # not after the run, with its figures lost
        if gate is not None:
            load_gate(gate)  # a gate that cannot be read fails now, not after the run
        with progress_bar() as progress:
            results = run_eval(
                corpus,
                questions,
                settings,
                modes,
                k,
                index_dir,
                url,
                progress,
                timeout=timeout or 120.0,
            )
    except (NewsqaError, ValueError) as exc:
        raise fail(exc) from exc
    except httpx.HTTPError as exc:
        raise fail(ValueError(f"{url}: {exc or type(exc).__name__}")) from exc
    for name, reports in results.items():
        console.print(rich_table(name, reports))
    if out is not None:
        for path in write_report(out, results):
            console.print(f"wrote {path}")
    if gate is not None:
        gated_mode = "server" if url else ("hybrid" if "hybrid" in modes else modes[0])
        failures = check_gate(results, gate, gated_mode)
        for failure in failures:
            err.print(f"[bold red]gate:[/] {failure}")
        if failures:
            raise typer.Exit(code=1)
        console.print(f"[green]quality gate passed[/] ({gate}, mode {gated_mode})")


# `newsqa bench`: the benchmark harness (bench/run.py), the same command as `python -m bench`.
from bench.cli import bench as _bench  # noqa: E402 - light: typer only until it runs

app.command("bench")(_bench)


# `newsqa reader`: the extractive QA reader (indexer/reader/): train it, evaluate it.
reader_app = typer.Typer(help="The extractive QA reader (answer spans).", no_args_is_help=True)
app.add_typer(reader_app, name="reader")

_SHARED = Path("../shared/data")


def _reader_encoder(encoder: Path | None) -> Path:
    """The bundled e5 folder the reader was trained over (built on first use)."""
    if encoder is not None:
        return encoder
    from indexer.embedder import resolve_model
    from newsqa.settings import BUNDLED_MODEL

    return Path(resolve_model(BUNDLED_MODEL, settings_for().cache_dir))


ReaderEncoder = Annotated[
    Path | None,
    typer.Option("--encoder", help="Encoder folder (default: the bundled e5 model)."),
]


@reader_app.command("train")
def reader_train(
    passages: Annotated[Path, typer.Option(help="Passages (JSONL: id, text).")],
    questions: Annotated[Path, typer.Option(help="Training questions (relevant, answers).")],
    valid: Annotated[
        Path | None, typer.Option(help="Questions to report on (gold passage given).")
    ] = _SHARED / "eval/facqa-valid.jsonl",
    epochs: Annotated[int, typer.Option(min=1)] = 2,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N steps.")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    lr: Annotated[float, typer.Option(min=0.0)] = 8e-5,
    max_length: Annotated[int, typer.Option(min=64, max=512)] = 384,
    doc_stride: Annotated[int, typer.Option(min=0)] = 128,
    negatives_ratio: Annotated[float, typer.Option(min=0.0)] = 0.5,
    topical_negatives_ratio: Annotated[
        float, typer.Option(min=0.0, help="Own passage, answer sentences out, per positive.")
    ] = 0.0,
    long_context_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share lengthened with other passages.")
    ] = 0.25,
    english_ratio: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share asked in pseudo-English.")
    ] = 0.0,
    holdout: Annotated[float, typer.Option(min=0.0, max=0.5, help="Held-out share.")] = 0.1,
    news_questions: Annotated[
        Path | None, typer.Option(help="News questions (relevant, answers, evidence) to add.")
    ] = None,
    news_corpus: Annotated[
        Path | None, typer.Option(help="The articles the news questions were written over.")
    ] = None,
    init_from: Annotated[
        Path | None, typer.Option(help="Start from these reader weights (a second stage).")
    ] = None,
    limit_questions: Annotated[int | None, typer.Option(min=1)] = None,
    limit_valid: Annotated[int | None, typer.Option(min=1)] = None,
    seed: Annotated[int, typer.Option()] = 13,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads.")] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue a killed run (same settings) from its last save in --checkpoint-dir; "
            "with none there, says so and starts a new run."
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Where the weights go (default: indexer/reader/weights).")
    ] = None,
    checkpoint_dir: Annotated[
        Path | None, typer.Option(help="Per-epoch checkpoints (default: cache dir).")
    ] = None,
    encoder: ReaderEncoder = None,
) -> None:
    """Fine-tune the reader; writes reader.safetensors (bf16) and manifest.json."""
    from indexer.allocator import keep_freed_memory
    from indexer.reader import WEIGHTS_DIR
    from indexer.reader.config import TrainConfig
    from indexer.reader.train import NewsData, train

    if (news_questions is None) != (news_corpus is None):
        raise fail(ValueError("--news-questions and --news-corpus go together"))
    optional = [p for p in (valid, news_questions, news_corpus, init_from) if p is not None]
    for path in [passages, questions, *optional]:
        if not path.is_file():
            raise fail(FileNotFoundError(f"no such file: {path}"))
    config = TrainConfig(
        seed=seed,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        lr=lr,
        max_length=max_length,
        doc_stride=doc_stride,
        negatives_ratio=negatives_ratio,
        topical_negatives_ratio=topical_negatives_ratio,
        long_context_ratio=long_context_ratio,
        english_ratio=english_ratio,
        holdout_fraction=holdout,
        limit_questions=limit_questions,
        limit_valid=limit_valid,
        resume=resume,
    )
    if threads is not None:
        config.threads = threads
    keep_freed_memory()  # process-wide, so set here at the edge, not inside train()
    try:
        encoder_dir = _reader_encoder(encoder)
        checkpoints = checkpoint_dir or settings_for().cache_dir / "reader-checkpoints"
        news = NewsData(news_questions, news_corpus) if news_questions and news_corpus else None
        manifest = train(
            encoder_dir, passages, questions, valid, out or WEIGHTS_DIR, checkpoints, config,
            news=news, init_weights=init_from,
        )  # fmt: skip
    except (NewsqaError, ValueError, OSError) as exc:
        raise fail(exc) from exc
    table = Table("set", "questions", "F1", "EM", "no-answer acc", "threshold")
    held = manifest["training"]["epochs"][manifest["training"]["chosen_epoch"] - 1]
    rows = [("held-out (fp32)", held.get("held_out"))]
    rows.append(("held-out (bf16)", manifest["tuned"].get("held_out_bf16")))
    for name in ("fp32", "bf16"):
        rows.append((f"valid ({name})", (manifest.get("validation") or {}).get(name)))
    for name, r in rows:
        if r:
            table.add_row(
                name,
                str(r["questions"]),
                f"{r['f1']:.3f}",
                f"{r['em']:.3f}",
                f"{r.get('no_answer_accuracy', float('nan')):.3f}",
                f"{r.get('no_answer_threshold', float('nan')):.2f}",
            )
    console.print(table)
    console.print(
        f"{manifest['training']['steps']} steps, "
        f"{manifest['training']['seconds_per_step']} s/step, "
        f"{manifest['training']['wall_seconds'] / 60:.1f} min; "
        f"weights {manifest['weights']['bytes'] / 2**20:.1f} MiB"
    )


@reader_app.command("evaluate")
def reader_evaluate(
    questions: Annotated[Path, typer.Option(help="Questions (relevant, answers).")] = _SHARED
    / "eval/facqa-valid.jsonl",
    passages: Annotated[Path, typer.Option(help="Passages (JSONL: id, text).")] = _SHARED
    / "news/facqa-passages.jsonl",
    weights: Annotated[
        Path | None, typer.Option(help="Weights file (default: the shipped one).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="First N questions only.")] = None,
    negatives: Annotated[
        bool, typer.Option(help="Also pair each question with another one's passage.")
    ] = True,
    seed: Annotated[int, typer.Option()] = 13,
    english: Annotated[
        bool, typer.Option(help="Questions rewritten in pseudo-English (cross-lingual case).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write the report (JSON) here.")] = None,
    encoder: ReaderEncoder = None,
) -> None:
    """Gold-passage token F1 / EM, and no-answer accuracy on other questions' passages."""

    from indexer.reader import WEIGHTS_PATH
    from indexer.reader.scoring import evaluate_files
    from indexer.reader.spans import Reader

    for path in (questions, passages):
        if not path.is_file():
            raise fail(FileNotFoundError(f"no such file: {path}"))
    weights = weights or WEIGHTS_PATH
    try:
        reader = Reader.from_files(_reader_encoder(encoder), weights)
    except (NewsqaError, OSError) as exc:
        raise fail(exc) from exc
    except Exception as exc:  # safetensors' own error for a file that is no weights file
        raise fail(ValueError(f"cannot read reader weights {weights}: {exc}")) from exc
    try:
        report = evaluate_files(
            reader, passages, questions, seed=seed, limit=limit, negatives=negatives,
            english=english,
        )  # fmt: skip
    except (NewsqaError, ValueError, OSError) as exc:
        raise fail(exc) from exc
    if not report["questions"]:
        raise fail(
            ValueError(f"no question of {questions} has its passage (relevant) in {passages}")
        )
    table = Table("questions", "language", "F1", "EM")
    table.add_row(str(report["questions"]), "all", f"{report['f1']:.3f}", f"{report['em']:.3f}")
    for lang, r in report["by_language"].items():
        table.add_row(str(r["questions"]), lang, f"{r['f1']:.3f}", f"{r['em']:.3f}")
    console.print(table)
    if negatives:
        console.print(
            f"no-answer accuracy {report['no_answer_accuracy']:.3f} on {report['negatives']} "
            f"negatives; answered {report['answered_rate']:.3f} of the questions at threshold "
            f"{report['no_answer_threshold']:.2f} (F1 with abstention "
            f"{report['f1_with_abstention']:.3f})"
        )
    console.print(f"{report['ms_per_pair']} ms per question-passage pair (batched)")
    if out is not None:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        console.print(f"wrote {out}")
