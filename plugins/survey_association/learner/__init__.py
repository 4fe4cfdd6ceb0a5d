"""The learner side: registration, personal profile that joins a roster, home page content.

Modules: ``register`` (mobile + SMS code), ``profile`` (个人档案 and joining a company roster),
``portrait`` (biometric consent and the portrait quality gate), ``files`` (authorised image
serving), ``home`` (home columns, news pages, QR entry, demo articles), ``staff`` (article
management for the association's staff).
"""

from plugins.survey_association.learner import files, home, profile, register, staff

ROUTES: list = [*register.ROUTES, *profile.ROUTES, *files.ROUTES, *home.ROUTES, *staff.ROUTES]
