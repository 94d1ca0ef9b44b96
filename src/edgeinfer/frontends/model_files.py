"""Reading scikit-learn model files: ``.skops`` safely, pickles only when trusted.

A pickle (``.joblib``/``.pkl``) runs arbitrary code while it loads, so a model file from
somewhere else could take over the machine; edgeinfer refuses it unless the caller says
it trusts the file. ``.skops`` files are loaded with skops' allow-list of types, which
covers every estimator the frontend converts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeinfer.errors import ModelFileError


def load_skops(path: str | Path) -> Any:
    """Load a ``.skops`` file, trusting only types from scikit-learn and numpy.

    >>> # est = load_skops("model.skops")
    """
    p = Path(path)
    try:
        import skops.io as sio
    except ImportError as e:  # pragma: no cover - skops is a core dependency
        raise ModelFileError("reading .skops files needs the 'skops' package (pip install skops)") from e
    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as e:
        raise ModelFileError(f"{p.name} is not a readable .skops file ({type(e).__name__}: {e}); "
                             "re-save the model with skops.io.dump") from None
    refused = [t for t in untrusted if t.split(".")[0] not in ("sklearn", "numpy", "scipy", "builtins")]
    if refused:
        raise ModelFileError(f"{p.name} holds types edgeinfer does not load from a file: {', '.join(refused)}; "
                             "only scikit-learn estimators are supported")
    try:
        return sio.load(p, trusted=untrusted)
    except Exception as e:
        raise ModelFileError(f"{p.name} could not be loaded ({type(e).__name__}: {e}); "
                             "it may be corrupt or written by an incompatible scikit-learn/skops") from None


def load_pickle(path: str | Path, trust: bool = False) -> Any:
    """Load a ``.joblib``/``.pkl`` file, but only when ``trust`` is true.

    >>> # est = load_pickle("model.joblib", trust=True)
    """
    p = Path(path)
    if not trust:
        raise ModelFileError(
            f"{p.name} is a pickle: loading it runs code stored in the file, so edgeinfer refuses it by default. "
            "If you made the file yourself, pass trust_pickle=True (CLI: --trust-pickle), "
            "or better re-save it as .skops (skops.io.dump(model, 'model.skops')).")
    try:
        import joblib

        return joblib.load(p)
    except Exception as e:
        raise ModelFileError(f"{p.name} could not be unpickled ({type(e).__name__}: {e}); "
                             "the file may be corrupt or from an incompatible library version") from None
