"""The model names one simulator serves, each judging with its own noise.

`--models "family-b:noise=1.0:shared=0.8,family-c"` adds models next to the default one. A
model's `noise` is the half-width of the error one reviewer adds to each proposal's assessed
quality when ranking it (independent per request); `shared` is the standard deviation of an
error every agent of that model makes alike on a given proposal (a family's blind spot, the
same for any prompt that shows that proposal). Distinct families have independent blind spots,
which is what a heterogeneous council buys.
"""

from __future__ import annotations

import hashlib
import random

from pydantic import BaseModel, Field

DEFAULT_NOISE = 0.4


class ModelProfile(BaseModel, frozen=True):
    name: str = Field(min_length=1)
    noise: float = Field(default=DEFAULT_NOISE, ge=0)
    shared: float = Field(default=0.0, ge=0)

    def blind_spot(self, proposal: str) -> float:
        """This model's error on this proposal: deterministic, so every agent of it agrees."""
        digest = hashlib.sha256(f"{self.name}\x00{proposal.strip()}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big")).gauss(0, self.shared) if self.shared else 0.0


def parse_models(spec: str, default: str) -> dict[str, ModelProfile]:
    """'name[:noise=x][:shared=y],...' -> profiles by name, the default model first."""
    models = {default: ModelProfile(name=default)}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, *options = item.split(":")
        fields: dict[str, object] = {"name": name.strip()}
        for option in options:
            key, _, value = option.partition("=")
            if key.strip() not in ("noise", "shared") or not value:
                raise ValueError(f"model {name!r}: unknown option {option!r} (use noise=X, shared=Y)")
            fields[key.strip()] = float(value)
        profile = ModelProfile.model_validate(fields)
        models[profile.name] = profile
    return models
