"""Who and what made an annotation, as a release and a report tell it (pure).

* ``record_origin``: the stored ``origin`` made honest. A Label Studio annotation that started
  from a prediction (``meta.parent_prediction``) and was submitted by the machine annotator
  (``corpus accept-predictions``, ``make demo``) is ``machine_accepted``: no person looked at it.
  One a person submitted from a prediction is ``human_from_prediction``. Others keep their origin.
* ``public_annotator``: the name a public card or report shows. E-mail addresses become a stable
  pseudonym (``annotator-1a2b3c``) unless asked otherwise; other ids (brat annotator codes) stay.
* ``prediction_model_version``: the model version a record's parent prediction came from, when
  the pull recorded it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from corpus.core.model import MACHINE_ANNOTATOR, Annotation

MACHINE_ACCEPTED = "machine_accepted"
HUMAN_FROM_PREDICTION = "human_from_prediction"
NOT_ANNOTATORS = ("prediction", MACHINE_ACCEPTED, "adjudicated")  # not people's independent work


def _get(rec: Annotation | dict[str, Any], key: str) -> Any:
    return rec.get(key) if isinstance(rec, dict) else getattr(rec, key, None)


def record_origin(rec: Annotation | dict[str, Any]) -> str:
    origin = str(_get(rec, "origin") or "")
    meta = _get(rec, "meta") or {}
    if origin == "labelstudio" and isinstance(meta, dict) and meta.get("parent_prediction") is not None:
        return MACHINE_ACCEPTED if _get(rec, "annotator") == MACHINE_ANNOTATOR else HUMAN_FROM_PREDICTION
    if origin == "demo":  # the model's old name for machine-made annotations accepted by the demo
        return MACHINE_ACCEPTED
    return origin


def is_machine(rec: Annotation | dict[str, Any]) -> bool:
    return record_origin(rec) in ("prediction", MACHINE_ACCEPTED)


def public_annotator(name: str | None, show_emails: bool = False) -> str:
    name = str(name or "unknown")
    if name == MACHINE_ANNOTATOR:
        return "prediction-bot (machine)"
    if "@" in name and not show_emails:
        return "annotator-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
    return name


def prediction_model_version(rec: Annotation | dict[str, Any]) -> str | None:
    """The parent prediction's model version, where a pull recorded one (record field, ``meta``)."""
    meta = _get(rec, "meta") or {}
    for v in (
        meta.get("parent_model_version"),
        meta.get("model_version"),
        (meta.get("prediction") or {}).get("model_version") if isinstance(meta.get("prediction"), dict) else None,
        (meta.get("acceptance") or {}).get("model_version") if isinstance(meta.get("acceptance"), dict) else None,
        _get(rec, "model_version"),
    ):
        if v:
            return str(v)
    return None
