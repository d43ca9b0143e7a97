"""The secret policy: which settings hold a secret, and how a secret is kept out of any text.

One table of names (``SECRET_NAME``) decides which Kafka client options and Spark confs are
secret, wherever they are written (a target's settings, ``kafka:``, ``spark.conf``). ``redact``
hides a secret *value* only where it stands as a whole token of the text: a one-character
password ``b`` hides the ``b`` of ``password="b"``, never the ``b`` of ``DoubleType``, and a
password ``kafka`` never the ``kafka`` of ``org.apache.kafka``. Replacing
substrings would both mangle other text and, by the gaps it leaves, show the password.
"""

from __future__ import annotations

import re
import typing as t

MASK = "****"

SECRET_NAME = re.compile(
    r"password|secret|jaas|token|credential|\.key$|apikey|api\.key", re.IGNORECASE
)
"""An option or conf whose name matches holds a secret (``kafka.sasl.jaas.config``, ...)."""

_REMOTE_TOKEN = re.compile(r";token=([^;]+)")
"""A Spark Connect URL may carry a bearer token: ``sc://host:443/;token=...``."""

_TOKEN_CHAR = r"""[^\s"'`()\[\]{}<>,;=]"""
"""A character inside a token: tokens are separated by spaces, quotes, brackets and ``,;=``, the
characters around a value in a message or an options map (``k -> v, ...``, ``password="v"``).
A dotted name (``org.apache.kafka``, ``e.g.``) is one token."""


def is_secret_name(name: str) -> bool:
    """Whether the option or conf ``name`` holds a secret, by its name alone."""
    return SECRET_NAME.search(name) is not None


def remote_secrets(remote: str) -> set[str]:
    """The secret values inside a Spark Connect URL (its tokens)."""
    return {m.group(1) for m in _REMOTE_TOKEN.finditer(remote)}


def _token(value: str) -> re.Pattern[str]:
    """``value`` where it is a whole token: no token character glued to either end."""
    before = f"(?<!{_TOKEN_CHAR})" if re.match(_TOKEN_CHAR, value[0]) else ""
    # A full stop that ends a sentence is not part of the token before it.
    after = rf"(?=\.?(?!{_TOKEN_CHAR}))" if re.match(_TOKEN_CHAR, value[-1]) else ""
    return re.compile(before + re.escape(value) + after)


def holds(text: str, value: str) -> bool:
    """Whether ``value`` stands in ``text`` as a whole token."""
    return bool(value) and _token(value).search(text) is not None


def redact(text: str, values: t.Iterable[str]) -> str:
    """``text`` with every whole-token occurrence of a secret value replaced by ``MASK``.

    The longest values go first, so that a JAAS config is hidden as a whole before the
    password inside it is looked for.
    """
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = _token(value).sub(MASK, text)
    return text
