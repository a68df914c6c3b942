"""python -m kaikyo"""

from kaikyo.cli.main import entry

entry()
