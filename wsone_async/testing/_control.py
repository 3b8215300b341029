"""The control endpoints (``/_control/...``): drive a simulator from another process.

They need the same Basic credentials as WsOne's operations, faults never apply to them,
and they answer plain JSON (not WsOne's envelope); a body they cannot apply gets HTTP 400
with ``{"error": "<why>"}``.

``POST /_control/reset`` (no body): back to a fresh simulator, as if just started with the
same seed: default stores, catalogue and forms, no person, zero counters, no fault rule.
Answers the state, as ``GET /_control/state``.

``POST /_control/seed`` adds stores, catalogue offers, forms and persons, in that order::

    {
      "entities": [{"entityIdentifier": "777777", "label": "MAGASIN LENS",
                    "parentEntityIdentifier": "100001"}],
      "offers": [{"offerId": "60001", "offerName": "BON_10", "offerDescription": "10€",
                  "channelId": "8", "globalMinPrice": 50.0, "offerDiscountType": 1,
                  "offerDiscountValue": 10.0, "objApplication": "TICKET",
                  "validityDays": 30, "welcome": false}],
      "forms": [{"formId": "200", "label": "SONDAGE",
                 "questions": [{"questionId": "1", "label": "Satisfait ?"}]}],
      "persons": [{"identifiers": [{"identifierType": 10, "identifierValue": "a@b.fr"},
                                   {"identifierType": 1}],
                   "PersonProfilRequest": {"PersonRequest": {"lastName": "DUPOND"}},
                   "SubscriptionRequest": [{"id": 30, "activate": true}],
                   "source": "SEED", "points": 120, "visits": 3, "offers": ["60001"]}]
    }

Every key is optional. A person's ``PersonProfilRequest`` and ``SubscriptionRequest`` are
createPerson's blocks; an identifier without a value is a generated card, and a person
without identifiers gets one. A ``welcome`` offer is given to every person created after
it. Items are added in order: when one is refused, the ones before it stay. The answer
counts what was added and lists the persons created::

    {"entities": 1, "offers": 1, "forms": 1,
     "persons": [{"groupeId": "1000001",
                  "identifiers": [{"identifierType": 10, "identifierValue": "a@b.fr"},
                                  {"identifierType": 1, "identifierValue": "2990000000014"}]}]}

``POST /_control/faults`` adds a fault rule, from :meth:`~wsone_async.testing.FaultPlan.add`'s
arguments as JSON, such as ``{"operation": "createPerson", "kind": "status", "status": 503,
"times": 2, "retry_after": 1}``, or from the compact syntax, ``{"spec":
"write:drop_after,rate=0.05"}``. Answers 201 with the rule as ``GET`` lists it.

``GET /_control/faults``: ``{"faults": [{"id": 1, "operation": "createPerson", "kind":
"status", "times": 2, "rate": null, "skip": 0, "process": false, "matched": 3, "injected":
2, "status": 503, "retry_after": 1.0, "retry_after_date": false, "body": "json"}]}``, in the
order the rules are consulted.

``DELETE /_control/faults``: removes every rule; ``{"cleared": 2}``.

``GET /_control/state``: counts, for assertions from outside::

    {"persons": 2, "identifiers": 3, "retiredIdentifiers": 0,
     "sharedIdentifiers": 0,            # identifiers held by more than one person: always 0
     "transactions": {"SENT": 1, "VALIDATED": 4, "CANCELLED": 0, "REFUNDED": 1},
     "pointsTotal": 120, "visitsTotal": 3, "entities": 9, "catalogOffers": 2, "forms": 1,
     "requests": {"createPerson": 2},   # received, by operation
     "processed": {"createPerson": 1},  # whose operation ran, by operation
     "responseCodes": {"000": 1},       # of the requests processed
     "faultsInjected": {"status": 1},   # by kind
     "unauthorized": 0, "faultRules": 1}
"""

from __future__ import annotations

from typing import Any, Final

from wsone_async.testing._backend import CatalogOffer, Form, IdentifierSpec, WsOneBackend
from wsone_async.testing._faults import Fault, FaultPlan
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


_FAULT_TYPES: Final[dict[str, tuple[type, ...]]] = {
    "operation": (str,),
    "kind": (str,),
    "times": (int,),
    "rate": (int, float),
    "skip": (int,),
    "delay": (int, float),
    "status": (int,),
    "retry_after": (int, float, str),
    "retry_after_date": (bool,),
    "body": (str,),
    "response_code": (str,),
    "infos": (str,),
    "process": (bool,),
}


def _check_fault_json(data: dict[str, Any]) -> None:
    for key, value in data.items():
        types_ = _FAULT_TYPES.get(key)
        if types_ is None:
            msg = f"unknown fault parameter {key!r}"
            raise ControlError(msg)
        # JSON booleans are ints to Python: only accept them where a boolean is due.
        if value is not None and (
            not isinstance(value, types_) or (isinstance(value, bool) and bool not in types_)
        ):
            msg = f"fault parameter {key!r} has the wrong type"
            raise ControlError(msg)


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
        _check_fault_json(data)
        arguments = {k: v for k, v in data.items() if v is not None}
    try:
        return plan.add_spec(spec) if arguments is None else plan.add(**arguments)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
