"""The evaluation suite: metrics, equivariance errors and (in later modules) learning curves,
orbit generalization and rollouts.  Results are JSON first."""

from .evaluate import equivariance_report, evaluate_dataset, evaluate_run

__all__ = ["evaluate_dataset", "evaluate_run", "equivariance_report"]
