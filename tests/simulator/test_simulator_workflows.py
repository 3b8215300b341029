"""The simulator's business rules, through HTTP with raw JSON: state stays coherent."""

from __future__ import annotations

from typing import Any

from tests._support.sim import (
    OK,
    SimClient,
    card,
    new_customer,
    person_body,
    points,
    receipt,
    web_account,
)
from wsone_async.testing import SimulatorCode, is_valid_ean13

C = SimulatorCode


def key_body(key: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"IdentifierRequest": key, **extra}


# ------------------------------------------------------------------ persons, identifiers


async def test_a_duplicate_identifier_is_refused_and_creates_nobody(client: SimClient) -> None:
    body = person_body(web_account("a@example.fr"))
    await client.ok("createPerson", body)
    assert await client.code("createPerson", body) == C.DUPLICATE_IDENTIFIER
    # Web accounts compare case-insensitively.
    upper = person_body(web_account("A@EXAMPLE.FR"))
    assert await client.code("createPerson", upper) == C.DUPLICATE_IDENTIFIER
    assert client.sim.backend.persons_count() == 1
    assert client.sim.backend.shared_identifiers() == []


async def test_create_person_and_identifier_refuses_an_existing_web_account(
    client: SimClient,
) -> None:
    await new_customer(client, "b@example.fr")
    body = {**person_body(web_account("b@example.fr")), "newIdentifierType": 1}
    assert await client.code("createPersonAndIdentifier", body) == C.DUPLICATE_IDENTIFIER
    assert client.sim.backend.persons_count() == 1


async def test_generated_cards_are_unique_valid_ean13(client: SimClient) -> None:
    cards = [(await new_customer(client, f"c{i}@example.fr"))["identifierValue"] for i in range(20)]
    assert len(set(cards)) == 20
    assert all(len(c) == 13 and is_valid_ean13(c) for c in cards)


async def test_group_ids_are_sequential_strings(client: SimClient) -> None:
    first = await new_customer(client, "g1@example.fr")
    second = await new_customer(client, "g2@example.fr")
    ids = []
    for key in (first, second):
        answer = await client.ok("getPerson", key_body(key))
        ids.append(answer["PersonResponse"]["PersonResponse"]["groupeId"])
    assert all(isinstance(i, str) for i in ids)
    assert int(ids[1]) == int(ids[0]) + 1


async def test_create_identifier_adds_a_card_to_a_web_account(client: SimClient) -> None:
    await client.ok("createPerson", person_body(web_account("d@example.fr")))
    body = {"IdentifierRequest": {"identifierType": "10", "identifierValue": "d@example.fr"}}
    answer = await client.ok("createIdentifier", {**body, "newIdentifierType": 1})
    # As in the vendor's example: the card is generated, the answer does not show it.
    assert answer == {
        "responseCode": OK,
        "infos": "Request successfully processed",
        "NewIdentifierResponse": None,
    }
    person = client.sim.backend.person_by_identifier(10, "d@example.fr")
    assert person is not None
    web, (card_type, value) = client.sim.backend.identifiers_of(person)
    assert web == (10, "d@example.fr")
    assert card_type == 1 and is_valid_ean13(value)
    listed = await client.ok("getPerson", {"IdentifierRequest": card(value)})
    assert card(value) in [
        {k: i[k] for k in ("identifierType", "identifierValue")}
        for i in listed["PersonResponse"]["IdentifierResponse"]
    ]
    only_cards = {**body, "newIdentifierType": 10}
    assert await client.code("createIdentifier", only_cards) == C.IDENTIFIER_TYPE_NOT_ALLOWED


