"""Fetch the evaluation benchmarks a run config declares (``pool.decontam.benchmarks`` with a ``hub_id``) into
the data dir, where the pool stage reads them (``<data dir>/<path>``, usually ``benchmarks/<name>``).

    python scripts/fetch_benchmarks.py --config flows/configs/enwiki-full.yaml --data-dir var

Needs the network (the Hub); each dataset is saved with ``datasets``' ``save_to_disk``, which the pool's
loaders read without ``datasets``. Benchmarks without a ``hub_id`` are listed with the path to place them at.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from schemas.run_config import load_run_config

log = logging.getLogger("fetch_benchmarks")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, required=True)
    ap.add_argument("--data-dir", type=Path, default=Path("var"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_run_config(args.config)
    for declared in cfg.pool.decontam.benchmarks:
        bench = declared.in_data_dir(args.data_dir)
        if bench.path.exists():
            log.info("%s: already at %s", bench.name, bench.path)
        elif bench.hub_id is None:
            log.warning("%s: no hub_id; place the file at %s (columns: %s)", bench.name, bench.path,
                        bench.columns.model_dump())
        else:
            import datasets

            ds = datasets.load_dataset(bench.hub_id, bench.hub_config, split=bench.hub_split)
            bench.path.parent.mkdir(parents=True, exist_ok=True)
            ds.save_to_disk(str(bench.path))
            log.info("%s: %s rows from %s saved to %s", bench.name, len(ds), bench.hub_id, bench.path)


if __name__ == "__main__":
    main()
