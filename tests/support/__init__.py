"""Helpers shared by test modules: fixtures live in conftest files, plain code lives here.

No test module imports another test module; what two of them share belongs in this package.
"""
