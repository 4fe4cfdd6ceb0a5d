"""The face provider contract, and how a tenant's rules select providers.

Face plugins return provider objects from the ``face_providers()`` hook. A provider declares
what it can do in ``capabilities``; the tenant's rules name one provider for liveness and one
for matching (they may differ), so either can be swapped without code changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Protocol, runtime_checkable

from core.faces.quality import PortraitRules, assess_portrait, issue
from core.faces.values import (
    Action,
    Capability,
    CapabilityError,
    FaceBox,
    FaceError,
    FaceObservation,
    QualityCode,
    QualityIssue,
    QualityReport,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@runtime_checkable
class FaceProvider(Protocol):
    """What every face provider offers. Images are RGB ``uint8`` H×W×3 numpy arrays.

    Methods outside the provider's ``capabilities`` may raise ``NotImplementedError``.
    Providers must be cheap to construct (load models lazily, on first use) and safe to call
    from several threads (serialise access to models that are not).
    """

    name: str
    capabilities: frozenset[Capability]
    liveness_actions: frozenset[Action]  # actions observe() can measure (empty without LIVENESS)
    default_tolerance: float  # encoding distance at or below which two faces are one person

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in the image, largest first (DETECT)."""
        ...

    def observe(self, image: np.ndarray, *, thorough: bool = False) -> list[FaceObservation]:
        """Faces with landmarks-derived measures, largest first (LIVENESS / QUALITY).

        ``thorough`` asks for extra effort to find small or several faces (portraits, not
        per-frame liveness).
        """
        ...

    def check_portrait(self, image: np.ndarray, rules: PortraitRules | None = None) -> QualityReport:
        """The portrait gate (QUALITY); normally ``assess_portrait(image, observe(image, thorough=True))``."""
        ...

    def encode(self, image: np.ndarray, box: FaceBox | None = None) -> np.ndarray:
        """Identity vector of the one face in the image (ENCODE).

        Raises NoFaceError / MultipleFacesError unless exactly one face is found; with ``box``
        the caller has already located the face and detection is skipped.
        """
        ...

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """Distance between two encodings (ENCODE): smaller is more alike."""
        ...


class FaceProviderBase:
    """Optional base class giving the generic parts of the contract."""

    name: str = ""
    capabilities: frozenset[Capability] = frozenset()
    liveness_actions: frozenset[Action] = frozenset()
    default_tolerance: float = 0.0

    def detect(self, image: np.ndarray) -> list[FaceBox]:
        return [o.box for o in self.observe(image, thorough=True)]

    def observe(self, image: np.ndarray, *, thorough: bool = False) -> list[FaceObservation]:
        raise NotImplementedError(f"{self.name} cannot observe faces")

    def check_portrait(self, image: np.ndarray, rules: PortraitRules | None = None) -> QualityReport:
        return assess_portrait(image, self.observe(image, thorough=True), rules, provider=self.name)

    def encode(self, image: np.ndarray, box: FaceBox | None = None) -> np.ndarray:
        raise NotImplementedError(f"{self.name} cannot encode faces")

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        raise NotImplementedError(f"{self.name} cannot compare faces")

    def matches(self, a: np.ndarray, b: np.ndarray, tolerance: float | None = None) -> bool:
        tol = self.default_tolerance if tolerance is None else tolerance
        return self.distance(a, b) <= tol

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {sorted(self.capabilities)}>"



def select_provider(
    providers: Iterable[object], name: str, capability: Capability | None = None
) -> FaceProvider:
    """The provider called ``name`` (from every plugin's ``face_providers()`` lists).

    Raises :class:`CapabilityError` if none has that name or it lacks ``capability``.
    """
    flat: list[object] = []
    for p in providers:  # tolerate the raw hook result (a list of lists)
        flat.extend(p if isinstance(p, (list, tuple)) else [p])
    found = next((p for p in flat if getattr(p, "name", None) == name), None)
    if found is None:
        raise CapabilityError(f"no face provider named {name!r} is registered")
    if capability is not None and capability not in found.capabilities:
        raise CapabilityError(f"face provider {name!r} cannot {capability.value}")
    return found  # type: ignore[return-value]


def compare_with_id_photo(
    matcher: FaceProvider,
    portrait: np.ndarray,
    id_photo: np.ndarray,
    tolerance: float | None = None,
) -> tuple[QualityIssue | None, float | None]:
    """Compare a portrait with the photo on an ID card (for tenants that enable it).

    Returns ``(None, distance)`` when they match, else ``(issue, distance)``; ``distance`` is
    None when a face could not be encoded.
    """
    tol = matcher.default_tolerance if tolerance is None else tolerance
    try:
        a = matcher.encode(portrait)
    except FaceError:
        return issue(QualityCode.NO_FACE), None
    try:
        b = matcher.encode(id_photo)
    except FaceError:
        return issue(QualityCode.ID_UNREADABLE), None
    d = matcher.distance(a, b)
    return (None if d <= tol else issue(QualityCode.ID_MISMATCH, d)), d
