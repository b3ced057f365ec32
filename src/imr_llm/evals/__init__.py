"""Evaluation: labeled sets, metrics, scorecards and labeled mutations."""
