"""``python -m training.run --recipe R``: one entry point for both stages; the recipe's ``stage`` picks
``training.sft`` (PAPER.md §8.1) or ``training.grpo`` (§8.2). Exit code 0 on success, 1 on a recipe or shard
error (one message); other errors propagate with their traceback."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from training.config import RecipeError, load_recipe
from training.data import ShardError

log = logging.getLogger("training.run")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.run", description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", required=True, type=Path, help="training/recipes/*.yaml")
    ap.add_argument("--output-dir", type=Path, help="override train.output_dir")
    ap.add_argument("--export-dir", type=Path, help="override data.export_dir")
    ap.add_argument("--index-dir", type=Path, help="override env.index_dir (GRPO)")
    ap.add_argument("--max-steps", type=int, help="override train.max_steps")
    ap.add_argument("--model-path", type=Path, help="override model.path (e.g. the SFT run's final/)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    over: dict[str, object] = {k: str(v) if isinstance(v, Path) else v for k, v in {
        "train.output_dir": args.output_dir, "data.export_dir": args.export_dir, "env.index_dir": args.index_dir,
        "train.max_steps": args.max_steps, "model.path": args.model_path}.items() if v is not None}
    if args.model_path is not None:
        over["model.tiny"] = False
    try:
        recipe = load_recipe(args.recipe, **over)
        if recipe.stage == "sft":
            from training.sft import train
        else:
            from training.grpo import train
        train(recipe)
    except (RecipeError, ShardError) as err:
        log.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
