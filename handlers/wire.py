"""The survey-response wire format (JSON API and CSV import), checked field by field."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, TypeAdapter, ValidationError, ValidationInfo, field_validator, with_config
from typing_extensions import TypedDict

from bot.domain.errors import Problem
from bot.domain.invitations import InvitationIn, InvitationStatus
from bot.domain.values import NO_PHONES, ContactIn, CustomerIn, CustomerKind, Phones, Survey, SurveyResponse, trusted

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
_LANGUAGE = re.compile(r"^[a-z]{2,3}([-_][a-z0-9]{2,8})?$")


def _language(v: str) -> str:
    if not _LANGUAGE.match(v):
        raise ValueError(f"{v!r} is not a language code like da, de or en")
    return v


# Lower-cased before it is checked, so "DE" from a spreadsheet is fine.
Lang = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True), AfterValidator(_language)]
Score = Annotated[StrictInt, Field(ge=1, le=5)]
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def _email(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    if not v:
        return None
    if len(v) > 320 or not _EMAIL.match(v):
        raise ValueError("is not an email address")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhonesWire(_Strict):
    home: Phone | None = None
    work: Phone | None = None
    mobile: Phone | None = None


_KINDS = {None: None, **{k.value: k for k in CustomerKind}}


class CustomerWire(_Strict):
    id: Id
    kind: Literal["person", "company"] | None = None
    name: Text | None = None
    email: str | None = None
    phones: PhonesWire | None = None
    language: Lang | None = None
    customer_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    salesperson_email: str | None = None
    # Customer card and contact preferences (seed 003)
    contact_name: Text | None = None
    advisor_email: str | None = None
    contact_methods: dict[Literal["email", "phone", "sms", "letter"], StrictBool] | None = None
    preferred_contact: Literal["email", "phone", "sms", "letter"] | None = None
    best_time: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None

    _emails = field_validator("email", "salesperson_email", "advisor_email")(_email)

    def to_domain(self) -> CustomerIn:
        # The model's fields are CustomerIn's, by name: taken at once, then the few that convert.
        v = self.__dict__
        phones, methods = v["phones"], v["contact_methods"]
        return trusted(
            CustomerIn,
            v,
            kind=_KINDS[v["kind"]],
            name=v["name"] or None,
            phones=trusted(Phones, home=phones.home or None, work=phones.work or None, mobile=phones.mobile or None)
            if phones is not None and (phones.home or phones.work or phones.mobile)
            else NO_PHONES,
            customer_number=v["customer_number"] or None,
            contact_name=v["contact_name"] or None,
            contact_methods=tuple(sorted(methods.items())) if methods else (),
            best_time=v["best_time"] or None,
        )


class ContactWire(_Strict):
    name: Text | None = None
    email: str | None = None
    phone: Phone | None = None

    _emails = field_validator("email")(_email)


@with_config(ConfigDict(extra="allow"))
class AnswersWire(TypedDict, total=False):
    """Free answers; the keys the rules read must be true or false (each wrong one is listed)."""

    contact_requested: StrictBool
    still_considering: StrictBool
    wants_contact: StrictBool


class ResponseWire(_Strict):
    id: Id
    survey: Survey
    dealer_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    submitted_at: AwareDatetime
    purchase_date: date | None = None
    service_date: date | None = None
    segment: Literal[1, 2, 3] | None = None
    customer: CustomerWire
    contact: ContactWire | None = None
    anonymous: StrictBool = False
    nps: Annotated[StrictInt, Field(ge=0, le=10)] | None = None
    scores: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], Score] = Field(default_factory=dict)
    comment: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    publish_consent: StrictBool = False
    answers: AnswersWire = Field(default_factory=lambda: AnswersWire())
    test_drive_requested_at: AwareDatetime | None = None
    test_drive_source: Text | None = None
    purchased_at: AwareDatetime | None = None
    ordered_at: AwareDatetime | None = None
    invitation_id: Id | None = None  # the invitation answered: it is marked submitted

    # Field validators rather than one model check, so these are listed alongside other wrong fields.
    @field_validator("segment")
    @classmethod
    def _segment_for_service(cls, v: int | None, info: ValidationInfo) -> int | None:
        survey = info.data.get("survey")  # absent when the survey itself is wrong: reported there
        if v is not None and survey is not None and survey is not Survey.SERVICE:
            raise ValueError("only service responses have a car segment")
        return v

    def to_domain(self) -> SurveyResponse:
        # The model's fields are SurveyResponse's, by name, but for dealer_id (dealer) and the
        # customer and contact, which convert. Its dicts (scores, answers) are handed on as they
        # are: the model is dropped once converted.
        v = self.__dict__
        c = v["contact"]
        r = trusted(
            SurveyResponse,
            v,
            customer=v["customer"].to_domain(),
            contact=trusted(ContactIn, name=c.name, email=c.email, phone=c.phone) if c is not None else None,
        )
        r.__dict__["dealer"] = r.__dict__.pop("dealer_id")
        return r


def _status_word(v: Any) -> Any:
    # "Not sent", "not-sent" and "NOT_SENT" from a spreadsheet all mean not_sent.
    return v.strip().lower().replace(" ", "_").replace("-", "_") if isinstance(v, str) else v


class InvitationWire(_Strict):
    """One survey invitation and its status (seed 000), as the survey platform reports it."""

    id: Id
    survey: Survey
    dealer_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    customer: CustomerWire
    status: Annotated[InvitationStatus, BeforeValidator(_status_word)] = InvitationStatus.NOT_SENT
    status_at: AwareDatetime | None = Field(None, description="When it reached `status`; default: when cxbot receives it.")
    sent_at: AwareDatetime | None = Field(None, description="When the message went out, if known and the status is past sent.")
    questionnaire: Text | None = None
    language: Lang | None = Field(None, description="The survey's language; default: the customer's.")
    purchase_date: date | None = Field(None, description="The purchase date (sales, lost sales).")
    service_date: date | None = Field(None, description="The service date (service); stored as the invitation's date.")

    @field_validator("sent_at")
    @classmethod
    def _sent_needs_status(cls, v: Any, info: ValidationInfo) -> Any:
        if v is not None and info.data.get("status") is InvitationStatus.NOT_SENT:
            raise ValueError("an invitation that is not sent has no sent time")
        return v

    @field_validator("service_date")
    @classmethod
    def _one_date(cls, v: date | None, info: ValidationInfo) -> date | None:
        if v is not None and info.data.get("purchase_date") is not None:
            raise ValueError("give purchase_date or service_date, not both")
        return v

    def to_domain(self) -> InvitationIn:
        customer = self.customer.to_domain()
        return InvitationIn(
            id=self.id,
            survey=self.survey,
            dealer=self.dealer_id,
            customer=customer,
            status=self.status,
            status_at=self.status_at,
            sent_at=self.sent_at,
            questionnaire=self.questionnaire or None,
            language=self.language or customer.language,
            purchase_date=self.purchase_date or self.service_date,
        )


_ONE = TypeAdapter(ResponseWire)
_INVITATION = TypeAdapter(InvitationWire)


def problems_of(err: ValidationError, index: int | None, noun: str = "response") -> list[Problem]:
    """Pydantic's errors as one Problem per wrong field, named by its dotted path."""
    out = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"])
        msg = str(e["msg"])
        if e["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
            if ": " in msg and not loc:  # model-level checks name their field first
                loc, msg = msg.split(": ", 1)
        elif e["type"] == "missing":
            msg = "is required"
        elif e["type"] == "bool_type":
            msg = "must be true or false"
        elif e["type"] == "extra_forbidden":
            msg = f"is not a field of {'an' if noun[0] in 'aeiou' else 'a'} {noun}"
        elif e["type"] == "timezone_aware":
            msg = "needs a UTC offset, e.g. 2026-10-01T09:30:00+02:00"
        elif e["type"].startswith("datetime"):
            msg = "must be an ISO 8601 time with a UTC offset, e.g. 2026-10-01T09:30:00+02:00"
        elif e["type"].startswith("date"):
            msg = "must be a date like 2026-10-01"
        out.append(Problem(loc or "body", msg, index))
    return out


def _nul_fields(v: Any, path: str, out: list[str]) -> list[str]:
    """Dotted paths of the strings (and the objects whose keys) holding a NUL character."""
    if isinstance(v, str):
        if "\x00" in v:
            out.append(path or "body")
    elif isinstance(v, dict):
        if any("\x00" in k for k in v if isinstance(k, str)):
            out.append(path or "body")
        for k, x in v.items():
            _nul_fields(x, f"{path}.{k}" if path else str(k), out)
    elif isinstance(v, list):
        for n, x in enumerate(v):
            _nul_fields(x, f"{path}.{n}" if path else str(n), out)
    return out


def parse_responses(items: list[Any], *, check_nul: bool = True) -> tuple[list[SurveyResponse], list[Problem]]:
    """Check every item; returns the converted responses and every problem found (by index).
    NUL characters are refused (PostgreSQL cannot store them); `check_nul=False` skips that walk
    when the caller knows there are none (no `\\u0000` in the JSON body)."""
    return _parse(items, _ONE, "response", check_nul)


def parse_invitations(items: list[Any], *, check_nul: bool = True) -> tuple[list[InvitationIn], list[Problem]]:
    """As parse_responses, for invitations."""
    return _parse(items, _INVITATION, "invitation", check_nul)


def _parse(items: list[Any], adapter: TypeAdapter[Any], noun: str, check_nul: bool) -> tuple[list[Any], list[Problem]]:
    good: list[Any] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem("body", f"each {noun} must be a JSON object", i))
            continue
        nul = _nul_fields(item, "", []) if check_nul else []
        try:
            value = adapter.validate_python(item).to_domain()
        except ValidationError as e:
            found = problems_of(e, i, noun)
            problems += found
            named = {p.field for p in found}
            problems += [Problem(f, "must not contain the NUL character (\\u0000)", i) for f in nul if f not in named]
            continue
        if nul:
            problems += [Problem(f, "must not contain the NUL character (\\u0000)", i) for f in nul]
        else:
            good.append(value)
    return good, problems


def response_schema() -> dict[str, Any]:
    """JSON Schema of one response, for the OpenAPI document."""
    return ResponseWire.model_json_schema(ref_template="#/components/schemas/{model}")
