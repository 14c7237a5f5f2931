"""Imports every model module so ``metadata`` knows all tables (Alembic and tests use it)."""

from app.alerts import models as _alert_models  # noqa: F401
from app.billing import models as _billing_models  # noqa: F401
from app.connections import models as _connection_models  # noqa: F401
from app.database.base import Base
from app.delivery import models as _delivery_models  # noqa: F401
from app.flows import models as _flow_models  # noqa: F401
from app.ingress import models as _ingress_models  # noqa: F401
from app.inventory import models as _inventory_models  # noqa: F401
from app.invoicing import models as _invoicing_models  # noqa: F401
from app.items import models as _item_models  # noqa: F401
from app.mail import models as _mail_models  # noqa: F401
from app.metering import models as _metering_models  # noqa: F401
from app.orders import models as _order_models  # noqa: F401
from app.outbox import models as _outbox_models  # noqa: F401
from app.plans import models as _plan_models  # noqa: F401
from app.prices import models as _price_models  # noqa: F401
from app.promotions import models as _promotion_models  # noqa: F401
from app.recipes import models as _recipe_models  # noqa: F401
from app.tenant_data import models as _tenant_data_models  # noqa: F401
from tenants import api_keys as _api_keys  # noqa: F401
from tenants import audit as _audit  # noqa: F401
from tenants import models as _tenant_models  # noqa: F401

metadata = Base.metadata
