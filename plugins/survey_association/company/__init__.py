"""The company side: enterprise certification, certificate confirmation, learner management."""

from plugins.survey_association.company import batch, certificates, certify, learners, staff

# Literal paths ("/company/learners/new", "/company/learners/import") are listed before the
# "/company/learners/{entry_id}" routes; Litestar matches the literal segments first anyway.
ROUTES: list = [*certify.ROUTES, *staff.ROUTES, *certificates.ROUTES, *batch.ROUTES, *learners.ROUTES]
