"""anchoring"""
