"""Small public-domain texts shipped inside the package (no download)."""

from __future__ import annotations

from importlib import resources

# name -> file next to this module
CORPORA = {
    # William Shakespeare, Sonnets I-XL (1609), public domain.
    "sonnets": "sonnets.txt",
}


def text_corpus(name: str = "sonnets") -> str:
    """The text of a bundled public-domain corpus, as one string.

    Args:
        name: one of ``CORPORA`` (``"sonnets"``: Shakespeare's sonnets I-XL, about 25 KB).

    Raises:
        ValueError: unknown name (the message lists the available ones).
    """
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; available: {sorted(CORPORA)}")
    return resources.files(__package__).joinpath(CORPORA[name]).read_text(encoding="utf-8")
