"""Pictune's evaluation: ``python -m eval [--quick]`` rewrites docs/evaluation.md."""
