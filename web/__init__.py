"""The web front door: a page for every piece and the public gallery (`pictune web`).

web -> service -> storage -> engine, like bot/, and independent of it (pyproject's import
contract). See docs/web.md.
"""