async def test_associate_identifier_rules(client: SimClient) -> None:
    first = await new_customer(client, "e1@example.fr")
    second = await new_customer(client, "e2@example.fr")
    printed = card("4006381333931")
    body = key_body(first, AssociatedIdentifierRequest=printed)
    await client.ok("associateIdentifier", body)
    await client.ok("associateIdentifier", body)  # already hers: nothing changes
    taken = key_body(second, AssociatedIdentifierRequest=printed)
    assert await client.code("associateIdentifier", taken) == C.DUPLICATE_IDENTIFIER
    holder = client.sim.backend.person_by_identifier(1, "4006381333931")
    assert holder is client.sim.backend.person_by_identifier(1, first["identifierValue"])
    assert client.sim.backend.shared_identifiers() == []


async def test_associate_new_identifier_generates_a_card_without_value(client: SimClient) -> None:
    key = await new_customer(client, "f@example.fr")
    answer = await client.ok(
        "associateNewIdentifier", key_body(key, NewIdentifierRequest={"identifierType": 1})
    )
    assert is_valid_ean13(answer["NewIdentifierResponse"]["identifierValue"])
    without_value = key_body(key, NewIdentifierRequest={"identifierType": 10})
    assert await client.code("associateNewIdentifier", without_value) == (
        C.IDENTIFIER_TYPE_NOT_ALLOWED
    )


async def test_a_replaced_card_is_retired(client: SimClient) -> None:
    old = await new_customer(client, "h@example.fr")
    answer = await client.ok(
        "replaceIdentifier", key_body(old, NewIdentifierRequest={"identifierType": 1})
    )
    new = card(answer["NewIdentifierResponse"]["identifierValue"])
    assert await client.code("getPerson", key_body(old)) == C.PERSON_NOT_FOUND
    await client.ok("getPerson", key_body(new))
    # The lost card cannot be given to anyone again.
    reuse = person_body(old)
    assert await client.code("createPerson", reuse) == C.DUPLICATE_IDENTIFIER
    assert client.sim.backend.identifiers_count() == 2


async def test_replacing_a_web_account_moves_the_email_search(client: SimClient) -> None:
    await client.ok("createPerson", person_body(web_account("old@example.fr")))
    await client.ok(
        "replaceIdentifier",
        key_body(web_account("old@example.fr"), NewIdentifierRequest=web_account("new@example.fr")),
    )

    async def found(email: str) -> int:
        answer = await client.ok(
            "searchPersonLite", {"ContactsRequest": {"EmailRequest": {"emailValue": email}}}
        )
        return len(answer["PersonResponse"])

    assert (await found("old@example.fr"), await found("new@example.fr")) == (0, 1)


async def test_unknown_person_entity_and_form(client: SimClient) -> None:
    nobody = key_body(card("0000000000000"))
    assert await client.code("getPerson", nobody) == C.PERSON_NOT_FOUND
    assert await client.code("getAccounts", nobody) == C.PERSON_NOT_FOUND
    key = await new_customer(client)
    unknown_store = key_body(key, EntityRequest={"entityIdentifier": "424242"})
    assert await client.code("getPerson", unknown_store) == C.ENTITY_NOT_FOUND
    bad_profile = person_body(web_account("x@example.fr"), store="424242")
    assert await client.code("createPerson", bad_profile) == C.ENTITY_NOT_FOUND
    assert await client.code("getForm", key_body(key, formId="999")) == C.FORM_NOT_FOUND
    bad_question = key_body(
        key, formId="100", FormAnsweredRequest=[{"questionId": "99", "answer": "?"}]
    )
    assert await client.code("updateForm", bad_question) == C.QUESTION_NOT_FOUND
    parents = {"EntityRequest": {"entityIdentifier": "424242"}}
    assert await client.code("getEntityParents", parents) == C.ENTITY_NOT_FOUND
    assert await client.code("getEntities", parents) == C.ENTITY_NOT_FOUND


# ------------------------------------------------------------------------------ search


