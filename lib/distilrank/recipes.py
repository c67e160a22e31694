"""A student's training recipe: the `distill` settings a recipe may change (input length,
title pseudo-query groups, schedule, passes), its short name, and the recipe notebook 04 chose on
dev (`students/recipe.json`), which the notebooks that train more students (08) read.
"""

from __future__ import annotations

import json
from pathlib import Path

RECIPE_FILE = "recipe.json"


def recipe_params(params, recipe) -> object:
    """The `distill` section with what `recipe` (a `config.Recipe`, or its dict) sets."""
    values = recipe if isinstance(recipe, dict) else recipe.model_dump()
    return params.model_copy(update={k: v for k, v in values.items() if v is not None})


RECIPE_KEYS = ("max_len", "pseudo_groups", "schedule", "epochs")  # what a recipe may set (`config.Recipe`)


def recipe_name(params) -> str:
    """A recipe's short name: input length, pseudo-query groups, schedule and passes."""
    return f"len{params.max_len}-pseudo{params.pseudo_groups}-{params.schedule}-x{params.epochs}"


def chosen_params(params, out: Path) -> object:
    """The `distill` section with the recipe notebook 04 chose on dev (`students/recipe.json`)."""
    path = Path(out) / "students" / RECIPE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no chosen recipe at {path}: run notebook 04")
    chosen = json.loads(path.read_text())
    return params.model_copy(update={k: chosen[k] for k in RECIPE_KEYS if k in chosen})
