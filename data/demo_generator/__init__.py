"""Deterministic demo data: a simulated US retailer's landing files, faults included.

`generate()` writes the files described in docs/landing_contract.md; see docs/demo_data.md.
"""

from demo_generator.report import GenerationReport
from demo_generator.runner import generate

__all__ = ["GenerationReport", "generate"]