async def test_search_is_case_insensitive_exact_and_combines_criteria(client: SimClient) -> None:
    await client.ok("createPerson", person_body(web_account("s1@example.fr"), last="Martin"))
    await client.ok("createPerson", person_body(web_account("s2@example.fr"), last="MARTIN"))
    await client.ok(
        "createPerson", person_body(web_account("s3@example.fr"), last="martin", first="PAUL")
    )
    await client.ok("createPerson", person_body(web_account("s4@example.fr"), last="MARTINEZ"))

    async def search(**criteria: Any) -> list[str]:
        body: dict[str, Any] = {"PersonRequest": criteria}
        answer = await client.ok("searchPerson", body)
        return [p["PersonResponse"]["lastName"] for p in answer["PersonResponse"]]

    assert await search(lastName="MARTIN") == ["Martin", "MARTIN", "martin"]
    assert await search(lastName="  martin ", firstName="jean") == ["Martin", "MARTIN"]
    assert await search(lastName="MARTIN", birthDate="01/01/1990", title=1) == [
        "Martin",
        "MARTIN",
        "martin",
    ]
    assert await search(lastName="MARTIN", birthDate="02/01/1990") == []
    assert await search(lastName="MART") == []


async def test_search_by_email_and_phone(client: SimClient) -> None:
    body = person_body(card("4006381333931"), email="Contact@Example.fr")
    body["PersonProfilRequest"]["ContactsRequest"]["CellPhoneRequest"] = {
        "number": "06 12 34 56 78"
    }
    await client.ok("createPerson", body)
    by_email = {"ContactsRequest": {"EmailRequest": {"emailValue": "contact@example.FR"}}}
    assert len((await client.ok("searchPerson", by_email))["PersonResponse"]) == 1
    by_phone = {"ContactsRequest": {"CellPhoneRequest": {"number": "0612345678"}}}
    assert len((await client.ok("searchPerson", by_phone))["PersonResponse"]) == 1


async def test_search_without_criteria_is_refused(client: SimClient) -> None:
    assert await client.code("searchPerson", {}) == C.NO_CRITERIA
    blank = {"PersonRequest": {"lastName": "  "}, "ContactsRequest": {}}
    assert await client.code("searchPersonLite", blank) == C.NO_CRITERIA


async def test_update_person_reindexes_the_search(client: SimClient) -> None:
    key = await new_customer(client, "u@example.fr")
    update = key_body(key, PersonProfilRequest={"PersonRequest": {"lastName": "LEGRAND"}})
    await client.ok("updatePerson", update)
    old = await client.ok("searchPerson", {"PersonRequest": {"lastName": "DUPOND"}})
    new = await client.ok("searchPerson", {"PersonRequest": {"lastName": "legrand"}})
    assert (len(old["PersonResponse"]), len(new["PersonResponse"])) == (0, 1)


# ------------------------------------------------------------------------ transactions


async def test_a_validated_receipt_credits_and_a_refund_reverses(client: SimClient) -> None:
    key = await new_customer(client)
    sent = await client.ok("sendTransaction", key_body(key, ReceiptRequest=receipt("T1", 42.9)))
    transaction = sent["TransactionResponse"]
    assert (transaction["status"], transaction["points"]) == ("SENT", 42)
    assert await points(client, key) == (0, 0)  # nothing until validated
    body = key_body(key, transactionId=transaction["transactionId"])
    valid = await client.ok("validTransaction", body)
    assert valid["TransactionResponse"]["status"] == "VALIDATED"
    assert await points(client, key) == (42, 1)
    assert await client.code("validTransaction", body) == C.TRANSACTION_ALREADY_VALIDATED
    refund = key_body(key, ReceiptRequest=receipt("T1", 42.9))
    refunded = await client.ok("refundTransaction", refund)
    assert refunded["TransactionResponse"]["status"] == "REFUNDED"
    assert await points(client, key) == (0, 0)
    assert await client.code("refundTransaction", refund) == C.TRANSACTION_ALREADY_REFUNDED
    assert client.sim.backend.points_total() == 0


