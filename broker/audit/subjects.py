"""Keyed hashes of the persons a request is about ("who looked up this person").

Providers declare which request fields identify a person (registry
`subject_fields`, e.g. `by_name.full_name+by_name.date_of_birth`). The log stores
HMAC-SHA256(log secret, kind || values) so identifiers are never in clear, and
`g2g audit query --name/--dob/--document` computes the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from google.protobuf import message as pb_message

from broker.protocol.fieldmask import field_value

SEP = "\x1f"


def normalise(value: str) -> str:
    """Case, accents and spacing do not make a different person."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def subject_key(secret: bytes, kind: str, values: tuple[str, ...]) -> str:
    """The keyed hash for one subject; `kind` is the leaf field names joined by '+'."""
    text = SEP.join((kind, *(normalise(v) for v in values)))
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def kind_of(paths: tuple[str, ...]) -> str:
    return "+".join(p.rsplit(".", 1)[-1] for p in paths)


def subject_keys(secret: bytes, subject_fields: tuple[tuple[str, ...], ...],
                 request: pb_message.Message) -> tuple[str, ...]:
    """One key per declared field combination that is fully present in `request`."""
    out = []
    for paths in subject_fields:
        values = tuple(field_value(request, p) for p in paths)
        if all(values):
            out.append(subject_key(secret, kind_of(paths), values))  # type: ignore[arg-type]
    return tuple(out)


def name_dob_key(secret: bytes, full_name: str, date_of_birth: str) -> str:
    return subject_key(secret, "full_name+date_of_birth", (full_name, date_of_birth))


def document_key(secret: bytes, number: str) -> str:
    return subject_key(secret, "number", (number,))
