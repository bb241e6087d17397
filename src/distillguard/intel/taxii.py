"""Push bundles to a TAXII 2.1 collection and pull a collection's objects, page by page.

Thin wrappers over ``taxii2-client`` that turn every network or server failure into a
``UserError`` naming the URL and what to check.  Pulls page through the collection with
``limit``/``next`` (the server decides the largest page it serves) and return the objects as
one bundle, so a pulled collection is read exactly like a bundle file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import orjson

from distillguard.errors import UserError
from distillguard.intel.stix import stix_id

PASSWORD_ENV = "DISTILLGUARD_TAXII_PASSWORD"
DEFAULT_PAGE = 100


@dataclass(frozen=True)
class TaxiiTarget:
    """One collection of one API root, with the credentials to reach it."""

    collection_url: str
    user: str | None = None
    password: str | None = None

    @classmethod
    def of(cls, api_root: str, collection: str, user: str | None) -> TaxiiTarget:
        """The collection URL under ``api_root``; the password comes from the environment."""
        root = api_root if api_root.endswith("/") else api_root + "/"
        password = os.environ.get(PASSWORD_ENV) if user else None
        if user and password is None:
            raise UserError(f"--user {user} given but ${PASSWORD_ENV} is not set: export it")
        return cls(f"{root}collections/{collection}/", user, password)

    def collection(self) -> Any:
        from taxii2client.v21 import Collection

        try:
            return Collection(self.collection_url, user=self.user, password=self.password)
        except Exception as error:
            raise self._fail(error) from None

    def _fail(self, error: Exception) -> UserError:
        return UserError(
            f"TAXII collection {self.collection_url}: {type(error).__name__}: {error}; check the "
            "API root URL, the collection id, the credentials and that the server is running"
        )


@dataclass(frozen=True)
class PushOutcome:
    """The server's status for one push."""

    status: str
    success: int
    failures: int
    pending: int


def push_bundle(target: TaxiiTarget, bundle: dict[str, Any]) -> PushOutcome:
    """Add the bundle's objects to the collection and wait for the server's final status."""
    envelope = {"objects": bundle.get("objects", [])}
    collection = target.collection()
    try:
        if not collection.can_write:
            raise UserError(f"TAXII collection {target.collection_url} is not writable for you")
        status = collection.add_objects(orjson.dumps(envelope).decode(), timeout=60)
    except UserError:
        raise
    except Exception as error:
        raise target._fail(error) from None
    return PushOutcome(
        str(status.status),
        int(status.success_count or 0),
        int(status.failure_count or 0),
        int(status.pending_count or 0),
    )


def pull_objects(
    target: TaxiiTarget, *, per_request: int = DEFAULT_PAGE, added_after: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every object of the collection (filtered by ``added_after``) and the pages it took."""
    from taxii2client.v21 import as_pages

    collection = target.collection()
    filters: dict[str, Any] = {}
    if added_after:
        filters["added_after"] = added_after
    objects: list[dict[str, Any]] = []
    pages = 0
    try:
        if not collection.can_read:
            raise UserError(f"TAXII collection {target.collection_url} is not readable for you")
        for envelope in as_pages(collection.get_objects, per_request=per_request, **filters):
            pages += 1
            objects.extend(o for o in envelope.get("objects", []) if isinstance(o, dict))
    except UserError:
        raise
    except Exception as error:
        raise target._fail(error) from None
    return objects, pages


def as_bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Pulled objects as one STIX bundle (newest version of each id; stable order and id)."""
    newest: dict[str, dict[str, Any]] = {}
    for obj in objects:
        ident = str(obj.get("id"))
        if ident not in newest or str(obj.get("modified", "")) >= str(
            newest[ident].get("modified", "")
        ):
            newest[ident] = obj
    ordered = [newest[i] for i in sorted(newest)]
    return {"type": "bundle", "id": stix_id("bundle", *sorted(newest)), "objects": ordered}
