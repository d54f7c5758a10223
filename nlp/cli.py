"""``carecenter nlp ...``: train, evaluate, learn from agents' confirmed tickets, restore.

Exit codes: 0 success, 1 bad input (unreadable or invalid data/model file, missing context), 2 usage
error (click), 3 ``train --from-tickets`` trained a candidate that regressed, so it was kept but NOT
activated (cron wrappers can alert on it without confusing it with a crash).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from nlp.classifier import Classifier, load_classifier
from nlp.dataset import DataFileError, read_examples
from nlp.decision import DEFAULT_TARGET_PRECISION
from nlp.model import HELD_OUT, OUT_OF_SCOPE, LinearTextModel, ModelFileError, TrainConfig, train
from nlp.retrain import COMPARED, DEFAULT_TOLERANCE, NoExamplesError, retrain_from_tickets
from nlp.store import ModelStore, StoreError

REJECTED_EXIT = 3

nlp_group = click.Group("nlp", help="Train and evaluate the message classifier.")


def _say(message: str) -> None:
    click.echo(message, err=True)


def _progress(started: float) -> Callable[[str], None]:
    def report(message: str) -> None:
        _say(f"[{time.perf_counter() - started:6.1f}s] {message}")

    return report


def _emit(result: dict[str, Any]) -> None:
    click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))


def _load_data(
    path: Path, text_col: str, label_col: str, *, require_classes: int = 1
) -> tuple[list[str], list[str]]:
    try:
        return read_examples(path, text_col=text_col, label_col=label_col, require_classes=require_classes)
    except DataFileError as exc:
        raise click.ClickException(str(exc)) from exc


def _column_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--oos-label", default=OUT_OF_SCOPE, show_default=True, help="Out-of-scope label.")(
        func
    )
    func = click.option("--label-col", default="label", show_default=True)(func)
    return click.option("--text-col", default="text", show_default=True)(func)


@nlp_group.command("train")
@click.option(
    "--data", "data_path", type=click.Path(path_type=Path, dir_okay=False), help="CSV or JSONL file."
)
@_column_options
@click.option(
    "--out", "out_path", type=click.Path(path_type=Path, dir_okay=False), help="Model file to write."
)
@click.option(
    "--target-precision",
    default=DEFAULT_TARGET_PRECISION,
    show_default=True,
    help="Share of answered messages that must get the right template (on out-of-fold scores).",
)
@click.option(
    "--held-out",
    "held_out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Rows never trained on: the new model is evaluated on them and keeps the figures (with --data).",
)
@click.option("--from-tickets", is_flag=True, help="Retrain on shipped data + agents' confirmed tickets.")
@click.option("--model-dir", type=click.Path(path_type=Path, file_okay=False), help="Versioned model store.")
@click.option("--tolerance", default=DEFAULT_TOLERANCE, show_default=True, help="Allowed held-out drop.")
@click.pass_context
def train_command(
    ctx: click.Context,
    *,
    data_path: Path | None,
    text_col: str,
    label_col: str,
    oos_label: str,
    out_path: Path | None,
    target_precision: float,
    held_out_path: Path | None,
    from_tickets: bool,
    model_dir: Path | None,
    tolerance: float,
) -> None:
    """Train a model from a file (--data/--out), or retrain from confirmed tickets (--from-tickets)."""
    if not 0.0 < target_precision <= 1.0:
        raise click.BadParameter("must be in (0, 1]", param_hint="--target-precision")
    config = TrainConfig(target_precision=target_precision, oos_label=oos_label)
    if from_tickets:
        _train_from_tickets(ctx, config, model_dir, tolerance)
        return
    if data_path is None or out_path is None:
        raise click.UsageError("give --data FILE and --out MODEL, or --from-tickets")
    started = time.perf_counter()
    texts, labels = _load_data(data_path, text_col, label_col, require_classes=2)
    _say(f"training on {len(texts)} examples, {len(set(labels))} labels")
    result = train(texts, labels, config, progress=_progress(started))
    if held_out_path is not None:
        from nlp.evaluate import evaluate

        held_texts, held_labels = _load_data(held_out_path, text_col, label_col)
        _say(f"evaluating on {len(held_texts)} held-out examples")
        _record_held_out(
            result.model, evaluate(Classifier(result.model), held_texts, held_labels, oos_label=oos_label),
            held_out_path,
        )
    result.model.save(out_path)
    _say(f"model written to {out_path}")
    _emit(
        {
            "model": str(out_path),
            "version": result.model.meta["version"],
            "n_train": len(texts),
            "labels": len(result.model.labels),
            "threshold": round(result.model.calibration.threshold, 4),
            "margin": result.model.calibration.margin,
            "clarify_mass": result.model.calibration.clarify_mass,
            "clarify_max": result.model.calibration.clarify_max,
            "validation": result.model.meta.get("validation", {}),
            "held_out": result.model.meta.get(HELD_OUT, {}),
            "train_seconds": result.model.meta["train_seconds"],
            "size_bytes": out_path.stat().st_size,
        }
    )


def _context_value(ctx: click.Context, key: str) -> Any:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    if key not in obj:
        raise click.ClickException(
            f"--from-tickets needs the host application to provide ctx.obj[{key!r}]; "
            "run it as `carecenter nlp train --from-tickets`"
        )
    return obj[key]


def _store_dir(ctx: click.Context, model_dir: Path | None) -> Path:
    return model_dir if model_dir is not None else Path(_context_value(ctx, "model_dir"))


def _train_from_tickets(
    ctx: click.Context, config: TrainConfig, model_dir: Path | None, tolerance: float
) -> None:
    started = time.perf_counter()
    fetch = _context_value(ctx, "ticket_examples")
    store = ModelStore(_store_dir(ctx, model_dir))
    tickets = list(fetch())
    try:
        outcome = retrain_from_tickets(tickets, store, config=config, tolerance=tolerance,
                                       progress=_progress(started))
    except NoExamplesError as exc:
        raise click.ClickException(str(exc)) from exc
    except (ModelFileError, StoreError) as exc:
        raise click.ClickException(f"cannot load the current model: {exc}") from exc
    result: dict[str, Any] = {
        "version": outcome.version,
        "previous": outcome.previous,
        "activated": outcome.acceptable,
        "n_tickets": outcome.n_tickets,
        "n_held_out": outcome.n_held_out,
        "candidate": {key: outcome.candidate[key] for key in COMPARED},
        "current": {key: outcome.current[key] for key in COMPARED},
    }
    if not outcome.acceptable:
        result["reason"] = outcome.reason
        _say(f"candidate {outcome.version} NOT activated ({outcome.reason}); keeping {outcome.previous}")
        _emit(result)
        ctx.exit(REJECTED_EXIT)
    store.activate(outcome.version)
    store.annotate(outcome.version, "activated")
    _say(f"activated {outcome.version} (previous: {outcome.previous})")
    _emit(result)


@nlp_group.command("restore")
@click.option("--model-dir", type=click.Path(path_type=Path, file_okay=False), help="Versioned model store.")
@click.pass_context
def restore_command(ctx: click.Context, model_dir: Path | None) -> None:
    """Go back to the model that was active before the current one."""
    store = ModelStore(_store_dir(ctx, model_dir))
    try:
        version = store.restore_previous()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    _say(f"active model is now {version or 'the shipped model'}")
    _emit({"active": version})


@nlp_group.command("versions")
@click.option("--model-dir", type=click.Path(path_type=Path, file_okay=False), help="Versioned model store.")
@click.pass_context
def versions_command(ctx: click.Context, model_dir: Path | None) -> None:
    """List stored model versions (the active one is marked)."""
    store = ModelStore(_store_dir(ctx, model_dir))
    try:
        infos = store.list()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    for info in infos:
        click.echo(f"{'*' if info.active else ' '} {info.version}  {info.created_at}  {info.note}")


@nlp_group.command("eval")
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False), help="Model file.")
@click.option("--data", "data_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@_column_options
@click.option(
    "--record",
    is_flag=True,
    help="Keep these figures in the --model file as its held-out figures (the console's classifier page "
    "shows them). Only for rows never trained on.",
)
def eval_command(
    *, model_path: Path | None, data_path: Path, text_col: str, label_col: str, oos_label: str, record: bool
) -> None:
    """Evaluate a model (default: the shipped one); the last line of stdout is one JSON object."""
    from nlp.evaluate import evaluate

    if record and model_path is None:
        raise click.UsageError("--record writes into the model file: give --model FILE")
    texts, labels = _load_data(data_path, text_col, label_col)
    try:
        classifier = Classifier(LinearTextModel.load(model_path)) if model_path else load_classifier()
    except ModelFileError as exc:
        raise click.ClickException(str(exc)) from exc
    _say(f"evaluating model {classifier.version} on {len(texts)} examples")
    with click.progressbar(length=len(texts), label="classifying", file=sys.stderr) as bar:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            bar.update(n - done)
            done = n

        metrics = evaluate(classifier, texts, labels, oos_label=oos_label, progress=advance)
        bar.update(len(texts) - done)
    if record and model_path is not None:
        _record_held_out(classifier.model, metrics, data_path)
        classifier.model.save(model_path)
        _say(f"held-out figures recorded in {model_path}")
    _emit(metrics)


def _record_held_out(model: LinearTextModel, metrics: dict[str, Any], data_path: Path) -> None:
    from nlp.evaluate import held_out_record

    model.meta[HELD_OUT] = held_out_record(metrics, data=data_path.name, measured_at=datetime.now(UTC))
