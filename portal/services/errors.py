"""The base of the services' refusals: a named exception that can say why it was raised."""

from __future__ import annotations

from typing import ClassVar

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


class DomainError(Exception):
    """A refused action; `message` says why in the current language.

    Subclasses set `text`; lazy, so it is translated when shown, not when the module loads.
    Those whose reason names values of their own override `message` instead.
    """

    text: ClassVar[LazyString] = _l("This action is not possible.")

    @property
    def message(self) -> str:
        """The translated refusal."""
        return str(self.text)
