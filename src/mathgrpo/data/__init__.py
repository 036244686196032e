"""Data: read any source, clean it into rows {problem, answer}, the generated problems, and the one
prompt-template registry. Imports grading and the shared base (errors, files, models), never
training, evaluation or reports.

Usage: ``from mathgrpo.data.clean import load_problems``
"""
