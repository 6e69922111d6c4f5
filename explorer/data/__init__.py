"""Package data: reference tables of published ImageNet top-1 (citations in each CSV's
header comment and in README.md here) and the fitted default proxy's coefficients."""
