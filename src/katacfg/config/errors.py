"""Problems as values: reference refusals (KataError) and diagnostics (Diagnostic)."""
from __future__ import annotations

from katacfg.config.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from katacfg.config.model import AnnotationOutcome

# Stages of the pipeline, in order (CONTRACT.md section 3).
STAGES = ("load", "container_type", "annotations", "assets", "hypervisor")


class Diagnostic(Record):
    """One finding about a configuration or a pod: where, how bad, and what to do."""

    severity: str  # "error" | "warning" | "note"
    code: str  # stable identifier, e.g. "KC101"
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    key: str | None = None
    hint: str | None = None

    def location(self) -> str:
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def render(self) -> str:
        where = self.location()
        head = f"{where}: " if where else ""
        key = f" [{self.key}]" if self.key else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{head}{self.severity}: {self.message}{key}{hint}"


class KataError(Exception):
    """A refusal. `text` is the reference runtime's exact wording; the rest is ours.

    `stage` is where the reference refuses (load, container_type, annotations, assets,
    hypervisor); file/line/key/hint help a user find the cause and never replace `text`.
    """

    def __init__(
        self,
        text: str,
        stage: str = "load",
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        key: str | None = None,
        hint: str | None = None,
        code: str = "KC001",
        host: bool = False,
        outcomes: tuple[AnnotationOutcome, ...] = (),
    ) -> None:
        super().__init__(text)
        self.text = text
        self.stage = stage
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.hint = hint
        self.code = code
        self.host = host  # caused by this host (a missing file or device), not by the file
        self.outcomes = outcomes  # resolve: each annotation's outcome, so far

    def with_location(self, **kw: object) -> KataError:
        """A copy carrying extra facts (location, outcomes), never changing the text."""
        fields: dict[str, object] = dict(
            stage=self.stage, file=self.file, line=self.line, column=self.column,
            key=self.key, hint=self.hint, code=self.code, host=self.host,
            outcomes=self.outcomes,
        )
        fields.update({k: v for k, v in kw.items() if v is not None})
        return type(self)(self.text, **fields)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"error": self.text, "stage": self.stage}
        for name in ("file", "line", "column", "key", "hint"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    def as_diagnostic(self) -> Diagnostic:
        return Diagnostic("error", self.code, self.text, self.file, self.line,
                          self.column, self.key, self.hint)

    def one_line(self) -> str:
        """The human line: location, the reference's exact text, then our hint."""
        where = ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)
        head = f"{where}: " if where else ""
        notes = [f"key {self.key}"] if self.key else []
        if self.file and self.text.startswith(f"{self.file}: "):
            # Kata's text already names the file: say the line after it, not the path twice
            pos = ":".join(str(p) for p in (self.line, self.column) if p is not None)
            head = ""
            notes[:0] = [f"line {pos}"] if pos else []
        extra = f" ({', '.join(notes)})" if notes else ""
        hint = f"; hint: {self.hint}" if self.hint else ""
        return f"katacfg: {head}{self.text}{extra}{hint}"
