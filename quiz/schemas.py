"""The shapes of the quiz API's requests and answers (``quiz/api.py``), declared once: ninja
validates requests against them, checks answers against them and writes the OpenAPI document
at ``/api/v1/openapi.json`` from them."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, StrictStr
from pydantic.json_schema import SkipJsonSchema

from .models import Attempt
from .services import TEST_MIX, VERDICTS

Difficulty = Literal[tuple(TEST_MIX)]
Verdict = Literal[tuple(label for _, label in VERDICTS)]


def _whole_number(value: object) -> object:
    # 2.0 is an integer to JSON Schema, so to the API too; "2", true and 2.5 are not.
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Shape(BaseModel):
    # A field the API does not know is refused, not ignored; the document says so too. Plain
    # pydantic, not ninja's Schema: the views hand over dicts, and Schema's wrapper that reads
    # Django objects ran for every field of every answer (about 5 ms of a 10-question test).
    model_config = ConfigDict(extra="forbid")


# Requests


class StartRequest(Shape):
    """A lesson's practice, quiz or test; or a review (no lesson) of the questions due."""

    mode: Attempt.Mode
    lesson: StrictStr | None = Field(None, description="The lesson's slug; none for a review.")


class AnswerRequest(Shape):
    position: Annotated[StrictInt, BeforeValidator(_whole_number)] = Field(
        description="The question's number."
    )
    chosen: list[StrictStr] = Field(description='The option keys chosen, such as ["b"].')


class SubmitRequest(Shape):
    answers: dict[Annotated[str, Field(pattern=r"^[1-9][0-9]{0,8}$")], list[StrictStr]] = Field(
        description='Every question\'s answer, by its number: {"1": ["a"], "2": ["c", "d"]}.',
        # pydantic writes the key pattern as patternProperties, which lets other keys through.
        json_schema_extra={"additionalProperties": False},
    )


# Answers


class Error(Shape):
    error: str


class Option(Shape):
    key: str
    html: str


class Result(Shape):
    """Sent once the question is answered, or the attempt finished."""

    chosen: list[str]
    correct: bool
    credit: float = Field(ge=0, le=1)
    correct_keys: list[str]
    feedback: list[Option] = Field(
        description="Each option's feedback, in the order the options were shown."
    )
    difficulty: Difficulty
    solution_html: str
    quick_check_html: str
    mistakes_html: str


class Question(Shape):
    position: int = Field(ge=1)
    kind: Literal["single", "multiple"]
    partial_credit: bool
    title_html: str
    prompt_html: str
    options: list[Option] = Field(description="In this attempt's order (shuffled in a test).")
    answered: bool
    # Left out, not null, until the question is answered or the attempt finished.
    result: Result | SkipJsonSchema[None] = None


class BreakdownRow(Shape):
    difficulty: Difficulty
    asked: int = Field(ge=1)
    score: float = Field(ge=0)
    percent: int = Field(ge=0, le=100)


class AttemptSummary(Shape):
    id: int
    mode: Attempt.Mode
    lesson: str | None = Field(description="Null for a review.")
    created_at: datetime
    finished: bool
    finished_at: datetime | None
    max_score: int = Field(ge=0)
    score: float | None = Field(description="Set once finished.")
    percent: int | None = Field(ge=0, le=100)
    verdict: Verdict | None = Field(description="For a finished test only.")
    breakdown: list[BreakdownRow] | None = Field(description="Score by difficulty, once finished.")


class AttemptDetail(AttemptSummary):
    questions: list[Question]


class AnswerResult(Shape):
    attempt: AttemptSummary
    question: Question
