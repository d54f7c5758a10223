"""The classifier loop for supervisors: the active model's figures on held-out rows against the product's
targets, where agents changed the bot's category, retraining from confirmed tickets in a worker thread,
the before/after figures, then Activate or Discard, and Restore previous.

The active model's figures are what its file records (nlp.evaluate.recorded_figures: written when it was
evaluated or retrained); a page view reads one small file and evaluates nothing.

A retrain runs in this process's thread pool so the server keeps answering; its progress lives in memory
(one retrain at a time per process) and the candidate itself in the versioned model store, so a restart
mid-way loses only the progress display. Activation swaps this process's classifier at once; other web
processes pick the new active model up when they restart (they load the store's active version).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aiohttp import web

from handoff import actions
from handoff.console.toolkit import console_state, form_fields, render, request_language, require_supervisor
from handoff.learning import RetrainSettings, confirmed_examples, corrections
from models import Category, User
from nlp.classifier import load_classifier
from nlp.decision import TARGETS
from nlp.evaluate import DECISION_FIGURES, ModelFigures, active_model_figures
from nlp.model import ModelFileError
from nlp.retrain import SHOWN, NoExamplesError, RetrainResult, retrain_from_tickets
from nlp.store import ModelStore, StoreError

log = logging.getLogger(__name__)
MAX_LOG_LINES = 200


@dataclass(slots=True)
class RetrainJob:
    started_by: int
    started_at: datetime
    status: str = "running"  # running | done | failed
    log: list[str] = field(default_factory=list)
    result: RetrainResult | None = None
    error: str = ""
    decision: str = ""  # "" | activated | discarded


@dataclass(slots=True)
class ClassifierLoop:
    job: RetrainJob | None = None
    task: asyncio.Task[None] | None = None


LOOP = web.AppKey("classifier_loop", ClassifierLoop)


def _settings(request: web.Request) -> RetrainSettings:
    settings = console_state(request).retrain
    if settings is None:
        raise web.HTTPNotFound(text="retraining is not configured in this process")
    return settings


def _loop(request: web.Request) -> ClassifierLoop:
    return request.config_dict[LOOP]


def _back(notice: str = "") -> web.HTTPSeeOther:
    return web.HTTPSeeOther("/console/admin/classifier" + (f"?notice={notice}" if notice else ""))


async def _active_figures(model_dir: Path | None) -> tuple[ModelFigures | None, datetime | None]:
    """The running model's recorded figures, and when they were measured."""
    try:
        figures = await asyncio.to_thread(active_model_figures, model_dir)
    except (ModelFileError, StoreError):
        log.exception("the active model's figures are unreadable")
        return None, None
    if figures is None:
        return None, None
    try:
        measured = datetime.fromisoformat(figures.measured_at)
    except ValueError:
        measured = None
    return figures, measured


async def classifier_page(request: web.Request) -> web.Response:
    require_supervisor(request)
    settings = console_state(request).retrain
    figures, measured = await _active_figures(settings.model_dir if settings is not None else None)
    counts, recent = await corrections()
    lang = request_language(request)
    names = {c.slug: (c.name_en if lang == "en" else c.name_id) for c in await Category.all()}
    versions = []
    active = None
    if settings is not None:
        store = ModelStore(settings.model_dir)
        try:
            versions = list(reversed(store.list()))
            active = store.active_version()
        except StoreError:
            log.exception("model store unreadable")
    job = _loop(request).job
    starter = await User.get_or_none(id=job.started_by) if job else None
    return render(request, "admin_classifier.html", {
        "page": "classifier",
        "figures": figures,
        "measured": measured,
        "decision_figures": DECISION_FIGURES,
        "targets": TARGETS,
        "shown": SHOWN,
        "pairs": counts.most_common(30),
        "recent": recent,
        "names": names,
        "configured": settings is not None,
        "versions": versions[:20],
        "active": active,
        "job": job,
        "starter": (starter.name or starter.email) if starter else "",
    })


