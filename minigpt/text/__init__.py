"""Every string a user can see, in every language, behind one lookup: `t("<namespace>.<key>", lang, **values)`.

The catalogues are data: `<code>.toml` beside this file, one table per namespace (`[sidebar]`, `[stage]`,
`[train]`, `[error]`...). Adding a language is adding a file (English is the reference every other file must
match key for key and placeholder for placeholder; tests/test_text.py checks it). We chose plain per-language
TOML over gettext catalogues: keys stay stable when the English wording changes (gettext keys on the English
sentence), long explanations stay readable in one file, there is no compile step (.po → .mo) for a hosted
demo to run, and Python reads it with the standard library (tomllib). Translators edit one file of
`key = "value"` lines.
"""
from __future__ import annotations

import functools
import string
import tomllib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
REFERENCE = "en"


@functools.cache
def _catalogue(lang: str) -> dict[str, str]:
    with open(_HERE / f"{lang}.toml", "rb") as f:
        data = tomllib.load(f)
    return {f"{ns}.{key}": value for ns, table in data.items() for key, value in table.items()}


def languages() -> tuple[str, ...]:
    """The language codes with a catalogue, English first."""
    found = sorted(p.stem for p in _HERE.glob("*.toml"))
    return (REFERENCE, *[code for code in found if code != REFERENCE])


LANGUAGES = languages()


def t(key: str, lang: str = REFERENCE, /, **values) -> str:
    """The text of key ("namespace.key") in lang, with {placeholders} filled from values.

    An unknown key raises KeyError (a test fails, no raw key reaches the screen). A language without the key
    falls back to English, which the catalogue tests forbid for the shipped languages."""
    try:
        text = _catalogue(lang if lang in LANGUAGES else REFERENCE)[key]
    except KeyError:
        text = _catalogue(REFERENCE)[key]  # raises for a key no catalogue has
    return text.format(**values) if values else text


def keys(lang: str = REFERENCE) -> set[str]:
    return set(_catalogue(lang))


def placeholders(text: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(text) if name}


class TextError(Exception):
    """An error whose message a user reads: a catalogue key and its values, shown in the user's language.

    str(exc) is the English message (logs, the CLI); `exc.text(lang)` is the one a page shows."""

    def __init__(self, key: str, /, **values):
        self.key, self.values = key, values
        super().__init__(t(key, REFERENCE, **self._values(REFERENCE)))

    def _values(self, lang: str) -> dict:
        # A value may itself be an error (a reason inside a sentence): render it in the same language.
        return {k: v.text(lang) if isinstance(v, TextError) else v for k, v in self.values.items()}

    def text(self, lang: str = REFERENCE) -> str:
        return t(self.key, lang, **self._values(lang))

    def __reduce__(self):  # pickle/copy rebuild from the key, not from the English sentence in args
        return _rebuild, (type(self), self.key, self.values)


def _rebuild(cls, key: str, values: dict) -> TextError:
    return cls(key, **values)


def message(exc: BaseException, lang: str = REFERENCE) -> str:
    """What to show for an exception: its catalogue text in lang when it has one, else its own message."""
    return exc.text(lang) if isinstance(exc, TextError) else str(exc)
