"""The nested blocks of WsOne bodies, named after the key they travel under.

Blocks marked *documented* match the vendor's examples key for key (createPerson,
createIdentifier, getFullPerson); the others are *inferred* from the vendor's schema names
and workflows, and every field of an inferred block is optional. Whatever a response holds
that a block does not model is kept in its ``wire_extra``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs

from wsone_async.models import _checks
from wsone_async.models._base import ConsentFlag, Model, Timestamp, checked, meta, personal
from wsone_async.models._codes import IdentifierType, Title

__all__ = [
    "AccountAdvantageRequest",
    "AccountResponse",
    "AccountsResponse",
    "AddressRequest",
    "AddressResponse",
    "AssociatedIdentifierRequest",
    "BadgeResponse",
    "CellPhoneRequest",
    "CellPhoneResponse",
    "ContactsRequest",
    "ContactsResponse",
    "DetailsRequest",
    "EmailRequest",
    "EmailResponse",
    "EntityRequest",
    "EntityResponse",
    "FormAnsweredRequest",
    "FormAnsweredResponse",
    "FullPersonRequest",
    "IdentifierRequest",
    "IdentifierResponse",
    "InfoPersonResponse",
    "NewIdentifierRequest",
    "NewIdentifierResponse",
    "OfferResponse",
    "OffersResponse",
    "PersonProfilRequest",
    "PersonProfilResponse",
    "PersonRequest",
    "PersonResponse",
    "ReceiptRequest",
    "ResponseEnvelope",
    "SegmentationResponse",
    "SubscriptionRequest",
    "SubscriptionResponse",
    "TransactionResponse",
]


# --------------------------------------------------------------------------- requests


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class IdentifierRequest(Model):
    """The key of a customer: an identifier type and value (documented).

    Most operations find the customer by this pair: get it first (getPerson, searchPerson).
    """

    identifier_type: IdentifierType = attrs.field()
    """Kind of identifier: ``IdentifierType.CARD`` or ``IdentifierType.WEB_ACCOUNT``."""
    identifier_value: str = attrs.field(metadata=meta(personal=True, check=_checks.not_blank))
    """The identifier itself: a card number, or an email for a web account."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class NewIdentifierRequest(Model):
    """An identifier to create for a customer (documented in createPerson).

    Leaving ``identifier_value`` out asks WsOne to generate one, as for a new
    dematerialised card (inferred from createIdentifier, which generates the card).
    """

    identifier_type: IdentifierType = attrs.field()
    """Kind of identifier to create."""
    identifier_value: str | None = personal(check=_checks.not_blank)
    """The identifier's value, such as a web account's email or a pre-printed card number."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AssociatedIdentifierRequest(Model):
    """An identifier that already exists, to attach to a customer (inferred)."""

    identifier_type: IdentifierType | None = None
    """Kind of the existing identifier."""
    identifier_value: str | None = personal(check=_checks.not_blank)
    """Value of the existing identifier, such as a pre-printed card's number."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class EntityRequest(Model):
    """A store or other entity of the retailer's network (documented)."""

    entity_identifier: str = attrs.field(metadata=meta(check=_checks.not_blank))
    """The entity's identifier, such as ``"123456"``."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class PersonRequest(Model):
    """A person's civil data (documented in createPerson)."""

    birth_date: dt.date | None = personal(check=_checks.birth_date)
    """Date of birth (``dd/MM/yyyy`` on the wire)."""
    first_name: str | None = personal()
    """First name."""
    last_name: str | None = personal()
    """Last name."""
    title: Title | None = None
    """Civility code (see :class:`Title`)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AddressRequest(Model):
    """A postal address with its consents (documented in createPerson)."""

    allow_company_solicitation: ConsentFlag | None = None
    """Consent to mail from the retailer itself (0/1 on the wire)."""
    allow_trusted_solicitation: ConsentFlag | None = None
    """Consent to mail from the retailer's trusted partners (0/1 on the wire)."""
    address1: str | None = personal()
    """First address line (the vendor's example puts a complement here)."""
    address2: str | None = personal()
    """Second address line."""
    address3_num: int | None = personal()
    """Street number."""
    address3_type: int | None = None
    """Street type code (such as 5 in the vendor's example; the code list is not documented)."""
    address3_name: str | None = personal()
    """Street name."""
    address4: str | None = personal()
    """Fourth address line."""
    zip_code: str | None = personal()
    """Postal code, as text (``"59000"``)."""
    city: str | None = personal()
    """City."""
    country: str | None = None
    """Country, as WsOne spells it (``"FRANCE"`` in the vendor's example)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class EmailRequest(Model):
    """An email address with its consents (documented in createPerson)."""

    allow_company_solicitation: ConsentFlag | None = None
    """Consent to emails from the retailer itself (0/1 on the wire)."""
    allow_trusted_solicitation: ConsentFlag | None = None
    """Consent to emails from the retailer's trusted partners (0/1 on the wire)."""
    email_value: str | None = personal(check=_checks.email)
    """The email address."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CellPhoneRequest(Model):
    """A mobile phone with its consents (documented in createPerson)."""

    allow_company_solicitation: ConsentFlag | None = None
    """Consent to text messages from the retailer itself (0/1 on the wire)."""
    allow_trusted_solicitation: ConsentFlag | None = None
    """Consent to text messages from the retailer's trusted partners (0/1 on the wire)."""
    model: str | None = None
    """Phone model, such as ``"S24"``."""
    brand: str | None = None
    """Phone brand, such as ``"Samsung"``."""
    dialing_code: str | None = checked(_checks.dialing_code)
    """Country dialing code without ``+``, such as ``"33"``."""
    number: str | None = personal(check=_checks.phone_number)
    """The phone number, such as ``"0612345678"``."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ContactsRequest(Model):
    """A person's contacts (documented; the vendor's schema name is ``ContactRequest``)."""

    address_request: AddressRequest | None = None
    """Postal address (the vendor's schema name is ``AdressRequest``)."""
    email_request: EmailRequest | None = None
    """Email address."""
    cell_phone_request: CellPhoneRequest | None = None
    """Mobile phone."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class PersonProfilRequest(Model):
    """A person's profile: civil data, contacts and home store (documented)."""

    contacts_request: ContactsRequest | None = None
    """Contacts and consents."""
    entity_request: EntityRequest | None = None
    """The person's home store."""
    person_request: PersonRequest | None = None
    """Civil data."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SubscriptionRequest(Model):
    """A subscription to switch on or off (documented in createPerson)."""

    id: int = attrs.field()
    """Subscription id, such as ``30`` (labelled ``"WALLET"`` in the vendor's examples)."""
    activate: bool | None = None
    """True to subscribe, False to unsubscribe."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class FullPersonRequest(Model):
    """A person's profile and subscriptions sent along with a transaction (inferred)."""

    new_identifier_request: NewIdentifierRequest | None = None
    """The identifier to create, when the person does not exist yet."""
    person_profil_request: PersonProfilRequest | None = None
    """Profile to create or update."""
    subscription_request: Sequence[SubscriptionRequest] | None = None
    """Subscriptions to switch on or off."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class FormAnsweredRequest(Model):
    """One answer to a form's question (inferred)."""

    question_id: str | None = None
    """The question's id."""
    answer: str | None = personal()
    """The answer, as text (treated as personal data: it is the customer's own words)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AccountAdvantageRequest(Model):
    """An advantage spent on a receipt: points of an account, or an offer (inferred)."""

    name: str | None = None
    """Account the value is taken from, such as ``"point"``."""
    value: int | float | None = checked(_checks.not_negative)
    """Amount taken from the account."""
    offer_number: str | None = None
    """Number of the offer used, as in :class:`OfferResponse`."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class DetailsRequest(Model):
    """One line of a receipt (inferred)."""

    line_number: int | None = None
    """Position of the line on the receipt."""
    product_code: str | None = None
    """Product code, such as an EAN."""
    label: str | None = None
    """Product label."""
    quantity: int | float | None = None
    """Quantity sold (negative for a returned item)."""
    unit_price: float | None = None
    """Unit price, taxes included."""
    amount: float | None = None
    """Line amount, taxes included."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ReceiptRequest(Model):
    """A receipt (a "transaction"), identified by its store and number (inferred).

    The pair ``entity_request`` + ``receipt_number`` identifies a receipt: verifyTransaction
    uses it to tell whether a receipt was recorded.
    """

    receipt_number: str | None = checked(_checks.not_blank)
    """The receipt's number, unique within its store."""
    receipt_date: dt.datetime | None = None
    """When the sale happened (``dd/MM/yyyy HH:mm:ss`` on the wire)."""
    amount: float | None = None
    """Total amount, taxes included."""
    entity_request: EntityRequest | None = None
    """The store where the sale happened."""
    details_request: Sequence[DetailsRequest] | None = None
    """The receipt's lines."""
    account_advantage_request: Sequence[AccountAdvantageRequest] | None = None
    """Advantages spent on this receipt."""


# -------------------------------------------------------------------------- responses


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ResponseEnvelope(Model):
    """The envelope of a WsOne answer: a ``responseCode`` (``"000"`` is success) and a text.

    Top-level answers carry it (but the vendor's getFullPerson example has none), and so
    do some nested blocks, such as :class:`AccountsResponse`.
    """

    response_code: str | None = None
    """``"000"`` on success; any other code is a functional failure."""
    infos: str | None = personal()
    """The vendor's text about the outcome, such as ``"Request successfully processed"``;
    redacted in reprs and logs, since it may quote a customer's data."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class NewIdentifierResponse(Model):
    """The identifier WsOne created (inferred: the vendor's examples only show ``null``)."""

    identifier_type: IdentifierType | None = None
    """Kind of the new identifier."""
    identifier_value: str | None = personal()
    """Value of the new identifier, such as a generated card number."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class PersonResponse(Model):
    """A person's civil data (documented in getFullPerson)."""

    groupe_id: str | None = None
    """WsOne's internal id of the person, such as ``"1559379"``."""
    first_name: str | None = personal()
    """First name."""
    last_name: str | None = personal()
    """Last name."""
    birth_date: dt.date | None = personal()
    """Date of birth."""
    title: Title | None = None
    """Civility code."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class IdentifierResponse(Model):
    """One identifier of a person (documented in getFullPerson)."""

    activation_date: Timestamp | None = None
    """When the identifier was activated (``yyyy-MM-dd HH:mm:ss.SSS`` on the wire)."""
    identifier_value: str | None = personal()
    """The identifier itself."""
    identifier_type: IdentifierType | None = None
    """Kind of identifier."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class EntityResponse(Model):
    """A store or other entity (documented: ``entityIdentifier``; the rest inferred)."""

    entity_identifier: str | None = None
    """The entity's identifier."""
    label: str | None = None
    """The entity's name (inferred)."""
    parent_entity_identifier: str | None = None
    """The identifier of the entity above it in the network (inferred)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SubscriptionResponse(Model):
    """A person's subscription (documented in getFullPerson)."""

    id: str | None = None
    """Subscription id, as text (``"30"``)."""
    label: str | None = None
    """Subscription label, such as ``"WALLET"``."""
    activate: bool | None = None
    """Whether the person is subscribed."""
    updated_at: str | None = None
    """Last change; kept as WsOne's text because its format is not documented."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class EmailResponse(Model):
    """A person's email and consents (documented in getFullPerson)."""

    status: int | None = None
    """Status code of the address (1 in the vendor's example; the list is not documented)."""
    email_value: str | None = personal()
    """The email address."""
    allow_company_solicitation: ConsentFlag | None = None
    """Consent to emails from the retailer itself."""
    allow_trusted_solicitation: ConsentFlag | None = None
    """Consent to emails from the retailer's trusted partners."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class CellPhoneResponse(Model):
    """A person's mobile phone and consents (inferred from ``CellPhoneRequest``)."""

    status: int | None = None
    """Status code of the number (inferred, as for emails)."""
    dialing_code: str | None = None
    """Country dialing code."""
    number: str | None = personal()
    """The phone number."""
    model: str | None = None
    """Phone model."""
    brand: str | None = None
    """Phone brand."""
    allow_company_solicitation: ConsentFlag | None = None
    """Consent to text messages from the retailer itself."""
    allow_trusted_solicitation: ConsentFlag | None = None
    """Consent to text messages from the retailer's trusted partners."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AddressResponse(Model):
    """A person's postal address and consents (inferred from ``AddressRequest``)."""

    status: int | None = None
    """Status code of the address (inferred, as for emails)."""
    address1: str | None = personal()
    """First address line."""
    address2: str | None = personal()
    """Second address line."""
    address3_num: int | None = personal()
    """Street number."""
    address3_type: int | None = None
    """Street type code."""
    address3_name: str | None = personal()
    """Street name."""
    address4: str | None = personal()
    """Fourth address line."""
    zip_code: str | None = personal()
    """Postal code."""
    city: str | None = personal()
    """City."""
    country: str | None = None
    """Country."""
    allow_company_solicitation: ConsentFlag | None = None
    """Consent to mail from the retailer itself."""
    allow_trusted_solicitation: ConsentFlag | None = None
    """Consent to mail from the retailer's trusted partners."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class ContactsResponse(Model):
    """A person's contacts (documented key; the vendor's schema is ``ContactsReponse``)."""

    email_response: EmailResponse | None = None
    """Email and its consents."""
    cell_phone_response: CellPhoneResponse | None = None
    """Mobile phone and its consents (inferred)."""
    address_response: AddressResponse | None = None
    """Postal address and its consents (inferred)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class InfoPersonResponse(Model):
    """Extra information about a person (schema listed by the vendor, shape unknown).

    The vendor's only example is an empty list, so this block models no field: everything
    it holds is in ``wire_extra``.
    """


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class SegmentationResponse(Model):
    """A segment the person belongs to (schema listed by the vendor; fields inferred)."""

    id: str | None = None
    """Segment id."""
    label: str | None = None
    """Segment label."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class PersonProfilResponse(Model):
    """Everything about a person (documented in getFullPerson).

    It travels under the key ``PersonResponse``, like the civil-data block nested inside it;
    it is named after its request twin, :class:`PersonProfilRequest`, to tell them apart.
    """

    person_response: PersonResponse | None = None
    """Civil data."""
    identifier_response: Sequence[IdentifierResponse] | None = None
    """The person's identifiers (cards, web account)."""
    entity_response: EntityResponse | None = None
    """The person's home store."""
    subscription_response: Sequence[SubscriptionResponse] | None = None
    """Subscriptions."""
    contacts_response: ContactsResponse | None = None
    """Contacts and consents."""
    info_person_response: Sequence[InfoPersonResponse] | None = None
    """Extra information (shape unknown)."""
    segmentation_response: Sequence[SegmentationResponse] | None = None
    """Segments (inferred: schema listed by the vendor, absent from its example)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class OfferResponse(Model):
    """An offer of a person (documented in getFullPerson; vendor's schema ``OfferReponse``)."""

    used: bool | None = None
    """Whether the offer was used."""
    start_date: dt.datetime | None = None
    """First day of validity."""
    classifications: Sequence[Any] | None = None
    """Classifications, kept as raw JSON (the vendor's example list is empty)."""
    offer_number: str | None = None
    """The offer's number, as printed or scanned, such as ``"2558001057274"``."""
    immediate_use: int | None = None
    """Immediate-use code (0 in the vendor's example; meaning not documented)."""
    offer_id: str | None = None
    """The offer's id."""
    channel_id: str | None = None
    """Id of the channel that sent the offer."""
    end_date: dt.datetime | None = None
    """Last moment of validity."""
    send_date: dt.datetime | None = None
    """When the offer was sent."""
    global_min_price: float | None = None
    """Minimum receipt amount for the offer to apply."""
    offer_name: str | None = None
    """The offer's technical name."""
    offer_description: str | None = None
    """The offer's description for the customer."""
    offer_discount_type: int | None = None
    """Discount type code (1 in the vendor's example; meaning not documented)."""
    offer_discount_value: float | None = None
    """Discount value, such as 5.0."""
    trigger_offer: int | None = None
    """Trigger code (0 in the vendor's example; meaning not documented)."""
    obj_application: str | None = None
    """What the offer applies to, such as ``"ARTICLE"``."""
    type_restriction_offer: int | None = None
    """Restriction type code (0 in the vendor's example; meaning not documented)."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class OffersResponse(Model):
    """A person's offers (documented in getFullPerson)."""

    get_offers_responses: Sequence[OfferResponse] | None = None
    """The offers."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AccountResponse(Model):
    """One account of a person, such as points or visits (documented in getFullPerson)."""

    name: str | None = None
    """Account name, such as ``"point"`` or ``"visites"``."""
    value: int | float | None = None
    """Balance."""
    unit: str | None = None
    """Unit, such as ``"pts"``."""
    entity_response: EntityResponse | None = None
    """The entity that holds the account."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class AccountsResponse(ResponseEnvelope):
    """A person's accounts, with their own envelope (documented in getFullPerson)."""

    account_response: Sequence[AccountResponse] | None = None
    """The accounts."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class BadgeResponse(Model):
    """A badge of a person (inferred: getBadge's answer is not documented)."""

    id: str | None = None
    """Badge id."""
    label: str | None = None
    """Badge label."""
    activation_date: Timestamp | None = None
    """When the person got the badge."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class FormAnsweredResponse(Model):
    """A question of a form with the person's answer (inferred)."""

    question_id: str | None = None
    """The question's id."""
    label: str | None = None
    """The question's text."""
    answer: str | None = personal()
    """The person's answer, if any."""


@attrs.frozen(kw_only=True, slots=False, repr=False, eq=False)
class TransactionResponse(Model):
    """A receipt as WsOne recorded it (inferred: transaction answers are not documented)."""

    transaction_id: str | None = None
    """WsOne's id of the transaction."""
    status: str | None = None
    """Lifecycle state, such as ``"SENT"``, ``"VALIDATED"``, ``"CANCELLED"``, ``"REFUNDED"``."""
    receipt_number: str | None = None
    """The receipt's number."""
    receipt_date: dt.datetime | None = None
    """When the sale happened."""
    amount: float | None = None
    """Total amount."""
    points: int | float | None = None
    """Points the receipt earned (or, for a refund, took back)."""
    entity_response: EntityResponse | None = None
    """The store of the receipt."""
    account_response: Sequence[AccountResponse] | None = None
    """The person's balances after this transaction."""
