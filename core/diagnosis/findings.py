"""The diagnosis record: one hypothesis about why cfg and weights disagree."""

from __future__ import annotations

from dataclasses import dataclass, field

CAUSES = ("truncated", "trailing_bytes", "classes", "cfg_diverges", "header", "other_model")


@dataclass
class Finding:
    """One cause, as `inspect --json` lists it under "diagnosis" (DESIGN.md).

    `layer` is the first layer where cfg and weights disagree (None when none does);
    `verified` is True when the fix, applied in memory, makes the weights match exactly.
    `evidence` lists what was measured; `fixed_cfg` is the cfg text with the fix applied
    (for "Save fixed cfg as..."), when the fix is a cfg edit; `supersedes` names the
    layers whose cfg errors this finding explains (their messages give way to it).
    """

    cause: str
    layer: int | None
    line: int | None
    message: str
    fix: str | None
    verified: bool
    evidence: list[str] = field(default_factory=list)
    score: float = 0.0
    fixed_cfg: str | None = None
    supersedes: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {"cause": self.cause, "layer": self.layer, "line": self.line,
                "message": self.message, "fix": self.fix, "verified": self.verified}

    def __str__(self) -> str:
        where = f"layer {self.layer}, line {self.line}: " if self.layer is not None else ""
        mark = "verified" if self.verified else "not verified"
        text = f"{self.cause} ({mark}): {where}{self.message}"
        for item in self.evidence:
            text += f"\n    evidence: {item}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


def ranked(findings: list[Finding]) -> list[Finding]:
    """Most likely first: verified before unverified, then by score."""
    return sorted(findings, key=lambda f: (not f.verified, -f.score))