async def retrain_start(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    settings = _settings(request)
    state = console_state(request)
    loop = _loop(request)
    if loop.job is not None and loop.job.status == "running":
        raise _back("notice_retrain_running")
    examples = await confirmed_examples()
    if not examples:
        raise _back("error_no_examples")
    job = RetrainJob(started_by=user.id, started_at=state.clock())
    loop.job = job
    broker = state.broker
    event_loop = asyncio.get_running_loop()

    def progress(message: str) -> None:  # called from the worker thread
        if len(job.log) < MAX_LOG_LINES:
            job.log.append(message)
        event_loop.call_soon_threadsafe(broker.publish, "classifier.progress", {"status": job.status})

    async def run() -> None:
        try:
            job.result = await asyncio.to_thread(
                retrain_from_tickets, examples, ModelStore(settings.model_dir), progress=progress,
                train_data=settings.train_data, test_data=settings.test_data,
            )
            job.status = "done"
            await actions.audit(actor=user, action="classifier.retrained", target=job.result.version, data={
                "acceptable": job.result.acceptable, "reason": job.result.reason,
                "current": job.result.current, "candidate": job.result.candidate,
            })
        except (NoExamplesError, ModelFileError, StoreError, ValueError) as exc:
            job.status, job.error = "failed", str(exc)
            log.warning("retraining failed: %s", type(exc).__name__)
        except Exception as exc:  # the page must say it failed rather than spin for ever
            job.status, job.error = "failed", type(exc).__name__
            log.exception("retraining failed")
        broker.publish("classifier.progress", {"status": job.status})

    loop.task = asyncio.create_task(run())
    await actions.audit(actor=user, action="classifier.retrain", data={"examples": len(examples)})
    raise _back("notice_retrain_started")


def _candidate(request: web.Request, version: str) -> RetrainResult:
    job = _loop(request).job
    if job is None or job.result is None or job.result.version != version or job.decision:
        raise _back("error_no_candidate")
    return job.result


async def _swap(request: web.Request, settings: RetrainSettings) -> str:
    """Load the store's active model and put it in the running bot; returns its version."""
    classifier = await asyncio.to_thread(load_classifier, settings.model_dir)
    swap = console_state(request).swap_classifier
    if swap is not None:
        swap(classifier)
    return classifier.version


async def activate(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    settings = _settings(request)
    form = await form_fields(request)
    result = _candidate(request, form.get("version", ""))
    if not result.acceptable:
        # Refused here too, not only hidden in the page: a regressing candidate never goes live.
        raise _back("error_candidate_regresses")
    store = ModelStore(settings.model_dir)
    try:
        store.activate(result.version)
        store.annotate(result.version, "activated")
    except StoreError:
        raise _back("error_no_candidate") from None
    version = await _swap(request, settings)
    job = _loop(request).job
    if job is not None:
        job.decision = "activated"
    await actions.audit(actor=user, action="classifier.activate", target=result.version,
                         data={"previous": result.previous, "running": version})
    raise _back("notice_classifier_activated")


async def discard(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    settings = _settings(request)
    form = await form_fields(request)
    result = _candidate(request, form.get("version", ""))
    with contextlib.suppress(StoreError):
        ModelStore(settings.model_dir).discard(result.version)
    job = _loop(request).job
    if job is not None:
        job.decision = "discarded"
    await actions.audit(actor=user, action="classifier.discard", target=result.version)
    raise _back("notice_classifier_discarded")


async def restore(request: web.Request) -> web.Response:
    user = require_supervisor(request)
    settings = _settings(request)
    store = ModelStore(settings.model_dir)
    previous = store.active_version()
    try:
        store.restore_previous()
    except StoreError:
        raise _back("error_nothing_to_restore") from None
    version = await _swap(request, settings)
    await actions.audit(actor=user, action="classifier.restore", target=version, data={"from": previous})
    raise _back("notice_classifier_restored")


def add_routes(console: web.Application) -> None:
    console[LOOP] = ClassifierLoop()

    async def stop(app: web.Application) -> None:
        # The worker thread finishes on its own; only the waiting task is cancelled.
        task = app[LOOP].task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    console.on_shutdown.append(stop)
    router = console.router
    router.add_get("/admin/classifier", classifier_page, name="classifier")
    router.add_post("/admin/classifier/retrain", retrain_start, name="classifier_retrain")
    router.add_post("/admin/classifier/activate", activate, name="classifier_activate")
    router.add_post("/admin/classifier/discard", discard, name="classifier_discard")
    router.add_post("/admin/classifier/restore", restore, name="classifier_restore")
