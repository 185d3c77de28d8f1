"""The catalogue's schema: one strict, immutable pydantic model per kind of YAML entry.

flows/catalog.py loads the YAML files into these models and checks what one model alone cannot
(cross-references, duplicate keys, line numbers for every problem). docs/catalog-schema.md
describes the same schema for the people who edit it.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


FIELD_TYPES = ("text", "mobile", "id_number", "credit_code", "date", "amount", "integer",
               "choice", "yes_no")
PREFILL_SOURCES = ("card.name", "card.id_number", "card.address", "card.birth_date", "card.sex",
                   "card.nation")
CATEGORIES = ("administrative_licence", "administrative_confirmation", "administrative_filing",
              "public_service", "administrative_payment")
CARD_TYPES = ("resident", "hmt_permit", "foreign_old", "foreign_2023")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


class Fee(Strict):
    amount_yuan: float = Field(ge=0)
    note: Text


class TimeLimit(Strict):
    statutory_days: int = Field(ge=0, le=365)
    promised_days: int = Field(ge=0, le=365)


class Identity(Strict):
    id_card: bool = True
    face: bool = True


class Rule(Strict):
    rule: Literal["card_not_expired", "card_types", "min_age", "max_age", "sex"]
    value: int | str | list[str] | None = None


class Choice(Strict):
    value: str
    zh: str
    en: str


class FormField(Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: Text
    type: Literal[FIELD_TYPES]  # type: ignore[valid-type]
    required: bool = True
    prefill: Literal[PREFILL_SOURCES] | None = None  # type: ignore[valid-type]
    choices: tuple[Choice, ...] = ()
    help: Text | None = None


class BundleAnswer(Strict):
    """A question of a member matter that the bundle answers itself, so it is not asked: a
    fixed `value` (出生一件事: 为谁参保 = 新生儿), or the answer to another question
    (`same_as`: 参保人姓名 is 宝宝姓名)."""
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    value: str | None = None
    same_as: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.value is None) == (self.same_as is None):
            raise ValueError("give exactly one of value and same_as")
        return self


class MaterialRef(Strict):
    material: str
    pages: int = Field(default=1, ge=1, le=50)
    required: bool = True
    missing_allowed: bool = False   # 容缺受理
    lookup: bool = False            # 免证办: an internal lookup may replace it


class Material(Strict):
    name: Text
    description: Text
    lookup_replaceable: bool = False


class Matter(Strict):
    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    kind: Literal["matter", "bundle"]
    name: Text
    tree: str
    stage: str
    theme: str
    event: str
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    authority: Text
    legal_basis: Text
    fee: Fee
    time_limit: TimeLimit
    place: Text
    phone: str = Field(min_length=3)
    summary: Text
    procedure: tuple[Text, ...] = Field(min_length=1)
    applicant: Literal["natural_person", "legal_person"]
    identity: Identity = Identity()
    eligibility: tuple[Rule, ...] = ()
    form: tuple[FormField, ...] = ()
    materials: tuple[MaterialRef, ...] = ()
    issues: tuple[str, ...] = ()      # materials.yaml codes of the documents this matter issues
    bundle_of: tuple[str, ...] = ()
    answers: tuple[BundleAnswer, ...] = ()     # bundles only: member questions not asked
    receipt: bool = True
    commitment: Text
    # True when the matter itself reveals sensitive personal information (PIPL art. 28:
    # health, social assistance, a criminal record, a child's data): the public progress page
    # never names it nor its materials (backoffice/progress_page.py)
    sensitive: bool = False

    @field_validator("bundle_of")
    @classmethod
    def _unique_members(cls, v):
        if len(set(v)) != len(v):
            raise ValueError("a bundle names each matter once")
        return v


class TreeNode(Strict):
    name: Text


class Event(Strict):
    name: Text


class Theme(Strict):
    name: Text
    events: dict[str, Event] = Field(min_length=1)


class Stage(Strict):
    name: Text
    themes: dict[str, Theme] = Field(min_length=1)


class Tree(Strict):
    name: Text
    stages: dict[str, Stage] = Field(min_length=1)
