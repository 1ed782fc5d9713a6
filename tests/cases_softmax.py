"""Test cases of the softmax losses (see cases.py for what each name holds)."""
import itertools

import numpy as np

import fastloss as fl
from badinput import on_backend

CASES = {}
SMALL = {}
LARGE = {}
BAD = []
