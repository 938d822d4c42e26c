"""Tab adapters, in the order the app shows them. The contract every adapter follows: demos/adapter.py.

A tab is listed here only when its model really works (trained weights shipped, tests green).
"""
from demos import couplet, lexicon

TABS = [lexicon, couplet]
