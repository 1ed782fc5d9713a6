"""Table entries and preparations of the regression losses (see fastloss._registry)."""
import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import regression as ref

SPECS = ()
