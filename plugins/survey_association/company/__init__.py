"""The company side: enterprise certification, certificate confirmation, learner management."""

ROUTES: list = []
