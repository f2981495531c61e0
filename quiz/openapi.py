"""The OpenAPI 3.1 description of the quiz API (``quiz/api.py``), served at
``/api/v1/openapi.json``. Request schemas are what the views accept, no more: a body that does
not fit is answered 400."""

from .services import TEST_MIX, VERDICTS

MODES = ["practice", "quiz", "test", "review"]
ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _responses(success: str, schema: dict, description: str, *, post: bool) -> dict:
    responses = {success: _json(schema, description)}
    if post:
        responses["400"] = _json(
            ERROR,
            "The body is not JSON of the right shape, or the answer cannot be taken "
            "(finished attempt, unknown question or option, missing answers...). Nothing was "
            "changed; `error` says what to do instead.",
        )
    responses["401"] = _json(ERROR, "No valid token and no session with a learner.")
    if post:
        responses["403"] = _json(ERROR, "A session request without a valid CSRF token.")
    responses["404"] = _json(ERROR, "No such lesson, or no such attempt of yours.")
    return responses


ATTEMPT_ID = {
    "name": "attempt_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}

OPTION = {
    "type": "object",
    "required": ["key", "html"],
    "properties": {"key": {"type": "string"}, "html": {"type": "string"}},
    "additionalProperties": False,
}

RESULT = {
    "type": "object",
    "description": "Sent once the question is answered, or the attempt finished.",
    "required": [
        "chosen",
        "correct",
        "credit",
        "correct_keys",
        "feedback",
        "difficulty",
        "solution_html",
        "quick_check_html",
        "mistakes_html",
    ],
    "properties": {
        "chosen": {"type": "array", "items": {"type": "string"}},
        "correct": {"type": "boolean"},
        "credit": {"type": "number", "minimum": 0, "maximum": 1},
        "correct_keys": {"type": "array", "items": {"type": "string"}},
        "feedback": {
            "type": "array",
            "description": "Each option's feedback, in the order the options were shown.",
            "items": _ref("Option"),
        },
        "difficulty": {"enum": list(TEST_MIX)},
        "solution_html": {"type": "string"},
        "quick_check_html": {"type": "string"},
        "mistakes_html": {"type": "string"},
    },
    "additionalProperties": False,
}

QUESTION = {
    "type": "object",
    "required": [
        "position",
        "kind",
        "partial_credit",
        "title_html",
        "prompt_html",
        "options",
        "answered",
    ],
    "properties": {
        "position": {"type": "integer", "minimum": 1},
        "kind": {"enum": ["single", "multiple"]},
        "partial_credit": {"type": "boolean"},
        "title_html": {"type": "string"},
        "prompt_html": {"type": "string"},
        "options": {
            "type": "array",
            "description": "In this attempt's order (shuffled in a test).",
            "items": _ref("Option"),
        },
        "answered": {"type": "boolean"},
        "result": _ref("Result"),
    },
    "additionalProperties": False,
}

BREAKDOWN_ROW = {
    "type": "object",
    "required": ["difficulty", "asked", "score", "percent"],
    "properties": {
        "difficulty": {"enum": list(TEST_MIX)},
        "asked": {"type": "integer", "minimum": 1},
        "score": {"type": "number", "minimum": 0},
        "percent": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "additionalProperties": False,
}

ATTEMPT_FIELDS = {
    "id": {"type": "integer"},
    "mode": {"enum": MODES},
    "lesson": {"type": ["string", "null"], "description": "Null for a review."},
    "created_at": {"type": "string", "format": "date-time"},
    "finished": {"type": "boolean"},
    "finished_at": {"type": ["string", "null"], "format": "date-time"},
    "max_score": {"type": "integer", "minimum": 0},
    "score": {"type": ["number", "null"], "description": "Set once finished."},
    "percent": {"type": ["integer", "null"], "minimum": 0, "maximum": 100},
    "verdict": {
        "enum": [label for _, label in VERDICTS] + [None],
        "description": "For a finished test only.",
    },
    "breakdown": {
        "type": ["array", "null"],
        "description": "Score by difficulty, once finished.",
        "items": _ref("BreakdownRow"),
    },
}

ATTEMPT_SUMMARY = {
    "type": "object",
    "required": list(ATTEMPT_FIELDS),
    "properties": ATTEMPT_FIELDS,
    "additionalProperties": False,
}

ATTEMPT = {
    "type": "object",
    "required": [*ATTEMPT_FIELDS, "questions"],
    "properties": {
        **ATTEMPT_FIELDS,
        "questions": {"type": "array", "items": _ref("Question")},
    },
    "additionalProperties": False,
}

LESSON_SLUG = {"type": "string", "pattern": "^[-a-zA-Z0-9_]{1,50}$"}

START_REQUEST = {
    "oneOf": [
        {
            "type": "object",
            "required": ["mode", "lesson"],
            "properties": {"mode": {"enum": ["practice", "quiz", "test"]}, "lesson": LESSON_SLUG},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "description": "A review of the questions due, across the course.",
            "required": ["mode"],
            "properties": {"mode": {"const": "review"}},
            "additionalProperties": False,
        },
    ]
}

ANSWER_REQUEST = {
    "type": "object",
    "required": ["position", "chosen"],
    "properties": {
        "position": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "chosen": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "additionalProperties": False,
}

SUBMIT_REQUEST = {
    "type": "object",
    "required": ["answers"],
    "properties": {
        "answers": {
            "type": "object",
            "description": (
                'Every question\'s answer, by its number: {"1": ["a"], "2": ["c", "d"]}.'
            ),
            "propertyNames": {"pattern": "^[1-9][0-9]{0,8}$"},
            "additionalProperties": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
            },
        }
    },
    "additionalProperties": False,
}


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "learnsite quiz API",
        "version": "1.0.0",
        "description": (
            "Start an attempt, answer, submit and read the graded result. Right options, "
            "feedback and solutions are sent only after the question is answered (practice, "
            "review) or the attempt is finished (quiz, test). Answers are recorded once: "
            "sending the same answer again returns the stored result with 200."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}, {"sessionAuth": []}],
    "paths": {
        "/attempts": {
            "post": {
                "operationId": "attempt_create",
                "summary": "Start an attempt at a lesson's practice, quiz or test, or a review.",
                "requestBody": _body(_ref("StartRequest")),
                "responses": _responses(
                    "201", _ref("Attempt"), "The new attempt, with nothing revealed.", post=True
                ),
            }
        },
        "/attempts/{attempt_id}": {
            "get": {
                "operationId": "attempt_detail",
                "summary": "The attempt, and the graded result of what is answered.",
                "parameters": [ATTEMPT_ID],
                "responses": _responses("200", _ref("Attempt"), "The attempt.", post=False),
            }
        },
        "/attempts/{attempt_id}/answers": {
            "post": {
                "operationId": "attempt_answer",
                "summary": "Practice and review: answer one question, graded at once.",
                "parameters": [ATTEMPT_ID],
                "requestBody": _body(_ref("AnswerRequest")),
                "responses": _responses(
                    "200",
                    _ref("AnswerResult"),
                    "The graded answer (the stored one, for a repeat).",
                    post=True,
                ),
            }
        },
        "/attempts/{attempt_id}/submit": {
            "post": {
                "operationId": "attempt_submit",
                "summary": "Quiz and test: every answer at once; the attempt is graded.",
                "parameters": [ATTEMPT_ID],
                "requestBody": _body(_ref("SubmitRequest")),
                "responses": _responses(
                    "200",
                    _ref("Attempt"),
                    "The graded attempt (the stored one, for a repeat).",
                    post=True,
                ),
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This description.",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI description.")},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "A token from `python manage.py api_token <username>`: 90 days, and until "
                    "the user's password changes. No CSRF token is needed with it."
                ),
            },
            "sessionAuth": {
                "type": "apiKey",
                "in": "cookie",
                "name": "sessionid",
                "description": (
                    "The site's session, once it has a learner (it has used the site) or a "
                    "signed-in user. POSTs need Django's CSRF token (X-CSRFToken header)."
                ),
            },
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
                "additionalProperties": False,
            },
            "Option": OPTION,
            "Result": RESULT,
            "Question": QUESTION,
            "BreakdownRow": BREAKDOWN_ROW,
            "AttemptSummary": ATTEMPT_SUMMARY,
            "Attempt": ATTEMPT,
            "AnswerResult": {
                "type": "object",
                "required": ["attempt", "question"],
                "properties": {"attempt": _ref("AttemptSummary"), "question": _ref("Question")},
                "additionalProperties": False,
            },
            "StartRequest": START_REQUEST,
            "AnswerRequest": ANSWER_REQUEST,
            "SubmitRequest": SUBMIT_REQUEST,
        },
    },
}
