"""What goes wrong with recipes: problems found when a recipe is validated, errors when a record is mapped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RecipeProblem:
    """One thing wrong with a recipe, e.g. ``RecipeProblem("fields.price.money.to", "must be ...")``."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path or '(recipe)'}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


class InvalidRecipeError(ValueError):
    """A recipe that failed validation; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: list[RecipeProblem]) -> None:
        super().__init__("invalid recipe: " + "; ".join(str(problem) for problem in problems))
        self.problems = problems


class RecipeError(ValueError):
    """A record that a valid recipe cannot map; ``path`` names the output field, e.g. ``fields.price``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or '(record)'}: {reason}")
        self.path = path
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


class CastError(ValueError):
    """A value that a cast, unit or money conversion refuses; the compiler adds the field path."""