async def test_the_same_receipt_twice_is_refused(client: SimClient) -> None:
    key = await new_customer(client)
    body = key_body(key, ReceiptRequest=receipt("T2", 10))
    await client.ok("sendAndValidTransaction", body)
    assert await client.code("sendAndValidTransaction", body) == C.RECEIPT_ALREADY_RECORDED
    assert await client.code("sendTransaction", body) == C.RECEIPT_ALREADY_RECORDED
    # The same number in another store is another receipt.
    other_store = key_body(key, ReceiptRequest=receipt("T2", 10, store="666666"))
    await client.ok("sendSimpleTransaction", other_store)
    assert await points(client, key) == (20, 2)


async def test_validate_by_receipt_identity(client: SimClient) -> None:
    key = await new_customer(client)
    await client.ok("sendTransaction", key_body(key, ReceiptRequest=receipt("T3", 15)))
    identity = {"receiptNumber": "T3", "EntityRequest": {"entityIdentifier": "123456"}}
    await client.ok("validTransaction", key_body(key, ReceiptRequest=identity))
    assert await points(client, key) == (15, 1)
    unknown = {"receiptNumber": "NOPE", "EntityRequest": {"entityIdentifier": "123456"}}
    code = await client.code("validTransaction", key_body(key, ReceiptRequest=unknown))
    assert code == C.TRANSACTION_NOT_FOUND
    assert await client.code("validTransaction", key_body(key)) == C.MISSING_FIELD


async def test_a_receipt_of_another_person_is_not_found(client: SimClient) -> None:
    alice = await new_customer(client, "alice@example.fr")
    bob = await new_customer(client, "bob@example.fr")
    sent = await client.ok("sendTransaction", key_body(alice, ReceiptRequest=receipt("T4", 5)))
    body = key_body(bob, transactionId=sent["TransactionResponse"]["transactionId"])
    assert await client.code("validTransaction", body) == C.TRANSACTION_NOT_FOUND
    verify = await client.ok("verifyTransaction", key_body(bob, ReceiptRequest=receipt("T4", 5)))
    assert verify["TransactionResponse"] is None


async def test_verify_then_cancel_not_validated_then_send_again(client: SimClient) -> None:
    key = await new_customer(client)
    body = key_body(key, ReceiptRequest=receipt("T5", 25))
    assert (await client.ok("verifyTransaction", body))["TransactionResponse"] is None
    await client.ok("sendTransaction", body)
    await client.ok(
        "sendTransaction", key_body(key, ReceiptRequest=receipt("T6", 5, store="666666"))
    )
    verified = await client.ok("verifyTransaction", body)
    assert verified["TransactionResponse"]["status"] == "SENT"
    only_lille = key_body(key, EntityRequest={"entityIdentifier": "123456"})
    cancelled = await client.ok("cancelTransactionsNotValidated", only_lille)
    assert [t["receiptNumber"] for t in cancelled["TransactionResponse"]] == ["T5"]
    assert (await client.ok("verifyTransaction", body))["TransactionResponse"]["status"] == (
        "CANCELLED"
    )
    code = await client.code("validTransaction", key_body(key, ReceiptRequest=receipt("T5", 25)))
    assert code == C.TRANSACTION_CANCELLED
    # A cancelled receipt may be sent again.
    again = await client.ok("sendAndValidTransaction", body)
    assert again["TransactionResponse"]["status"] == "VALIDATED"
    assert await points(client, key) == (25, 1)
    everything = await client.ok("cancelTransactionsNotValidated", key_body(key))
    assert [t["receiptNumber"] for t in everything["TransactionResponse"]] == ["T6"]
    backend = client.sim.backend
    assert (backend.transactions_count("CANCELLED"), backend.transactions_count("VALIDATED")) == (
        2,
        1,
    )


