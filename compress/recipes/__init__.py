"""Recipes: a whole study in one YAML file (``compress run RECIPE.yaml``), resumable.

Schema (:mod:`~compress.recipes.schema`), safe loading (:mod:`~compress.recipes.load`),
digest-keyed step folders shared between variants (:mod:`~compress.recipes.store`) and
the run itself (:mod:`~compress.recipes.run`).
"""
