"""The package's front door: every public name resolves, and the tokenizer loads without torch."""
from __future__ import annotations

import subprocess
import sys

import minigpt


def test_every_public_name_resolves():
    for name in minigpt.__all__:
        assert getattr(minigpt, name) is not None, name
    assert "MiniGPT" in dir(minigpt)


def test_import_and_tokenizer_do_not_import_torch():
    """Start-up target: `import minigpt` + the tokenizer must not pay for torch (about 1.5 s)."""
    code = ("import sys, minigpt; minigpt.cl100k().encode('warm up'); minigpt.ModelConfig(); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_names_raise_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        minigpt.nope  # noqa: B018
