"""The company side: enterprise certification, certificate confirmation, learner management."""

from litestar import Router
from litestar.di import Provide

from core import roles
from plugins.survey_association.company import batch, certificates, certify, learners, staff
from plugins.survey_association.company.common import approved_company, provide_enterprise
from plugins.survey_association.roles import COMPANY_ADMIN

# The enterprise administrator's pages share one precondition, checked by the router's guards:
# an approved company, given to handlers as ``enterprise``. Literal paths ("/company/learners/new",
# "/company/learners/import") win over the "/company/learners/{entry_id}" routes: Litestar matches literal segments first.
COMPANY = Router(path="/", guards=[roles(COMPANY_ADMIN), approved_company],
                 dependencies={"enterprise": Provide(provide_enterprise, sync_to_thread=False)},
                 route_handlers=[*certificates.ROUTES, *batch.ROUTES, *learners.ROUTES])

ROUTES: list = [*certify.ROUTES, *staff.ROUTES, COMPANY]
