"""The control endpoints (``/_control/...``): drive a simulator from another process.

They need the same Basic credentials as WsOne's operations, faults never apply to them,
and they answer plain JSON (not WsOne's envelope); a body they cannot apply gets HTTP 400
with ``{"error": "<why>"}``. Their JSON is documented once, in the README's section "The
control endpoints" (tests post its examples): ``POST reset``, ``POST seed``,
``POST``/``GET``/``DELETE faults`` (a rule's parameters come from the fault kinds'
classes, :mod:`wsone_async.testing._faults`), ``GET state``.
"""

from __future__ import annotations

from typing import Any

from wsone_async.testing._backend import CatalogOffer, Form, IdentifierSpec, WsOneBackend
from wsone_async.testing._faults import PARAMETER_NAMES, Fault, FaultPlan
from wsone_async.testing._handlers import (
    Fields,
    read_new_identifier,
    read_profile,
    read_subscriptions,
)

__all__ = ["ControlError", "add_fault", "seed"]


class ControlError(ValueError):
    """A control request that cannot be applied (answered with HTTP 400)."""


def _number(block: Fields, key: str, default: float) -> float:
    value = block.number(key)
    return default if value is None else value


def _integer(block: Fields, key: str, default: int) -> int:
    value = block.integer(key)
    return default if value is None else value


def _offer(block: Fields) -> CatalogOffer:
    return CatalogOffer(
        offer_id=block.need_text("offerId"),
        name=block.need_text("offerName"),
        description=block.text("offerDescription") or "",
        channel_id=block.text("channelId") or "8",
        global_min_price=_number(block, "globalMinPrice", 0.0),
        discount_type=_integer(block, "offerDiscountType", 1),
        discount_value=_number(block, "offerDiscountValue", 0.0),
        trigger=_integer(block, "triggerOffer", 0),
        obj_application=block.text("objApplication") or "ARTICLE",
        restriction_type=_integer(block, "typeRestrictionOffer", 0),
        immediate_use=_integer(block, "immediateUse", 0),
        validity_days=max(1, _integer(block, "validityDays", 60)),
        welcome=bool(block.boolean("welcome")),
    )


def _form(block: Fields) -> Form:
    questions = {
        q.need_text("questionId"): q.text("label") or "" for q in block.blocks("questions")
    }
    return Form(block.need_text("formId"), block.text("label") or "", questions)


def _texts(block: Fields, key: str) -> list[str]:
    value = block.data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{block.where(key)} must be a list of strings"
        raise ControlError(msg)
    return value


def seed(backend: WsOneBackend, data: Any) -> dict[str, Any]:
    """Apply a ``POST /_control/seed`` body; raises WsOneFailure or ControlError."""
    if not isinstance(data, dict):
        msg = "the body must be a JSON object"
        raise ControlError(msg)
    body = Fields(data)
    entities = body.blocks("entities")
    for block in entities:
        backend.add_entity(
            block.need_text("entityIdentifier"),
            block.text("label") or "",
            block.text("parentEntityIdentifier"),
        )
    offers = body.blocks("offers")
    for block in offers:
        backend.add_offer(_offer(block))
    forms = body.blocks("forms")
    for block in forms:
        backend.add_form(_form(block))
    created = []
    for block in body.blocks("persons"):
        specs: list[IdentifierSpec] = [read_new_identifier(i) for i in block.blocks("identifiers")]
        person = backend.add_person(
            read_profile(block),
            identifiers=specs,
            subscriptions=read_subscriptions(block),
            source=block.text("source"),
            points=_integer(block, "points", 0),
            visits=_integer(block, "visits", 0),
            offers=_texts(block, "offers"),
        )
        created.append(
            {
                "groupeId": person.groupe_id,
                "identifiers": [
                    {"identifierType": t, "identifierValue": v}
                    for t, v in backend.identifiers_of(person)
                ],
            }
        )
    return {
        "entities": len(entities),
        "offers": len(offers),
        "forms": len(forms),
        "persons": created,
    }


def add_fault(plan: FaultPlan, data: Any) -> Fault:
    """Apply a ``POST /_control/faults`` body; raises ControlError."""
    if not isinstance(data, dict):
        msg = "the body must be a JSON object"
        raise ControlError(msg)
    if "spec" in data:
        spec = data["spec"]
        if not isinstance(spec, str) or len(data) != 1:
            msg = '"spec" must be a string, alone in the object'
            raise ControlError(msg)
        arguments = None
    else:
        unknown = sorted(set(data) - PARAMETER_NAMES - {"operation", "kind"})
        if unknown:
            msg = f"unknown fault parameter {', '.join(map(repr, unknown))}"
            raise ControlError(msg)
        if not isinstance(data.get("kind", ""), str):
            msg = "fault parameter 'kind' must be text"
            raise ControlError(msg)
        arguments = data
    try:
        return plan.add_spec(spec) if arguments is None else plan.add(**arguments)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