async def test_refund_needs_a_validated_receipt(client: SimClient) -> None:
    key = await new_customer(client)
    body = key_body(key, ReceiptRequest=receipt("T7", 12))
    assert await client.code("refundTransaction", body) == C.TRANSACTION_NOT_FOUND
    await client.ok("sendTransaction", body)
    assert await client.code("refundTransaction", body) == C.TRANSACTION_NOT_VALIDATED
    await client.ok("cancelTransactionsNotValidated", key_body(key))
    assert await client.code("refundTransaction", body) == C.TRANSACTION_CANCELLED


async def test_get_last_transaction_by_store(client: SimClient) -> None:
    key = await new_customer(client)
    await client.ok("sendTransaction", key_body(key, ReceiptRequest=receipt("L1", 1)))
    await client.ok(
        "sendTransaction", key_body(key, ReceiptRequest=receipt("L2", 1, store="666666"))
    )
    last = await client.ok("getLastTransaction", key_body(key))
    assert last["TransactionResponse"]["receiptNumber"] == "L2"
    in_lille = key_body(key, EntityRequest={"entityIdentifier": "123456"})
    last_lille = await client.ok("getLastTransaction", in_lille)
    assert last_lille["TransactionResponse"]["receiptNumber"] == "L1"


async def test_points_and_offers_spent_on_a_receipt(client: SimClient) -> None:
    key = await new_customer(client)
    await client.ok("sendSimpleTransaction", key_body(key, ReceiptRequest=receipt("P1", 10)))
    too_much = receipt("P2", 10, AccountAdvantageRequest=[{"name": "point", "value": 11}])
    code = await client.code("sendAndValidTransaction", key_body(key, ReceiptRequest=too_much))
    assert code == C.NOT_ENOUGH_POINTS
    person = client.sim.backend.person_by_identifier(1, key["identifierValue"])
    assert person is not None
    (offer,) = person.offers
    below_minimum = receipt("P3", 20, AccountAdvantageRequest=[{"offerNumber": offer}])
    code = await client.code("sendAndValidTransaction", key_body(key, ReceiptRequest=below_minimum))
    assert code == C.OFFER_NOT_VALID
    unknown = receipt("P4", 40, AccountAdvantageRequest=[{"offerNumber": "2558000000000"}])
    code = await client.code("sendTransaction", key_body(key, ReceiptRequest=unknown))
    assert code == C.OFFER_NOT_FOUND
    spend = receipt(
        "P5",
        40,
        AccountAdvantageRequest=[{"offerNumber": offer}, {"name": "point", "value": 10}],
    )
    await client.ok("sendAndValidTransaction", key_body(key, ReceiptRequest=spend))
    assert await points(client, key) == (40, 2)
    assert person.offers[offer].used
    enabled = await client.ok("getEnableOffers", key_body(key))
    assert enabled["GetOffersResponses"] == []
    # A refund gives the offer and the points spent back, and takes the earned ones.
    await client.ok("refundTransaction", key_body(key, ReceiptRequest=spend))
    assert await points(client, key) == (10, 1)
    assert not person.offers[offer].used
    assert client.sim.backend.transactions_count() == 2  # refused receipts left no trace


async def test_a_failed_full_transaction_creates_nobody(client: SimClient) -> None:
    key = await new_customer(client)
    await client.ok("sendTransaction", key_body(key, ReceiptRequest=receipt("F1", 5)))
    body = {
        "IdentifierRequest": web_account("newcomer@example.fr"),
        "FullPersonRequest": {"PersonProfilRequest": {"PersonRequest": {"lastName": "NOUVEAU"}}},
        "ReceiptRequest": receipt("F1", 5),
    }
    assert await client.code("sendAndValidFullTransaction", body) == C.RECEIPT_ALREADY_RECORDED
    assert client.sim.backend.persons_count() == 1
    body["ReceiptRequest"] = receipt("F2", 5)
    await client.ok("sendAndValidFullTransaction", body)
    assert client.sim.backend.persons_count() == 2
    # Known person: the profile is updated, nobody is created.
    body["ReceiptRequest"] = receipt("F3", 5)
    body["FullPersonRequest"] = {"PersonProfilRequest": {"PersonRequest": {"firstName": "ANNE"}}}
    await client.ok("sendAndValidFullTransaction", body)
    person = client.sim.backend.person_by_identifier(10, "newcomer@example.fr")
    assert person is not None
    assert (person.first_name, person.last_name, person.points) == ("ANNE", "NOUVEAU", 10)
    assert client.sim.backend.persons_count() == 2


