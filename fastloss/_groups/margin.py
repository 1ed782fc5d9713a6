"""Table entries and preparations of the margin losses (see fastloss._registry)."""
import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import margin as ref

SPECS = ()
