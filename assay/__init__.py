"""assay"""
