"""Table entries and preparations of the binary losses (see fastloss._registry)."""
import numpy as np

from .. import _checks as ck
from .. import _losses as L
from .._spec import LossSpec, Param
from ..reference import binary as ref

SPECS = ()
