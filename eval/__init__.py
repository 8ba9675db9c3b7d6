"""The evaluation suite: metrics, equivariance errors and (in later modules) learning curves,
orbit generalization and rollouts.  Results are JSON first."""

from .evaluate import evaluate_dataset, evaluate_run, equivariance_report

__all__ = ["evaluate_dataset", "evaluate_run", "equivariance_report"]
