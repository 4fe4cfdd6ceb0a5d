"""Face provider contract (placeholder; owned by the face work)."""

__all__: list[str] = []
