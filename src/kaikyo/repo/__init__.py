"""(package docstring below)"""
