"""The learner side: registration, personal profile that joins a roster, home page content."""

ROUTES: list = []
