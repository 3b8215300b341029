"""The request and the response of each of WsOne's 29 operations.

createPerson, createIdentifier and getFullPerson are *documented*: they match the vendor's
examples key for key. The bodies of the other operations are not published; their shapes
are *inferred* from the vendor's schema names and documented workflows, each class says
so, and all their fields are optional.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from wsone_async.models._base import Model
from wsone_async.models._blocks import (
    AccountResponse,
    AccountsResponse,
    AssociatedIdentifierRequest,
    BadgeResponse,
    ContactsRequest,
    EntityRequest,
    EntityResponse,
    FormAnsweredRequest,
    FormAnsweredResponse,
    FullPersonRequest,
    IdentifierRequest,
    NewIdentifierRequest,
    NewIdentifierResponse,
    OfferResponse,
    OffersResponse,
    PersonProfilRequest,
    PersonProfilResponse,
    PersonRequest,
    ReceiptRequest,
    ResponseEnvelope,
    SubscriptionRequest,
    TransactionResponse,
)
from wsone_async.models._codes import IdentifierType

__all__ = [
    "AssociateIdentifierRequest",
    "AssociateIdentifierResponse",
    "AssociateNewIdentifierRequest",
    "AssociateNewIdentifierResponse",
    "CancelTransactionsNotValidatedRequest",
    "CancelTransactionsNotValidatedResponse",
    "CreateIdentifierRequest",
    "CreateIdentifierResponse",
    "CreatePersonAndIdentifierRequest",
    "CreatePersonAndIdentifierResponse",
    "CreatePersonRequest",
    "CreatePersonResponse",
    "EditOfferRequest",
    "EditOfferResponse",
    "GetAccountsRequest",
    "GetAccountsResponse",
    "GetAvailableOffersRequest",
    "GetAvailableOffersResponse",
    "GetBadgeRequest",
    "GetBadgeResponse",
    "GetEnableOffersRequest",
    "GetEnableOffersResponse",
    "GetEntitiesRequest",
    "GetEntitiesResponse",
    "GetEntityParentsRequest",
    "GetEntityParentsResponse",
    "GetFormRequest",
    "GetFormResponse",
    "GetFullPersonRequest",
    "GetFullPersonResponse",
    "GetLastTransactionRequest",
    "GetLastTransactionResponse",
    "GetPersonRequest",
    "GetPersonResponse",
    "RefundTransactionRequest",
    "RefundTransactionResponse",
    "ReplaceIdentifierRequest",
    "ReplaceIdentifierResponse",
    "SearchPersonLiteRequest",
    "SearchPersonLiteResponse",
    "SearchPersonRequest",
    "SearchPersonResponse",
    "SendAndValidFullTransactionRequest",
    "SendAndValidFullTransactionResponse",
    "SendAndValidTransactionRequest",
    "SendAndValidTransactionResponse",
    "SendSimpleTransactionRequest",
    "SendSimpleTransactionResponse",
    "SendTransactionRequest",
    "SendTransactionResponse",
    "UpdateFormRequest",
    "UpdateFormResponse",
    "UpdatePersonRequest",
    "UpdatePersonResponse",
    "ValidTransactionRequest",
    "ValidTransactionResponse",
    "VerifyTransactionRequest",
    "VerifyTransactionResponse",
]

# ------------------------------------------------------------------- WS Person: create


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CreatePersonAndIdentifierRequest(Model):
    """Create a customer and a loyalty card in one call (shape inferred from createPerson).

    Like createPerson, plus the type of the card WsOne generates (``new_identifier_type``).
    """

    new_identifier_request: NewIdentifierRequest | None = None
    """The identifier the customer comes with, such as a web account."""
    person_profil_request: PersonProfilRequest | None = None
    """The customer's profile."""
    subscription_request: Sequence[SubscriptionRequest] | None = None
    """Subscriptions to switch on or off."""
    source: str | None = None
    """Where the customer comes from, free text (``"API-DOG"`` in the vendor's example)."""
    new_identifier_type: IdentifierType | None = None
    """Type of the identifier to generate, such as ``IdentifierType.CARD``."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CreatePersonAndIdentifierResponse(ResponseEnvelope):
    """Answer to createPersonAndIdentifier (shape inferred from createPerson's)."""

    new_identifier_response: NewIdentifierResponse | None = None
    """The identifier WsOne generated."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CreatePersonRequest(Model):
    """Create a customer with a given identifier, without a loyalty card (documented).

    For a customer who signs up on the web site without asking for a card, or a prospect
    entering a contest. Search first (getPerson, searchPerson) to avoid duplicates.
    """

    new_identifier_request: NewIdentifierRequest | None = None
    """The customer's identifier (web account, UUID, ...)."""
    person_profil_request: PersonProfilRequest | None = None
    """The customer's profile."""
    subscription_request: Sequence[SubscriptionRequest] | None = None
    """Subscriptions to switch on or off."""
    source: str | None = None
    """Where the customer comes from, free text (``"API-DOG"`` in the vendor's example)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CreatePersonResponse(ResponseEnvelope):
    """Answer to createPerson (documented)."""

    new_identifier_response: NewIdentifierResponse | None = None
    """The new identifier (``null`` in the vendor's example)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CreateIdentifierRequest(Model):
    """Generate a dematerialised card for an existing customer (documented).

    For a customer with only a web account who joins the loyalty programme.
    """

    identifier_request: IdentifierRequest | None = None
    """The customer's existing identifier."""
    new_identifier_type: IdentifierType | None = None
    """Type of the identifier to generate (``IdentifierType.CARD`` in the vendor's example)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CreateIdentifierResponse(ResponseEnvelope):
    """Answer to createIdentifier (documented)."""

    new_identifier_response: NewIdentifierResponse | None = None
    """The new identifier (``null`` in the vendor's example)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AssociateNewIdentifierRequest(Model):
    """Add a new identifier, such as a web account, to a customer (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's existing identifier."""
    new_identifier_request: NewIdentifierRequest | None = None
    """The identifier to add."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AssociateNewIdentifierResponse(ResponseEnvelope):
    """Answer to associateNewIdentifier (shape inferred)."""

    new_identifier_response: NewIdentifierResponse | None = None
    """The identifier added."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AssociateIdentifierRequest(Model):
    """Attach an identifier that already exists, such as a pre-printed card (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's existing identifier."""
    associated_identifier_request: AssociatedIdentifierRequest | None = None
    """The identifier to attach."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AssociateIdentifierResponse(ResponseEnvelope):
    """Answer to associateIdentifier (shape inferred)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ReplaceIdentifierRequest(Model):
    """Replace an identifier, such as a lost card, by a new one (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The identifier to replace."""
    new_identifier_request: NewIdentifierRequest | None = None
    """The replacement; leave its value out to have WsOne generate one."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ReplaceIdentifierResponse(ResponseEnvelope):
    """Answer to replaceIdentifier (shape inferred)."""

    new_identifier_response: NewIdentifierResponse | None = None
    """The replacement identifier."""


# ------------------------------------------------------------- WS Person: read / search


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetPersonRequest(Model):
    """Find one customer by identifier (shape inferred from the workflows).

    With ``IdentifierType.WEB_ACCOUNT`` and an email, it checks whether a web account exists.
    """

    identifier_request: IdentifierRequest | None = None
    """The identifier to look up."""
    entity_request: EntityRequest | None = None
    """The store asking, when the platform scopes answers by store."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetPersonResponse(ResponseEnvelope):
    """Answer to getPerson (shape inferred from getFullPerson's ``PersonResponse``)."""

    person_response: PersonProfilResponse | None = None
    """The customer."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SearchPersonRequest(Model):
    """Search customers by personal data (shape inferred from the workflows).

    Criteria: last name, first name, title, birth date (``person_request``), email or
    phone (``contacts_request``). Several customers may match.
    """

    person_request: PersonRequest | None = None
    """Civil-data criteria."""
    contacts_request: ContactsRequest | None = None
    """Contact criteria (email, phone)."""
    entity_request: EntityRequest | None = None
    """The store asking."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SearchPersonResponse(ResponseEnvelope):
    """Answer to searchPerson (shape inferred)."""

    person_response: Sequence[PersonProfilResponse] | None = None
    """The matching customers."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SearchPersonLiteRequest(Model):
    """Search customers by personal data, lighter answer (shape inferred)."""

    person_request: PersonRequest | None = None
    """Civil-data criteria."""
    contacts_request: ContactsRequest | None = None
    """Contact criteria (email, phone)."""
    entity_request: EntityRequest | None = None
    """The store asking."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SearchPersonLiteResponse(ResponseEnvelope):
    """Answer to searchPersonLite: civil data and identifiers only (shape inferred)."""

    person_response: Sequence[PersonProfilResponse] | None = None
    """The matching customers."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetAccountsRequest(Model):
    """Get a customer's accounts (points, visits) (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    entity_request: EntityRequest | None = None
    """The store asking."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetAccountsResponse(ResponseEnvelope):
    """Answer to getAccounts (shape inferred from getFullPerson's ``AccountsResponse``)."""

    account_response: Sequence[AccountResponse] | None = None
    """The accounts."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetFullPersonRequest(Model):
    """Get a customer's data, balances and usable offers in one call (documented)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    entity_request: EntityRequest | None = None
    """The store asking."""
    date: dt.datetime | None = None
    """Reference date of the request (``dd/MM/yyyy HH:mm:ss`` on the wire)."""
    filter: int | None = None
    """Filter code (0 in the vendor's example; the code list is not documented)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetFullPersonResponse(ResponseEnvelope):
    """Answer to getFullPerson (documented; the vendor's example has no top-level envelope)."""

    person_response: PersonProfilResponse | None = None
    """The customer."""
    offers_response: OffersResponse | None = None
    """Usable offers."""
    accounts_response: AccountsResponse | None = None
    """Accounts, with their own envelope."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetBadgeRequest(Model):
    """Get a customer's badges (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetBadgeResponse(ResponseEnvelope):
    """Answer to getBadge (shape inferred)."""

    badge_response: Sequence[BadgeResponse] | None = None
    """The badges."""


# --------------------------------------------------------------- WS Person: update


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class UpdatePersonRequest(Model):
    """Update a customer found by identifier (shape inferred from the workflows)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    person_profil_request: PersonProfilRequest | None = None
    """The profile fields to change."""
    subscription_request: Sequence[SubscriptionRequest] | None = None
    """Subscriptions to switch on or off."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class UpdatePersonResponse(ResponseEnvelope):
    """Answer to updatePerson (shape inferred)."""


# ---------------------------------------------------------------- WS Person: offers


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetAvailableOffersRequest(Model):
    """Get the offers a customer can receive (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    entity_request: EntityRequest | None = None
    """The store asking."""
    date: dt.datetime | None = None
    """Reference date."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetAvailableOffersResponse(ResponseEnvelope):
    """Answer to getAvailableOffers (shape inferred from getFullPerson's ``OffersResponse``)."""

    get_offers_responses: Sequence[OfferResponse] | None = None
    """The offers."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetEnableOffersRequest(Model):
    """Get the offers a customer can use now (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    entity_request: EntityRequest | None = None
    """The store asking."""
    date: dt.datetime | None = None
    """Reference date."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetEnableOffersResponse(ResponseEnvelope):
    """Answer to getEnableOffers (shape inferred from getFullPerson's ``OffersResponse``)."""

    get_offers_responses: Sequence[OfferResponse] | None = None
    """The offers."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class EditOfferRequest(Model):
    """Mark a customer's offer used or unused (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    entity_request: EntityRequest | None = None
    """The store where the offer is used."""
    offer_number: str | None = None
    """The offer's number."""
    used: bool | None = None
    """True to mark it used, False to give it back."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class EditOfferResponse(ResponseEnvelope):
    """Answer to editOffer (shape inferred)."""

    get_offers_responses: Sequence[OfferResponse] | None = None
    """The offer as it is now."""


# ----------------------------------------------------------------- WS Person: forms


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetFormRequest(Model):
    """Get a form with a customer's answers (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    form_id: str | None = None
    """The form's id."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetFormResponse(ResponseEnvelope):
    """Answer to getForm (shape inferred)."""

    form_id: str | None = None
    """The form's id."""
    form_answered_response: Sequence[FormAnsweredResponse] | None = None
    """The form's questions with the customer's answers."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class UpdateFormRequest(Model):
    """Record a customer's answers to a form (shape inferred from ``FormAnsweredRequest``)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    form_id: str | None = None
    """The form's id."""
    form_answered_request: Sequence[FormAnsweredRequest] | None = None
    """The answers."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class UpdateFormResponse(ResponseEnvelope):
    """Answer to updateForm (shape inferred)."""


# ---------------------------------------------------------------- WS Person: stores


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetEntitiesRequest(Model):
    """List the stores (entities), or those under one entity (shape inferred)."""

    entity_request: EntityRequest | None = None
    """List only the entities under this one; leave out for all."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetEntitiesResponse(ResponseEnvelope):
    """Answer to getEntities (shape inferred)."""

    entity_response: Sequence[EntityResponse] | None = None
    """The entities."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetEntityParentsRequest(Model):
    """List the entities above one, up to the root of the network (shape inferred)."""

    entity_request: EntityRequest | None = None
    """The entity whose parents are wanted."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetEntityParentsResponse(ResponseEnvelope):
    """Answer to getEntityParents, nearest parent first (shape inferred)."""

    entity_response: Sequence[EntityResponse] | None = None
    """The parents."""


# -------------------------------------------------------------------- WS Transaction


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendTransactionRequest(Model):
    """Record a receipt for a customer, to validate later (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    receipt_request: ReceiptRequest | None = None
    """The receipt."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendTransactionResponse(ResponseEnvelope):
    """Answer to sendTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The recorded transaction, with its id."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ValidTransactionRequest(Model):
    """Validate a sent receipt, which credits its points (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    transaction_id: str | None = None
    """The id sendTransaction returned."""
    receipt_request: ReceiptRequest | None = None
    """Or the receipt's identity (store and number), instead of the id."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ValidTransactionResponse(ResponseEnvelope):
    """Answer to validTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The validated transaction."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendAndValidTransactionRequest(Model):
    """Record and validate a receipt in one call (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    receipt_request: ReceiptRequest | None = None
    """The receipt."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendAndValidTransactionResponse(ResponseEnvelope):
    """Answer to sendAndValidTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The validated transaction."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendAndValidFullTransactionRequest(Model):
    """Record and validate a receipt with the customer's profile (shape inferred).

    Inferred from the vendor's ``FullPersonRequest`` schema: the profile travels with the
    receipt, so a till can enrol or update a customer and credit the sale in one call.
    """

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    full_person_request: FullPersonRequest | None = None
    """The customer's profile to create or update."""
    receipt_request: ReceiptRequest | None = None
    """The receipt."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendAndValidFullTransactionResponse(ResponseEnvelope):
    """Answer to sendAndValidFullTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The validated transaction."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class VerifyTransactionRequest(Model):
    """Ask whether a receipt was recorded, by its store and number (shape inferred).

    This is how to settle an ambiguous failure of a transaction write before sending it again.
    """

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    receipt_request: ReceiptRequest | None = None
    """The receipt's identity: ``entity_request`` and ``receipt_number``."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class VerifyTransactionResponse(ResponseEnvelope):
    """Answer to verifyTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The recorded transaction, or None when WsOne has no such receipt."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CancelTransactionsNotValidatedRequest(Model):
    """Cancel a customer's receipts that were sent but never validated (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    entity_request: EntityRequest | None = None
    """Only the receipts of this store; leave out for all."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CancelTransactionsNotValidatedResponse(ResponseEnvelope):
    """Answer to cancelTransactionsNotValidated (shape inferred)."""

    transaction_response: Sequence[TransactionResponse] | None = None
    """The cancelled transactions."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendSimpleTransactionRequest(Model):
    """Record and validate a receipt given by its amount only, without lines (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    receipt_request: ReceiptRequest | None = None
    """The receipt: number, date, amount and store."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SendSimpleTransactionResponse(ResponseEnvelope):
    """Answer to sendSimpleTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The validated transaction."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class RefundTransactionRequest(Model):
    """Refund a validated receipt, which takes its points back (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    receipt_request: ReceiptRequest | None = None
    """The identity (store and number) of the receipt to refund."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class RefundTransactionResponse(ResponseEnvelope):
    """Answer to refundTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The refunded transaction."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetLastTransactionRequest(Model):
    """Get a customer's most recent transaction (shape inferred)."""

    identifier_request: IdentifierRequest | None = None
    """The customer's identifier."""
    entity_request: EntityRequest | None = None
    """Only in this store; leave out for any store."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class GetLastTransactionResponse(ResponseEnvelope):
    """Answer to getLastTransaction (shape inferred)."""

    transaction_response: TransactionResponse | None = None
    """The most recent transaction, or None when there is none."""
