"""Promotions as a governed workflow: lifecycle, validation rules, approval (deployment comes next)."""