async def test_badges_follow_the_purchases(client: SimClient) -> None:
    key = await new_customer(client)
    for i in range(10):
        await client.ok("sendSimpleTransaction", key_body(key, ReceiptRequest=receipt(f"B{i}", 1)))
    answer = await client.ok("getBadge", key_body(key))
    assert [b["label"] for b in answer["BadgeResponse"]] == [
        "BIENVENUE",
        "PREMIER_ACHAT",
        "FIDELE_10_VISITES",
    ]


async def test_edit_offer_can_give_an_offer_back(client: SimClient) -> None:
    key = await new_customer(client)
    person = client.sim.backend.person_by_identifier(1, key["identifierValue"])
    assert person is not None
    (offer,) = person.offers
    await client.ok("editOffer", key_body(key, offerNumber=offer, used=True))
    answer = await client.ok("editOffer", key_body(key, offerNumber=offer, used=False))
    assert answer["GetOffersResponses"][0]["used"] is False
    assert await client.code("editOffer", key_body(key, offerNumber="1")) == C.OFFER_NOT_FOUND


async def test_get_full_person_matches_the_documented_shape(client: SimClient) -> None:
    key = await new_customer(client)
    await client.ok("sendSimpleTransaction", key_body(key, ReceiptRequest=receipt("G1", 17)))
    body = key_body(
        key, EntityRequest={"entityIdentifier": "123456"}, date="26/09/2025 12:00:00", filter=0
    )
    answer = await client.call("getFullPerson", body, enveloped=False)
    # As the vendor's example: no top-level envelope, only the accounts' one.
    assert "responseCode" not in answer and "infos" not in answer
    assert list(answer) == ["PersonResponse", "OffersResponse", "AccountsResponse"]
    person = answer["PersonResponse"]
    assert set(person) >= {
        "PersonResponse",
        "IdentifierResponse",
        "EntityResponse",
        "SubscriptionResponse",
        "ContactsResponse",
        "InfoPersonResponse",
    }
    assert person["SubscriptionResponse"][0]["id"] == "30"
    identifier = person["IdentifierResponse"][0]
    assert len(identifier["activationDate"]) == len("2025-09-24 11:20:00.000")
    accounts = answer["AccountsResponse"]
    assert (accounts["responseCode"], accounts["infos"]) == (OK, "2 account(s) found")
    assert {a["name"]: (a["value"], a["unit"]) for a in accounts["AccountResponse"]} == {
        "point": (17, "pts"),
        "visites": (1, "visites"),
    }
    assert "GetOffersResponses" in answer["OffersResponse"]


async def test_state_counts_follow_the_requests(client: SimClient) -> None:
    key = await new_customer(client)
    await client.ok("sendSimpleTransaction", key_body(key, ReceiptRequest=receipt("S1", 3)))
    await client.ok("sendTransaction", key_body(key, ReceiptRequest=receipt("S2", 3)))
    stats = client.sim.stats
    assert stats.received["createPersonAndIdentifier"] == 1
    assert stats.processed["sendTransaction"] == 1
    assert stats.codes[OK] == 3
    state = client.sim.backend.state()
    assert state["transactions"] == {"SENT": 1, "VALIDATED": 1, "CANCELLED": 0, "REFUNDED": 0}
    assert (state["persons"], state["identifiers"], state["pointsTotal"]) == (1, 2, 3)
    assert state["sharedIdentifiers"] == 0
