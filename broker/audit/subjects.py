"""Keyed hashes of the persons a request is about ("who looked up this person").

Providers declare which request fields identify a person and what kind of
identifier they are (registry `subject_fields`, e.g. `{document: passport_number,
name_dob: full_name+date_of_birth}`). The log stores HMAC-SHA256(log secret,
kind || values) so identifiers are never in clear; because the kind, not the
field name, is hashed, `g2g audit query --document X` finds every service's
requests about document X.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from g2g_sdk.fieldmask import field_value
from g2g_sdk.registry import SubjectField
from google.protobuf import message as pb_message

SEP = "\x1f"


def normalise(value: str) -> str:
    """Case, accents and spacing do not make a different person."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def subject_key(secret: bytes, kind: str, values: tuple[str, ...]) -> str:
    """The keyed hash for one subject of a registry `SUBJECT_KINDS` kind."""
    text = SEP.join((kind, *(normalise(v) for v in values)))
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def subject_keys(secret: bytes, subject_fields: tuple[SubjectField, ...],
                 request: pb_message.Message) -> tuple[str, ...]:
    """One key per declared field combination that is fully present in `request`."""
    out = []
    for subject in subject_fields:
        values = tuple(field_value(request, p) or "" for p in subject.paths)
        if all(values):
            out.append(subject_key(secret, subject.kind, values))
    return tuple(out)


def name_dob_key(secret: bytes, full_name: str, date_of_birth: str) -> str:
    return subject_key(secret, "name_dob", (full_name, date_of_birth))


def document_key(secret: bytes, number: str) -> str:
    return subject_key(secret, "document", (number,))


def national_id_key(secret: bytes, number: str) -> str:
    return subject_key(secret, "national_id", (number,))


def query_key(secret: bytes, *, full_name: str = "", date_of_birth: str = "",
              document: str = "", national_id: str = "") -> str:
    """The key an auditor's "who looked up this person" asks for, or "" for no person.

    One identifier at a time: a document number, else a national id, else a
    name with its date of birth (the CLI and the Audit service both ask this way).
    """
    if document:
        return document_key(secret, document)
    if national_id:
        return national_id_key(secret, national_id)
    if full_name:
        return name_dob_key(secret, full_name, date_of_birth)
    return ""
